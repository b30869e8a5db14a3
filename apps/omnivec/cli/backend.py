"""What every CLI command talks to: a :class:`Backend`, the engine in process or a server.

Commands call only the methods declared here (qdrant-client's ``QdrantBase`` is the model): the
embedded :class:`omnivec.indexer.engine.Engine` implements them as they are, and
:class:`omnivec.cli.remote.RemoteBackend` implements them over the SDK for ``--server HOST:PORT``.
Both take and return the engine's public types (search takes and returns the SDK's, which are the
engine's own), so a command prints the same output either way, which the congruence tests check.
mypy checks that both implementations satisfy the protocols where :func:`backend` returns them.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import typer

from omnivec.cli._common import CliState
from omnivec.client.types import (
    EvalOptions,
    EvalProgress,
    EvalQuery,
    EvalReport,
    SearchQuery,
    SearchResult,
    VerifyReport,
)
from omnivec.indexer.backup import ExportInfo
from omnivec.indexer.classify import MediaInput
from omnivec.indexer.distributed import RayJob
from omnivec.indexer.encoders.speech import Transcript
from omnivec.indexer.engine import Embedding
from omnivec.indexer.ingest import IndexEvent, IndexReport
from omnivec.indexer.media import MediaSource
from omnivec.indexer.probes import ProgressCallback
from omnivec.indexer.probes.examples import LabelledExample, ProbeInput
from omnivec.indexer.probes.results import (
    Classification,
    ClassifyCollectionResult,
    ProbeInfo,
    Suggestions,
)
from omnivec.indexer.probes.storage import ProbeRecord
from omnivec.indexer.store import CollectionInfo, SnapshotInfo

__all__ = ["Backend", "ProbeBackend", "backend", "open_backend"]


class ProbeBackend(Protocol):
    """Few-shot probes of a backend's collections (``Backend.probes``)."""

    def train(
        self,
        collection: str,
        name: str,
        *,
        examples: Sequence[LabelledExample],
        space: str | None = None,
        prompt_template: str | Sequence[str] | None = None,
        class_names: Mapping[str, str] | None = None,
        abstain_threshold: float | None = None,
        seed: int = 0,
        progress: ProgressCallback | None = None,
        prompt_set: str | None = None,
        use_unlabeled: bool = True,
    ) -> ProbeRecord: ...

    def list(
        self, collection: str, name: str | None = None, *, all_versions: bool = False
    ) -> builtins.list[ProbeInfo]: ...

    def get(self, collection: str, name: str, version: int | None = None) -> ProbeRecord: ...

    def delete(
        self, collection: str, name: str, *, version: int | None = None, all_versions: bool = False
    ) -> int: ...

    def classify(
        self,
        collection: str,
        name: str,
        inputs: Sequence[ProbeInput | MediaInput | Path | str],
        *,
        version: int | None = None,
        top_k: int = 0,
    ) -> builtins.list[Classification]: ...

    def classify_collection(
        self,
        collection: str,
        name: str,
        *,
        version: int | None = None,
        column: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ClassifyCollectionResult: ...

    def suggest(
        self,
        collection: str,
        name: str,
        *,
        n: int = 20,
        version: int | None = None,
        strategy: str = "margin",
    ) -> Suggestions: ...


class Backend(Protocol):
    """Collections, indexing, search, embedding, transcription and zero-shot classification."""

    @property
    def probes(self) -> ProbeBackend: ...

    def create_collection(
        self, name: str, spaces: Sequence[str] | None = None, *, exist_ok: bool = False
    ) -> object: ...

    def list_collections(self) -> list[str]: ...

    def describe_collection(self, name: str) -> CollectionInfo: ...

    def delete_collection(self, name: str) -> None: ...

    def snapshot_collection(self, name: str, tag: str) -> SnapshotInfo: ...

    def restore_collection(
        self, name: str, *, tag: str | None = None, version: int | None = None
    ) -> CollectionInfo: ...

    def verify_collection(self, name: str) -> VerifyReport: ...

    def export_collection(self, name: str, dest: Path | str) -> ExportInfo: ...

    def import_collection(self, source: Path | str, name: str | None = None) -> CollectionInfo: ...

    def index_paths(
        self,
        collection: str,
        paths: Sequence[Path],
        *,
        recursive: bool = False,
        spaces: Sequence[str] | None = None,
        metadata: dict[str, dict[str, Any]] | None = None,
        on_event: Callable[[IndexEvent], None] | None = None,
        on_total: Callable[[int], None] | None = None,
        ray: RayJob | None = None,
    ) -> IndexReport: ...

    def delete_items(
        self, collection: str, ids: Sequence[str] = (), source_uris: Sequence[str] = ()
    ) -> int: ...

    def search(self, collection: str, query: SearchQuery) -> SearchResult: ...

    def evaluate(
        self,
        collection: str,
        queries: Sequence[EvalQuery],
        options: EvalOptions = ...,
        progress: Callable[[EvalProgress], None] | None = None,
    ) -> EvalReport: ...

    def embed_texts(self, texts: Sequence[str], *, space: str = "text") -> Embedding: ...

    def embed_images(self, images: Sequence[MediaSource], *, space: str = "clip") -> Embedding: ...

    def embed_audio(self, clips: Sequence[MediaSource], *, space: str = "text") -> Embedding: ...

    def transcribe(self, clip: MediaSource) -> Transcript: ...

    def zero_shot_classify(
        self,
        labels: Sequence[str],
        *,
        text: str | None = None,
        image: MediaSource | None = None,
        audio: MediaSource | None = None,
        item_id: str | None = None,
        collection: str | None = None,
        prompt_template: str | Sequence[str] = "{}",
        space: str | None = None,
        top_k: int = 0,
        class_names: Mapping[str, str] | None = None,
    ) -> list[tuple[str, float]]: ...

    def close(self) -> None: ...


# One engine per configuration and process: a console run makes one anyway, and code that invokes
# the CLI app repeatedly in one process (tests, notebooks) keeps its loaded models.
_LOCAL_ENGINES: dict[str, Backend] = {}


def open_backend(state: CliState) -> Backend:
    """The engine in process, or the server named by ``--server``."""
    if state.server:
        from omnivec.cli.remote import RemoteBackend

        return RemoteBackend(state.server, token=state.token)
    from omnivec.indexer.engine import Engine

    settings = state.settings()
    key = settings.model_dump_json()
    if key not in _LOCAL_ENGINES:
        _LOCAL_ENGINES[key] = Engine(settings)
    return _LOCAL_ENGINES[key]


def backend(ctx: typer.Context) -> Backend:
    """The backend of the running command (its options were parsed into ``ctx.obj``)."""
    state: CliState = ctx.obj
    return open_backend(state)
