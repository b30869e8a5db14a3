"""Compaction merges the fragments of many small commits and changes nothing a reader sees
(omnivec.indexer.compaction): same rows, same vectors, same hits; FAISS, the payload copy and
the keyword index stay valid without a rebuild; checksums cover the new files; older versions
still restore. On local disk and on SeaweedFS (the ``storage`` fixture)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from omnivec.bench.served import synth_table
from omnivec.indexer.config import IndexSettings
from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.store import Collection, Store, vector_column
from omnivec.indexer.verify import verify_collection

DIM = 8
SPEC = {"text": EncoderSpec("text", "fake", "none", DIM)}
WORDS = ["river", "violin", "glacier", "orchid", "comet", "harbour", "desert", "meadow"]


def _store(storage: Any, settings: Any, **index: Any) -> Store:
    configured = storage.settings(settings, storage.data_dir())
    return Store(configured.data_dir, IndexSettings(**index), configured.storage)


def _small_commits(collection: Collection, count: int, *, start: int = 0) -> None:
    """``count`` commits of 3 rows each, every fourth followed by a delete of one row."""
    for i in range(start, start + count):
        texts = [f"{WORDS[(3 * i + j) % len(WORDS)]} note {3 * i + j}" for j in range(3)]
        collection.add_rows(synth_table(3 * i, 3, {"text": DIM}, seed=i + 1, texts=texts))
        if i % 4 == 3:
            collection.delete_where(f"item_id = 'item{3 * i - 5:08d}'")


def _fragments(collection: Collection) -> int:
    return len(collection.lance_table.to_lance().get_fragments())


def _rows(collection: Collection) -> dict[int, tuple[str, bytes]]:
    table = collection.lance_table.search().select(
        ["rowid", "item_id", vector_column("text")]
    ).limit(None).to_arrow()
    vectors = np.array(table.column(vector_column("text")).to_pylist(), np.float32)
    return {
        int(r): (item, vectors[i].tobytes())
        for i, (r, item) in enumerate(zip(table.column("rowid").to_pylist(),
                                          table.column("item_id").to_pylist()))
    }


def test_compaction_merges_fragments_and_changes_nothing_a_reader_sees(storage, settings) -> None:  # type: ignore[no-untyped-def]
    store = _store(storage, settings, compact_every_commits=0)
    collection = store.create("notes", SPEC)
    _small_commits(collection, 30)
    collection.flush_ann()  # builds the keyword index and saves FAISS at this version
    query = np.asarray(collection.row_vectors("text").vectors[5], np.float32)
    index_before = collection.ann("text")
    hits_before = index_before.search(query[None, :], 10)
    rows_before = _rows(collection)
    keyword_before = collection.keyword_search("glacier", 50, None)
    uncovered_before = collection.keyword_uncovered_rows()
    fragments_before = _fragments(collection)
    version_before = collection.version
    collection.fetch_rows(list(rows_before)[:3])  # the payload copy exists at this version
    assert collection.payload_cache_version == version_before
    assert fragments_before >= 30

    result = collection.compact()

    assert result is not None and result.changed
    assert result.version_after == collection.version > version_before
    assert _fragments(collection) <= 2, "30 fragments of 3 rows merge into one"
    assert _rows(collection) == rows_before, "same rowids, items and vectors"
    # FAISS and the payload copy moved to the new version without a rebuild or a scan.
    assert collection.ann("text") is index_before
    assert collection._indexes._reflects["text"] == collection.version  # white box: no catch-up due
    assert collection.payload_cache_version == collection.version
    hits_after = collection.ann("text").search(query[None, :], 10)
    assert [list(ids) for ids in hits_after[1]] == [list(ids) for ids in hits_before[1]]
    # Lance remapped the keyword index in the same commit: same hits, nothing newly uncovered.
    assert {r for r, _ in collection.keyword_search("glacier", 50, None)} == {r for r, _ in keyword_before}
    assert collection.keyword_uncovered_rows() <= uncovered_before
    # The rewritten files' checksums were recorded: verify compares every file.
    report = verify_collection(collection)
    assert report.ok and report.data_files_unrecorded == 0, report.problems

    # Nothing left to merge: a second compaction commits nothing.
    again = collection.compact()
    assert again is not None and not again.changed
    # Older versions keep their files: the pre-compaction version restores.
    collection.restore(version=version_before)
    assert _rows(collection) == rows_before
    store.close()
    reopened = _store_reopen(storage, settings, collection)
    assert _rows(reopened.open("notes")) == rows_before
    reopened.close()


def _store_reopen(storage: Any, settings: Any, collection: Collection) -> Store:
    configured = storage.settings(settings, collection.root.uri.rsplit("/", 1)[0])
    return Store(configured.data_dir, IndexSettings(), configured.storage)


def test_the_writer_compacts_in_the_background_every_n_commits(storage, settings) -> None:  # type: ignore[no-untyped-def]
    store = _store(storage, settings, compact_every_commits=10)
    collection = store.create("notes", SPEC)
    _small_commits(collection, 24)
    collection._compaction.wait(60)  # white box: the background run the 20th commit started
    rows = _rows(collection)
    assert len(rows) == 72 - 6
    assert _fragments(collection) < 12, "the commits before the last compaction were merged"
    assert collection.ann("text").ntotal == len(rows)
    assert verify_collection(collection).ok
    store.close()
    # The compacted table is what the next process opens.
    reopened = _store_reopen(storage, settings, collection)
    assert _rows(reopened.open("notes")) == rows
    reopened.close()


def test_versions_past_retention_go_after_a_compaction_and_snapshots_stay(storage, settings) -> None:  # type: ignore[no-untyped-def]
    """omnivec.indexer.version_retention: after a compaction, the versions older than
    keep_versions_days go (here: any age) but the newest keep_versions_min and every tagged
    snapshot, with the files and checksum records only they used; nothing a reader sees changes,
    verify is clean, the snapshot restores, and a removed version is refused saying why."""
    import pytest

    from omnivec.indexer.errors import NotFoundError

    store = _store(storage, settings, compact_every_commits=0, keep_versions_days=1e-9, keep_versions_min=1)
    collection = store.create("notes", SPEC)
    _small_commits(collection, 6)
    collection.snapshot("early")
    tagged, rows_early = collection.version, _rows(collection)
    _small_commits(collection, 20, start=6)
    collection.flush_ann()
    rows = _rows(collection)
    query = np.asarray(collection.row_vectors("text").vectors[5], np.float32)
    hits_before = collection.ann("text").search(query[None, :], 10)
    objects, ledger = collection.root.objects, collection.checksums
    records_before = len(objects.list("checksums"))
    files_before = len(ledger.data_files())

    result = collection.compact()

    assert result is not None and result.changed
    latest = collection.version
    kept = {int(v["version"]) for v in collection.lance_table.list_versions()}
    assert kept == {tagged, latest}, "the newest and the snapshot"
    assert _rows(collection) == rows
    hits_after = collection.ann("text").search(query[None, :], 10)
    assert [list(ids) for ids in hits_after[1]] == [list(ids) for ids in hits_before[1]]
    present = set(ledger.data_files())
    assert len(present) < files_before / 2, "the files only removed versions used are gone"
    assert len(present) <= 6 + 2 + 1, "the snapshot's 6 commits (1 delete), the compacted file"
    records = objects.list("checksums")
    assert 0 < len(records) < records_before / 2
    for name in records:  # every record left still names a file that exists
        assert present.intersection(json.loads(objects.read(f"checksums/{name}"))["files"]), name
    report = verify_collection(collection)
    assert report.ok and report.data_files_unrecorded == 0, report.problems

    with pytest.raises(NotFoundError, match=r"version 2 of 'notes' no longer exists \(versions kept: "
                       rf"{tagged}, {latest}; versions older than 1e-09 days are removed after compactions"):
        collection.restore(version=2)
    with pytest.raises(NotFoundError, match=rf"version {latest + 5} of 'notes' does not exist \(the latest is {latest}\)"):
        collection.restore(version=latest + 5)
    collection.restore(tag="early")
    assert _rows(collection) == rows_early
    assert verify_collection(collection).ok
    store.close()
    reopened = _store_reopen(storage, settings, collection)
    assert _rows(reopened.open("notes")) == rows_early
    reopened.close()


def test_which_versions_retention_removes() -> None:
    from datetime import datetime, timedelta, timezone

    from omnivec.indexer.version_retention import describe_versions, versions_to_prune

    now = datetime(2026, 12, 2, 12, 0)
    versions = [(v, now - timedelta(days=20 - v)) for v in range(1, 21)]  # version 20 is now
    assert versions_to_prune(versions, set(), now=now, keep_days=7, keep_min=3) == list(range(1, 13))
    assert versions_to_prune(versions, {4, 9}, now=now, keep_days=7, keep_min=3) == [
        v for v in range(1, 13) if v not in (4, 9)
    ]
    # The newest keep_min stay whatever their age; 0 days keeps everything.
    assert versions_to_prune(versions, set(), now=now, keep_days=0.5, keep_min=15) == list(range(1, 6))
    assert versions_to_prune(versions, set(), now=now, keep_days=0, keep_min=1) == []
    # Lance's naive local stamps against an aware clock, and the other way round.
    aware = [(v, stamp.astimezone(timezone.utc)) for v, stamp in versions]
    assert versions_to_prune(versions, set(), now=now.astimezone(timezone.utc), keep_days=7, keep_min=3) == list(range(1, 13))
    assert versions_to_prune(aware, set(), now=now, keep_days=7, keep_min=3) == list(range(1, 13))
    assert describe_versions([9, 3, 7, 8, 12, 11]) == "3, 7-9, 11-12" and describe_versions([4]) == "4"


def test_compaction_merges_in_tiers_below_the_target_size() -> None:
    """omnivec.indexer.compaction.compaction_target: a tier is asked for only when the fragments
    under it can fill one of its fragments, so the bigger fragments below the target size are not
    rewritten at every compaction."""
    from omnivec.indexer.compaction import compaction_target

    assert compaction_target([3] * 30, 16_384) == 1024  # small commits: the smallest tier
    assert compaction_target([900, 3, 3], 16_384) == 1024
    assert compaction_target([1024] * 3 + [3] * 10, 16_384) == 1024  # 3,102 rows: not 4,096 yet
    assert compaction_target([1024] * 4 + [3] * 10, 16_384) == 4096
    assert compaction_target([4096] * 3 + [1024] * 3 + [500], 16_384) == 1024
    assert compaction_target([4096] * 4 + [3], 16_384) == 16_384
    assert compaction_target([16_384, 20_000, 3], 16_384) == 1024  # the big ones are never candidates
    assert compaction_target([3000, 3000], 5000) == 5000  # the target is the last tier
    assert compaction_target([3] * 10, 1024) == 1024


def test_verify_advises_a_version_that_retention_kept(storage, settings) -> None:  # type: ignore[no-untyped-def]
    """A damaged file committed by the compaction: the version just before it was removed by
    retention, so verify advises the newest version before it that still exists (the snapshot),
    never one that restore would refuse."""
    store = _store(storage, settings, compact_every_commits=0, keep_versions_days=1e-9, keep_versions_min=1)
    collection = store.create("notes", SPEC)
    _small_commits(collection, 6)
    collection.snapshot("early")
    tagged = collection.version
    _small_commits(collection, 10, start=6)
    collection.compact()
    latest = collection.version
    assert {int(v["version"]) for v in collection.lance_table.list_versions()} == {tagged, latest}
    ledger, objects = collection.checksums, collection.root.objects
    written = next(name for name, c in ledger.recorded().items() if c.version == latest)
    key = f"{ledger.data_prefix}/{written}"
    data = bytearray(objects.read(key))
    data[len(data) // 2] ^= 0xFF  # behind an intact footer: only the checksum sees it
    objects.write(key, [bytes(data)])

    report = verify_collection(collection)

    assert not report.ok
    assert report.recovery.startswith(f"omnivec collections restore notes --version {tagged} "), report.recovery
    store.close()
