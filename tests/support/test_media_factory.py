"""Sanity checks: each media_factory file is exactly the kind of (bad) input it claims to be."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image, UnidentifiedImageError

from tests.support import media_factory as mf


def test_empty_file(tmp_path: Path) -> None:
    p = mf.empty_file(tmp_path, "empty.jpg")
    assert p.name == "empty.jpg" and p.stat().st_size == 0
    with pytest.raises(UnidentifiedImageError):
        Image.open(p)


def test_truncated_jpeg_opens_but_fails_to_load(tmp_path: Path) -> None:
    p = mf.truncated_jpeg(tmp_path)
    assert p.suffix == ".jpg"
    with Image.open(p) as img:
        assert img.format == "JPEG"
        with pytest.raises(OSError):
            img.load()


def test_text_as_png(tmp_path: Path) -> None:
    p = mf.text_as_png(tmp_path)
    assert p.suffix == ".png"
    p.read_text(encoding="utf-8")  # really is text
    with pytest.raises(UnidentifiedImageError):
        Image.open(p)


def test_decompression_bomb_png(tmp_path: Path) -> None:
    p = mf.decompression_bomb_png(tmp_path)
    assert p.stat().st_size < 200_000
    assert mf.BOMB_SIDE**2 > 2 * 89_478_485  # Pillow's default MAX_IMAGE_PIXELS
    assert Image.MAX_IMAGE_PIXELS is not None
    assert mf.BOMB_SIDE**2 > 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(Image.DecompressionBombError):
        Image.open(p)


def test_garbage_wav(tmp_path: Path) -> None:
    p = mf.garbage_wav(tmp_path)
    head = p.read_bytes()[:12]
    assert head[:4] == b"RIFF" and head[8:12] == b"WAVE"
    with pytest.raises(sf.LibsndfileError):
        sf.read(p)


def test_truncated_mp3_is_shorter(tmp_path: Path) -> None:
    full, sr_full = sf.read(mf.SPEECH_DIR / "cooking.mp3")
    p = mf.truncated_mp3(tmp_path)
    assert p.stat().st_size < (mf.SPEECH_DIR / "cooking.mp3").stat().st_size
    part, sr = sf.read(p)  # MP3 decoders return the frames that are there
    assert sr == sr_full
    assert 0 < len(part) < 0.75 * len(full)


def test_truncated_mp3_below_one_frame_fails(tmp_path: Path) -> None:
    p = mf.truncated_mp3(tmp_path, keep_fraction=0.002)
    with pytest.raises(sf.LibsndfileError):
        sf.read(p)


def test_wrong_extension_wav(tmp_path: Path) -> None:
    p = mf.wrong_extension_wav(tmp_path)
    assert p.suffix == ".wav"
    with Image.open(p) as img:
        assert img.format == "JPEG"
    with pytest.raises(sf.LibsndfileError):
        sf.read(p)


def test_good_png_is_valid_and_seeded(tmp_path: Path) -> None:
    a = mf.good_png(tmp_path / "a", seed=1)
    b = mf.good_png(tmp_path / "b", seed=1)
    c = mf.good_png(tmp_path / "c", seed=2)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    with Image.open(a) as img:
        img.load()
        assert img.format == "PNG" and img.mode == "RGB" and img.size == (64, 64)


def test_gif_has_two_frames_first_red(tmp_path: Path) -> None:
    p = mf.gif_first_frame(tmp_path)
    with Image.open(p) as img:
        assert img.format == "GIF"
        assert getattr(img, "n_frames", 1) == 2
        first = np.asarray(img.convert("RGB"))
        img.seek(1)
        second = np.asarray(img.convert("RGB"))
    assert tuple(first[0, 0]) == (255, 0, 0)
    assert tuple(second[0, 0]) == (0, 0, 255)


@pytest.mark.parametrize(
    ("factory", "fmt", "suffix"),
    [
        (mf.webp_image, "WEBP", ".webp"),
        (mf.bmp_image, "BMP", ".bmp"),
        (mf.tiff_image, "TIFF", ".tiff"),
    ],
)
def test_other_formats(
    tmp_path: Path, factory: Callable[[Path], Path], fmt: str, suffix: str
) -> None:
    p = factory(tmp_path)
    assert p.suffix == suffix
    with Image.open(p) as img:
        img.load()
        assert img.format == fmt
        assert max(img.size) == 256
        assert img.convert("RGB").size == img.size


def test_files_are_small(tmp_path: Path) -> None:
    paths = [
        mf.truncated_jpeg(tmp_path),
        mf.decompression_bomb_png(tmp_path),
        mf.garbage_wav(tmp_path),
        mf.truncated_mp3(tmp_path),
        mf.wrong_extension_wav(tmp_path),
        mf.gif_first_frame(tmp_path),
        mf.webp_image(tmp_path),
        mf.bmp_image(tmp_path),
        mf.tiff_image(tmp_path),
    ]
    for p in paths:
        assert p.stat().st_size < 200_000, p
