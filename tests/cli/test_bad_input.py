"""Every kind of bad media gives one clear error naming the file and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivec.indexer.errors import MediaError
from omnivec.indexer.media import decode_audio, decode_image, decode_text
from tests.support import media_factory as mf
from tests.support.paths import SPEECH
from tests.support.processes import invoke_cli, run_cli


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: d / "missing.jpg", "does not exist"),
        (lambda d: mf.empty_file(d, "empty.png"), "empty"),
        (mf.truncated_jpeg, "damaged or truncated"),
        (mf.text_as_png, "not a recognised image"),
        (mf.decompression_bomb_png, "too large to decode safely"),
        (mf.garbage_wav, "extension says image but the content is audio"),
    ],
    ids=["missing", "empty", "truncated", "text-as-png", "bomb", "wav-as-image"],
)
def test_bad_images_raise_media_error(tmp_path: Path, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    if path.suffix != ".jpg" and reason.startswith("extension"):
        path = path.rename(path.with_suffix(".jpg"))
    with pytest.raises(MediaError, match=reason) as info:
        decode_image(path)
    assert str(path) in str(info.value)


def test_decompression_bomb_limit_is_not_lifted() -> None:
    from PIL import Image

    assert Image.MAX_IMAGE_PIXELS is not None


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: mf.empty_file(d, "empty.wav"), "empty"),
        (mf.garbage_wav, "cannot be decoded"),
        (mf.wrong_extension_wav, "extension says audio but the content is image"),
        (lambda d: d / "nope.mp3", "does not exist"),
    ],
    ids=["empty", "garbage", "jpeg-as-wav", "missing"],
)
def test_bad_audio_raises_media_error(tmp_path: Path, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    with pytest.raises(MediaError, match=reason) as info:
        decode_audio(path)
    assert str(path) in str(info.value)


def test_truncated_mp3_decodes_what_is_there_or_fails_cleanly(tmp_path: Path) -> None:
    path = mf.truncated_mp3(tmp_path)
    try:
        samples = decode_audio(path)
    except MediaError as exc:
        assert str(path) in str(exc)
    else:
        assert samples.size > 0


def test_good_formats_decode(tmp_path: Path) -> None:
    for make in (mf.webp_image, mf.bmp_image, mf.tiff_image, mf.gif_first_frame):
        image = decode_image(make(tmp_path))
        assert image.mode == "RGB" and image.width > 0
    for name in ("weather.wav", "weather.flac", "cooking.mp3", "rocket.ogg"):
        assert decode_audio(SPEECH / name).size > 16_000


def test_binary_text_is_rejected(tmp_path: Path) -> None:
    path = mf.truncated_jpeg(tmp_path).rename(tmp_path / "note.txt")
    with pytest.raises(MediaError, match="binary"):
        decode_text(path)


def test_bad_bytes_are_named(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MediaError, match="<bytes>"):
        engine.embed_images([b"definitely not an image"])


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["embed", "--image", "{tmp}/missing.jpg"], "does not exist"),
        (["embed", "--image", "{bomb}"], "too large to decode safely"),
        (["transcribe", "{garbage}"], "cannot be decoded"),
        (["transcribe", "{empty}"], "empty"),
        (["embed"], "exactly one kind of input"),
        (["embed", "--text", "x", "--space", "nope"], "unknown space"),
    ],
    ids=["missing-image", "bomb", "garbage-audio", "empty-audio", "no-input", "bad-space"],
)
def test_cli_prints_one_clear_error_without_traceback(
    tmp_path: Path, cli_env: dict[str, str], args: list[str], reason: str
) -> None:
    files = {
        "tmp": str(tmp_path),
        "bomb": str(mf.decompression_bomb_png(tmp_path)),
        "garbage": str(mf.garbage_wav(tmp_path)),
        "empty": str(mf.empty_file(tmp_path, "empty.ogg")),
    }
    argv = [a.format(**files) for a in args]
    # The first case runs the real console script; the rest run the same app in process.
    result = run_cli(*argv, env=cli_env) if args[1:2] == ["--image"] and "missing" in args[2] else invoke_cli(*argv, env=cli_env)
    assert result.returncode == 2, result.stderr
    assert reason in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
