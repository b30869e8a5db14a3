"""The in-memory payload copy answers exactly what LanceDB answers, through every kind of write.

Two stores open the same collection: one with the payload cache (the default), one with it off
(every fetch a LanceDB query). After appends, deletes, a snapshot restore, a probe-style column
write by another handle and a reopen, both must return the same rows for the same rowids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from omnivec.bench.served import synth_table
from omnivec.indexer.config import IndexSettings
from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.payload import PayloadCache
from omnivec.indexer.store import ROW_COLUMNS, Collection, Store

DIM = 8
SPEC = {"text": EncoderSpec("text", "fake", "none", DIM)}


def _rows(collection: Collection, rowids: list[int], *, cached: bool) -> dict[int, dict[str, Any]]:
    if cached:
        return collection.fetch_rows(rowids)
    # Straight from LanceDB: fetch_rows would answer any subset of ROW_COLUMNS from the copy.
    data = (
        collection.lance_table.search()
        .where(f"rowid IN ({', '.join(map(str, rowids))})")
        .select(list(ROW_COLUMNS))
        .limit(None)
        .to_arrow()
    )
    return {row["rowid"]: row for row in data.to_pylist()}


def _all_rowids(collection: Collection) -> list[int]:
    return sorted(int(r) for r in collection.column("rowid"))


def _same(collection: Collection, probe: list[int]) -> None:
    cached = _rows(collection, probe, cached=True)
    direct = _rows(collection, probe, cached=False)
    assert cached.keys() == direct.keys()
    for rowid in cached:
        assert {c: cached[rowid][c] for c in ROW_COLUMNS} == direct[rowid], rowid


def test_cache_matches_lancedb_through_appends_deletes_restore_and_reopen(tmp_path: Path) -> None:
    store = Store(tmp_path)
    collection = store.create("docs", SPEC)
    collection.add_rows(synth_table(0, 300, {"text": DIM}, seed=1))
    ids = _all_rowids(collection)
    _same(collection, ids[::7] + [10_000])  # an unknown rowid is simply absent
    assert collection.payload_cache_version is not None  # built by the first fetch

    # Appends update the copy in place (same snapshot object family, new version).
    collection.add_rows(synth_table(300, 50, {"text": DIM}, seed=2))
    assert collection.payload_cache_version == collection.version
    _same(collection, _all_rowids(collection)[-60:])

    # Deletes drop the rows from the copy.
    doomed = [f"item{i:08d}" for i in range(0, 350, 3)]
    collection.delete_items(ids=doomed)
    assert collection.payload_cache_version == collection.version
    every = list(range(0, 400))
    _same(collection, every)
    assert not any(row["item_id"] in doomed for row in collection.fetch_rows(every).values())

    # A restore brings deleted rows back: the copy must not keep serving the pre-restore state.
    tag_version = collection.snapshot("before").version
    collection.delete_items(ids=["item00000001"])
    collection.restore(tag="before")
    assert collection.version > tag_version
    _same(collection, every)
    assert any(r["item_id"] == "item00000001" for r in collection.fetch_rows(every).values())

    # A write the collection did not make (a probe's label column by merge_insert): stale
    # version, so the next fetch rebuilds and still agrees.
    before = collection.version
    table = collection.lance_table
    table.add_columns(pa.schema([pa.field("label_t", pa.string())]))
    labels = pa.table({"rowid": pa.array(ids[:5], pa.int64()), "label_t": pa.array(["x"] * 5)})
    table.merge_insert("rowid").when_matched_update_all().execute(labels)
    assert collection.version > before
    _same(collection, every)

    store.close()
    reopened = Store(tmp_path).open("docs")
    _same(reopened, every)


def test_over_budget_falls_back_to_lancedb(tmp_path: Path) -> None:
    store = Store(tmp_path, IndexSettings(payload_cache_mb=0))
    collection = store.create("docs", SPEC)
    collection.add_rows(synth_table(0, 20, {"text": DIM}, seed=1))
    assert len(collection.fetch_rows(range(20))) == 20
    assert collection.payload_cache_version is None

    calls: list[str | None] = []

    def scan(where: str | None) -> pa.Table:
        calls.append(where)
        return pa.table({"rowid": pa.array(np.arange(1000, dtype=np.int64)), "text": ["x" * 100] * 1000})

    cache = PayloadCache(("rowid", "text"), 1024, scan, "tiny")
    assert cache.rows([1, 2], version=1) is None  # ~100 KB > 1 KB: LanceDB answers instead
    assert cache.rows([1, 2], version=1) is None
    assert calls == [None]  # not rescanned until the version moves
    assert cache.rows([1], version=2) is None and calls == [None, None]


@pytest.mark.parametrize("order", ["shuffled", "sorted"])
def test_rows_are_found_whatever_the_scan_order(order: str) -> None:
    rowids = np.arange(100, dtype=np.int64)
    if order == "shuffled":
        rowids = np.random.default_rng(0).permutation(rowids)
    table = pa.table({"rowid": pa.array(rowids), "text": [f"t{r}" for r in rowids]})
    cache = PayloadCache(("rowid", "text"), 1 << 20, lambda where: table, "t")
    got = cache.rows([5, 99, 0, 1000], version=1)
    assert got is not None
    assert {k: v["text"] for k, v in got.items()} == {5: "t5", 99: "t99", 0: "t0"}


def test_a_version_jump_drops_the_copy_instead_of_relabelling_it() -> None:
    """Our index-only commit took 2 -> 4: version 3 was another replica's write, so the copy made
    at 2 must not be called 4 (its rows would be missing from every search until version 5)."""
    tables = {"now": pa.table({"rowid": pa.array([1], pa.int64()), "text": ["one"]})}
    cache = PayloadCache(("rowid", "text"), 1 << 20, lambda where: tables["now"], "replica")
    assert cache.rows([1, 2], version=2) is not None and cache.cached_version == 2
    tables["now"] = pa.table({"rowid": pa.array([1, 2], pa.int64()), "text": ["one", "two"]})
    cache.removed(np.zeros(0, np.int64), 2, 4)
    assert cache.cached_version is None
    got = cache.rows([1, 2], version=4)
    assert got is not None and sorted(got) == [1, 2]
    cache.removed(np.zeros(0, np.int64), 4, 5)  # a commit of our own, nothing between: relabelled
    assert cache.cached_version == 5
    cache.appended(3, 5, 7)  # the same for appends
    assert cache.cached_version is None


def test_a_search_that_began_before_a_commit_is_answered_without_a_rescan() -> None:
    """A search reads the table version once, at its start. A commit of our own that lands
    meanwhile moves the copy on; the search's lookups at the older version must be answered by
    that copy, not by a full rescan labelled with the older version (which the next search at
    the newer version would then have to rescan again)."""
    tables = {"now": pa.table({"rowid": pa.array([1], pa.int64()), "text": ["one"]})}
    calls: list[str | None] = []

    def scan(where: str | None) -> pa.Table:
        calls.append(where)
        return tables["now"]

    cache = PayloadCache(("rowid", "text"), 1 << 20, scan, "search")
    assert cache.rows([1], version=3) is not None and calls == [None]
    tables["now"] = pa.table({"rowid": pa.array([1, 2], pa.int64()), "text": ["one", "two"]})
    cache.appended(2, 3, 4)  # our commit while a search holding version 3 is running
    assert calls == [None, "rowid >= 2"] and cache.cached_version == 4
    got = cache.rows([1, 2], version=3)
    assert got is not None and sorted(got) == [1, 2]  # what a fresh read sees
    assert cache.row_values([2], ["text"], version=3) == {2: ("two",)}
    assert cache.row_values([2], ["not_held"], version=3) is None  # LanceDB answers instead
    assert calls == [None, "rowid >= 2"] and cache.cached_version == 4  # no rescan
