"""The in-memory copy of a collection's display columns, so a search hit costs no LanceDB query.

After the ANN search a query needs the hit rows' display columns (item id, text, source, span,
metadata). Fetching them with ``rowid IN (...)`` costs a LanceDB query, 5-11 ms on 2 cores
whatever the number of rows asked for (planning and its thread pool dominate), which was most of
omnivec's search overhead over "encode + FAISS". Like Qdrant's default in-memory payload storage,
each open collection keeps those columns in RAM - within a budget (``store.payload_cache_mb``);
beyond it, or with the budget at 0, fetches go to LanceDB as before.

Consistency: the copy is tied to a LanceDB table version. The collection's own row writes
(append, delete) update it in place and move it to the new version; any other change of version
(restore, probe labels, compaction, another writer) makes it stale, and the next fetch rebuilds it
from a scan. Readers take an immutable snapshot, so a fetch racing a write sees either the old or
the new rows, never a half-updated copy.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["PayloadCache"]

log = logging.getLogger("omnivec.indexer.payload")

# Too many appended chunks make take() slow; past this many they are merged.
_MAX_CHUNKS = 64


@dataclass(frozen=True)
class _Snapshot:
    version: int
    rowids: np.ndarray  # sorted int64, one per row of ``table``
    table: pa.Table  # the display columns, rows in ``rowids`` order


class PayloadCache:
    """Display columns of one collection, by rowid, within a byte budget.

    ``scan(where)`` reads ``columns`` (which must include ``rowid``) from the table, optionally
    filtered by a LanceDB predicate; the cache never talks to LanceDB otherwise.
    """

    def __init__(
        self,
        columns: Sequence[str],
        budget_bytes: int,
        scan: Callable[[str | None], pa.Table],
        name: str = "",
    ) -> None:
        if "rowid" not in columns:
            raise ValueError("the payload columns must include rowid")
        self.columns = tuple(columns)
        self.budget_bytes = budget_bytes
        self._scan = scan
        self._name = name
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._over_budget_at: int | None = None  # version found too big; not retried until it moves

    @property
    def cached_version(self) -> int | None:
        """The version the held copy reflects, or None when no copy is held."""
        snap = self._snapshot
        return None if snap is None else snap.version

    # -- reading ----------------------------------------------------------------------------
    def rows(
        self, rowids: Iterable[int], version: int, columns: Sequence[str] | None = None
    ) -> dict[int, dict[str, Any]] | None:
        """The rows present among ``rowids`` as dicts of ``columns`` (default: all; ``rowid`` is
        always included), or None when the cache cannot answer (disabled, over budget, a column
        it does not hold); the caller then queries LanceDB."""
        wanted_columns = list(dict.fromkeys(["rowid", *(columns or self.columns)]))
        if not set(wanted_columns) <= set(self.columns):
            return None
        snap = self._current(version)
        if snap is None:
            return None
        _, found = _positions(snap, rowids)
        if not len(found):
            return {}
        picked = snap.table.select(wanted_columns).take(pa.array(found))
        return {row["rowid"]: row for row in picked.to_pylist()}

    def row_values(
        self, rowids: Iterable[int], names: Sequence[str], version: int
    ) -> dict[int, tuple[Any, ...]] | None:
        """``names``' values of the rows present among ``rowids``, as one tuple per row (cheaper
        than whole rows, and one snapshot for all of them), or None when the cache cannot
        answer."""
        if not set(names) <= set(self.columns):
            return None
        snap = self._current(version)
        if snap is None:
            return None
        present, found = _positions(snap, rowids)
        picked = snap.table.select(list(names)).take(pa.array(found))
        values = [picked.column(i).to_pylist() for i in range(len(names))]
        return dict(zip(present.tolist(), zip(*values, strict=True)))

    def _current(self, version: int) -> _Snapshot | None:
        # A copy at a later version answers too: a search reads the table version once, and a
        # commit that lands meanwhile moves the copy on (its rows are what a fresh read would
        # see; callers skip rows deleted since their ranking). Rebuilding to the older version
        # would scan the whole table for nothing.
        if self.budget_bytes <= 0:
            return None
        snap = self._snapshot
        if snap is not None and snap.version >= version:
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is not None and snap.version >= version:
                return snap
            if self._over_budget_at == version:
                return None
            return self._rebuild(version)

    def _rebuild(self, version: int) -> _Snapshot | None:
        table = self._scan(None)
        if table.nbytes > self.budget_bytes:
            log.info(
                "collection %r: display columns take %.0f MiB, over the payload cache budget of "
                "%.0f MiB; hits are fetched from LanceDB", self._name, table.nbytes / 2**20,
                self.budget_bytes / 2**20,
            )
            self._snapshot, self._over_budget_at = None, version
            return None
        self._snapshot = _sorted_snapshot(version, table)
        self._over_budget_at = None
        return self._snapshot

    # -- the collection's own writes --------------------------------------------------------
    def appended(self, first_rowid: int, old_version: int, new_version: int) -> None:
        """Rows with rowid >= ``first_rowid`` were appended, taking ``old_version`` to
        ``new_version``. Read back from LanceDB (the stored types, not the written ones)."""
        with self._lock:
            snap = self._follows(old_version, new_version)
            if snap is None:
                return
            added = self._scan(f"rowid >= {int(first_rowid)}")
            combined = pa.concat_tables([snap.table, added.cast(snap.table.schema)])
            if combined.nbytes > self.budget_bytes:
                self._snapshot, self._over_budget_at = None, new_version
                return
            if combined.column(0).num_chunks > _MAX_CHUNKS:
                combined = combined.combine_chunks()
            rowids = np.concatenate([snap.rowids, _rowids(added)])
            if len(snap.rowids) and len(added) and rowids[len(snap.rowids)] <= snap.rowids[-1]:
                self._snapshot = _sorted_snapshot(new_version, combined)  # not monotonic: sort
            else:
                self._snapshot = _Snapshot(new_version, rowids, combined)

    def removed(self, rowids: np.ndarray, old_version: int, new_version: int) -> None:
        """``rowids`` were deleted, taking ``old_version`` to ``new_version``."""
        with self._lock:
            snap = self._follows(old_version, new_version)
            if snap is None:
                return
            keep = ~np.isin(snap.rowids, np.asarray(rowids, dtype=np.int64))
            self._snapshot = _Snapshot(
                new_version, snap.rowids[keep], snap.table.filter(pa.array(keep))
            )

    def unchanged(self, old_version: int, new_version: int) -> None:
        """The commits from ``old_version`` to ``new_version`` changed no row (the caller knows
        each of them: a compaction's, an index build's), so a copy at ``old_version`` holds."""
        with self._lock:
            snap = self._snapshot
            if snap is not None and snap.version == old_version:
                self._snapshot = _Snapshot(new_version, snap.rowids, snap.table)

    def _follows(self, old_version: int, new_version: int) -> _Snapshot | None:
        """The held copy, when a commit of this process's own took it from ``old_version`` to
        ``new_version`` and it can be updated in place; else None (the caller holds the lock).

        A copy not at ``old_version`` (stale, or none) is rebuilt from a scan by the next fetch.
        A commit that skipped versions means other writers' commits landed in between (a replica
        on shared storage): what they changed is unknown here, so the copy is dropped. Updating
        and relabelling it would hide their rows from every search until the next version (seen:
        a keyword index another replica built, then that replica's rows missing)."""
        snap = self._snapshot
        if snap is None or snap.version != old_version:
            return None
        if new_version != old_version + 1:
            self._snapshot = None
            return None
        return snap

    def clear(self) -> None:
        with self._lock:
            self._snapshot, self._over_budget_at = None, None


def _positions(snap: _Snapshot, rowids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    """(the rowids present in the snapshot, their row positions), in the order asked."""
    wanted = np.fromiter((int(r) for r in rowids), dtype=np.int64)
    if not len(wanted) or not len(snap.rowids):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    pos = np.minimum(np.searchsorted(snap.rowids, wanted), len(snap.rowids) - 1)
    hit = snap.rowids[pos] == wanted
    return wanted[hit], pos[hit]


def _rowids(table: pa.Table) -> np.ndarray:
    return np.asarray(table.column("rowid").to_numpy(zero_copy_only=False), dtype=np.int64)


def _sorted_snapshot(version: int, table: pa.Table) -> _Snapshot:
    rowids = _rowids(table)
    order = np.argsort(rowids, kind="stable")
    if not np.all(order[1:] > order[:-1]):
        table = table.take(pa.array(order))
        rowids = rowids[order]
    return _Snapshot(version, rowids, table.combine_chunks())
