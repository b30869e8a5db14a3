"""LanceDB's caches are bounded by ``[storage] metadata_cache_mb`` / ``index_cache_mb`` and shared
by the collections of one opened data directory (omnivec.indexer.storage.lance_cache).

Every write is a new table version whose manifest lists every fragment so far; LanceDB caches the
metadata of each version it reads. Without a bound that cache (1 GiB by default) grew a busy
server's memory all through a 10-minute soak.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from omnivec.indexer.config import StorageSettings
from omnivec.indexer.storage import open_data_root
from omnivec.indexer.storage.lance_cache import LanceCache


def _rows(start: int, count: int) -> pa.Table:
    vectors = np.random.default_rng(start).standard_normal((count, 32)).astype("float32")
    return pa.table({
        "n": list(range(start, start + count)),
        "vec": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), 32),
    })


def _write_and_read(root_dir: Path, metadata_cache_mb: int, commits: int) -> int:
    """Commits ``commits`` small appends, reading each new version; the cache's size after."""
    settings = StorageSettings(metadata_cache_mb=metadata_cache_mb, index_cache_mb=8)
    root = open_data_root(root_dir, settings).child("collection")
    table = root.connect().create_table("t", _rows(0, 10))
    for step in range(commits):
        table.add(_rows(10 + 2 * step, 2))
        assert table.count_rows("n >= 0") == 12 + 2 * step
    return root.lance_cache.size_bytes


def test_the_metadata_cache_stays_within_its_bound_while_versions_pile_up(tmp_path: Path) -> None:
    bounded = _write_and_read(tmp_path / "bounded", metadata_cache_mb=1, commits=250)
    roomy = _write_and_read(tmp_path / "roomy", metadata_cache_mb=256, commits=250)
    print(f"metadata cache after 250 commits: {bounded} B bounded at 1 MiB, {roomy} B at 256 MiB")
    # The bound holds (LanceDB's cache may overshoot a little between evictions) ...
    assert bounded <= 1.25 * (1 << 20), bounded
    # ... and it is the bound that holds it: the same writes fill a roomy cache far past it.
    assert roomy > 3 * (1 << 20), roomy


def test_collections_of_one_data_directory_share_its_cache_and_a_new_opening_reads_afresh(
    tmp_path: Path,
) -> None:
    root = open_data_root(tmp_path, StorageSettings(metadata_cache_mb=16, index_cache_mb=32))
    assert root.child("a").lance_cache is root.child("b").lance_cache is root.lance_cache
    assert open_data_root(tmp_path).lance_cache is not root.lance_cache


def test_a_copy_sent_to_another_process_keeps_the_sizes_not_the_session() -> None:
    import pickle

    cache = LanceCache(16, 32)
    cache.session()
    copy = pickle.loads(pickle.dumps(cache))
    assert (copy.metadata_cache_mb, copy.index_cache_mb, copy.size_bytes) == (16, 32, 0)
    assert copy.session() is not cache.session()
