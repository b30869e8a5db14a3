"""Spaces larger than memory: served by LanceDB's own vector index, stored with the table.

A FAISS index lives in RAM: its vectors (4 bytes a dimension), its graph links and its id map, so
a space of 100M 512-d vectors would need ~230 GB. When that estimate (:func:`faiss_memory_bytes`)
exceeds ``index.ann_memory_budget_mb``, the space is served instead by an IVF-HNSW-SQ (default)
or IVF-PQ index that LanceDB keeps with the table, on disk or object storage, and reads partition
by partition through its own cache. Candidates are re-ranked with the exact stored vectors
(``refine_factor``), so the scores are exact cosines and recall@10 stays near 1.0 (fig4.lance).

Never stale: rows committed after the index was built are searched exactly by LanceDB (its
"unindexed" fragments) and merged with the index's candidates, and deleted rows are excluded.
:meth:`LanceVectorIndex.maintain` (called where FAISS indexes are flushed) builds the index once
the space has enough rows to train it, and folds new rows into it once they are a tenth of the
space. Below that many rows LanceDB scans the space exactly.
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import timedelta
from typing import Any, Final, Protocol

import numpy as np

from omnivec.indexer.ann_params import AnnParams, Layout, stored_vector_bytes
from omnivec.indexer.config import IndexSettings
from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.table_schema import vector_column

__all__ = ["LanceTableOwner", "LanceVectorIndex", "faiss_memory_bytes", "over_memory_budget"]

log = logging.getLogger("omnivec.store")

# IVF k-means and 8-bit PQ codebooks need this many rows; below it the space is scanned exactly.
MIN_TRAIN_ROWS: Final = 256
# Re-rank refine_factor * k candidates with the exact vectors: exact scores, and the PQ/SQ
# rounding no longer decides the order (recall@10 0.52 -> 1.0 for IVF-PQ on fig4's data).
REFINE_FACTOR: Final = 5
# Fold new rows into the index once they are this fraction of the indexed ones.
MAX_UNINDEXED_RATIO: Final = 0.1
# optimize() also prunes old versions; snapshots and `restore --version` need them, so none go.
_KEEP_VERSIONS = timedelta(days=365 * 100)

LANCE_KINDS: Final = {"ivf_hnsw_sq": "lance-ivf-hnsw-sq", "ivf_pq": "lance-ivf-pq"}


def faiss_memory_bytes(n: int, dim: int, params: AnnParams) -> int:
    """RAM a FAISS index of ``n`` vectors with ``params`` holds (vectors, links, id map)."""
    layout: Layout = params.kind.value  # what the index will be once trained
    per_vector = stored_vector_bytes(layout, dim, params)
    return int(n * per_vector)


def over_memory_budget(n: int, dim: int, params: AnnParams, settings: IndexSettings) -> bool:
    return faiss_memory_bytes(n, dim, params) > settings.ann_memory_budget_mb * (1 << 20)


class LanceTableOwner(Protocol):
    """What the index needs of its collection: the LanceDB table and row counts."""

    @property
    def lance_table(self) -> Any: ...

    def count_rows(self, where: str | None = None) -> int: ...


class LanceVectorIndex:
    """One space served by LanceDB's vector search over its table."""

    def __init__(self, owner: LanceTableOwner, space: str, dim: int, settings: IndexSettings) -> None:
        self._owner = owner
        self._space = space
        self._column = vector_column(space)
        self._dim = dim
        self._settings = settings
        self._lock = threading.Lock()  # one maintenance at a time; searches never wait on it

    @property
    def index_name(self) -> str:
        return f"{self._column}_idx"  # LanceDB's default name for an index on that column

    def _stats(self) -> Any | None:
        try:
            return self._owner.lance_table.index_stats(self.index_name)
        except Exception:  # noqa: BLE001 - no index yet (LanceDB raises or returns None)
            return None

    @property
    def kind(self) -> str:
        """What serves the space now: the stored index, or an exact scan until it is built."""
        stats = self._stats()
        if stats is None:
            return "lance-exact"
        return "lance-" + str(stats.index_type).lower().replace("_", "-")

    @property
    def ntotal(self) -> int:
        return self._owner.count_rows(f"{self._column} IS NOT NULL")

    def partitions(self, n: int) -> int:
        # ~sqrt(n)/2 lists: larger than FAISS' 4*sqrt(n) because each is searched by its own
        # HNSW graph (or scanned as PQ codes) rather than one by one.
        return max(1, min(int(round(math.sqrt(n) / 2)), n // MIN_TRAIN_ROWS or 1))

    def nprobes(self, partitions: int) -> int:
        return min(partitions, max(20, math.ceil(2 * math.sqrt(partitions))))

    # -- upkeep ---------------------------------------------------------------------------------
    def maintain(self) -> None:
        """Build the index once the space can train one; fold in new rows once they are many."""
        with self._lock:
            n = self.ntotal
            stats = self._stats()
            if stats is None:
                if n >= MIN_TRAIN_ROWS:
                    self._build(n)
                return
            if stats.num_unindexed_rows > MAX_UNINDEXED_RATIO * max(stats.num_indexed_rows, 1):
                log.info("%s: folding %d new rows into the LanceDB index", self._space,
                         stats.num_unindexed_rows)
                self._owner.lance_table.optimize(cleanup_older_than=_KEEP_VERSIONS)

    def _build(self, n: int) -> None:
        from lancedb.index import IvfHnswSq, IvfPq

        partitions = self.partitions(n)
        config: Any
        if self._settings.lance_index_type == "ivf_pq":
            sub_vectors = max(d for d in range(1, max(1, self._dim // 8) + 1) if self._dim % d == 0)
            config = IvfPq(distance_type="cosine", num_partitions=partitions,
                           num_sub_vectors=sub_vectors)
        else:
            config = IvfHnswSq(distance_type="cosine", num_partitions=partitions)
        log.info("%s: building a LanceDB %s index over %d vectors (%d partitions)", self._space,
                 self._settings.lance_index_type, n, partitions)
        self._owner.lance_table.create_index(
            self._column, config=config, name=self.index_name, replace=True
        )

    # -- search ---------------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, predicate: str | None = None) -> list[tuple[int, float]]:
        """Top-k (rowid, cosine score), filtered by ``predicate`` before ranking."""
        stats = self._stats()
        # Rows without a vector in this space (an image in the text space) are never candidates
        # of LanceDB's vector search, so no "IS NOT NULL" clause: as a prefilter it scanned the
        # whole vector column per query (20x slower on fig4's 20k x 512).
        builder = (
            self._owner.lance_table.search(
                np.asarray(query, dtype=np.float32).reshape(-1), vector_column_name=self._column
            )
            .distance_type("cosine")
            .select(["rowid", "_distance"])
            .limit(k)
        )
        if predicate:
            builder = builder.where(predicate, prefilter=True)
        if stats is not None:
            partitions = self.partitions(stats.num_indexed_rows)
            builder = builder.nprobes(self.nprobes(partitions)).refine_factor(REFINE_FACTOR)
        try:
            found = builder.to_arrow()
        except Exception as exc:
            raise InvalidInputError(f"filter cannot be applied: {exc}") from exc
        return [
            (int(rowid), 1.0 - float(distance))
            for rowid, distance in zip(
                found.column("rowid").to_pylist(), found.column("_distance").to_pylist()
            )
        ]
