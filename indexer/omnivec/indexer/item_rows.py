"""How one item becomes rows of its collection: identified, decoded, embedded, laid out as rows.

    identify ──► decode ──────────────────────────► embed_items ──► rows (one per chunk)
    (read the     (text: chunks; image: CLIP's       (CLIP / MiniLM     (the table's columns
     bytes, hash,  preprocessed tensor; audio: the    forward passes)    but rowid/indexed_at)
     id)           transcript's time windows)

Both indexers are built from these functions: the in-process :class:`omnivec.indexer.ingest.
Ingestor` (threads) and the Ray pipeline (:mod:`omnivec.indexer.distributed`, tasks and actors),
so one file gets the same id, the same chunks and the same rows whichever indexed it. Each step
raises :class:`MediaError` naming the item for bad input; :func:`failure_reason` turns any error
into the one-line reason the run's summary prints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from omnivec.indexer.chunking import Chunk, chunk_text, chunk_transcript
from omnivec.indexer.config import IndexSettings
from omnivec.indexer.discovery import IngestItem
from omnivec.indexer.errors import MediaError, OmnivecError
from omnivec.indexer.media import (
    MediaKind,
    MediaSource,
    check_content_kind,
    decode_text,
    read_media_bytes,
    sniff_kind,
)
from omnivec.indexer.table_schema import BLOB_COLUMNS, DOCUMENT_CHUNK, json_type, vector_column

if TYPE_CHECKING:  # types only: the encoders import torch, which Ray's identify tasks never need
    from omnivec.indexer.encoders.base import EncoderSpec
    from omnivec.indexer.encoders.speech import Transcript
    from omnivec.indexer.models import ModelHub

__all__ = [
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "Identity",
    "PreparedItem",
    "StaleSources",
    "audio_source",
    "check_metadata",
    "content_id",
    "embed_items",
    "failure_reason",
    "identify",
    "require_clip_space",
    "text_chunks",
    "transcript_chunks",
]

MAX_METADATA_BYTES = 64 * 1024
MAX_METADATA_DEPTH = 8


def content_id(data: bytes) -> str:
    """An item's default id: a prefix of the SHA-256 of its bytes (or of its UTF-8 text)."""
    return hashlib.sha256(data).hexdigest()[:32]


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


def failure_reason(exc: BaseException) -> str:
    """The one-line reason a summary prints for an item that failed."""
    if isinstance(exc, MediaError):
        return exc.reason
    if isinstance(exc, OmnivecError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


# -- identify ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """What an item is before it is decoded: its bytes, kind, content hash and id."""

    raw: bytes = field(repr=False)
    modality: MediaKind
    content_hash: str
    item_id: str


def identify(item: IngestItem) -> Identity:
    """Check the item's metadata and id, read its bytes and hash them (MediaError if bad)."""
    if "_error" in item.metadata:
        raise MediaError(item.label, str(item.metadata["_error"]))
    check_metadata(dict(item.metadata), item.label)
    if item.text is not None:
        raw = item.text.encode("utf-8")
        modality = MediaKind.TEXT
    else:
        raw = _read(item)
        modality = item.modality or sniff_kind(raw[:16]) or MediaKind.TEXT
    digest = content_id(raw)
    if item.item_id is not None and not _valid_id(item.item_id):
        raise MediaError(item.label, "item id must be 1-256 printable characters")
    return Identity(raw, modality, digest, item.item_id or digest)


def _read(item: IngestItem) -> bytes:
    source = item.data if item.data is not None else item.path
    if source is None:
        raise MediaError(item.label, "has no content: send bytes, text or a path")
    data = read_media_bytes(source, item.label)
    if item.path is not None and item.data is None:
        check_content_kind(data, item.modality, item.label)
    return data


def _valid_id(value: str) -> bool:
    return 0 < len(value) <= 256 and value.isprintable()


# -- decode --------------------------------------------------------------------------------------


def require_clip_space(spaces: Sequence[str], collection: str, label: str) -> None:
    """Images are embedded by CLIP alone: a collection without that space cannot hold one."""
    if "clip" not in spaces:
        raise MediaError(label, f"collection {collection!r} has no clip space, so it cannot hold images")


def audio_source(item: IngestItem, raw: bytes) -> MediaSource:
    """What audio is decoded from: the file itself when the item is one (decoders may stream
    it), else the bytes already read."""
    return item.path if item.path is not None and item.data is None else raw


def transcript_chunks(
    transcript: Transcript, label: str, settings: IndexSettings
) -> tuple[list[Chunk], str | None]:
    """A transcript's overlapping time windows, and its whole text when it was cut into several
    (the item's document row); MediaError when nothing was recognised."""
    if not transcript.segments:
        raise MediaError(label, "no speech was recognised in the audio")
    chunks = chunk_transcript(
        transcript.segments, max_seconds=settings.audio_chunk_seconds,
        overlap_seconds=settings.audio_chunk_overlap_seconds,
    )
    return chunks, (transcript.text if len(chunks) > 1 else None)


def text_chunks(item: IngestItem, raw: bytes, settings: IndexSettings) -> tuple[list[Chunk], str | None]:
    """A text item's overlapping chunks, and its whole text when it was cut into several (the
    item's document row); MediaError when it is empty or not text."""
    text = item.text if item.text is not None else decode_text(raw, name=item.label)
    if not text.strip():
        raise MediaError(item.label, "text is empty")
    chunks = chunk_text(text, max_chars=settings.chunk_chars, overlap_chars=settings.chunk_overlap_chars)
    return chunks, (text if len(chunks) > 1 else None)


# -- embed ---------------------------------------------------------------------------------------


@dataclass
class PreparedItem:
    """A decoded item, ready to embed: its chunks, or (an image) its preprocessed tensor."""

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
    replaces: bool = False  # an older version of this item id is stored under other content


_ROW_COLUMNS = ("item_id", "chunk", "modality", "source_uri", "content_hash", "text", "start_s", "end_s", "metadata")


def embed_items(
    batch: Sequence[PreparedItem], models: ModelHub, specs: Mapping[str, EncoderSpec]
) -> pa.Table:
    """The rows of whole items, one per chunk, with a vector column per space of ``specs``
    (null where a row has none there). Every column of the table but ``rowid`` and
    ``indexed_at``, which the commit adds."""
    rows: list[dict[str, Any]] = []
    texts: list[str] = []
    text_rows: list[int] = []
    images: list[Any] = []
    image_rows: list[int] = []
    for prepared in batch:
        meta = json.dumps(dict(prepared.item.metadata), ensure_ascii=False)
        numbered = list(enumerate(prepared.chunks))
        if prepared.document is not None:
            # One more row whose vectors embed the whole text (see omnivec.indexer.chunk_scores).
            numbered.insert(0, (DOCUMENT_CHUNK, Chunk(prepared.document)))
        for number, chunk in numbered:
            rows.append({
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
            })
            if prepared.image_tensor is not None:
                images.append(prepared.image_tensor)
                image_rows.append(len(rows) - 1)
            else:
                texts.append(chunk.text)
                text_rows.append(len(rows) - 1)
    arrays: dict[str, pa.Array] = {key: pa.array([row[key] for row in rows]) for key in _ROW_COLUMNS}
    arrays["chunk"] = pa.array(arrays["chunk"].to_pylist(), pa.int32())
    arrays["start_s"] = pa.array(arrays["start_s"].to_pylist(), pa.float64())
    arrays["end_s"] = pa.array(arrays["end_s"].to_pylist(), pa.float64())
    arrays["metadata"] = pa.array(arrays["metadata"].to_pylist(), json_type())
    for blob in BLOB_COLUMNS:
        arrays[blob] = pa.array([row[blob] for row in rows], pa.large_binary())
    for space, spec in sorted(specs.items()):
        matrix = np.full((len(rows), spec.dim), np.nan, dtype=np.float32)
        if texts:
            matrix[text_rows] = models.embedder(space).encode_texts(texts)
        if images and space == "clip":
            matrix[image_rows] = models.clip().encode_image_tensors(images)
        present = ~np.isnan(matrix).any(axis=1)
        flat = pa.array(np.nan_to_num(matrix).reshape(-1), pa.float32())
        arrays[vector_column(space)] = pa.FixedSizeListArray.from_arrays(
            flat, spec.dim, mask=pa.array(~present)
        )
    return pa.table(arrays)


# -- a run's bookkeeping -------------------------------------------------------------------------


class StaleSources:
    """Old versions of changed files, removed at the end of a run.

    A file whose content changed keeps its path but gets a new id (ids are content hashes), so
    the rows of its earlier version stay under the old id until the run has stored the new one.
    """

    def __init__(self, existing: Mapping[str, tuple[str, str]]) -> None:
        self._by_source: dict[str, set[str]] = {}
        for item_id, (_, source) in existing.items():
            if source:
                self._by_source.setdefault(source, set()).add(item_id)
        self._keep: dict[str, str] = {}

    def keep(self, source: str, item_id: str) -> None:
        """``item_id`` is now stored for ``source``: every other id of that source is stale."""
        if source and self._by_source.get(source, set()) - {item_id}:
            self._keep[source] = item_id

    def stale_ids(self) -> list[str]:
        stale: set[str] = set()
        for source, keep in self._keep.items():
            stale |= self._by_source.get(source, set()) - {keep}
        return sorted(stale)
