"""Kill -9 during indexing loses nothing acknowledged; a damaged FAISS file is rebuilt on open.

Every test here runs on local disk and on SeaweedFS (the ``storage`` fixture)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from omnivec.client import SearchQuery
from omnivec.indexer.engine import Engine
from omnivec.indexer.store import Store, vector_column
from tests.support.paths import OMNIVEC_BIN

TOPICS = ["rivers", "mountains", "violins", "volcanoes", "bicycles", "glaciers", "orchids", "comets"]


def _write_notes(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        topic = TOPICS[i % len(TOPICS)]
        (folder / f"note_{i:04d}.txt").write_text(
            f"Note {i} is about {topic}. " + f"{topic.capitalize()} fact number {i * 7 % 13}. " * 3
        )


@pytest.fixture(scope="module")
def engine(storage, settings, models):  # type: ignore[no-untyped-def]
    """This module's engine, over a data directory on the ``storage`` under test."""
    engine = Engine(storage.settings(settings, storage.data_dir()), models)
    yield engine
    engine.store.close()


def _snapshot(storage, settings, data_dir: Path | str, name: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    store = Store(data_dir, storage=storage.settings(settings, data_dir).storage)
    collection = store.open(name)
    table = collection.lance_table.search().select(
        ["item_id", "chunk", "content_hash", vector_column("text")]
    ).limit(None).to_arrow()
    keys = list(zip(table.column("item_id").to_pylist(), table.column("chunk").to_pylist()))
    vectors = np.array(table.column(vector_column("text")).to_pylist(), dtype=np.float32)
    store.close()
    return {"keys": keys, "vectors": vectors}


@pytest.mark.slow
def test_kill_9_mid_index_then_rerun_equals_clean_run(cli_env: dict[str, str], storage, settings, models, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes"
    _write_notes(notes, 300)
    killed_dir, clean_dir = storage.data_dir("killed"), storage.data_dir("clean")
    killed_env = {**os.environ, **cli_env, **storage.env(killed_dir),
                  "OMNIVEC_INDEX__WRITE_BATCH_ROWS": "16"}
    args = [str(OMNIVEC_BIN), "index", str(notes), "-c", "notes", "--space", "text", "-q"]
    proc = subprocess.Popen(args, env=killed_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    acknowledged: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 240
    for line in proc.stdout:
        if line.startswith("indexed "):
            acknowledged.append(line.split()[1])
        if len(acknowledged) >= 40 or time.monotonic() > deadline:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert 40 <= len(acknowledged) < 300, "the kill must land mid-run"

    partial = _snapshot(storage, settings, killed_dir, "notes")
    stored_ids = {item for item, _ in partial["keys"]}  # type: ignore[attr-defined]
    assert set(acknowledged) <= stored_ids, "every acknowledged item survived kill -9"

    resumed = subprocess.run(args[:-1] + ["--json"], env=killed_env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    import json

    summary = json.loads(resumed.stdout)
    assert summary["unchanged"] >= len(acknowledged)
    assert summary["indexed"] + summary["unchanged"] == 300

    # The reference run needs no fresh process: this one's engine indexes the same folder.
    clean = Engine(storage.settings(settings, clean_dir), models)
    assert clean.index_paths("notes", [notes], spaces=["text"]).indexed == 300
    clean.store.close()

    a = _snapshot(storage, settings, killed_dir, "notes")
    b = _snapshot(storage, settings, clean_dir, "notes")
    assert len(a["keys"]) == len(set(a["keys"])), "no duplicate rows"  # type: ignore[arg-type]
    assert sorted(a["keys"]) == sorted(b["keys"])  # type: ignore[type-var]
    norms = np.linalg.norm(a["vectors"], axis=1)  # type: ignore[arg-type]
    assert np.all(np.abs(norms - 1.0) < 1e-3), "no zero or NaN vectors"


def _exact(collection, space: str, vector: np.ndarray, k: int) -> list[int]:  # type: ignore[no-untyped-def]
    vectors, ids = collection.vectors(space)
    order = np.argsort(-(vectors @ vector))[:k]
    return [int(ids[i]) for i in order]


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage"])
def test_damaged_faiss_file_is_rebuilt_and_search_is_exact(engine, tmp_path: Path, damage: str) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes"
    _write_notes(notes, 40)
    name = f"ann-{damage}"
    engine.index_paths(name, [notes], spaces=["text"])
    objects, key = engine.store.root.objects, f"{name}/ann/text.faiss"  # a file, or an S3 object
    assert objects.exists(key)
    query = engine.embed_texts(["facts about volcanoes"]).vectors[0]
    engine.store.close()  # drop the in-memory index, as a restart would

    saved = objects.read(key)
    if damage == "delete":
        objects.delete(key)
    elif damage == "truncate":
        objects.write(key, [saved[: len(saved) // 2]])
    else:
        objects.write(key, [os.urandom(len(saved))])

    collection = engine.store.open(name)
    got = [rowid for rowid, _ in collection.search("text", query, 10)]
    assert got == _exact(collection, "text", query, 10)
    from omnivec.indexer.ann import AnnIndex

    assert AnnIndex.load_from(objects, key)[0].ntotal == 40, "the rebuilt index was saved again"
    hits = engine.search(name, SearchQuery(text="facts about volcanoes", k=3)).hits
    assert all("volcanoes" in (h.span.text if h.span else "") for h in hits)


def test_stale_faiss_file_is_caught_up(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes"
    _write_notes(notes, 16)
    engine.index_paths("stale", [notes], spaces=["text"])
    objects = engine.store.root.objects
    saved = objects.read("stale/ann/text.faiss")
    more = tmp_path / "more"
    (more).mkdir()
    (more / "extra.txt").write_text("An entirely new note about lighthouses and foghorns.")
    engine.index_paths("stale", [more])
    engine.store.close()
    objects.write("stale/ann/text.faiss", [saved])  # an old version
    hits = engine.search("stale", SearchQuery(text="lighthouses and foghorns", k=1)).hits
    assert hits[0].source_uri.endswith("extra.txt")
    assert engine.describe_collection("stale").spaces["text"].vectors == 17


def test_snapshot_and_restore_give_identical_counts_and_results(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes"
    _write_notes(notes, 24)
    engine.index_paths("snap", [notes], spaces=["text"])
    query = SearchQuery(text="facts about glaciers", k=5)
    before_hits = [(h.id, round(h.score, 5)) for h in engine.search("snap", query).hits]
    before = engine.describe_collection("snap")
    snap = engine.snapshot_collection("snap", "before-delete")
    assert snap.tag == "before-delete" and snap.version == before.lance_version
    assert engine.describe_collection("snap").snapshots == (snap,)

    engine.delete_items("snap", ids=[h for h, _ in before_hits[:3]])
    assert engine.describe_collection("snap").item_count == before.item_count - 3

    after = engine.restore_collection("snap", tag="before-delete")
    assert after.item_count == before.item_count and after.row_count == before.row_count
    assert [(h.id, round(h.score, 5)) for h in engine.search("snap", query).hits] == before_hits
    from omnivec.indexer.errors import NotFoundError

    with pytest.raises(NotFoundError, match="snapshot 'nope' not found"):
        engine.restore_collection("snap", tag="nope")
