"""Reading and decoding of user media (images, audio, text) with strict validation.

:func:`read_media_bytes` is the one way a media file's bytes are read (by the decoders, the
indexer and the CLI's uploads), so a missing, unreadable or empty file is refused with the same
words everywhere. Each loader takes a path or bytes, fully decodes it (so truncation is found here, not later in a
model thread), and raises :class:`MediaError` naming the source and the reason. Formats are
recognised by content ("magic bytes"), and a file whose content contradicts its extension is
rejected, because that almost always means a mislabelled or damaged file.
"""

from __future__ import annotations

import io
import stat
import warnings
from enum import Enum
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image, UnidentifiedImageError

from omnivec.indexer.errors import MediaError

__all__ = [
    "AUDIO_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "TEXT_EXTENSIONS",
    "MediaKind",
    "MediaSource",
    "SAMPLE_RATE",
    "check_content_kind",
    "decode_audio",
    "decode_image",
    "decode_text",
    "kind_for_path",
    "read_media_bytes",
    "sniff_kind",
]

MediaSource = Path | bytes
"""A file on disk or the raw bytes of one (gRPC uploads)."""

SAMPLE_RATE: Final = 16_000
"""Whisper's input rate; every decoded clip is resampled to mono at this rate."""

IMAGE_EXTENSIONS: Final = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
)
AUDIO_EXTENSIONS: Final = frozenset({".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus"})
TEXT_EXTENSIONS: Final = frozenset({".txt", ".md", ".markdown", ".rst"})
MAX_TEXT_BYTES: Final = 64 * 1024 * 1024
MAX_AUDIO_SECONDS: Final = 4 * 3600.0


class MediaKind(str, Enum):
    IMAGE = "image"
    AUDIO = "audio"
    TEXT = "text"


def kind_for_path(path: Path) -> MediaKind | None:
    """The modality a file's extension promises, or None for extensions we do not index."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return MediaKind.IMAGE
    if suffix in AUDIO_EXTENSIONS:
        return MediaKind.AUDIO
    if suffix in TEXT_EXTENSIONS:
        return MediaKind.TEXT
    return None


def sniff_kind(head: bytes) -> MediaKind | None:
    """Recognise images and audio by their leading bytes; None when neither matches."""
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")):
        return MediaKind.IMAGE
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return MediaKind.IMAGE
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaKind.IMAGE
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return MediaKind.AUDIO
    if head.startswith((b"fLaC", b"OggS", b"ID3")):
        return MediaKind.AUDIO
    # MPEG audio frame sync: 11 set bits (MP3 without an ID3 tag).
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        return MediaKind.AUDIO
    return None


def _describe(source: MediaSource, name: str | None) -> str:
    if name:
        return name
    return str(source) if isinstance(source, Path) else "<bytes>"


def read_media_bytes(source: MediaSource, label: str, *, limit: int | None = None) -> bytes:
    """The bytes of a media file (or the given bytes), refusing what cannot be media: a missing
    file, a directory, an unreadable file, an empty one, or one over ``limit`` bytes. Every
    refusal is a MediaError naming ``label`` and what to do."""
    if isinstance(source, bytes):
        data = source
    else:
        try:
            info = source.stat()
            if stat.S_ISDIR(info.st_mode):
                raise MediaError(label, "is a directory, not a file")
            if limit is not None and info.st_size > limit:
                raise MediaError(label, f"file is {info.st_size} bytes, over the limit of {limit}")
            data = source.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise MediaError(label, "file does not exist; check the path") from None
        except IsADirectoryError:
            raise MediaError(label, "is a directory, not a file") from None
        except PermissionError as exc:
            raise MediaError(label, "permission denied; make the file readable") from exc
        except OSError as exc:
            raise MediaError(label, f"cannot be read: {exc.strerror or exc}") from exc
    if not data:
        raise MediaError(label, "is empty (0 bytes)")
    return data


def check_content_kind(data: bytes, promised: MediaKind | None, label: str) -> None:
    """Refuse content that contradicts the modality its name (or its caller) promises: that
    almost always means a mislabelled or damaged file."""
    sniffed = sniff_kind(data[:16])
    if promised is not None and sniffed is not None and sniffed != promised:
        raise MediaError(
            label,
            f"extension says {promised.value} but the content is {sniffed.value}; "
            "rename the file or re-export it",
        )


def _check_extension(source: MediaSource, label: str, data: bytes, expected: MediaKind) -> None:
    # Only a file whose extension promises what is being decoded is held to it: decoding a
    # .txt as an image is the caller's explicit choice.
    if isinstance(source, Path) and kind_for_path(source) == expected:
        check_content_kind(data, expected, label)


def decode_image(source: MediaSource, *, name: str | None = None) -> Image.Image:
    """Decode an image fully into RGB, protected against truncation and decompression bombs.

    GIFs and other multi-frame formats yield their first frame. Pillow's pixel limit
    (``Image.MAX_IMAGE_PIXELS``) is enforced strictly: its warning band is treated as an error too.
    """
    label = _describe(source, name)
    data = read_media_bytes(source, label)
    _check_extension(source, label, data, MediaKind.IMAGE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                opened.seek(0)
                # load() decodes every byte now: a truncated file fails here, in the decode thread.
                opened.load()
                image = opened.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(
            label,
            f"image is too large to decode safely ({exc}); downscale it below "
            f"{Image.MAX_IMAGE_PIXELS} pixels",
        ) from exc
    except UnidentifiedImageError as exc:
        raise MediaError(label, "is not a recognised image (JPEG, PNG, WebP, GIF, BMP, TIFF)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(label, f"image data is damaged or truncated ({exc})") from exc
    if image.width < 1 or image.height < 1:
        raise MediaError(label, "image has no pixels")
    return image


def decode_audio(source: MediaSource, *, name: str | None = None) -> np.ndarray:
    """Decode WAV, FLAC, MP3 or OGG to mono float32 samples at 16 kHz (Whisper's input).

    Uses PyAV (FFmpeg), the decoder faster-whisper itself uses, so what we validate here is exactly
    what transcription will read.
    """
    from faster_whisper.audio import decode_audio as _fw_decode

    label = _describe(source, name)
    data = read_media_bytes(source, label)
    _check_extension(source, label, data, MediaKind.AUDIO)
    if sniff_kind(data[:16]) is None:
        raise MediaError(label, "is not a recognised audio file (WAV, FLAC, MP3, OGG)")
    try:
        samples = _fw_decode(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV raises many unrelated classes for damaged streams
        raise MediaError(label, f"audio cannot be decoded ({type(exc).__name__}: {exc})") from exc
    if not isinstance(samples, np.ndarray) or samples.size == 0:
        raise MediaError(label, "audio holds no samples (empty or damaged stream)")
    if samples.size / SAMPLE_RATE > MAX_AUDIO_SECONDS:
        raise MediaError(label, f"audio is longer than {MAX_AUDIO_SECONDS / 3600:.0f} hours; split it")
    if not np.isfinite(samples).all():
        raise MediaError(label, "audio decodes to non-finite samples; the file is damaged")
    return samples.astype(np.float32, copy=False)


def decode_text(source: MediaSource, *, name: str | None = None) -> str:
    """Read UTF-8 text (BOM tolerated); binary content is an error rather than mojibake."""
    label = _describe(source, name)
    data = read_media_bytes(source, label, limit=MAX_TEXT_BYTES)
    if len(data) > MAX_TEXT_BYTES:
        raise MediaError(label, f"text is over {MAX_TEXT_BYTES} bytes; split it")
    if sniff_kind(data[:16]) is not None or b"\x00" in data[:4096]:
        raise MediaError(label, "looks like binary data, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MediaError(label, f"is not valid UTF-8 text (byte {exc.start}); re-save as UTF-8") from exc
    if not text.strip():
        raise MediaError(label, "holds only whitespace")
    return text

