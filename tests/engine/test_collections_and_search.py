"""Collections, the indexer and cross-modal search on a real mixed folder (engine, no server).

The tests that store anything run twice: on local disk and on SeaweedFS (the ``storage``
fixture), through an engine of their own that shares the session's models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from omnivec.client import SearchQuery
from omnivec.indexer.errors import (
    AlreadyExistsError,
    EncoderMismatchError,
    InvalidInputError,
    NotFoundError,
)
from tests.support import media_factory as mf
from tests.support.paths import SAMPLES, SPEECH
from tests.support.processes import invoke_cli


@pytest.fixture(scope="module")
def engine(storage, settings, models):  # type: ignore[no-untyped-def]
    """This module's engine, over a data directory on the ``storage`` under test."""
    from omnivec.indexer.engine import Engine

    engine = Engine(storage.settings(settings, storage.data_dir()), models)
    yield engine
    engine.store.close()


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real photos, espeak-ng speech, short texts, a JSONL manifest, and broken files."""
    root = tmp_path_factory.mktemp("mixed")
    (root / "photos").mkdir()
    for name in ("cat", "coffee", "rocket", "astronaut"):
        shutil.copy(SAMPLES / "images" / f"{name}.jpg", root / "photos" / f"{name}.jpg")
    (root / "speech").mkdir()
    for name in ("weather.wav", "cooking.mp3", "rocket.ogg"):
        shutil.copy(SPEECH / name, root / "speech" / name)
    (root / "notes").mkdir()
    for name in ("espresso.txt", "cats.md", "space_launches.txt", "coins_and_deep_sky.md"):
        shutil.copy(SAMPLES / "texts" / name, root / "notes" / name)
    shutil.copy(SAMPLES / "texts" / "tickets.jsonl", root / "notes" / "tickets.jsonl")
    broken = root / "broken"
    broken.mkdir()
    bad = {
        "truncated": mf.truncated_jpeg(broken),
        "empty": mf.empty_file(broken, "empty.txt"),
        "garbage": mf.garbage_wav(broken),
        "mislabelled": mf.text_as_png(broken),
        "bomb": mf.decompression_bomb_png(broken),
    }
    return {"root": root, **bad}


@pytest.fixture(scope="module")
def indexed(engine, mixed_folder):  # type: ignore[no-untyped-def]
    events = []
    report = engine.index_paths("mixed", [mixed_folder["root"]], recursive=True, on_event=events.append)
    return report, events


def test_indexing_reports_good_and_broken_files(indexed, mixed_folder) -> None:  # type: ignore[no-untyped-def]
    report, events = indexed
    failed = dict(report.failed)
    assert len(failed) == 5, report.failed
    for key in ("truncated", "empty", "garbage", "mislabelled", "bomb"):
        assert str(mixed_folder[key]) in failed, key
    assert "truncated" in failed[str(mixed_folder["truncated"])]
    assert "too large" in failed[str(mixed_folder["bomb"])]
    # 4 photos + 3 clips + 4 notes + 8 ticket lines
    assert report.indexed == 19 and report.unchanged == 0
    assert sum(e.status == "indexed" for e in events) == 19


def test_second_run_reports_everything_unchanged(engine, indexed, mixed_folder) -> None:  # type: ignore[no-untyped-def]
    before = engine.describe_collection("mixed")
    report = engine.index_paths("mixed", [mixed_folder["root"]], recursive=True)
    assert report.indexed == 0 and report.unchanged == 19 and len(report.failed) == 5
    after = engine.describe_collection("mixed")
    assert after.row_count == before.row_count and after.item_count == before.item_count


def test_describe_counts_modalities_and_spaces(engine, indexed) -> None:  # type: ignore[no-untyped-def]
    info = engine.describe_collection("mixed")
    assert info.modality_counts == {"image": 4, "audio": 3, "text": 12}
    assert set(info.spaces) == {"clip", "text"}
    assert info.spaces["clip"].vectors == info.row_count  # every row has a clip vector
    assert info.spaces["text"].vectors == info.row_count - 4  # images have no text vector
    assert info.row_count > info.item_count  # the long markdown note was chunked
    assert info.size_bytes > 0 and info.lance_version >= 2
    assert info.spaces["text"].index_kind == "flat"


def test_text_query_finds_the_speech_clip_with_its_span(engine, indexed) -> None:  # type: ignore[no-untyped-def]
    result = engine.search("mixed", SearchQuery(text="sunny weather with a breeze from the ocean", k=3, spaces=("text",)))
    top = result.hits[0]
    assert top.modality == "audio" and top.source_uri.endswith("weather.wav")
    assert top.span is not None and top.span.start_seconds is not None
    assert top.span.end_seconds is not None and top.span.end_seconds > top.span.start_seconds
    assert "breeze" in top.span.text.lower()


def test_text_query_finds_the_right_note(engine, indexed) -> None:  # type: ignore[no-untyped-def]
    result = engine.search("mixed", SearchQuery(text="how is espresso brewed under pressure", k=3, modalities=("text",), spaces=("text",)))
    assert result.hits[0].source_uri.endswith("espresso.txt")


def test_audio_query_is_transcribed_then_searched(engine, indexed) -> None:  # type: ignore[no-untyped-def]
    result = engine.search("mixed", SearchQuery(audio=SPEECH / "rocket.wav", k=3, spaces=("text",)))
    assert "rocket" in (result.query_transcript or "").lower()
    assert result.hits[0].source_uri.endswith("rocket.ogg")


def test_cropped_resized_photo_finds_the_original(engine, indexed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    original = Image.open(SAMPLES / "images" / "rocket.jpg")
    w, h = original.size
    crop = original.crop((w // 10, h // 10, w - w // 10, h - h // 10)).resize((w // 2, h // 2))
    query = tmp_path / "crop.png"
    crop.save(query)
    result = engine.search("mixed", SearchQuery(image=query, k=3, modalities=("image",)))
    assert result.hits[0].source_uri.endswith("rocket.jpg")
    assert result.hits[0].space == "clip"


def test_like_item_excludes_itself(engine, indexed) -> None:  # type: ignore[no-untyped-def]
    first = engine.search("mixed", SearchQuery(text="cat", k=1, modalities=("image",), spaces=("clip",))).hits[0]
    result = engine.search("mixed", SearchQuery(item_id=first.id, k=5))
    assert result.hits and first.id not in {h.id for h in result.hits}


def test_metadata_filter_keeps_recall(engine, indexed) -> None:  # type: ignore[no-untyped-def]
    result = engine.search("mixed", SearchQuery(text="broken machine", k=10, where="priority = 'high'"))
    assert len(result.hits) == 4  # exactly four high-priority tickets exist
    assert all(h.metadata["priority"] == "high" for h in result.hits)


def test_bad_queries_are_clear_errors(engine, indexed) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match="exactly one query"):
        engine.search("mixed", SearchQuery(k=3))
    with pytest.raises(InvalidInputError, match="k must be"):
        engine.search("mixed", SearchQuery(text="x", k=0))
    with pytest.raises(InvalidInputError, match="filter"):
        engine.search("mixed", SearchQuery(text="x", where="priority = "))
    with pytest.raises(NotFoundError, match="does not exist"):
        engine.search("nope", SearchQuery(text="x"))
    with pytest.raises(NotFoundError, match="is not in collection"):
        engine.search("mixed", SearchQuery(item_id="missing"))


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 65, "C:\\x", "name with space"])
def test_collection_names_cannot_escape_the_data_dir(engine, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match="invalid collection name"):
        engine.create_collection(name, ["text"])


def test_create_list_delete(engine) -> None:  # type: ignore[no-untyped-def]
    engine.create_collection("tmp-coll", ["text"])
    with pytest.raises(AlreadyExistsError):
        engine.create_collection("tmp-coll", ["text"])
    engine.create_collection("tmp-coll", ["text"], exist_ok=True)
    assert "tmp-coll" in engine.list_collections()
    engine.delete_collection("tmp-coll")
    assert "tmp-coll" not in engine.list_collections()
    with pytest.raises(NotFoundError):
        engine.delete_collection("tmp-coll")


def test_opening_with_a_different_encoder_is_an_error(engine) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    collection = engine.create_collection("enc-check", ["text"])
    other = dataclasses.replace(collection.specs["text"], weights="bundled:other-model")
    with pytest.raises(EncoderMismatchError, match="was built with"):
        collection.check_encoder("text", other)
    engine.delete_collection("enc-check")


def test_changed_file_replaces_its_rows_and_delete_by_source(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    note = tmp_path / "note.txt"
    note.write_text("The first version talks about mountains.")
    engine.index_paths("replace", [note])
    note.write_text("The second version talks about rivers and lakes.")
    report = engine.index_paths("replace", [note])
    assert report.indexed == 1
    info = engine.describe_collection("replace")
    assert info.item_count == 1
    hit = engine.search("replace", SearchQuery(text="rivers", k=5)).hits
    assert len(hit) == 1 and hit[0].span is not None and "rivers" in hit[0].span.text
    assert engine.delete_items("replace", source_uris=[str(note)]) == 1
    assert engine.describe_collection("replace").item_count == 0


def test_cli_index_and_search_json(cli_env: dict[str, str], storage, mixed_folder) -> None:  # type: ignore[no-untyped-def]
    cli_env = {**cli_env, **storage.env(storage.data_dir("cli"))}
    notes = mixed_folder["root"] / "notes"
    result = invoke_cli("index", str(notes), "-c", "cli", "--json", env=cli_env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["indexed"] == 12 and summary["failed"] == []
    broken = invoke_cli("index", str(mixed_folder["root"] / "broken"), "-c", "cli", "--json", env=cli_env)
    assert broken.returncode == 1  # the exit code says something failed
    assert len(json.loads(broken.stdout)["failed"]) == 5
    found = invoke_cli("search", "cats sleep a lot", "-c", "cli", "-k", "2", "--json", "--space", "text", env=cli_env)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)["hits"]
    assert hits[0]["source_uri"].endswith("cats.md")
    assert {"item_id", "modality", "source_uri", "metadata", "text", "start_s", "end_s", "space", "score"} <= set(hits[0])


def _text_item(i: int, topic: str):  # type: ignore[no-untyped-def]
    from omnivec.indexer.ingest import IngestItem
    from omnivec.indexer.media import MediaKind

    return IngestItem(label=f"item-{i}", modality=MediaKind.TEXT, text=f"Item {i}: a short note about {topic}.", source_uri=f"mem://{i}")


def test_new_items_are_searchable_without_a_rebuild(engine) -> None:  # type: ignore[no-untyped-def]
    engine.create_collection("incremental", ["text"])
    engine.upsert("incremental", [_text_item(i, "gardening") for i in range(20)])
    engine.search("incremental", SearchQuery(text="gardening", k=1))  # loads the index
    index = engine.collection("incremental").ann("text")
    engine.upsert("incremental", [_text_item(100, "submarine navigation under polar ice")])
    hits = engine.search("incremental", SearchQuery(text="submarines under the ice", k=1)).hits
    assert hits[0].source_uri == "mem://100"
    assert engine.collection("incremental").ann("text") is index  # same index object: no rebuild
    assert index.ntotal == 21


def test_concurrent_searches_while_adding(engine) -> None:  # type: ignore[no-untyped-def]
    import threading

    engine.create_collection("concurrent", ["text"])
    engine.upsert("concurrent", [_text_item(i, "astronomy") for i in range(16)])
    errors: list[BaseException] = []
    stop = threading.Event()
    counts: list[int] = []

    def searcher() -> None:
        while not stop.is_set():
            try:
                hits = engine.search("concurrent", SearchQuery(text="astronomy", k=5)).hits
                assert len(hits) == 5 and all(h.source_uri.startswith("mem://") for h in hits)
                counts.append(len(hits))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    for batch in range(5):
        engine.upsert("concurrent", [_text_item(1000 + batch * 10 + j, "oceans") for j in range(10)])
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert counts, "searches ran during the adds"
    assert engine.describe_collection("concurrent").item_count == 66


def test_typed_metadata_filters_match_only_their_type_when_one_key_mixes_types(
    tmp_path: Path,
) -> None:
    """One key holding a number, a string, a boolean, null and nothing across items: every typed
    comparison runs (LanceDB's typed JSON getters would fail the whole query on the first value
    of another type) and matches only values of its own type; IS NULL covers a missing key and
    a JSON null alike."""
    import pyarrow as pa

    from omnivec.bench.served import synth_table
    from omnivec.indexer.encoders.base import EncoderSpec
    from omnivec.indexer.filters import translate_filter
    from omnivec.indexer.store import Store

    metas = [
        {"year": 2020}, {"year": "n/a"}, {"year": 2015.5}, {"year": True}, {"other": 1},
        {"year": None}, {"year": False}, {"year": "2020"}, {"my-key": 5},
    ]
    store = Store(tmp_path)
    collection = store.create("mixed", {"text": EncoderSpec("text", "fake", "none", 8)})
    rows = synth_table(0, len(metas), {"text": 8}, seed=1)
    column = pa.array([json.dumps(m) for m in metas], pa.json_(pa.utf8()))
    collection.add_rows(rows.set_column(rows.schema.get_field_index("metadata"), "metadata", column))
    expected = {
        "year >= 2016": [0],
        "year < 3000": [0, 2],
        "NOT (year >= 2016)": [2],
        "year = 'n/a'": [1],
        "year = true": [3],
        "year != true": [6],
        "year IN (true, false)": [3, 6],
        "year NOT IN (true)": [6],
        "year NOT IN (true, false)": [],
        "year IS NULL": [4, 5, 8],
        "year IS NOT NULL": [0, 1, 2, 3, 6, 7],
        "year > 2015 OR year = 'n/a'": [0, 1, 2],
        "year = '2020'": [0, 7],  # text compares a number as its digits
        "my-key = 5": [8],
    }
    for text, rowids in expected.items():
        allowed = collection.allowed_rowids(translate_filter(text), "text")
        assert allowed is not None and sorted(allowed.tolist()) == rowids, text
    with pytest.raises(InvalidInputError, match="compare with = or !="):
        translate_filter("year > true")
    store.close()


def test_folder_walk_rules_plain_and_confined(tmp_path: Path) -> None:
    """One walk for the CLI and the server: hidden entries and linked folders are skipped; confined
    to a root, links and manifests leading out are refused and reported, and paths are resolved."""
    from omnivec.indexer.discovery import discover

    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    outside.mkdir()
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.md").write_text("b")
    (root / "sub" / "skip.xyz").write_text("not indexable")
    (root / ".hidden" / "c.txt").write_text("c")
    (root / ".dot.txt").write_text("d")
    (outside / "secret.txt").write_text("s")
    (root / "linked-dir").symlink_to(root / "sub", target_is_directory=True)
    (root / "inner-link.txt").symlink_to(root / "a.txt")
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    (root / "list.jsonl").write_text('{"path": "%s"}\n' % (outside / "secret.txt"))

    items, problems = discover([root], recursive=True)
    labels = sorted(Path(i.label).relative_to(root).as_posix() for i in items if i.path)
    assert labels == ["a.txt", "inner-link.txt", "leak.txt", "list.jsonl:1", "sub/b.md"]
    assert problems == []
    assert discover([root], recursive=False)[0][0].label == str(root / "a.txt")

    items, problems = discover([root], recursive=True, confine_to=root.resolve())
    real = root.resolve()
    assert sorted(str(i.path) for i in items) == [str(real / "a.txt"), str(real / "sub" / "b.md")]
    assert [(Path(p).name, "outside" in r) for p, r in problems] == [
        ("leak.txt", True), ("list.jsonl", True)
    ]
    assert discover([outside], recursive=True, confine_to=real)[1][0][1].endswith("refused")
