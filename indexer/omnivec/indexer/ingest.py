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

import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from omnivec.indexer.chunking import Chunk, chunk_text, chunk_transcript
from omnivec.indexer.concurrency import prefetch_map
from omnivec.indexer.config import Settings
from omnivec.indexer.discovery import IngestItem, discover, load_metadata_file
from omnivec.indexer.errors import MediaError, OmnivecError
from omnivec.indexer.media import (
    MediaKind,
    check_content_kind,
    decode_audio,
    decode_image,
    decode_text,
    read_media_bytes,
    sniff_kind,
)
from omnivec.indexer.models import ModelHub
from omnivec.indexer.store import Collection, vector_column
from omnivec.indexer.table_schema import BLOB_COLUMNS, DOCUMENT_CHUNK
from omnivec.indexer.thumbnails import thumbnail_of

# IngestItem, discover and load_metadata_file live in omnivec.indexer.discovery; they are
# re-exported here because the pipeline's callers build and feed those items.
__all__ = [
    "IndexEvent",
    "IndexReport",
    "IngestItem",
    "Ingestor",
    "discover",
    "load_metadata_file",
]

log = logging.getLogger("omnivec.ingest")

MAX_METADATA_BYTES = 64 * 1024
MAX_METADATA_DEPTH = 8


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


@dataclass
class _Prepared:
    item: IngestItem
    item_id: str
    content_hash: str
    modality: MediaKind
    chunks: list[Chunk] = field(default_factory=list)
    document: str | None = None  # the whole text of an item cut into several chunks
    image_tensor: Any = None
    thumbnail: bytes | None = None  # images: the WebP preview stored with the row
    media: bytes | None = None  # the original bytes, when the sender asked to store them
    unchanged: bool = False
    replaces: bool = False  # an older version of this source exists under another id


# -- item checks ---------------------------------------------------------------------------------


def check_metadata(metadata: Any, label: str) -> dict[str, Any]:
    """Metadata is a JSON object of bounded size and depth (it is stored and filtered on)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise MediaError(label, "metadata must be a JSON object")

    def depth(value: Any, level: int) -> int:
        if level > MAX_METADATA_DEPTH:
            return level
        if isinstance(value, dict):
            return max([depth(v, level + 1) for v in value.values()], default=level)
        if isinstance(value, list):
            return max([depth(v, level + 1) for v in value], default=level)
        return level

    if depth(metadata, 0) > MAX_METADATA_DEPTH:
        raise MediaError(label, f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
    try:
        encoded = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MediaError(label, f"metadata is not JSON-serialisable: {exc}") from exc
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise MediaError(label, f"metadata is over {MAX_METADATA_BYTES} bytes")
    return metadata


# -- the pipeline --------------------------------------------------------------------------------


def content_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


class Ingestor:
    """Indexes items into one collection. One Ingestor per run; not reused across threads."""

    def __init__(self, collection: Collection, models: ModelHub, settings: Settings) -> None:
        self.collection = collection
        self.models = models
        self.settings = settings
        self.spaces = collection.spaces
        for space in self.spaces:
            collection.check_encoder(space, models.embedder(space).spec)
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
        by_source: dict[str, set[str]] = {}
        for item_id, (_, source) in existing.items():
            if source:
                by_source.setdefault(source, set()).add(item_id)

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

        writer = _Writer(self.collection, emit, by_source)
        pool = ThreadPoolExecutor(
            max_workers=self.settings.decode_workers, thread_name_prefix="ingest-decode"
        )
        clip_batch = self.models.clip().batch_size if "clip" in self.spaces else 32
        window = max(2 * clip_batch, 2 * self.settings.decode_workers)
        batch: list[_Prepared] = []
        seen_ids: set[str] = set()
        try:
            prepare = lambda item: self._prepare(item, existing)  # noqa: E731
            for item, result in prefetch_map(prepare, items, executor=pool, window=window):
                writer.raise_if_failed()
                if isinstance(result, BaseException):
                    emit(IndexEvent("failed", item, reason=_reason(result)))
                    continue
                prepared = result
                if prepared.unchanged or prepared.item_id in seen_ids:
                    emit(IndexEvent("unchanged", item, item_id=prepared.item_id))
                    if prepared.unchanged and prepared.item.source_uri:
                        writer.schedule_stale_cleanup(prepared.item.source_uri, prepared.item_id)
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

    def _batch_full(self, batch: list[_Prepared]) -> bool:
        rows = sum(len(p.chunks) or 1 for p in batch)
        images = sum(1 for p in batch if p.image_tensor is not None)
        clip_batch = self.models.clip().batch_size if "clip" in self.spaces else 0
        return rows >= self.settings.index.write_batch_rows or (clip_batch and images >= clip_batch)  # type: ignore[return-value]

    # -- stage 1: decode (worker threads) -----------------------------------------------------
    def _prepare(self, item: IngestItem, existing: Mapping[str, tuple[str, str]]) -> _Prepared:
        if "_error" in item.metadata:
            raise MediaError(item.label, str(item.metadata["_error"]))
        check_metadata(dict(item.metadata), item.label)
        if item.text is not None:
            raw = item.text.encode("utf-8")
            modality = MediaKind.TEXT
        else:
            raw = self._read(item)
            modality = item.modality or sniff_kind(raw[:16]) or MediaKind.TEXT
        digest = content_id(raw)
        item_id = item.item_id or digest
        if item.item_id is not None and not _valid_id(item.item_id):
            raise MediaError(item.label, "item id must be 1-256 printable characters")
        prepared = _Prepared(item, item_id, digest, modality)
        stored = existing.get(item_id)
        if stored is not None and stored[0] == digest:
            prepared.unchanged = True
            return prepared
        prepared.replaces = stored is not None
        if item.store_media and modality is not MediaKind.TEXT:
            prepared.media = raw
        if modality is MediaKind.IMAGE:
            if "clip" not in self.spaces:
                raise MediaError(item.label, f"collection {self.collection.name!r} has no clip space, so it cannot hold images")
            # Decoded once: the same pixels give the CLIP input and the stored preview.
            image = decode_image(raw, name=item.label)
            prepared.image_tensor = self.models.clip().preprocess(image)
            prepared.thumbnail = thumbnail_of(image)
            prepared.chunks = [Chunk("")]
        elif modality is MediaKind.AUDIO:
            samples = decode_audio(item.path if item.path is not None and item.data is None else raw, name=item.label)
            transcript = self.models.speech().transcribe(samples, name=item.label)
            if not transcript.segments:
                raise MediaError(item.label, "no speech was recognised in the audio")
            idx = self.settings.index
            prepared.chunks = chunk_transcript(
                transcript.segments, max_seconds=idx.audio_chunk_seconds,
                overlap_seconds=idx.audio_chunk_overlap_seconds,
            )
            if len(prepared.chunks) > 1:
                prepared.document = transcript.text
        else:
            text = item.text if item.text is not None else decode_text(raw, name=item.label)
            if not text.strip():
                raise MediaError(item.label, "text is empty")
            idx = self.settings.index
            prepared.chunks = chunk_text(text, max_chars=idx.chunk_chars, overlap_chars=idx.chunk_overlap_chars)
            if len(prepared.chunks) > 1:
                prepared.document = text
        return prepared

    def _read(self, item: IngestItem) -> bytes:
        source = item.data if item.data is not None else item.path
        if source is None:
            raise MediaError(item.label, "has no content: send bytes, text or a path")
        data = read_media_bytes(source, item.label)
        if item.path is not None and item.data is None:
            check_content_kind(data, item.modality, item.label)
        return data

    # -- stage 2: embed (model thread) --------------------------------------------------------
    def _embed(self, batch: list[_Prepared]) -> tuple[pa.Table, list[_Prepared]]:
        rows: list[dict[str, Any]] = []
        texts: list[str] = []
        text_rows: list[int] = []
        images: list[Any] = []
        image_rows: list[int] = []
        for prepared in batch:
            meta = json.dumps(dict(prepared.item.metadata), ensure_ascii=False)
            numbered = list(enumerate(prepared.chunks))
            if prepared.document is not None:
                numbered.insert(0, (DOCUMENT_CHUNK, Chunk(prepared.document)))
            for number, chunk in numbered:
                row = {
                    "item_id": prepared.item_id,
                    "chunk": number,
                    "modality": prepared.modality.value,
                    "source_uri": prepared.item.source_uri or None,
                    "content_hash": prepared.content_hash,
                    "text": (chunk.text or None) if number != DOCUMENT_CHUNK else None,
                    "start_s": chunk.start_s,
                    "end_s": chunk.end_s,
                    "metadata": meta,
                    "thumbnail": prepared.thumbnail if number == 0 else None,
                    "media": prepared.media if number == 0 else None,
                }
                if prepared.image_tensor is not None:
                    images.append(prepared.image_tensor)
                    image_rows.append(len(rows))
                else:
                    texts.append(chunk.text)
                    text_rows.append(len(rows))
                rows.append(row)
        vectors: dict[str, np.ndarray] = {}
        for space in self.spaces:
            spec = self.collection.specs[space]
            matrix = np.full((len(rows), spec.dim), np.nan, dtype=np.float32)
            if texts:
                matrix[text_rows] = self.models.embedder(space).encode_texts(texts)
            if images and space == "clip":
                matrix[image_rows] = self.models.clip().encode_image_tensors(images)
            vectors[space] = matrix
        columns: dict[str, Any] = {
            key: [row[key] for row in rows]
            for key in ("item_id", "chunk", "modality", "source_uri", "content_hash", "text", "start_s", "end_s", "metadata")
        }
        arrays: dict[str, pa.Array] = {k: pa.array(v) for k, v in columns.items()}
        arrays["chunk"] = pa.array(columns["chunk"], pa.int32())
        arrays["start_s"] = pa.array(columns["start_s"], pa.float64())
        arrays["end_s"] = pa.array(columns["end_s"], pa.float64())
        arrays["metadata"] = pa.array(columns["metadata"], pa.json_(pa.utf8()))
        for blob in BLOB_COLUMNS:
            arrays[blob] = pa.array([row[blob] for row in rows], pa.large_binary())
        for space, matrix in vectors.items():
            present = ~np.isnan(matrix).any(axis=1)
            flat = pa.array(np.nan_to_num(matrix).reshape(-1), pa.float32())
            column = pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1], mask=pa.array(~present))
            arrays[vector_column(space)] = column
        return pa.table(arrays), batch


def _valid_id(value: str) -> bool:
    return 0 < len(value) <= 256 and value.isprintable()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MediaError):
        return exc.reason
    if isinstance(exc, OmnivecError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class _Writer:
    """Commits embedded batches on its own thread, then reports their items."""

    def __init__(
        self, collection: Collection, emit: Callable[[IndexEvent], None], by_source: dict[str, set[str]]
    ) -> None:
        self.collection = collection
        self.emit = emit
        self.by_source = by_source
        self.queue: queue.Queue[tuple[pa.Table, list[_Prepared]] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.stale: dict[str, str] = {}
        self.events_lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="ingest-writer", daemon=True)
        self.thread.start()

    def submit(self, work: tuple[pa.Table, list[_Prepared]]) -> None:
        self.raise_if_failed()
        self.queue.put(work)

    def schedule_stale_cleanup(self, source: str, keep_id: str) -> None:
        if self.by_source.get(source, set()) - {keep_id}:
            self.stale[source] = keep_id

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
                    self.emit(IndexEvent("failed", prepared.item, reason=_reason(exc)))
                continue
            for prepared in batch:
                if prepared.item.source_uri:
                    self.schedule_stale_cleanup(prepared.item.source_uri, prepared.item_id)
                self.emit(IndexEvent("indexed", prepared.item, prepared.item_id, len(prepared.chunks)))

    def _cleanup_stale(self) -> None:
        """A changed file keeps its path but gets a new id: drop the old version's rows."""
        for source, keep in self.stale.items():
            old = sorted(self.by_source.get(source, set()) - {keep})
            if old:
                self.collection.delete_items(ids=old)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is None and self.stale:
            try:
                self._cleanup_stale()
            except BaseException as exc:  # noqa: BLE001
                self.error = exc

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error
