"""Factories for good and deliberately broken media files, for bad-input tests.

Every function writes one file into the given directory (usually pytest's
``tmp_path``) and returns its :class:`~pathlib.Path`. The module has no pytest
dependency so it can also be used from scripts and benchmarks.

Real photos come from ``skimage.data`` (a test dependency); real compressed
audio comes from the committed speech fixtures in ``tests/fixtures/speech``.
Everything is deterministic: the same call writes the same bytes.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

SPEECH_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "speech"

# Side of the square decompression-bomb PNG: 16384**2 = 268,435,456 px, which is
# above 2 * Image.MAX_IMAGE_PIXELS (default 89,478,485 -> 178,956,970), the point
# at which Pillow raises DecompressionBombError instead of only warning.
BOMB_SIDE = 16384


def _photo(name: str = "chelsea", max_side: int = 256) -> Image.Image:
    """A real RGB photo from skimage.data, shrunk so that files stay small."""
    import skimage.data  # local import: only needed by the photo-based factories

    arr = getattr(skimage.data, name)()
    img = Image.fromarray(np.asarray(arr)).convert("RGB")
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return img


def _jpeg_bytes(quality: int = 85) -> bytes:
    buf = io.BytesIO()
    _photo().save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def empty_file(dir: Path | str, name: str) -> Path:
    """A zero-byte file called ``name`` (e.g. ``"empty.jpg"``, ``"empty.wav"``).

    Simulates an interrupted upload or a placeholder file: there is no header
    at all, so every decoder must reject it.
    """
    return _write(Path(dir) / name, b"")


def truncated_jpeg(dir: Path | str) -> Path:
    """``truncated.jpg``: a real JPEG photo cut in half (no EOI marker).

    Simulates a partial download. ``Image.open`` still succeeds because the
    header is intact, but ``Image.load()`` raises ``OSError`` ("image file is
    truncated") unless ``ImageFile.LOAD_TRUNCATED_IMAGES`` is set.
    """
    data = _jpeg_bytes()
    return _write(Path(dir) / "truncated.jpg", data[: len(data) // 2])


def text_as_png(dir: Path | str) -> Path:
    """``not_an_image.png``: plain UTF-8 text with a ``.png`` extension.

    Simulates a user renaming a file or a mislabelled upload; sniffing by
    extension would pick the image path, but Pillow raises
    ``UnidentifiedImageError``.
    """
    text = "This is not a PNG image, just a plain text note saved with the wrong extension.\n"
    return _write(Path(dir) / "not_an_image.png", (text * 4).encode("utf-8"))


def decompression_bomb_png(dir: Path | str) -> Path:
    """``bomb.png``: a tiny (~35 KB) 1-bit PNG that declares 16384 x 16384 pixels.

    Simulates a decompression-bomb attack: the file is small but would expand
    to hundreds of megabytes of pixels. With Pillow's default
    ``Image.MAX_IMAGE_PIXELS`` the pixel count is more than twice the limit, so
    ``Image.open`` raises ``PIL.Image.DecompressionBombError``. The PNG is
    written chunk by chunk (streamed zlib of all-black rows), so building it
    never allocates the full image.
    """
    width = height = BOMB_SIDE
    # bit depth 1, colour type 0 (greyscale), deflate, filter method 0, no interlace
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0 + packed bits
    comp = zlib.compressobj(9)
    rows_per_block = 256
    block = row * rows_per_block
    parts = [comp.compress(block) for _ in range(height // rows_per_block)]
    parts.append(comp.compress(row * (height % rows_per_block)))
    parts.append(comp.flush())
    idat = b"".join(parts)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    return _write(Path(dir) / "bomb.png", png)


def garbage_wav(dir: Path | str) -> Path:
    """``garbage.wav``: a valid ``RIFF....WAVE`` preamble followed by random junk.

    Simulates a corrupted recording: magic-byte sniffing says "WAV", but there
    is no ``fmt `` chunk, so ``soundfile`` / PyAV fail to decode it.
    """
    rng = random.Random(1234)
    junk = bytes(rng.getrandbits(8) for _ in range(4096))
    data = b"RIFF" + struct.pack("<I", 4 + len(junk)) + b"WAVE" + junk
    return _write(Path(dir) / "garbage.wav", data)


def truncated_mp3(dir: Path | str, keep_fraction: float = 0.5) -> Path:
    """``truncated.mp3``: the committed ``cooking.mp3`` fixture cut to ``keep_fraction``.

    Simulates a partially downloaded / interrupted upload. Note that MP3 is a
    stream of independent frames, so decoders (libsndfile, PyAV) do *not*
    raise on the default half file: they return roughly the first half of the
    audio. Tests should expect a graceful partial result (shorter duration),
    or an error when ``keep_fraction`` leaves less than one frame (~0.4% of
    the file), never a crash or hang.
    """
    data = (SPEECH_DIR / "cooking.mp3").read_bytes()
    keep = max(1, int(len(data) * keep_fraction))
    return _write(Path(dir) / "truncated.mp3", data[:keep])


def wrong_extension_wav(dir: Path | str) -> Path:
    """``photo.wav``: a real JPEG photo saved with a ``.wav`` extension.

    Simulates a mislabelled file: routing by extension sends it to the audio
    decoder, which must reject it cleanly (content sniffing would say JPEG).
    """
    return _write(Path(dir) / "photo.wav", _jpeg_bytes())


def good_png(dir: Path | str, seed: int = 0, size: int = 64) -> Path:
    """``good_<seed>.png``: a valid ``size`` x ``size`` RGB PNG, different per seed.

    The control case: a small, well-formed image (smooth colour gradient plus
    seeded noise) that every loader must accept. Same seed, same bytes.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / max(size - 1, 1)
    base = rng.uniform(0, 255, size=3)
    grad = np.stack([xx * 255, yy * 255, (1 - xx) * 255], axis=-1)
    noise = rng.normal(0, 20, size=(size, size, 3))
    arr = np.clip(0.5 * grad + 0.5 * base + noise, 0, 255).astype(np.uint8)
    path = Path(dir) / f"good_{seed}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, "RGB").save(path, "PNG")
    return path


def gif_first_frame(dir: Path | str) -> Path:
    """``animated.gif``: a 2-frame animated GIF, frame 0 solid red, frame 1 solid blue.

    Simulates an animated upload: the pipeline should embed the first frame
    only, so a loader can be checked by asserting the decoded pixels are red.
    """
    size = (32, 32)
    red = Image.new("RGB", size, (255, 0, 0))
    blue = Image.new("RGB", size, (0, 0, 255))
    path = Path(dir) / "animated.gif"
    path.parent.mkdir(parents=True, exist_ok=True)
    red.save(path, "GIF", save_all=True, append_images=[blue], duration=200, loop=0)
    return path


def photo_as(dir: Path | str, fmt: str) -> Path:
    """``cat.<ext>``: the skimage "chelsea" cat photo (256 px) saved as ``fmt``.

    ``fmt`` is a Pillow format name: ``"WEBP"``, ``"BMP"``, ``"TIFF"``,
    ``"JPEG"`` or ``"PNG"``. Simulates valid uploads in less common formats;
    the loader must accept them and produce an RGB image of the same size.
    """
    ext = {"WEBP": "webp", "BMP": "bmp", "TIFF": "tiff", "JPEG": "jpg", "PNG": "png"}[fmt.upper()]
    path = Path(dir) / f"cat.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    img = _photo()
    if fmt.upper() == "WEBP":
        img.save(path, "WEBP", quality=80)
    elif fmt.upper() == "TIFF":
        img.save(path, "TIFF", compression="tiff_deflate")
    else:
        img.save(path, fmt.upper())
    return path


def webp_image(dir: Path | str) -> Path:
    """``cat.webp``: a real photo in WebP (lossy) format; a valid input."""
    return photo_as(dir, "WEBP")


def bmp_image(dir: Path | str) -> Path:
    """``cat.bmp``: a real photo as an uncompressed 24-bit BMP; a valid input."""
    return photo_as(dir, "BMP")


def tiff_image(dir: Path | str) -> Path:
    """``cat.tiff``: a real photo as a deflate-compressed TIFF; a valid input."""
    return photo_as(dir, "TIFF")
