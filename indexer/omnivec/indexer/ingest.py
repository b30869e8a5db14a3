"""The indexer: items (from :mod:`omnivec.indexer.discovery` or uploads) into a collection.

    sources ──► decode workers ──► model thread ──► writer thread ──► LanceDB commit ──► reported
              (read, hash, skip     (batched CLIP /   (one commit per     (then FAISS add)
               unchanged, decode,    MiniLM forward    batch of whole
               chunk, transcribe)    passes)           items)

Decoding and transcription overlap inference; LanceDB writes overlap the next batch's inference.
A text or transcript cut into several chunks also gets one document row (``chunk = -1``, no text)
whose vectors embed the whole text as each encoder reads it (truncated at its context): search
ranks items by that document vector and by their best chunk (see omnivec.indexer.chunk_scores).

An item is reported as indexed only after the commit that holds all of its chunks, so an
interrupted run (Ctrl-C, kill -9) loses nothing it reported and a re-run resumes: ids are content
hashes, and items already stored with the same hash are skipped as unchanged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from omnivec.indexer.chunking import Chunk
from omnivec.indexer.concurrency import prefetch_map
from omnivec.indexer.config import Settings
from omnivec.indexer.discovery import IngestItem, discover, load_metadata_file
from omnivec.indexer.item_rows import (
    PreparedItem,
    StaleSources,
    audio_source,
    check_metadata,
    content_id,
    embed_items,
    failure_reason,
    identify,
    require_clip_space,
    text_chunks,
    transcript_chunks,
)
from omnivec.indexer.media import MediaKind, decode_audio, decode_image
from omnivec.indexer.models import ModelHub
from omnivec.indexer.store import Collection
from omnivec.indexer.thumbnails import thumbnail_of

# IngestItem, discover and load_metadata_file live in omnivec.indexer.discovery, content_id and
# check_metadata in omnivec.indexer.item_rows; they are re-exported here because the pipeline's
# callers build and feed those items.
__all__ = [
    "IndexEvent",
    "IndexReport",
    "IngestItem",
    "Ingestor",
    "check_metadata",
    "content_id",
    "discover",
    "load_metadata_file",
]

log = logging.getLogger("omnivec.ingest")

@dataclass(frozen=True)
class IndexEvent:
    status: str  # "indexed" | "unchanged" | "failed"
    item: IngestItem
    item_id: str | None = None
    chunks: int = 0
    reason: str = ""


@dataclass
class IndexReport:
    indexed: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0
    total: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "indexed": self.indexed,
            "unchanged": self.unchanged,
            "failed": [{"source": s, "reason": r} for s, r in self.failed],
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "total": self.total,
        }


class Ingestor:
    """Indexes items into one collection. One Ingestor per run; not reused across threads."""

    def __init__(self, collection: Collection, models: ModelHub, settings: Settings) -> None:
        self.collection = collection
        self.models = models
        self.settings = settings
        self.spaces = collection.spaces
        for space in self.spaces:
            collection.check_encoder(space, models.embedder(space).spec, writing=True)
        collection.ensure_blob_columns()

    def run(
        self,
        items: Iterable[IngestItem],
        *,
        on_event: Callable[[IndexEvent], None] | None = None,
        total: int = 0,
    ) -> IndexReport:
        report = IndexReport(total=total)
        started = time.perf_counter()
        existing = self.collection.item_index()

        def emit(event: IndexEvent) -> None:
            if event.status == "indexed":
                report.indexed += 1
                report.rows += event.chunks
            elif event.status == "unchanged":
                report.unchanged += 1
            else:
                report.failed.append((event.item.label, event.reason))
            if on_event is not None:
                on_event(event)

        writer = _Writer(self.collection, emit, StaleSources(existing))
        pool = ThreadPoolExecutor(
            max_workers=self.settings.decode_workers, thread_name_prefix="ingest-decode"
        )
        clip_batch = self.models.clip().batch_size if "clip" in self.spaces else 32
        window = max(2 * clip_batch, 2 * self.settings.decode_workers)
        batch: list[PreparedItem] = []
        seen_ids: set[str] = set()
        try:
            prepare = lambda item: self._prepare(item, existing)  # noqa: E731
            for item, result in prefetch_map(prepare, items, executor=pool, window=window):
                writer.raise_if_failed()
                if isinstance(result, BaseException):
                    emit(IndexEvent("failed", item, reason=failure_reason(result)))
                    continue
                prepared = result
                if prepared.unchanged or prepared.item_id in seen_ids:
                    emit(IndexEvent("unchanged", item, item_id=prepared.item_id))
                    if prepared.unchanged:
                        writer.stale.keep(prepared.item.source_uri, prepared.item_id)
                    continue
                seen_ids.add(prepared.item_id)
                batch.append(prepared)
                if self._batch_full(batch):
                    writer.submit(self._embed(batch))
                    batch = []
            if batch:
                writer.submit(self._embed(batch))
                batch = []
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            writer.close()
        writer.raise_if_failed()
        report.seconds = time.perf_counter() - started
        return report

    def _batch_full(self, batch: list[PreparedItem]) -> bool:
        rows = sum(len(p.chunks) or 1 for p in batch)
        images = sum(1 for p in batch if p.image_tensor is not None)
        clip_batch = self.models.clip().batch_size if "clip" in self.spaces else 0
        return rows >= self.settings.index.write_batch_rows or (clip_batch and images >= clip_batch)  # type: ignore[return-value]

    # -- stage 1: decode (worker threads) -----------------------------------------------------
    def _prepare(self, item: IngestItem, existing: Mapping[str, tuple[str, str]]) -> PreparedItem:
        found = identify(item)
        prepared = PreparedItem(item, found.item_id, found.content_hash, found.modality)
        stored = existing.get(found.item_id)
        if stored is not None and stored[0] == found.content_hash:
            prepared.unchanged = True
            return prepared
        prepared.replaces = stored is not None
        if item.store_media and found.modality is not MediaKind.TEXT:
            prepared.media = found.raw
        if found.modality is MediaKind.IMAGE:
            require_clip_space(self.spaces, self.collection.name, item.label)
            # Decoded once: the same pixels give the CLIP input and the stored preview.
            image = decode_image(found.raw, name=item.label)
            prepared.image_tensor = self.models.clip().preprocess(image)
            prepared.thumbnail = thumbnail_of(image)
            prepared.chunks = [Chunk("")]
        elif found.modality is MediaKind.AUDIO:
            samples = decode_audio(audio_source(item, found.raw), name=item.label)
            transcript = self.models.speech().transcribe(samples, name=item.label)
            prepared.chunks, prepared.document = transcript_chunks(
                transcript, item.label, self.settings.index
            )
        else:
            prepared.chunks, prepared.document = text_chunks(item, found.raw, self.settings.index)
        return prepared

    # -- stage 2: embed (model thread) --------------------------------------------------------
    def _embed(self, batch: list[PreparedItem]) -> tuple[pa.Table, list[PreparedItem]]:
        return embed_items(batch, self.models, self.collection.specs), batch


class _Writer:
    """Commits embedded batches on its own thread, then reports their items."""

    def __init__(
        self, collection: Collection, emit: Callable[[IndexEvent], None], stale: StaleSources
    ) -> None:
        self.collection = collection
        self.emit = emit
        self.stale = stale
        self.queue: queue.Queue[tuple[pa.Table, list[PreparedItem]] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="ingest-writer", daemon=True)
        self.thread.start()

    def submit(self, work: tuple[pa.Table, list[PreparedItem]]) -> None:
        self.raise_if_failed()
        self.queue.put(work)

    def _loop(self) -> None:
        while True:
            work = self.queue.get()
            if work is None:
                return
            if self.error is not None:
                continue
            table, batch = work
            try:
                replaced = [p.item_id for p in batch if p.replaces]
                if replaced:
                    # A user-given id whose content changed: its old rows go before the new ones
                    # land, inside this batch's commit window.
                    self.collection.delete_items(ids=replaced)
                self.collection.add_rows(table)
            except BaseException as exc:  # noqa: BLE001 - reported, then re-raised on the caller
                self.error = exc
                for prepared in batch:
                    self.emit(IndexEvent("failed", prepared.item, reason=failure_reason(exc)))
                continue
            for prepared in batch:
                self.stale.keep(prepared.item.source_uri, prepared.item_id)
                self.emit(IndexEvent("indexed", prepared.item, prepared.item_id, len(prepared.chunks)))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        stale = self.stale.stale_ids() if self.error is None else []
        if stale:
            try:
                self.collection.delete_items(ids=stale)
            except BaseException as exc:  # noqa: BLE001
                self.error = exc

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error
