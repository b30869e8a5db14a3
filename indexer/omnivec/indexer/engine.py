"""The engine facade: everything the CLI and the gRPC server ask of omnivec, in plain Python.

The server is a thin translation layer over this class; the CLI calls it directly (or a remote
twin with the same methods when given ``--server``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.client.types import (
    EvalOptions,
    EvalQuery,
    EvalReport,
    SearchQuery,
    SearchResult,
    VerifyReport,
)
from omnivec.indexer.backup import ExportInfo, export_collection, import_collection
from omnivec.indexer.config import Settings
from omnivec.indexer.discovery import IngestItem, discover
from omnivec.indexer.distributed.job import RayJob
from omnivec.indexer.encoders.base import EncoderSpec, require_list
from omnivec.indexer.encoders.registry import embedding_spaces, space_entry
from omnivec.indexer.encoders.speech import Transcript
from omnivec.indexer.errors import FailedPreconditionError, InvalidInputError
from omnivec.indexer.evaluation import EvalProgressCallback, evaluate
from omnivec.indexer.ingest import IndexEvent, IndexReport, Ingestor
from omnivec.indexer.item_media import (
    AudioSource,
    ItemView,
    item_audio,
    item_thumbnail,
    item_view,
)
from omnivec.indexer.media import MediaSource
from omnivec.indexer.models import ModelHub, describe_weights
from omnivec.indexer.probes.service import ProbeService
from omnivec.indexer.search import run_search
from omnivec.indexer.store import Collection, CollectionInfo, SnapshotInfo, Store

__all__ = ["Embedding", "Engine"]

log = logging.getLogger("omnivec.engine")


@dataclass(frozen=True)
class Embedding:
    """Vectors for a batch of inputs, with the encoder that made them."""

    vectors: np.ndarray  # (n, dim) float32, L2-normalised
    space: str
    spec: EncoderSpec
    transcripts: tuple[Transcript, ...] = ()  # for audio inputs: what was embedded


class Engine:
    """In-process omnivec: models, collections, indexing, search and probes."""

    def __init__(self, settings: Settings, models: ModelHub | None = None) -> None:
        self.settings = settings
        self.models = models or ModelHub(settings)
        self.store = Store(settings.data_dir, settings.index, settings.storage)
        self.probes = ProbeService(self.store, self.models, settings)

    # -- collections --------------------------------------------------------------------------
    def default_spaces(self) -> list[str]:
        """clip + text when CLIP weights are on disk, else text alone.

        Creating a collection never downloads weights implicitly: `omnivec models pull` does.
        """
        infos = {w.encoder: w for w in describe_weights(self.settings)}
        spaces = [s for s in embedding_spaces() if s in infos and infos[s].available_offline]
        for space in embedding_spaces():
            if space in infos and space not in spaces:
                log.warning(
                    "new collections get no %s space (only %s): %s",
                    space, ", ".join(spaces) or "none", infos[space].note,
                )
        if not spaces:
            raise FailedPreconditionError(
                "no embedding encoder is available: enable the text encoder or provide CLIP weights"
            )
        return spaces

    def create_collection(
        self, name: str, spaces: Sequence[str] | None = None, *, exist_ok: bool = False
    ) -> Collection:
        if exist_ok and spaces and self.store.exists(name):
            existing = self.store.open(name).spaces
            if sorted(set(spaces)) != existing:
                raise FailedPreconditionError(
                    f"collection {name!r} exists with spaces {', '.join(existing)}, "
                    f"not {', '.join(sorted(set(spaces)))}; use another name or the existing spaces"
                )
        chosen = list(spaces) if spaces else self.default_spaces()
        for space in chosen:
            space_entry(space)  # every name checked before any model loads
        specs = {space: self.models.embedder(space).spec for space in dict.fromkeys(chosen)}
        return self.store.create(name, specs, exist_ok=exist_ok)

    def collection(self, name: str) -> Collection:
        return self.store.open(name)

    def list_collections(self) -> list[str]:
        return self.store.list()

    def describe_collection(self, name: str) -> CollectionInfo:
        return self.store.open(name).info()

    def delete_collection(self, name: str) -> None:
        self.store.delete(name)

    def snapshot_collection(self, name: str, tag: str) -> SnapshotInfo:
        return self.store.open(name).snapshot(tag)

    def restore_collection(
        self, name: str, *, tag: str | None = None, version: int | None = None
    ) -> CollectionInfo:
        # verify=False: restoring an older version is how a damaged collection is recovered.
        collection = self.store.open(name, verify=False)
        collection.restore(tag=tag, version=version)
        collection.flush_ann()
        return collection.info()

    def verify_collection(self, name: str) -> VerifyReport:
        """Full check of a collection (omnivec.indexer.verify); damage is reported, not raised."""
        from omnivec.indexer.verify import verify_collection

        return verify_collection(self.store.open(name, verify=False))

    def export_collection(self, name: str, dest: Path | str) -> ExportInfo:
        """A consistent copy at the current version, restorable elsewhere (omnivec.indexer.backup)."""
        return export_collection(self.store, name, dest, self.settings.storage)

    def import_collection(self, source: Path | str, name: str | None = None) -> CollectionInfo:
        """Restore an export as a new collection (default: under its exported name)."""
        return self.store.open(
            import_collection(self.store, source, name, self.settings.storage)
        ).info()

    # -- indexing -----------------------------------------------------------------------------
    def _target(self, name: str, spaces: Sequence[str] | None) -> Collection:
        if self.store.exists(name):
            collection = self.store.open(name)
            if spaces and sorted(set(spaces)) != collection.spaces:
                raise InvalidInputError(
                    f"collection {name!r} has spaces {', '.join(collection.spaces)}; "
                    f"--space {','.join(spaces)} differs (spaces are fixed at creation)"
                )
            return collection
        return self.create_collection(name, spaces)

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
        confine_to: Path | None = None,
        ray: RayJob | None = None,
    ) -> IndexReport:
        """Index files, folders and manifests; one bad file never stops the run. With
        ``confine_to`` (a resolved folder) nothing outside it is read (see ``discover``). With
        ``ray`` the work runs on a Ray cluster (:mod:`omnivec.indexer.distributed`), with the same
        ids, rows, vectors, events and report."""
        target = self._target(collection, spaces)
        items, problems = discover(
            list(paths), recursive=recursive, metadata=metadata, confine_to=confine_to
        )
        total = len(items) + len(problems)
        if on_total is not None:
            on_total(total)
        if ray is not None:
            from omnivec.indexer.distributed.pipeline import index_with_ray

            report = index_with_ray(
                target, items, models=self.models, settings=self.settings, job=ray,
                on_event=on_event, total=total,
            )
        else:
            report = Ingestor(target, self.models, self.settings).run(
                items, on_event=on_event, total=total
            )
        report.failed[:0] = problems
        target.flush_ann()
        return report

    def upsert(
        self,
        collection: str,
        items: Iterable[IngestItem],
        *,
        on_event: Callable[[IndexEvent], None] | None = None,
    ) -> IndexReport:
        """Index uploaded items (bytes or text with metadata and optional ids)."""
        target = self.store.open(collection)
        return Ingestor(target, self.models, self.settings).run(items, on_event=on_event)

    def delete_items(
        self, collection: str, ids: Sequence[str] = (), source_uris: Sequence[str] = ()
    ) -> int:
        target = self.store.open(collection)
        resolved = [str(Path(u).resolve()) if not u.startswith(("http:", "https:", "s3:")) and "#" not in u else u for u in source_uris]
        count = target.delete_items(ids=list(ids), source_uris=list(dict.fromkeys([*source_uris, *resolved])))
        target.flush_ann()
        return count

    # -- search -------------------------------------------------------------------------------
    def search(self, collection: str, query: SearchQuery) -> SearchResult:
        return run_search(self.store.open(collection), self.models, query)

    # -- viewing items (see omnivec.indexer.item_media for what may be read back) -------------
    def item(self, collection: str, item_id: str) -> ItemView:
        return item_view(self.store.open(collection), item_id)

    def thumbnail(self, collection: str, item_id: str, root: Path | None) -> tuple[bytes, str]:
        """An image item's thumbnail bytes and MIME type."""
        return item_thumbnail(self.store.open(collection), item_id, root)

    def item_audio(self, collection: str, item_id: str, root: Path | None) -> AudioSource:
        return item_audio(self.store.open(collection), item_id, root)

    def evaluate(
        self,
        collection: str,
        queries: Sequence[EvalQuery],
        options: EvalOptions = EvalOptions(),
        progress: EvalProgressCallback | None = None,
    ) -> EvalReport:
        """Retrieval figures on labelled queries per configuration (``omnivec eval``); with
        ``options.tune``, fusion weights chosen by cross-validation and stored with the
        collection (see omnivec.indexer.evaluation)."""
        return evaluate(self.store.open(collection), self.models, queries, options, progress)

    # -- embedding ----------------------------------------------------------------------------
    def embed_texts(self, texts: Sequence[str], *, space: str = "text") -> Embedding:
        texts = require_list(texts, "texts")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise InvalidInputError(f"texts[{i}] is empty; send non-empty text")
        encoder = self.models.embedder(space)
        return Embedding(encoder.encode_texts(texts), space, encoder.spec)

    def embed_images(self, images: Sequence[MediaSource], *, space: str = "clip") -> Embedding:
        if space_entry(space).name != "clip":
            raise InvalidInputError(
                f"images can only be embedded in the clip space, not {space!r}; use --space clip"
            )
        encoder = self.models.clip()
        return Embedding(encoder.encode_images(require_list(images, "images")), space, encoder.spec)

    def embed_audio(self, clips: Sequence[MediaSource], *, space: str = "text") -> Embedding:
        """Audio is embedded through its transcript, in either text-capable space."""
        transcripts = tuple(self.transcribe(c) for c in require_list(clips, "clips"))
        texts = [t.text if t.text.strip() else " " for t in transcripts]
        encoder = self.models.embedder(space)
        return Embedding(encoder.encode_texts(texts), space, encoder.spec, transcripts)

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
    ) -> list[tuple[str, float]]:
        """Labels as text prompts, compared with the input in one space; (label, prob) best first.
        Several templates are an ensemble; ``class_names`` maps a label to its prompts' words."""
        from omnivec.indexer.classify import zero_shot_classify

        given = [x for x in (text, image, audio, item_id) if x is not None]
        if len(given) != 1:
            raise InvalidInputError("give exactly one input: text, image, audio or an item id")
        chosen = space or ("clip" if image is not None else "text")
        item_vector = None
        if item_id is not None:
            if collection is None:
                raise InvalidInputError("classifying a stored item needs its collection")
            vectors = self.store.open(collection).item_vectors(item_id)
            if chosen not in vectors:
                raise InvalidInputError(f"item {item_id!r} has no {chosen!r} vector")
            item_vector = vectors[chosen]
        elif collection is not None:
            self.store.open(collection).check_encoder(chosen, self.models.embedder(chosen).spec)
        scores: list[tuple[str, float]] = zero_shot_classify(
            self.models, list(require_list(labels, "labels")), text=text, image=image, audio=audio,
            item_vector=item_vector, prompt_template=prompt_template, class_names=class_names,
            space=chosen, top_k=top_k,
        )
        return scores

    def transcribe(self, clip: MediaSource) -> Transcript:
        return self.models.speech().transcribe(clip)

    def close(self) -> None:
        self.store.close()
        self.models.close()
