"""One stored item for people to look at and listen to: its chunks, its thumbnail, its audio.

What may be read back is deliberately narrow, because these bytes go to any client of the server:

- **Thumbnails** come from the ``thumbnail`` column, written when the image was indexed. An item
  indexed before that column existed gets one lazily: from its source file, only when that file
  lies under ``root`` (the server's ``index_root``), and the result is stored for next time.
- **Audio** comes from the ``media`` column (bytes the uploader asked to store), or from the
  item's source file when that lies under ``root``. Nothing else is ever read: the source is
  resolved (``..`` and every link followed) and must stay inside the resolved root, so neither a
  crafted ``source_uri`` nor a link inside the root leads out of it. With no root, only stored
  bytes are served.

Clients name an item only by collection and item id; no path ever comes from a request.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnivec.indexer.discovery import is_inside
from omnivec.indexer.errors import InvalidInputError, MediaError, NotFoundError
from omnivec.indexer.filters import LABEL_COLUMN_PREFIX
from omnivec.indexer.media import MediaKind, read_media_bytes
from omnivec.indexer.search import row_metadata
from omnivec.indexer.store import Collection
from omnivec.indexer.thumbnails import THUMBNAIL_MEDIA_TYPE, make_thumbnail

__all__ = ["AudioSource", "ItemChunk", "ItemView", "audio_media_type", "item_audio",
           "item_thumbnail", "item_view", "source_under_root"]

log = logging.getLogger("omnivec.item_media")

_AUDIO_TYPES = {
    ".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".ogg": "audio/ogg",
    ".oga": "audio/ogg", ".opus": "audio/ogg", ".webm": "audio/webm",
}


@dataclass(frozen=True)
class ItemChunk:
    chunk: int
    text: str | None
    start_s: float | None
    end_s: float | None


@dataclass(frozen=True)
class ItemView:
    """An item as a viewer shows it: what it is, where it came from, all of its text."""

    id: str
    modality: str
    source_uri: str
    metadata: dict[str, Any]
    chunks: tuple[ItemChunk, ...]
    labels: dict[str, Any]  # label_* columns written by applied probes


@dataclass(frozen=True)
class AudioSource:
    """Playable audio: stored bytes, or a file under the root (served with range requests)."""

    media_type: str
    data: bytes | None = None
    path: Path | None = None


def audio_media_type(head: bytes) -> str:
    """The MIME type of audio bytes, from their leading bytes."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return "application/octet-stream"


def source_under_root(source_uri: str, root: Path | None) -> Path | None:
    """The real path of a local source file when it lies inside ``root``, else None."""
    if root is None or not source_uri or "\x00" in source_uri or "://" in source_uri:
        return None
    real_root = Path(os.path.realpath(root))
    candidate = Path(os.path.realpath(real_root / source_uri))  # an absolute source stays absolute
    if not is_inside(real_root, candidate) or not candidate.is_file():
        return None
    return candidate


def item_view(collection: Collection, item_id: str) -> ItemView:
    rows = collection.item_chunks(item_id)
    first = rows[0]
    labels = {k: v for k, v in first.items() if k.startswith(LABEL_COLUMN_PREFIX)}
    return ItemView(
        id=item_id,
        modality=str(first["modality"]),
        source_uri=first["source_uri"] or "",
        metadata=row_metadata(first["metadata"]),
        chunks=tuple(
            ItemChunk(int(r["chunk"]), r["text"], r["start_s"], r["end_s"]) for r in rows
        ),
        labels=labels,
    )


def item_thumbnail(collection: Collection, item_id: str, root: Path | None) -> tuple[bytes, str]:
    """The item's thumbnail bytes and MIME type (made and stored now for older collections)."""
    row = collection.item_row(item_id, "thumbnail")
    if row["modality"] != MediaKind.IMAGE.value:
        raise InvalidInputError(f"item {item_id!r} is {row['modality']}, not an image: it has no thumbnail")
    if row["thumbnail"]:
        return bytes(row["thumbnail"]), THUMBNAIL_MEDIA_TYPE
    source = source_under_root(row["source_uri"] or "", root)
    if source is None:
        raise NotFoundError(
            f"item {item_id!r} has no stored thumbnail (it was indexed before thumbnails were "
            "kept) and its source is not a file under the server's index root; re-index it to "
            "store one"
        )
    try:
        thumbnail = make_thumbnail(read_media_bytes(source, str(source)), name=str(source))
    except MediaError as exc:
        raise NotFoundError(f"item {item_id!r}: its source can no longer be read ({exc.reason})") from exc
    try:
        collection.set_item_blob(item_id, "thumbnail", thumbnail)
    except Exception as exc:  # noqa: BLE001 - a read must not fail because caching it did
        log.warning("could not store the thumbnail of %r in %r: %s", item_id, collection.name, exc)
    return thumbnail, THUMBNAIL_MEDIA_TYPE


def item_audio(collection: Collection, item_id: str, root: Path | None) -> AudioSource:
    """Where the item's audio can be played from (see the module docstring for the rules)."""
    row = collection.item_row(item_id, "media")
    if row["modality"] != MediaKind.AUDIO.value:
        raise InvalidInputError(f"item {item_id!r} is {row['modality']}, not audio")
    stored = row["media"]
    if stored:
        data = bytes(stored)
        return AudioSource(audio_media_type(data[:16]), data=data)
    path = source_under_root(row["source_uri"] or "", root)
    if path is None:
        raise NotFoundError(
            f"the audio of item {item_id!r} is not available: it was not stored at upload and "
            "its source is not a file under the server's index root"
        )
    return AudioSource(_AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream"), path=path)

