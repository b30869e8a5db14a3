"""The in-memory ANN accelerator for one embedding space: the FAISS index, its writes and searches.

LanceDB is the source of truth for vectors and row ids; this module only makes search fast. Vectors
are float32 and L2-normalised, so inner product equals cosine similarity and every FAISS structure
is built with ``METRIC_INNER_PRODUCT``. Ids are the caller's int64 row ids (non-negative, stable).

Three layouts back an :class:`AnnIndex`:

* ``flat``  -- ``IndexIDMap2(IndexFlatIP)``: exact; also the side buffer of an untrained IVF-PQ.
* ``hnsw``  -- ``IndexIDMap2(IndexHNSWFlat)``: HNSW cannot delete, so removals are tombstones that
  a selector excludes at search time; ``tombstone_ratio`` tells the caller when to rebuild.
* ``ivfpq`` -- a bare ``IndexIVFPQ`` (see :meth:`AnnIndex._new_ivfpq` for why it is not wrapped),
  and, when ``AnnParams.refine_factor`` is set, an 8-bit scalar-quantised copy of every vector
  (``IndexIDMap2(IndexScalarQuantizer)``) that re-ranks the PQ candidates.

Which kind and parameters to use is decided in :mod:`omnivec.indexer.ann_params`; the saved file
format is :mod:`omnivec.indexer.ann_file`; when to load, catch up, rebuild and save is
:mod:`omnivec.indexer.ann_lifecycle`. This module is the index itself: its writes, filtered
searches and tuning share one lock and private state, so they stay together.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import faiss
import numpy as np
import numpy.typing as npt

from omnivec.indexer.ann_file import (
    FORMAT_VERSION,
    AnnIndexUnreadable,
    StoredIndex,
    read_index,
    serialize_index,
)
from omnivec.indexer.ann_params import (
    POINTS_PER_CENTROID,
    AnnKind,
    AnnParams,
    Layout,
    check_index_shape,
    choose_params,
    stored_vector_bytes,
)
from omnivec.indexer.concurrency import ReadWriteLock
from omnivec.indexer.errors import CorruptDataError, InvalidInputError
from omnivec.indexer.storage.objects import LocalObjects, Objects

__all__ = [
    "FORMAT_VERSION",
    "AnnIndex",
    "AnnIndexUnreadable",
    "AnnKind",
    "AnnParams",
    "choose_params",
    "ivf_training_sample",
    "set_faiss_threads",
]

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# Stored vectors must be unit length or inner product stops meaning cosine. The tolerance admits
# float16 encoders and accumulated rounding, but catches a forgotten normalisation (norms ~ 5-30).
_NORM_TOLERANCE: Final = 1e-2

# 8-bit PQ codes: 256 centroids per sub-quantizer, the FAISS default and what keeps
# bytes/vector ~= pq_m.
_PQ_NBITS: Final = 8
# PQ codebook k-means iterations. FAISS' default (25) is kept: on a clustered 10k x 512 set,
# 10 iterations trained 2.5x faster but cost 0.04 recall@10 (0.52 -> 0.48), and IVF-PQ is built
# rarely. PQ k-means runs on dim/pq_m-wide sub-vectors that BLAS handles poorly, so this
# dominates training time (~2 s per 10k x 512 per 10 iterations on one core).
_PQ_TRAIN_ITERS = 25
# IVF training sample: points per inverted list. FAISS would run the coarse k-means on up to 256
# per list, i.e. on all 1M vectors of a 1M collection (nlist 4000: ~10^14 flops, most of an hour
# on 2 cores); 64 per list is inside FAISS' recommended 39-256 and a quarter of the work. Every
# vector is still added; only the codebooks are learnt from the (seeded, uniform) sample.
_IVF_TRAIN_POINTS_PER_LIST: Final = 64

# Filtered search: when the allowed set is at most this many vectors we scan it exactly. Exact
# costs m*dim flops per query (50k x 512 = 25 MFLOP, a few ms); a graph or IVF walk restricted to
# a small fraction s of the collection has to inflate efSearch/nprobe by ~1/s and still loses
# recall because the allowed nodes are sparse in the graph. Above the cap, exact cost grows
# linearly, while the selector path is cheap at that selectivity, so we prefer it there.
_FILTER_EXACT_CAP: Final = 50_000
# ...and below this many it is exact regardless of the collection size: it is trivially cheap.
_FILTER_EXACT_FLOOR: Final = 4_096
# ...and in between, exact when the allowed set is under this fraction of the stored vectors.
_FILTER_EXACT_FRACTION: Final = 0.10
# efSearch inflation is capped: past this, the exact fallback is cheaper than a wider walk.
_MAX_EF_SEARCH: Final = 4_096
# Exact scans reconstruct candidates in chunks so memory stays ~chunk*dim*4 bytes.
_EXACT_CHUNK: Final = 16_384
# The re-ranking copy of an IVF-PQ: 8 bits a dimension, with per-dimension ranges trained with
# the codebooks (a 512-d vector costs 512 bytes; a float copy would cost 2,048). Its rounding
# error on a cosine is ~1e-3, well under what separates neighbours that PQ codes confuse.
_REFINE_QUANTIZER: Final = faiss.ScalarQuantizer.QT_8bit


def ivf_training_sample(x: F32, nlist: int) -> F32:
    """The rows an IVF-PQ's codebooks are trained on: all of ``x`` up to
    ``_IVF_TRAIN_POINTS_PER_LIST * nlist`` rows, else a seeded uniform sample of that many (the
    same vectors give the same index)."""
    cap = _IVF_TRAIN_POINTS_PER_LIST * max(nlist, 1 << _PQ_NBITS)
    if x.shape[0] <= cap:
        return x
    rows = np.sort(np.random.default_rng(0).choice(x.shape[0], size=cap, replace=False))
    return np.ascontiguousarray(x[rows])


def set_faiss_threads(n: int) -> None:
    """Set the OpenMP thread count FAISS uses for one call (process-wide).

    Deliberately never done at import: the server sizes it against its own worker pools, and on an
    oversubscribed machine fewer OpenMP threads are often faster (spinning barriers).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidInputError(f"FAISS thread count must be an int >= 1, got {n!r}")
    faiss.omp_set_num_threads(n)


@contextmanager
def _single_threaded(wanted: bool) -> Iterator[None]:
    """One OpenMP thread for FAISS on this thread while the block runs (when ``wanted``).

    A single query gains nothing from an OpenMP team, but each of its parallel regions leaves
    the team's other threads spinning afterwards (libgomp's spin-wait): measured on 2 cores, one
    vector search cost 15 ms of CPU for 8 ms of wall time with two FAISS threads and 8 ms for 8
    ms with one, and the spinning core is the one concurrent queries needed (figure 3). The
    setting is per thread (an OpenMP ICV), so it is restored for this thread's batched work.
    """
    before = faiss.omp_get_max_threads()
    if not wanted or before == 1:
        yield
        return
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class AnnIndex:
    """One embedding space's ANN index, keyed by the caller's int64 row ids.

    Thread-safe: many concurrent searches, one writer at a time (a readers-writer lock; FAISS
    search releases the GIL so readers run in parallel). A search never sees a half-applied add.
    Build with :meth:`build` or :meth:`empty`, not the constructor.
    """

    def __init__(self, dim: int, params: AnnParams) -> None:
        self._dim = check_index_shape(dim, params)
        self._params = params
        self._lock = ReadWriteLock()
        layout: Layout = "hnsw" if params.kind is AnnKind.HNSW else "flat"
        self._layout: Layout = layout
        self._index: faiss.Index = self._new_index(layout)
        # Every id stored in self._index (live or tombstoned), sorted: membership and duplicate
        # checks without asking FAISS, whose IDMap2 reverse map is not reachable from Python.
        self._ids: I64 = np.empty(0, dtype=np.int64)
        # Removed-but-still-stored ids (HNSW only; the other layouts delete for real), sorted.
        self._tombstones: I64 = np.empty(0, dtype=np.int64)
        # Kept alive together: IDSelectorNot holds a raw pointer to the batch selector.
        self._tombstone_sel: tuple[faiss.IDSelector, faiss.IDSelector] | None = None
        # A trained IVF-PQ with refine_factor > 0: the 8-bit copy that re-ranks its candidates,
        # holding exactly the ids of self._index.
        self._refine: faiss.IndexIDMap2 | None = None

    # ----------------------------------------------------------------------------- construction

    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray, params: AnnParams) -> AnnIndex:
        """Build an index over ``vectors`` (n, dim) with row ids ``ids`` (n,)."""
        arr = np.asarray(vectors)
        if arr.ndim != 2 or arr.shape[1] < 1:
            raise InvalidInputError(
                f"vectors must be a 2-D array (n, dim) with dim >= 1, got shape {arr.shape}"
            )
        index = cls(int(arr.shape[1]), params)
        index.add(arr, ids)
        return index

    @classmethod
    def empty(cls, dim: int, params: AnnParams) -> AnnIndex:
        return cls(dim, params)

    def _new_index(self, layout: Layout) -> faiss.Index:
        if layout == "flat":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self._dim))
        if layout == "hnsw":
            inner = faiss.IndexHNSWFlat(self._dim, self._params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = self._params.ef_construction
            inner.hnsw.efSearch = self._params.ef_search
            return faiss.IndexIDMap2(inner)
        return self._new_ivfpq()

    def _new_ivfpq(self) -> faiss.IndexIVFPQ:
        # Not wrapped in IndexIDMap2, unlike the others: IVF stores ids natively, so the wrapper
        # would add ~48 bytes/vector (id array + hash map) to a 64-byte code, and IndexIDMap's
        # remove_ids compacts its id array without renumbering the IVF lists, which corrupts
        # the mapping. Bare IVF gives real deletes and selectors that see our ids directly.
        p = self._params
        quantizer = faiss.IndexFlatIP(self._dim)
        ivf = faiss.IndexIVFPQ(
            quantizer, self._dim, p.nlist, p.pq_m, _PQ_NBITS, faiss.METRIC_INNER_PRODUCT
        )
        ivf.nprobe = p.nprobe
        ivf.pq.cp.niter = _PQ_TRAIN_ITERS
        return ivf

    def _new_refine(self) -> faiss.IndexIDMap2:
        # IndexIDMap2 (not bare, unlike the IVF): re-ranking reconstructs candidates by id, and
        # flat codes compact in order on remove, so the id map stays right.
        sq = faiss.IndexScalarQuantizer(self._dim, _REFINE_QUANTIZER, faiss.METRIC_INNER_PRODUCT)
        return faiss.IndexIDMap2(sq)

    def _ivf_min_train(self) -> int:
        return POINTS_PER_CENTROID * max(self._params.nlist, 1 << _PQ_NBITS)

    # ----------------------------------------------------------------------------- properties

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def params(self) -> AnnParams:
        return self._params

    @property
    def kind(self) -> AnnKind:
        return self._params.kind

    @property
    def faiss_index(self) -> faiss.Index:
        """The raw FAISS structure, for benchmarks that time FAISS itself against this wrapper.
        Read-only use: writes through it bypass the lock and the id bookkeeping."""
        return self._index

    @property
    def ntotal(self) -> int:
        """Live vectors (tombstones excluded)."""
        with self._lock.read():
            return int(self._ids.size - self._tombstones.size)

    @property
    def tombstone_ratio(self) -> float:
        """Removed-but-still-stored / stored; rebuild when this gets large (recall and memory
        degrade, searches do extra work to skip them)."""
        with self._lock.read():
            return float(self._tombstones.size / self._ids.size) if self._ids.size else 0.0

    @property
    def trained(self) -> bool:
        """False while an IVF-PQ holds its vectors in the flat side buffer awaiting training."""
        with self._lock.read():
            return self._params.kind is not AnnKind.IVFPQ or self._layout == "ivfpq"

    def ids(self) -> I64:
        """Live ids, sorted ascending (a copy)."""
        with self._lock.read():
            return self._live_ids_locked()

    def contains(self, ids: np.ndarray) -> Bools:
        """Elementwise: is this id live in the index?"""
        arr = _as_ids(ids, "ids")
        with self._lock.read():
            found = _isin_sorted(arr, self._ids)
            if self._tombstones.size:
                found &= ~_isin_sorted(arr, self._tombstones)
            return found

    def bytes_per_vector(self) -> float:
        """Resident bytes one more live vector costs (vectors/codes, graph links, id bookkeeping),
        excluding fixed costs such as the coarse quantizer and PQ codebooks. Tombstoned vectors
        still occupy memory, so the figure rises with ``tombstone_ratio``."""
        with self._lock.read():
            code_size = None
            if self._layout == "ivfpq":
                code_size = int(faiss.extract_index_ivf(self._index).code_size)
            per_stored = stored_vector_bytes(
                self._layout, self._dim, self._params, code_size=code_size
            )
            stored = int(self._ids.size)
            live = stored - int(self._tombstones.size)
            return per_stored * stored / live if live else per_stored

    def __repr__(self) -> str:
        return (
            f"AnnIndex(kind={self._params.kind.value}, layout={self._layout}, dim={self._dim}, "
            f"stored={self._ids.size}, tombstones={self._tombstones.size})"
        )

    # ----------------------------------------------------------------------------- writes

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add vectors incrementally (no rebuild). Ids must be new: reusing a live or removed
        id is rejected, since a removed HNSW id is still in the graph."""
        x = _as_vectors(vectors, self._dim, "vectors")
        new_ids = _as_ids(ids, "ids")
        if new_ids.shape[0] != x.shape[0]:
            raise InvalidInputError(
                f"got {x.shape[0]} vectors but {new_ids.shape[0]} ids; they must match"
            )
        if new_ids.size and int(new_ids.min()) < 0:
            raise InvalidInputError("ids must be >= 0 (-1 marks padding in search results)")
        order = np.argsort(new_ids, kind="stable")
        sorted_new = new_ids[order]
        if sorted_new.size > 1 and bool((sorted_new[1:] == sorted_new[:-1]).any()):
            dup = int(sorted_new[1:][sorted_new[1:] == sorted_new[:-1]][0])
            raise InvalidInputError(f"id {dup} appears more than once in one add")
        norms = np.linalg.norm(x, axis=1)
        bad = np.flatnonzero(np.abs(norms - 1.0) > _NORM_TOLERANCE)
        if bad.size:
            raise InvalidInputError(
                f"vectors must be L2-normalised; row {int(bad[0])} has norm "
                f"{float(norms[bad[0]]):.4f} ({bad.size} rows off)"
            )
        if x.shape[0] == 0:
            return
        with self._lock.write():
            clash = _isin_sorted(sorted_new, self._ids)
            if clash.any():
                raise InvalidInputError(
                    f"id {int(sorted_new[clash][0])} is already in the index (ids are never "
                    "reused; removed HNSW ids stay as tombstones until a rebuild)"
                )
            self._index.add_with_ids(x, new_ids)
            if self._refine is not None:
                self._refine.add_with_ids(x, new_ids)
            self._ids = _merge_sorted(self._ids, sorted_new)
            if self._params.kind is AnnKind.IVFPQ and self._layout == "flat":
                self._maybe_train_locked()

    def _maybe_train_locked(self) -> None:
        # Train once, on everything buffered so far, as soon as there is enough to train well;
        # later adds are encoded with these codebooks (no retraining, no rebuild).
        if self._ids.size < self._ivf_min_train():
            return
        x = self._index.reconstruct_batch(self._ids)
        sample = ivf_training_sample(x, self._params.nlist)
        ivf = self._new_ivfpq()
        ivf.train(sample)
        ivf.add_with_ids(x, self._ids)
        refine = None
        if self._params.refine_factor:
            refine = self._new_refine()
            refine.train(sample)
            refine.add_with_ids(x, self._ids)
        # Swapped only once fully built: a failure leaves the buffer intact.
        self._index, self._refine = ivf, refine
        self._layout = "ivfpq"

    def remove(self, ids: np.ndarray) -> None:
        """Remove ids; unknown or already-removed ids are ignored so replays are harmless."""
        arr = np.unique(_as_ids(ids, "ids"))
        with self._lock.write():
            present = arr[_isin_sorted(arr, self._ids)]
            if self._tombstones.size:
                present = present[~_isin_sorted(present, self._tombstones)]
            if present.size == 0:
                return
            if self._layout == "hnsw":
                self._tombstones = np.union1d(self._tombstones, present).astype(np.int64)
                batch = faiss.IDSelectorBatch(self._tombstones)
                self._tombstone_sel = (batch, faiss.IDSelectorNot(batch))
                return
            removed = self._index.remove_ids(faiss.IDSelectorBatch(present))
            if self._refine is not None:
                self._refine.remove_ids(faiss.IDSelectorBatch(present))
            if removed != present.size:  # pragma: no cover - would mean our id set drifted
                raise CorruptDataError(
                    f"ANN index removed {removed} of {present.size} ids; rebuild it"
                )
            self._ids = np.setdiff1d(self._ids, present, assume_unique=True).astype(np.int64)

    # ----------------------------------------------------------------------------- tuning

    def tune_search(
        self, recall_target: float, *, sample: int = 200, k: int = 10, seed: int = 0
    ) -> tuple[int, float]:
        """Lower HNSW ``ef_search`` to the smallest value that still meets ``recall_target``.

        Like autofaiss: ``choose_params`` guesses ef from the size alone (calibrated on the
        hardest, isotropic data); real embeddings are clustered and need less. Queries are
        sampled stored vectors with noise, recall@k is measured against exact search, and the
        smallest ef (at least 2k) on a ladder with recall >= target + 0.02 is kept. Returns
        (ef_search, measured recall). Other index kinds are left as they are.
        """
        with self._lock.write():
            if self._layout != "hnsw":
                return self._params.ef_search, float("nan")
            live = self._live_ids_locked()
            if live.size < 2 * k:
                return self._params.ef_search, float("nan")
            rng = np.random.default_rng(seed)
            chosen = rng.choice(live, size=min(sample, live.size), replace=False)
            q = self._index.reconstruct_batch(chosen).astype(np.float32)
            q += rng.normal(scale=0.5 / math.sqrt(self._dim), size=q.shape).astype(np.float32)
            q /= np.linalg.norm(q, axis=1, keepdims=True)
            _, truth = self._exhaustive_locked(q, k, None)
            ladder = sorted({16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, self._params.ef_search})
            best = (self._params.ef_search, float("nan"))
            for ef in (e for e in ladder if 2 * k <= e <= self._params.ef_search):
                _, got = self._index.search(q, k, params=_hnsw_search_params(ef, self._tombstone_sel[1] if self._tombstone_sel else None))
                recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(got, truth)]))
                if recall >= min(1.0, recall_target + 0.02):
                    best = (ef, recall)
                    break
                best = (self._params.ef_search, recall)
            self._params = replace(self._params, ef_search=best[0])
            return best

    # ----------------------------------------------------------------------------- search

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[F32, I64]:
        """Top-k by cosine. Returns (scores float32 (q, k), ids int64 (q, k)), best first, padded
        with -inf / -1 when fewer than k candidates exist. ``queries`` may be (q, dim) or (dim,).

        ``allowed_ids`` restricts results to those ids without losing recall: small allowed sets
        are scanned exactly; large ones go through a FAISS selector with a widened search, and
        any query that comes back short is redone exactly.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InvalidInputError(f"k must be an int >= 1, got {k!r}")
        k = int(k)
        q = _as_queries(queries, self._dim)
        allowed = None if allowed_ids is None else _as_ids(allowed_ids, "allowed_ids")
        with self._lock.read(), _single_threaded(q.shape[0] == 1):
            return self._search_locked(q, k, allowed)

    def _search_locked(self, q: F32, k: int, allowed: I64 | None) -> tuple[F32, I64]:
        nq = q.shape[0]
        scores = np.full((nq, k), -np.inf, dtype=np.float32)
        labels = np.full((nq, k), -1, dtype=np.int64)
        cand: I64 | None
        if allowed is None:
            cand = None
            n_cand = int(self._ids.size - self._tombstones.size)
        else:
            cand = self._live_subset_locked(allowed)
            n_cand = int(cand.size)
        if nq == 0 or n_cand == 0:
            return scores, labels
        k_eff = min(k, n_cand)
        if self._layout == "flat" or (cand is not None and self._prefer_exact_locked(n_cand)):
            d, i = self._exhaustive_locked(q, k_eff, cand)
        else:
            depth = self._rerank_depth_locked(k_eff, n_cand)
            d, i = self._approx_locked(q, depth, cand, n_cand)
            if depth > k_eff:
                d, i = self._rerank_locked(q, i, k_eff)
            # FAISS pads with -1 when a widened walk still found fewer than k_eff allowed
            # vectors; k_eff of them exist, so those queries are redone exactly.
            short = (i >= 0).sum(axis=1) < k_eff
            if short.any():
                d_s, i_s = self._exhaustive_locked(q[short], k_eff, cand)
                d[short] = d_s
                i[short] = i_s
        scores[:, :k_eff] = d
        labels[:, :k_eff] = i
        scores[labels < 0] = -np.inf  # FAISS pads IP results with -FLT_MAX, we promise -inf
        return scores, labels

    def _rerank_depth_locked(self, k: int, n_cand: int) -> int:
        """How many candidates to fetch for ``k`` answers: more when they are re-ranked."""
        if self._refine is None:
            return k
        return min(k * self._params.refine_factor, n_cand)

    def _rerank_locked(self, q: F32, cand: I64, k: int) -> tuple[F32, I64]:
        """Per query, the top ``k`` of its candidate ids (-1 padded) by the 8-bit copy."""
        assert self._refine is not None
        nq = q.shape[0]
        scores = np.full((nq, k), -np.inf, dtype=np.float32)
        labels = np.full((nq, k), -1, dtype=np.int64)
        for row in range(nq):
            ids = cand[row][cand[row] >= 0]
            if not ids.size:
                continue
            s = self._refine.reconstruct_batch(ids) @ q[row]
            top = np.argsort(-s, kind="stable")[:k]
            scores[row, : top.size] = s[top]
            labels[row, : top.size] = ids[top]
        return scores, labels

    def _prefer_exact_locked(self, n_cand: int) -> bool:
        stored = int(self._ids.size)
        by_fraction = max(_FILTER_EXACT_FLOOR, int(_FILTER_EXACT_FRACTION * stored))
        limit = min(_FILTER_EXACT_CAP, by_fraction)
        return n_cand <= limit

    def _approx_locked(self, q: F32, k: int, cand: I64 | None, n_cand: int) -> tuple[F32, I64]:
        p = self._params
        sel: faiss.IDSelector | None
        keep: object = None  # holds selector objects alive for the duration of the call
        if cand is not None:
            sel = keep = faiss.IDSelectorBatch(cand)
        elif self._tombstone_sel is not None:
            keep = self._tombstone_sel
            sel = self._tombstone_sel[1]
        else:
            sel = None
        # A selector that passes a fraction s of the stored vectors leaves the walk ~s as many
        # usable hits per step, so search effort is widened by 1/s.
        selectivity = n_cand / max(int(self._ids.size), 1)
        if self._layout == "hnsw":
            ef = max(p.ef_search, 2 * k)
            ef = min(math.ceil(ef / selectivity), max(_MAX_EF_SEARCH, ef))
            params = _hnsw_search_params(ef, sel)
        else:
            nprobe = min(p.nlist, math.ceil(p.nprobe / selectivity))
            params = _ivf_search_params(nprobe, sel)
        d, i = self._index.search(q, k, params=params)
        del keep
        return d, i

    def _exhaustive_locked(self, q: F32, k: int, cand: I64 | None) -> tuple[F32, I64]:
        """Exact top-k over ``cand`` (None: every live vector). For IVF-PQ "exact" means every
        allowed vector is scored by its 8-bit copy when it keeps one, else by its PQ code; no
        float copy is kept because that would cost 4*dim bytes/vector and defeat the point of
        choosing IVF-PQ."""
        if self._layout == "flat":
            sel = None if cand is None else faiss.IDSelectorBatch(cand)
            params = faiss.SearchParameters()
            if sel is not None:
                params.sel = sel
            d, i = self._index.search(q, k, params=params)
            del sel
            return d, i
        if self._layout == "ivfpq" and (self._refine is None or cand is None):
            sel = None if cand is None else faiss.IDSelectorBatch(cand)
            # With a re-ranking copy this runs only for cand None: every stored vector competes.
            depth = self._rerank_depth_locked(k, int(self._ids.size))
            d, i = self._index.search(
                q, depth, params=_ivf_search_params(self._params.nlist, sel)
            )
            del sel
            return self._rerank_locked(q, i, k) if depth > k else (d, i)
        # HNSW, or an allowed set of an IVF-PQ with its 8-bit copy: reconstruct the candidates
        # (from the graph's flat storage, or the copy) and scan them.
        source = self._refine if self._layout == "ivfpq" else self._index
        assert source is not None
        ids = self._live_ids_locked() if cand is None else cand
        nq = q.shape[0]
        best_s = np.full((nq, k), -np.inf, dtype=np.float32)
        best_i = np.full((nq, k), -1, dtype=np.int64)
        for start in range(0, ids.size, _EXACT_CHUNK):
            chunk = ids[start : start + _EXACT_CHUNK]
            vecs = source.reconstruct_batch(chunk)
            s = (q @ vecs.T).astype(np.float32, copy=False)
            all_s = np.concatenate([best_s, s], axis=1)
            all_i = np.concatenate([best_i, np.broadcast_to(chunk, (nq, chunk.size))], axis=1)
            top = np.argpartition(-all_s, k - 1, axis=1)[:, :k]
            best_s = np.take_along_axis(all_s, top, axis=1)
            best_i = np.take_along_axis(all_i, top, axis=1)
        order = np.argsort(-best_s, axis=1, kind="stable")
        return np.take_along_axis(best_s, order, axis=1), np.take_along_axis(best_i, order, axis=1)

    def _live_ids_locked(self) -> I64:
        if not self._tombstones.size:
            return self._ids.copy()
        return self._ids[~_isin_sorted(self._ids, self._tombstones)]

    def _live_subset_locked(self, allowed: I64) -> I64:
        u = np.unique(allowed)
        u = u[_isin_sorted(u, self._ids)]
        if self._tombstones.size:
            u = u[~_isin_sorted(u, self._tombstones)]
        return u

    # ----------------------------------------------------------------------------- persistence

    def save(self, path: Path, *, version: int) -> None:
        """Atomically write the index to a local file (see :meth:`save_to`)."""
        path = Path(path)
        self.save_to(LocalObjects(path.parent), path.name, version=version)

    def save_to(self, objects: Objects, key: str, *, version: int) -> None:
        """Atomically write the index as object ``key`` (see :mod:`omnivec.indexer.ann_file`),
        recording the LanceDB ``version`` it reflects. A crash at any point leaves the old or
        the new object; searches keep running meanwhile. A full disk is ResourceExhaustedError."""
        with self._lock.read():
            stored = StoredIndex(
                self._dim, self._params, self._layout, self._index, self._ids, self._tombstones,
                self._refine,
            )
            parts = serialize_index(stored, version=version)
        objects.write(key, parts)

    @classmethod
    def load(cls, path: Path) -> tuple[AnnIndex, int]:
        """Read an index from a local file written by :meth:`save` (see :meth:`load_from`)."""
        path = Path(path)
        return cls.load_from(LocalObjects(path.parent), path.name)

    @classmethod
    def load_from(cls, objects: Objects, key: str) -> tuple[AnnIndex, int]:
        """Read an index written by :meth:`save_to`; returns it and the LanceDB version it
        reflects. Raises :class:`AnnIndexUnreadable` for anything but a complete, valid file."""
        stored, version = read_index(objects, key)
        index = cls(stored.dim, stored.params)
        index._index = stored.index
        index._layout = stored.layout
        index._ids = stored.ids
        index._tombstones = stored.tombstones
        index._refine = stored.refine
        if stored.tombstones.size:
            batch = faiss.IDSelectorBatch(stored.tombstones)
            index._tombstone_sel = (batch, faiss.IDSelectorNot(batch))
        return index, version


# --------------------------------------------------------------------------------- helpers


def _hnsw_search_params(ef: int, sel: faiss.IDSelector | None) -> faiss.SearchParameters:
    # Per-call parameters rather than setting hnsw.efSearch: the index is shared by concurrent
    # readers. (The faiss 1.15 stubs omit SearchParametersHNSW; the runtime has it.)
    cls: Any = faiss.SearchParametersHNSW  # type: ignore[attr-defined,unused-ignore]
    params: faiss.SearchParameters = cls()
    params.efSearch = ef  # type: ignore[attr-defined]
    if sel is not None:
        params.sel = sel
    return params


def _ivf_search_params(nprobe: int, sel: faiss.IDSelector | None) -> faiss.SearchParameters:
    params = faiss.SearchParametersIVF()
    params.nprobe = nprobe
    if sel is not None:
        params.sel = sel
    return params


def _isin_sorted(x: I64, sorted_arr: I64) -> Bools:
    if sorted_arr.size == 0 or x.size == 0:
        return np.zeros(x.shape, dtype=np.bool_)
    pos = np.searchsorted(sorted_arr, x)
    pos = np.minimum(pos, sorted_arr.size - 1)
    return np.asarray(sorted_arr[pos] == x, dtype=np.bool_)


def _merge_sorted(a: I64, b: I64) -> I64:
    # Row ids are normally increasing, so the common case is a plain append.
    if a.size == 0:
        return b.copy()
    if b.size == 0 or b[0] > a[-1]:
        return np.concatenate([a, b])
    return np.sort(np.concatenate([a, b]), kind="stable")


def _as_vectors(x: object, dim: int, what: str) -> F32:
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise InvalidInputError(f"{what} must be a 2-D array (n, {dim}), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise InvalidInputError(f"{what} must be floating point (float32), got dtype {arr.dtype}")
    if arr.shape[1] != dim:
        raise InvalidInputError(
            f"{what} have dim {arr.shape[1]} but this index holds dim {dim} vectors"
        )
    out = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(out).all():
        raise InvalidInputError(f"{what} contain NaN or infinite values")
    return out


def _as_queries(x: object, dim: int) -> F32:
    arr = np.asarray(x)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    return _as_vectors(arr, dim, "queries")


def _as_ids(x: object, what: str) -> I64:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise InvalidInputError(f"{what} must be a 1-D array of int64 ids, got shape {arr.shape}")
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(f"{what} must be integers (int64), got dtype {arr.dtype}")
    if arr.dtype == np.uint64 and int(arr.max()) > np.iinfo(np.int64).max:
        raise InvalidInputError(f"{what} contain values beyond the int64 range")
    return np.ascontiguousarray(arr, dtype=np.int64)
