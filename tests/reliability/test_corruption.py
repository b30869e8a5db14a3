"""Promise 3: a corrupt or truncated file is detected at open; omnivec falls back to the last good
version or rebuilds what it can, or, where data is really gone, serves the other collections and
names the damaged one with the recovery command. It never serves an empty or wrong index silently.

Damage, and what omnivec does about it:

==============================  =================================================================
FAISS file deleted/truncated/    rebuilt from LanceDB at open; search == exact brute force
garbage
newest manifest deleted          LanceDB opens the previous version; omnivec logs that the newest
                                 version is missing (the version hint is ahead); ANN caught up
newest manifest truncated or     fallback: the manifest is moved to ``quarantine/`` and the previous
garbage                          version opens (logged); ANN caught up; writes go on
data fragment truncated,         CorruptDataError (FAILED_PRECONDITION over gRPC) naming the
deleted or garbage               collection, the damage and ``omnivec collections restore NAME
                                 --version N`` (N = newest readable version); restore recovers it;
                                 every other collection keeps being served
==============================  =================================================================

Most cases run on the store with small random vectors (no model needed); one runs over gRPC.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pyarrow as pa
import pytest

from omnivec.client import Client, FailedPrecondition, Media, UpsertItem
from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.errors import CorruptDataError
from omnivec.indexer.store import Store
from tests.support.reliability import in_process_server, record

pytestmark = pytest.mark.reliability

DIM = 8
BATCHES = 4  # versions: 1 = create, 2..5 = one batch of 10 rows each
PER_BATCH = 10
NAME = "c"


def _rows(start: int, count: int, rng: np.random.Generator) -> pa.Table:
    vectors = rng.normal(size=(count, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = range(start, start + count)
    return pa.table({
        "item_id": [f"n-{i:06d}" for i in ids],
        "chunk": pa.array([0] * count, pa.int32()),
        "modality": ["text"] * count,
        "source_uri": pa.array([None] * count, pa.string()),
        "content_hash": [f"h{i}" for i in ids],
        "text": [f"item {i}" for i in ids],
        "start_s": pa.array([None] * count, pa.float64()),
        "end_s": pa.array([None] * count, pa.float64()),
        "metadata": pa.array(["{}"] * count, pa.json_(pa.utf8())),
        "vec_text": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), DIM),
    })


def _build(root: Path, name: str = NAME) -> dict[int, set[str]]:
    """A collection with BATCHES commits; returns the item ids visible at each version."""
    rng = np.random.default_rng(7)
    store = Store(root)
    collection = store.create(name, {"text": EncoderSpec("text", "fake", "none", DIM)})
    ids_at = {collection.version: set()}
    for batch in range(BATCHES):
        collection.add_rows(_rows(batch * PER_BATCH, PER_BATCH, rng))
        ids_at[collection.version] = set(collection.column("item_id").tolist())
    collection.flush_ann()
    store.close()
    return ids_at


def _assert_consistent(collection: Any, expected_ids: set[str]) -> None:
    """Rows == expected, ANN == rows, search == exact brute force, no zero/NaN vectors."""
    vectors, rowids = collection.vectors("text")
    ids = set(collection.column("item_id").tolist())
    assert ids == expected_ids
    assert len(rowids) == len(expected_ids) == collection.count_rows()
    assert np.isfinite(vectors).all() and (np.abs(np.linalg.norm(vectors, axis=1) - 1) < 1e-4).all()
    assert collection.ann_status()["text"].vectors == len(expected_ids), "ANN disagrees with LanceDB"
    rng = np.random.default_rng(3)
    for _ in range(5):
        query = rng.normal(size=DIM).astype(np.float32)
        query /= np.linalg.norm(query)
        got = [r for r, _ in collection.search("text", query, 10)]
        exact = [int(rowids[i]) for i in np.argsort(-(vectors @ query))[:10]]
        assert got == exact


def _lance(root: Path, name: str = NAME) -> Path:
    return root / name / "rows.lance"


def _newest_manifest(root: Path) -> Path:
    # V2 names count down from u64::MAX: the newest version has the smallest number.
    return min((_lance(root) / "_versions").glob("*.manifest"), key=lambda p: int(p.stem))


def _newest_fragment(root: Path, name: str = NAME) -> Path:
    return max((_lance(root, name) / "data").glob("*.lance"), key=lambda p: p.stat().st_mtime_ns)


def _oldest_fragment(root: Path) -> Path:
    return min((_lance(root) / "data").glob("*.lance"), key=lambda p: p.stat().st_mtime_ns)


def _damage(path: Path, how: str) -> None:
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    elif how == "garbage":
        path.write_bytes(os.urandom(path.stat().st_size))
    else:  # pragma: no cover
        raise ValueError(how)


# --- FAISS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["delete", "truncate", "garbage"])
def test_damaged_faiss_file_is_rebuilt_at_open(tmp_path: Path, how: str) -> None:
    ids_at = _build(tmp_path)
    faiss_file = tmp_path / NAME / "ann" / "text.faiss"
    _damage(faiss_file, how)
    store = Store(tmp_path)
    collection = store.open(NAME)
    _assert_consistent(collection, ids_at[max(ids_at)])
    assert faiss_file.exists() and faiss_file.stat().st_size > 100, "the rebuilt index is saved"
    store.close()


# --- manifests -----------------------------------------------------------------------------------


def test_deleted_newest_manifest_opens_the_previous_version_consistently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ids_at = _build(tmp_path)
    newest = max(ids_at)
    _newest_manifest(tmp_path).unlink()
    store = Store(tmp_path)
    with caplog.at_level(logging.WARNING, logger="omnivec.store"):
        collection = store.open(NAME)
    assert collection.version == newest - 1
    assert f"newest manifest (version {newest}) is missing" in caplog.text
    # The FAISS file was saved at the lost version (with 10 more vectors): caught up, not trusted.
    _assert_consistent(collection, ids_at[newest - 1])
    collection.add_rows(_rows(1000, 3, np.random.default_rng(1)))  # writes go on
    expected = ids_at[newest - 1] | {f"n-{i:06d}" for i in range(1000, 1003)}
    store.close()
    _assert_consistent(Store(tmp_path).open(NAME), expected)


@pytest.mark.parametrize("how", ["truncate", "garbage"])
def test_damaged_newest_manifest_falls_back_to_the_last_good_version(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    ids_at = _build(tmp_path)
    newest = max(ids_at)
    manifest = _newest_manifest(tmp_path)
    _damage(manifest, how)
    store = Store(tmp_path)
    with caplog.at_level(logging.WARNING, logger="omnivec.store"):
        collection = store.open(NAME)
    assert collection.version == newest - 1
    assert "unreadable" in caplog.text and "quarantine" in caplog.text
    quarantined = list((tmp_path / NAME / "quarantine").iterdir())
    assert [p.name.split(".manifest")[0] for p in quarantined] == [manifest.stem], "kept, not deleted"
    _assert_consistent(collection, ids_at[newest - 1])
    collection.add_rows(_rows(2000, 2, np.random.default_rng(2)))
    store.close()
    _assert_consistent(
        Store(tmp_path).open(NAME), ids_at[newest - 1] | {"n-002000", "n-002001"}
    )


# --- data fragments ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["truncate", "delete", "garbage"])
def test_damaged_data_fragment_is_reported_with_the_recovery_command(tmp_path: Path, how: str) -> None:
    ids_at = _build(tmp_path)
    newest = max(ids_at)
    _damage(_newest_fragment(tmp_path), how)
    store = Store(tmp_path)
    for _ in range(2):  # detected at open, and on every later open too (never served)
        with pytest.raises(CorruptDataError) as info:
            store.open(NAME)
        message = str(info.value)
        assert f"collection {NAME!r} is damaged at version {newest}" in message
        assert f"omnivec collections restore {NAME} --version {newest - 1}" in message
        assert f"omnivec collections delete {NAME}" in message
    # The recovery command works (restore is the one caller that opens without verifying).
    collection = store.open(NAME, verify=False)
    collection.restore(version=newest - 1)
    assert store.open(NAME) is collection
    _assert_consistent(collection, ids_at[newest - 1])
    store.close()
    _assert_consistent(Store(tmp_path).open(NAME), ids_at[newest - 1])


def test_damage_in_every_version_advises_the_last_readable_one(tmp_path: Path) -> None:
    _build(tmp_path)
    _damage(_oldest_fragment(tmp_path), "truncate")  # written at version 2, in every later one
    with pytest.raises(CorruptDataError, match=r"restore c --version 1`") as info:
        Store(tmp_path).open(NAME)
    assert "writes made after version 1 are lost" in str(info.value)
    # Restoring onto a version that is damaged too is refused the same way.
    collection = Store(tmp_path).open(NAME, verify=False)
    with pytest.raises(CorruptDataError):
        collection.restore(version=3)


# --- over gRPC: the other collections keep being served --------------------------------------------


def test_server_serves_the_other_collections_and_names_the_damaged_one(
    settings: Any, models: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    texts = {
        "good": ["the river flows to the sea", "a violin concerto in D", "granite mountains"],
        "bad": ["comets have long tails", "orchids need humidity", "glaciers carve valleys"],
    }
    with in_process_server(settings, models, data_dir) as (_srv, target):
        with Client(target, retries=0, timeout=120) as client:
            for name, batch in texts.items():
                client.create_collection(name, ["text"])
                for i, text in enumerate(batch):  # one commit per item: several versions
                    result = client.upsert(name, [UpsertItem(Media(text=text), id=f"{name}-{i}")])
                    assert result[0].status == "ok"
            bad_version = client.get_collection("bad").lance_version
    _damage(_newest_fragment(data_dir, "bad"), "truncate")

    with in_process_server(settings, models, data_dir) as (_srv, target):
        with Client(target, retries=0, timeout=120) as client:
            assert client.health() == "SERVING"
            assert [c.name for c in client.list_collections()] == ["good"]
            hits = client.search("good", text="a river", k=1)
            assert hits[0].id == "good-0"
            calls = {
                "GetCollection": lambda: client.get_collection("bad"),
                "Search": lambda: client.search("bad", text="comets", k=1),
                "Upsert": lambda: client.upsert("bad", [UpsertItem(Media(text="x"), id="x")]),
                "DeleteItems": lambda: client.delete_items("bad", ids=["bad-0"]),
            }
            messages = {}
            for method, call in calls.items():
                with pytest.raises(FailedPrecondition) as info:
                    call()
                assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
                messages[method] = info.value.message
                assert "'bad' is damaged" in info.value.message, method
            match = re.search(r"omnivec collections restore bad --version (\d+)", messages["Search"])
            assert match, messages["Search"]
            good_version = int(match.group(1))
            assert good_version == bad_version - 1
            restored = client.restore_collection("bad", version=good_version)
            assert restored.item_count == 2 and restored.spaces[0].vector_count == 2
            assert client.search("bad", text="comets with long tails", k=1)[0].id == "bad-0"
            assert sorted(c.name for c in client.list_collections()) == ["bad", "good"]
            result = client.upsert("bad", [UpsertItem(Media(text=texts["bad"][2]), id="bad-2")])
            assert result[0].status == "ok"
            assert client.get_collection("bad").item_count == 3
    record("corruption", cases=13, damaged_collection_message=messages["Search"][:160])
