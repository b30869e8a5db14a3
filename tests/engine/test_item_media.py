"""Thumbnails kept at index time, lazily made for older collections, and audio read back only from
stored bytes or from files under the root (engine level; the HTTP routes are in tests/server)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from omnivec.indexer.discovery import IngestItem
from omnivec.indexer.errors import InvalidInputError, NotFoundError
from omnivec.indexer.media import MediaKind
from omnivec.indexer.thumbnails import THUMBNAIL_SIDE
from tests.support.paths import SAMPLES, SPEECH


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("index-root")
    shutil.copy(SAMPLES / "images" / "rocket.jpg", folder / "rocket.jpg")
    shutil.copy(SPEECH / "weather.wav", folder / "weather.wav")
    (folder / "note.txt").write_text("A note about espresso machines.")
    return folder


@pytest.fixture(scope="module")
def media_collection(engine, root: Path) -> str:  # type: ignore[no-untyped-def]
    name = "item-media"
    engine.index_paths(name, [root], recursive=True)
    stored = (SPEECH / "rocket.wav").read_bytes()
    engine.upsert(name, [
        IngestItem(label="upload", modality=MediaKind.AUDIO, data=stored, item_id="kept",
                   source_uri="/etc/passwd", store_media=True),
        IngestItem(label="upload2", modality=MediaKind.AUDIO, data=stored + b"\0", item_id="not-kept",
                   source_uri="../../../../etc/passwd"),
    ])
    return name


def _item(engine, collection: str, suffix: str) -> str:  # type: ignore[no-untyped-def]
    for item_id, (_, source) in engine.collection(collection).item_index().items():
        if source.endswith(suffix):
            return str(item_id)
    raise AssertionError(f"no item from {suffix}")


def test_every_indexed_image_has_a_small_webp_thumbnail(engine, media_collection: str) -> None:  # type: ignore[no-untyped-def]
    item = _item(engine, media_collection, "rocket.jpg")
    data, media_type = engine.thumbnail(media_collection, item, root=None)  # no file is read
    image = Image.open(io.BytesIO(data))
    assert media_type == "image/webp" and image.format == "WEBP"
    assert max(image.size) == THUMBNAIL_SIDE
    original = Image.open(SAMPLES / "images" / "rocket.jpg")
    assert abs(image.size[0] / image.size[1] - original.size[0] / original.size[1]) < 0.02
    with pytest.raises(InvalidInputError, match="not an image"):
        engine.thumbnail(media_collection, _item(engine, media_collection, "note.txt"), root=None)
    with pytest.raises(NotFoundError):
        engine.thumbnail(media_collection, "no-such-item", root=None)


def test_older_collections_get_thumbnails_lazily_from_files_under_the_root(engine, root: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine.index_paths("before-thumbnails", [root / "rocket.jpg"])
    collection = engine.collection("before-thumbnails")
    # What a collection written before the blob columns existed looks like.
    collection.lance_table.drop_columns(["thumbnail", "media"])
    item = _item(engine, "before-thumbnails", "rocket.jpg")
    with pytest.raises(NotFoundError, match="index root"):
        engine.thumbnail("before-thumbnails", item, root=None)
    with pytest.raises(NotFoundError, match="index root"):
        engine.thumbnail("before-thumbnails", item, root=tmp_path)  # the source lies elsewhere
    data, _ = engine.thumbnail("before-thumbnails", item, root=root)
    assert Image.open(io.BytesIO(data)).format == "WEBP"
    assert "thumbnail" in collection.lance_table.schema.names
    # Stored: found again with no root at all.
    assert engine.thumbnail("before-thumbnails", item, root=None)[0] == data
    # And the next write into the upgraded table still works.
    report = engine.index_paths("before-thumbnails", [root / "note.txt"])
    assert report.indexed == 1


def test_audio_comes_from_stored_bytes_or_a_file_under_the_root(engine, media_collection: str, root: Path) -> None:  # type: ignore[no-untyped-def]
    kept = engine.item_audio(media_collection, "kept", root=None)
    assert kept.data == (SPEECH / "rocket.wav").read_bytes() and kept.media_type == "audio/wav"
    # A source_uri pointing anywhere is never read: only what was uploaded and stored.
    with pytest.raises(NotFoundError):
        engine.item_audio(media_collection, "not-kept", root=root)
    weather = _item(engine, media_collection, "weather.wav")
    with pytest.raises(NotFoundError, match="index root"):
        engine.item_audio(media_collection, weather, root=None)
    served = engine.item_audio(media_collection, weather, root=root)
    assert served.path == (root / "weather.wav").resolve() and served.media_type == "audio/wav"
    with pytest.raises(InvalidInputError, match="not audio"):
        engine.item_audio(media_collection, _item(engine, media_collection, "rocket.jpg"), root=root)


def test_a_link_inside_the_root_that_leads_out_is_never_followed(engine, root: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(SPEECH / "cooking.wav", outside / "secret.wav")
    jail = tmp_path / "jail"
    jail.mkdir()
    os.symlink(outside / "secret.wav", jail / "linked.wav")
    engine.create_collection("linked-audio", ["text"])
    engine.upsert("linked-audio", [IngestItem(
        label="link", modality=MediaKind.AUDIO, data=(outside / "secret.wav").read_bytes(),
        item_id="linked", source_uri=str(jail / "linked.wav"),
    )])
    # The source path lies inside the jail, but resolves outside it: refused.
    with pytest.raises(NotFoundError, match="index root"):
        engine.item_audio("linked-audio", "linked", root=jail)
    # The same item served when the root really holds the file.
    assert engine.item_audio("linked-audio", "linked", root=tmp_path).path == (outside / "secret.wav").resolve()


def test_item_view_has_every_chunk_and_the_metadata(engine, media_collection: str) -> None:  # type: ignore[no-untyped-def]
    view = engine.item(media_collection, _item(engine, media_collection, "weather.wav"))
    assert view.modality == "audio" and view.chunks
    assert all(c.start_s is not None for c in view.chunks)
    assert "sunny" in " ".join(c.text or "" for c in view.chunks).lower()
