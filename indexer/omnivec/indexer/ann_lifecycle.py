"""The ANN indexes of one collection over their life: open, catch up, build, update, save, flush.

LanceDB is the source of truth and an index only an accelerator derived from it, so an index is
never served stale. At the first use of a space its saved file (``ann/<space>.faiss``, which
records the table version it reflects) is loaded and caught up with the rows added or removed
since that version; it is rebuilt from the table instead when it is missing, unreadable, of
another dimension, still disagrees with the table, or carries too many tombstones. Saves are
atomic (see :mod:`omnivec.indexer.ann_file`), and a failed save only logs: the next open catches
up again. A flush also rebuilds an index whose size now calls for another kind (exact -> HNSW).

Each open index remembers the table version it reflects. This process's own commits move it
forward in place (:meth:`SpaceIndexes.added`); when other processes commit to the same table
(server replicas on one object store, ``follow=True``), every use compares it with the table's
version, which LanceDB refreshes at most every ``read_consistency_interval``, and catches the
index up with what they added or removed.

A space whose FAISS index would not fit ``index.ann_memory_budget_mb`` gets no FAISS index at all:
:meth:`SpaceIndexes.lance_index` hands out the LanceDB index that serves it
(:mod:`omnivec.indexer.lance_ann`), decided at first use and again at every flush.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from omnivec.indexer.ann import AnnIndex, AnnIndexUnreadable, AnnKind, AnnParams, choose_params
from omnivec.indexer.config import IndexSettings
from omnivec.indexer.errors import InvalidInputError, ResourceExhaustedError
from omnivec.indexer.lance_ann import LanceVectorIndex, over_memory_budget
from omnivec.indexer.storage import Objects, storage_fault
from omnivec.indexer.table_schema import column_to_matrix, vector_column

__all__ = ["MAX_TOMBSTONE_RATIO", "SpaceIndexes", "VectorTable"]

log = logging.getLogger("omnivec.store")

# Rebuild instead of carrying tombstones once a fifth of an HNSW index is dead weight.
MAX_TOMBSTONE_RATIO = 0.2


class VectorTable(Protocol):
    """What the indexes read from their collection's table (the source of truth)."""

    @property
    def version(self) -> int: ...

    def column(self, name: str, where: str | None = None) -> np.ndarray: ...

    def vectors(self, space: str, where: str | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def count_rows(self, where: str | None = None) -> int: ...

    @property
    def lance_table(self) -> Any: ...


class SpaceIndexes:
    """One ANN index per embedding space of a collection, opened on first use.

    Thread-safe for many searches and one writer: the collection calls :meth:`added` and
    :meth:`removed` after each commit, under its own write lock, and ``write_lock`` is that lock.
    Every path that builds, catches up, replaces or saves an index holds it too: a rebuild that
    scanned the table while a commit landed, then replaced the index that commit's
    :meth:`added` had just updated, lost those rows until the next restart (found by the long
    soak: 3 of 1,608 vectors missing from FAISS after 10 minutes of upserts and deletes).
    Searches take no lock once a space's index is open. ``objects`` is where the index files
    live (the collection's ``ann/``); ``follow`` says whether other processes commit to the
    table too.
    """

    def __init__(
        self,
        table: VectorTable,
        name: str,
        objects: Objects,
        dims: Mapping[str, int],
        settings: IndexSettings,
        *,
        write_lock: threading.RLock,
        follow: bool = False,
    ) -> None:
        self._table = table
        self._name = name  # the collection's, for log lines
        self._objects = objects
        self._dims = dict(dims)
        self._settings = settings
        self._follow = follow
        self._lock = write_lock
        self._open: dict[str, AnnIndex] = {}
        self._reflects: dict[str, int] = {}  # space -> the table version its index reflects
        self._lance: dict[str, LanceVectorIndex | None] = {}  # decided per space; None: FAISS

    def loaded(self) -> list[str]:
        """The spaces whose index is open in memory (the server opens them all at start)."""
        return sorted(self._open)

    def get(self, space: str) -> AnnIndex:
        """The live index of ``space``: loaded and caught up, or built, on first use; caught up
        again when another process has committed since (``follow``)."""
        index = self._open.get(space)
        if index is not None and (not self._follow or self._reflects.get(space) == self._table.version):
            return index
        with self._lock:
            if space not in self._open:
                self._open[space] = self._load_or_build(space)
            elif self._follow:
                self._follow_table(space)
            return self._open[space]

    def _follow_table(self, space: str) -> None:
        """Catch the open index up with other processes' commits (caller holds the lock)."""
        version = self._table.version
        if self._reflects.get(space) == version:
            return
        caught = self._catch_up(space, self._open[space])
        self._open[space] = caught if caught is not None else self._build(space)
        self._reflects[space] = version

    def lance_index(self, space: str) -> LanceVectorIndex | None:
        """The LanceDB index serving ``space`` when its FAISS index would not fit the memory
        budget; None when FAISS serves it (then use :meth:`get`)."""
        if space not in self._lance:
            with self._lock:
                if space not in self._lance:
                    self._lance[space] = self._choose_lance(space)
        return self._lance[space]

    def _choose_lance(self, space: str) -> LanceVectorIndex | None:
        n = self._table.count_rows(f"{vector_column(space)} IS NOT NULL")
        dim = self._dims[space]
        if not over_memory_budget(n, dim, self._params(space, n), self._settings):
            return None
        log.info("%s: space %s (%d vectors) is over the ANN memory budget; LanceDB's index "
                 "serves it", self._name, space, n)
        self._open.pop(space, None)
        return LanceVectorIndex(self._table, space, dim, self._settings)

    # -- the collection's writes ----------------------------------------------------------------
    def added(self, rows: pa.Table, rowids: np.ndarray, before: int, after: int) -> None:
        """Add the vectors of committed ``rows`` (row ids ``rowids``), the commit that took the
        table from version ``before`` to ``after``, to the indexes already open; an index opened
        later catches up from the table instead. When other commits landed in between (another
        writer), the index keeps its older version and catches up with those at its next use."""
        for space, index in list(self._open.items()):
            column = rows.column(vector_column(space))
            mask = np.asarray(column.is_valid())
            if mask.any():
                vectors = column_to_matrix(column.filter(pa.array(mask)), self._dims[space])
                index.add(vectors, rowids[mask])
            self._moved(space, before, after)

    def removed(self, rowids: np.ndarray, before: int, after: int) -> None:
        for space, index in list(self._open.items()):
            index.remove(rowids)
            self._moved(space, before, after)

    def unchanged(self, before: int, after: int) -> None:
        """The commits from ``before`` to ``after`` changed no row (the caller knows each of
        them: a compaction's, an index build's): indexes at ``before`` reflect ``after`` too."""
        for space in list(self._open):
            if self._reflects.get(space) == before:
                self._reflects[space] = after

    def _moved(self, space: str, before: int, after: int) -> None:
        if self._reflects.get(space) == before and after == before + 1:
            self._reflects[space] = after

    def forget(self) -> None:
        """Drop the open indexes (row ids changed under them, as after a restore): each is
        re-derived from the table on its next use."""
        with self._lock:
            self._open.clear()
            self._reflects.clear()
            self._lance.clear()

    def flush(self) -> None:
        """Save every space's index at the current version; rebuild ones that outgrew their kind
        or carry too many tombstones. Indexes not open yet are opened first, so the next search
        starts warm. Whether FAISS or LanceDB serves a space is decided again here (it grew);
        LanceDB's index is built or brought up to date instead of a FAISS save."""
        with self._lock:
            self._lance = {space: self._choose_lance(space) for space in self._dims}
        for space in self._dims:
            lance = self._lance[space]
            if lance is not None:
                lance.maintain()
            else:
                self.get(space)
        with self._lock:
            version = self._table.version
            for space, index in list(self._open.items()):
                if self._reflects.get(space) != version:
                    self._follow_table(space)  # another writer's commits landed meanwhile
                    index = self._open[space]
                wanted = self._params(space, index.ntotal)
                rerank_changed = (wanted.refine_factor > 0) != (index.params.refine_factor > 0)
                if (wanted.kind != index.kind or rerank_changed
                        or index.tombstone_ratio > MAX_TOMBSTONE_RATIO):
                    index = self._build(space)
                    self._open[space] = index
                self._save(space, index, version)

    # -- open, catch up, build, save ------------------------------------------------------------
    def _key(self, space: str) -> str:
        return f"{space}.faiss"

    def _live_rowids(self, space: str) -> np.ndarray:
        return self._table.column("rowid", where=f"{vector_column(space)} IS NOT NULL").astype(
            np.int64
        )

    def _load_or_build(self, space: str) -> AnnIndex:
        """Load the saved index, catch it up with LanceDB, or rebuild it: never serve it stale."""
        key = self._key(space)
        version = self._table.version
        dim = self._dims[space]
        index: AnnIndex | None = None
        saved_version = -1
        if self._objects.exists(key):
            try:
                index, saved_version = AnnIndex.load_from(self._objects, key)
                if index.dim != dim:
                    log.warning("%s: %s has dim %d, expected %d; rebuilding", self._name, key,
                                index.dim, dim)
                    index = None
            except AnnIndexUnreadable as exc:
                log.warning("%s: ANN index %s unreadable (%s); rebuilding from LanceDB",
                            self._name, key, exc)
                index = None
        if index is not None and saved_version != version:
            index = self._catch_up(space, index)
        if index is not None:
            live = self._live_rowids(space)
            if index.ntotal != len(live):
                log.warning("%s: ANN index %s disagrees with LanceDB (%d vs %d); rebuilding",
                            self._name, space, index.ntotal, len(live))
                index = None
        if index is None:
            index = self._build(space)
            self._save(space, index, version)
        elif saved_version != version:
            self._save(space, index, version)
        self._reflects[space] = version
        return index

    def _catch_up(self, space: str, index: AnnIndex) -> AnnIndex | None:
        """The loaded index with the table's changes since its save applied, or None when a
        rebuild is the better (or only) way."""
        live = self._live_rowids(space)
        have = index.ids()
        missing = np.setdiff1d(live, have, assume_unique=False)
        extra = np.setdiff1d(have, live, assume_unique=False)
        try:
            if len(extra):
                index.remove(extra)
            if len(missing):
                vectors, ids = self._table.vectors(space, where=f"rowid >= {int(missing.min())}")
                keep = np.isin(ids, missing)
                index.add(vectors[keep], ids[keep])
        except InvalidInputError as exc:
            # e.g. a restore brought back ids an HNSW graph holds as tombstones: rebuild instead.
            log.info("%s: ANN %s cannot be caught up (%s); rebuilding", self._name, space, exc)
            return None
        if index.tombstone_ratio > MAX_TOMBSTONE_RATIO:
            return None
        log.info("%s: caught ANN %s up (+%d, -%d)", self._name, space, len(missing), len(extra))
        return index

    def _params(self, space: str, n: int) -> AnnParams:
        kind = self._settings.ann_kind
        return choose_params(
            n,
            self._dims[space],
            kind=None if kind == "auto" else AnnKind(kind),
            exact_threshold=self._settings.ann_exact_threshold,
            recall_target=self._settings.ann_recall_target,
            ivfpq_rerank=self._settings.ann_ivfpq_rerank,
        )

    def _build(self, space: str) -> AnnIndex:
        vectors, ids = self._table.vectors(space)
        index = AnnIndex.build(vectors, ids, self._params(space, len(ids)))
        if index.kind is AnnKind.HNSW:
            ef, recall = index.tune_search(self._settings.ann_recall_target)
            log.info("%s: HNSW %s tuned to ef_search=%d (recall@10 %.3f)", self._name, space, ef,
                     recall)
        return index

    def _save(self, space: str, index: AnnIndex, version: int) -> None:
        key = self._key(space)
        try:
            index.save_to(self._objects, key, version=version)
        except Exception as exc:  # noqa: BLE001 - judged below
            # The index is only an accelerator: failing to save it (a full disk included: the
            # ANN module reports ENOSPC as ResourceExhaustedError; an object store that refuses
            # the PUT) loses nothing, and must not turn a read that opens the index into an error.
            if not isinstance(exc, (OSError, ResourceExhaustedError)) and storage_fault(exc) is None:
                raise
            log.warning("%s: could not save ANN index %s/%s: %s", self._name, self._objects.uri,
                        key, storage_fault(exc) or exc)
