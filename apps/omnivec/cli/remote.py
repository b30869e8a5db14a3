"""The CLI's `--server HOST:PORT` backend: the Engine's methods, answered by a server.

Each method takes and returns the same engine types as :class:`omnivec.indexer.engine.Engine`,
so every CLI command prints the same output either way (the congruence tests check this). Local
files are read here and uploaded; the server never needs to see this machine's paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.cli.remote_calls import call_remote, encoder_spec
from omnivec.cli.remote_probes import RemoteProbes
from omnivec.client import Client, Media, UpsertItem
from omnivec.client.types import Collection as RemoteCollection
from omnivec.client.types import (
    EvalOptions,
    EvalProgress,
    EvalQuery,
    EvalReport,
    PathLike,
    SearchQuery,
    SearchResult,
    VerifyReport,
)
from omnivec.client.types import Snapshot as RemoteSnapshot
from omnivec.indexer import errors
from omnivec.indexer.backup import ExportInfo
from omnivec.indexer.distributed import RayJob
from omnivec.indexer.encoders.speech import Segment, Transcript
from omnivec.indexer.engine import Embedding
from omnivec.indexer.ingest import IndexEvent, IndexReport, IngestItem, discover
from omnivec.indexer.media import MediaKind, MediaSource, decode_text, read_media_bytes
from omnivec.indexer.store import CollectionInfo, SnapshotInfo, SpaceStatus

__all__ = ["RemoteBackend"]


def _info(remote: RemoteCollection) -> CollectionInfo:
    spaces = {
        s.space: SpaceStatus(s.space, encoder_spec(s.encoder), s.index_kind, s.vector_count, s.index_lance_version)
        for s in remote.spaces
    }
    return CollectionInfo(
        name=remote.name,
        created_at=remote.created_at.timestamp() if remote.created_at else 0.0,
        spaces=spaces,
        item_count=remote.item_count,
        row_count=remote.row_count,
        modality_counts={str(k): int(v) for k, v in remote.modality_counts.items()},
        size_bytes=remote.size_bytes,
        lance_version=remote.lance_version,
        snapshots=tuple(_snapshot(s) for s in remote.snapshots),
        fusion=remote.fusion,
    )


def _snapshot(remote: RemoteSnapshot) -> SnapshotInfo:
    created = remote.created_at.timestamp() if remote.created_at else 0.0
    return SnapshotInfo(remote.tag, remote.lance_version, created)


class RemoteBackend:
    """Engine-shaped facade over :class:`omnivec.client.Client`."""

    def __init__(self, target: str, *, token: str | None = None) -> None:
        self._client = Client(target, token=token)
        self._probes = RemoteProbes(self._client)

    @property
    def probes(self) -> RemoteProbes:
        return self._probes

    # -- collections ------------------------------------------------------------------------
    def create_collection(self, name: str, spaces: Sequence[str] | None = None, *, exist_ok: bool = False) -> None:
        call_remote(self._client.create_collection, name, tuple(spaces or ()), if_not_exists=exist_ok)

    def list_collections(self) -> list[str]:
        return sorted(c.name for c in call_remote(self._client.list_collections))

    def describe_collection(self, name: str) -> CollectionInfo:
        return _info(call_remote(self._client.get_collection, name))

    def delete_collection(self, name: str) -> None:
        call_remote(self._client.delete_collection, name)

    def snapshot_collection(self, name: str, tag: str) -> SnapshotInfo:
        return _snapshot(call_remote(self._client.snapshot_collection, name, tag))

    def restore_collection(self, name: str, *, tag: str | None = None, version: int | None = None) -> CollectionInfo:
        return _info(call_remote(self._client.restore_collection, name, tag=tag, version=version))

    def verify_collection(self, name: str) -> VerifyReport:
        return call_remote(self._client.verify_collection, name)

    def export_collection(self, name: str, dest: Path | str) -> ExportInfo:
        raise errors.FailedPreconditionError(
            "export reads the data directory itself: run `omnivec collections export` without "
            "--server, with the server's --data-dir (it may run while the server serves)"
        )

    def import_collection(self, source: Path | str, name: str | None = None) -> CollectionInfo:
        raise errors.FailedPreconditionError(
            "import writes the data directory itself: run `omnivec collections import` without "
            "--server, with the server's --data-dir, then the server sees the new collection"
        )

    # -- indexing ---------------------------------------------------------------------------
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
    ) -> IndexReport:
        """Discover locally (same rules as the engine), upload each item with Upsert."""
        import time

        if ray is not None:
            raise errors.InvalidInputError(
                "--ray indexes into a data directory (--data) from this machine; with --server "
                "the server indexes what is uploaded to it: drop one of the two options"
            )

        started = time.perf_counter()
        if collection not in self.list_collections():
            self.create_collection(collection, spaces)
        items, problems = discover(list(paths), recursive=recursive, metadata=metadata)
        if on_total is not None:
            on_total(len(items) + len(problems))
        report = IndexReport(total=len(items) + len(problems))
        report.failed.extend(problems)
        uploads: list[IngestItem] = []
        local_failures: list[tuple[IngestItem, str]] = []

        def upload_items() -> Iterator[UpsertItem]:
            for item in items:
                try:
                    upsert = _to_upsert(item)
                except errors.MediaError as exc:  # unreadable here: same reason as the engine
                    local_failures.append((item, exc.reason))
                    continue
                uploads.append(item)
                yield upsert

        for result in call_remote(lambda: list(self._client.upsert_stream(collection, upload_items()))):
            item = uploads[result.sequence]
            if result.status == "failed":
                event = IndexEvent("failed", item, reason=result.error or "failed")
                report.failed.append((item.label, event.reason))
            elif result.status == "unchanged":
                event = IndexEvent("unchanged", item, item_id=result.id)
                report.unchanged += 1
            else:
                event = IndexEvent("indexed", item, item_id=result.id, chunks=result.chunk_count)
                report.indexed += 1
                report.rows += result.chunk_count
            if on_event is not None:
                on_event(event)
        for item, reason in local_failures:
            report.failed.append((item.label, reason))
            if on_event is not None:
                on_event(IndexEvent("failed", item, reason=reason))
        report.seconds = time.perf_counter() - started
        return report

    def delete_items(self, collection: str, ids: Sequence[str] = (), source_uris: Sequence[str] = ()) -> int:
        resolved = [str(Path(u).resolve()) if "#" not in u and "://" not in u else u for u in source_uris]
        return int(call_remote(
            self._client.delete_items, collection, ids=list(ids),
            source_uris=list(dict.fromkeys([*source_uris, *resolved])),
        ))

    # -- search -----------------------------------------------------------------------------
    def search(self, collection: str, query: SearchQuery) -> SearchResult:
        # The engine's query and result types are the SDK's: nothing to convert. Local files are
        # read here, so a missing one fails with the engine's message, as it does locally.
        sent = replace(query, image=_bytes(query.image), audio=_bytes(query.audio))
        result: SearchResult = call_remote(self._client.search_query, collection, sent)
        return result

    def evaluate(
        self,
        collection: str,
        queries: Sequence[EvalQuery],
        options: EvalOptions = EvalOptions(),
        progress: Callable[[EvalProgress], None] | None = None,
    ) -> EvalReport:
        # Query media are read here (the server never sees this machine's paths), with the
        # engine's errors for a missing or unreadable file.
        sent = [replace(q, image=_bytes(q.image), audio=_bytes(q.audio)) for q in queries]
        report: EvalReport = call_remote(
            self._client.evaluate, collection, sent, options, on_progress=progress
        )
        return report

    # -- embedding --------------------------------------------------------------------------
    def embed_texts(self, texts: Sequence[str], *, space: str = "text") -> Embedding:
        result = call_remote(self._client.embed_detailed, texts=list(texts), space=space)
        return Embedding(np.asarray(result.vectors, np.float32), space, encoder_spec(result.encoder))

    def embed_images(self, images: Sequence[Path | bytes], *, space: str = "clip") -> Embedding:
        payload = [_upload(i) for i in images]
        result = call_remote(self._client.embed_detailed, images=payload, space=space)
        return Embedding(np.asarray(result.vectors, np.float32), space, encoder_spec(result.encoder))

    def embed_audio(self, clips: Sequence[Path | bytes], *, space: str = "text") -> Embedding:
        # Same recipe as the engine: transcribe, then embed the transcripts as text.
        transcripts = tuple(self.transcribe(c) for c in clips)
        texts = [t.text if t.text.strip() else " " for t in transcripts]
        embedded = self.embed_texts(texts, space=space)
        return Embedding(embedded.vectors, space, embedded.spec, transcripts)

    def transcribe(self, clip: Path | bytes) -> Transcript:
        result = call_remote(self._client.transcribe, _upload(clip))
        segments = tuple(
            Segment(s.start_seconds or 0.0, s.end_seconds or 0.0, s.text) for s in result.segments
        )
        return Transcript(result.text, segments, result.duration_seconds, result.language)

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
        scores = call_remote(
            self._client.zero_shot_classify, list(labels), text=text, image=_bytes(image),
            audio=_bytes(audio), item_id=item_id, collection=collection,
            prompt_template=prompt_template if isinstance(prompt_template, str) else list(prompt_template),
            space=space or ("clip" if image is not None else "text"),
            top_k=top_k, class_names=class_names,
        )
        return [(s.label, s.probability) for s in scores]

    def close(self) -> None:
        self._client.close()


def _upload(source: bytes | PathLike) -> bytes:
    """Read a local file here so the server gets its bytes, with the same errors as locally."""
    if isinstance(source, bytes):
        return source
    return read_media_bytes(Path(source), str(source))


def _bytes(source: bytes | PathLike | None) -> bytes | None:
    return None if source is None else _upload(source)


def _to_upsert(item: IngestItem) -> UpsertItem:
    """The engine's discovery item as an upload; raises MediaError for what cannot be sent."""
    if "_error" in item.metadata:
        raise errors.MediaError(item.label, str(item.metadata["_error"]))
    if item.text is not None:
        media = Media(text=item.text)
    else:
        assert item.path is not None
        data = item.data if item.data is not None else read_media_bytes(item.path, item.label)
        if item.modality is MediaKind.IMAGE:
            media = Media(image=data, filename=item.path.name)
        elif item.modality is MediaKind.AUDIO:
            media = Media(audio=data, filename=item.path.name)
        else:
            media = Media(text=decode_text(data, name=item.label), filename=item.path.name)
    return UpsertItem(media=media, id=item.item_id, metadata=dict(item.metadata), source_uri=item.source_uri)
