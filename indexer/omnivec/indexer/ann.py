"""The in-memory ANN accelerator for one embedding space; every FAISS detail lives here.

LanceDB is the source of truth for vectors and row ids; this module only makes search fast. Vectors
are float32 and L2-normalised, so inner product equals cosine similarity and every FAISS structure
is built with ``METRIC_INNER_PRODUCT``. Ids are the caller's int64 row ids (non-negative, stable).

Three layouts back an :class:`AnnIndex`:

* ``flat``  -- ``IndexIDMap2(IndexFlatIP)``: exact; also the side buffer of an untrained IVF-PQ.
* ``hnsw``  -- ``IndexIDMap2(IndexHNSWFlat)``: HNSW cannot delete, so removals are tombstones that
  a selector excludes at search time; ``tombstone_ratio`` tells the caller when to rebuild.
* ``ivfpq`` -- a bare ``IndexIVFPQ`` (see :meth:`AnnIndex._new_ivfpq` for why it is not wrapped).

Files written by :meth:`AnnIndex.save` are one self-checking blob, replaced atomically::

    magic "OMNIANN\\0" | u32 format | u32 header length | sha256(header) | header JSON | payload
    payload = faiss.serialize_index bytes | stored ids (int64 LE) | tombstones (int64 LE)
"""

from __future__ import annotations

import enum
import errno
import hashlib
import json
import math
import os
import struct
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final, Literal

import faiss
import numpy as np
import numpy.typing as npt

from omnivec.indexer.errors import CorruptDataError, InvalidInputError, ResourceExhaustedError

__all__ = [
    "FORMAT_VERSION",
    "AnnIndex",
    "AnnIndexUnreadable",
    "AnnKind",
    "AnnParams",
    "choose_params",
    "set_faiss_threads",
]

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
_Layout = Literal["flat", "hnsw", "ivfpq"]

FORMAT_VERSION: Final = 1
_MAGIC: Final = b"OMNIANN\x00"
_PREFIX: Final = struct.Struct("<8sII32s")
# A header is a few hundred bytes; anything huge is a corrupt length field, not a real header.
_MAX_HEADER_BYTES: Final = 1 << 20

# Stored vectors must be unit length or inner product stops meaning cosine. The tolerance admits
# float16 encoders and accumulated rounding, but catches a forgotten normalisation (norms ~ 5-30).
_NORM_TOLERANCE: Final = 1e-2

# 8-bit PQ codes: 256 centroids per sub-quantizer, the FAISS default and what keeps
# bytes/vector ~= pq_m.
_PQ_NBITS: Final = 8
# FAISS k-means warns below 39 training points per centroid and quality drops visibly there, so
# an IVF-PQ is not trained before it has that many for both the coarse and the PQ codebooks.
_POINTS_PER_CENTROID: Final = 39
# PQ codebook k-means iterations. FAISS' default (25) is kept: on a clustered 10k x 512 set,
# 10 iterations trained 2.5x faster but cost 0.04 recall@10 (0.52 -> 0.48), and IVF-PQ is built
# rarely. PQ k-means runs on dim/pq_m-wide sub-vectors that BLAS handles poorly, so this
# dominates training time (~2 s per 10k x 512 per 10 iterations on one core).
_PQ_TRAIN_ITERS = 25

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
# IndexIDMap2 keeps an int64 id array plus a std::unordered_map id -> slot; with libstdc++ a map
# node is 24 bytes + malloc overhead + a bucket pointer, ~40 bytes per vector.
_ID_MAP2_BYTES: Final = 8 + 40


class AnnIndexUnreadable(CorruptDataError):
    """A saved ANN index is missing, truncated, corrupt or of an unknown format.

    The index is only an accelerator: the caller can rebuild it from LanceDB. ``path`` names the
    file that could not be read.
    """

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"ANN index {path}: {reason}; rebuild it from the store")


class AnnKind(str, enum.Enum):
    """Which FAISS structure serves the embedding space."""

    FLAT = "flat"
    HNSW = "hnsw"
    IVFPQ = "ivfpq"


@dataclass(frozen=True)
class AnnParams:
    """Build and search parameters; IVF-PQ fields are 0 (unset) for the other kinds."""

    kind: AnnKind
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 64
    nlist: int = 0
    nprobe: int = 0
    pq_m: int = 0  # sub-quantizers; bytes/vector ~= pq_m with 8-bit codes

    def __post_init__(self) -> None:
        # Accept the plain string ("hnsw") too, since params round-trip through JSON and config.
        try:
            kind = AnnKind(self.kind)
        except ValueError:
            choices = ", ".join(k.value for k in AnnKind)
            raise InvalidInputError(
                f"unknown ANN kind {self.kind!r}; expected one of {choices}"
            ) from None
        object.__setattr__(self, "kind", kind)
        for f in fields(self):
            if f.name == "kind":
                continue
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise InvalidInputError(f"AnnParams.{f.name} must be an int, got {value!r}")
            object.__setattr__(self, f.name, int(value))
        if self.hnsw_m < 2:
            raise InvalidInputError(f"AnnParams.hnsw_m must be >= 2, got {self.hnsw_m}")
        if self.ef_construction < 1 or self.ef_search < 1:
            raise InvalidInputError("AnnParams.ef_construction and ef_search must be >= 1")
        if kind is AnnKind.IVFPQ:
            for name in ("nlist", "nprobe", "pq_m"):
                if getattr(self, name) < 1:
                    raise InvalidInputError(
                        f"IVF-PQ needs AnnParams.{name} >= 1 (got {getattr(self, name)}); "
                        "use choose_params(..., kind=AnnKind.IVFPQ) to pick them"
                    )
        elif min(self.nlist, self.nprobe, self.pq_m) < 0:
            raise InvalidInputError("AnnParams.nlist, nprobe and pq_m must be >= 0")

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind.value}
        for f in fields(self):
            if f.name != "kind":
                out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> AnnParams:
        if not isinstance(d, Mapping):
            raise InvalidInputError(f"ANN params must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InvalidInputError(f"unknown ANN param(s): {', '.join(map(str, unknown))}")
        if "kind" not in d:
            raise InvalidInputError("ANN params need a 'kind'")
        kwargs: dict[str, Any] = dict(d)
        return cls(**kwargs)


def set_faiss_threads(n: int) -> None:
    """Set the OpenMP thread count FAISS uses for one call (process-wide).

    Deliberately never done at import: the server sizes it against its own worker pools, and on an
    oversubscribed machine fewer OpenMP threads are often faster (spinning barriers).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidInputError(f"FAISS thread count must be an int >= 1, got {n!r}")
    faiss.omp_set_num_threads(n)


def choose_params(
    n: int,
    dim: int,
    *,
    kind: AnnKind | None = None,
    exact_threshold: int = 20_000,
    recall_target: float = 0.95,
) -> AnnParams:
    """Pick an index kind and its parameters from the collection size, dim and recall target.

    Exact below ``exact_threshold``, HNSW above (the default), IVF-PQ only when asked for it (it
    trades recall for ~30x less memory, a decision the caller must make knowingly). Like autofaiss
    the choice uses only n and dim; the HNSW numbers are calibrated on isotropic random vectors,
    the hardest case for a graph index, so real embeddings (low intrinsic dimension) get recall
    above the target. Tune ``ef_search``/``nprobe`` down after measuring if latency matters.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidInputError(f"n must be an int >= 0, got {n!r}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise InvalidInputError(f"dim must be an int >= 1, got {dim!r}")
    if not 0.0 < recall_target < 1.0:
        raise InvalidInputError(f"recall_target must be in (0, 1), got {recall_target!r}")
    if exact_threshold < 0:
        raise InvalidInputError(f"exact_threshold must be >= 0, got {exact_threshold!r}")
    if kind is None:
        # Below ~20k vectors a brute-force scan is ~1 ms at dim 512, so an approximate index
        # would only cost recall and memory.
        kind = AnnKind.FLAT if n < exact_threshold else AnnKind.HNSW
    kind = AnnKind(kind)
    if kind is AnnKind.FLAT:
        return AnnParams(kind=kind)

    # The effort needed grows with how few misses are allowed; sqrt keeps 0.99 at ~2.2x the cost
    # of 0.95 and 0.90 at ~0.7x, which matches measured efSearch/nprobe-vs-recall curves.
    miss = max(1.0 - recall_target, 1e-3)
    effort = math.sqrt(0.05 / miss)

    if kind is AnnKind.HNSW:
        # M=32 is the usual sweet spot (FAISS wiki, autofaiss); very low dims do fine with 16
        # links and save memory; a >= 0.99 target needs the denser graph to reach it at all.
        m = 16 if dim <= 32 else 32
        if recall_target >= 0.99:
            m = 48
        # Measured on isotropic 64-d data with M=32/efC=80: recall@10 0.95 needs efSearch ~64
        # at 10k and ~120 at 30k. We grow efSearch with log4(n / 10k) (graph depth grows with
        # log n) from a base of 80 (25% headroom over the 10k measurement).
        growth = 1.0 + math.log(max(n, 10_000) / 10_000, 4)
        ef_search = _round_up(80 * growth * effort, 16)
        ef_search = min(max(ef_search, 16), 2_048)
        # efConstruction below ~2M leaves nodes under-linked; 80 builds a graph whose search
        # curve is clearly better than FAISS' default of 40 for ~2x the build time.
        return AnnParams(
            kind=kind, hnsw_m=m, ef_construction=max(80, 2 * m), ef_search=ef_search
        )

    # IVF-PQ. nlist ~ 4*sqrt(n) balances coarse-quantizer cost (nlist dot products per query)
    # against list scanning (n/nlist * nprobe codes); capping it at n/39 keeps every centroid
    # trainable with FAISS' recommended 39 points. Training waits until that many exist.
    nlist = max(1, min(int(round(4 * math.sqrt(max(n, 1)))), max(n, 1) // _POINTS_PER_CENTROID))
    # Probing ~2*sqrt(nlist) lists reaches ~0.95 of what PQ can give on clustered data; the
    # effort factor scales it for other targets.
    nprobe = min(nlist, max(1, math.ceil(2 * math.sqrt(nlist) * effort)))
    # 8-dim sub-vectors (dim 512 -> 64 bytes) are the standard memory/accuracy point; high
    # recall targets get 4-dim sub-vectors (twice the bytes). pq_m must divide dim.
    dsub = 4 if recall_target >= 0.97 else 8
    pq_m = _largest_divisor_at_most(dim, max(1, dim // dsub))
    return AnnParams(kind=kind, nlist=nlist, nprobe=nprobe, pq_m=pq_m)


def _round_up(x: float, step: int) -> int:
    return int(math.ceil(x / step) * step)


def _largest_divisor_at_most(n: int, cap: int) -> int:
    for m in range(min(cap, n), 0, -1):
        if n % m == 0:
            return m
    return 1


class _RWLock:
    """Many readers or one writer; writers are preferred so a stream of searches cannot starve
    an add. Not re-entrant: public methods take it once and call ``_locked`` helpers."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class AnnIndex:
    """One embedding space's ANN index, keyed by the caller's int64 row ids.

    Thread-safe: many concurrent searches, one writer at a time (a readers-writer lock; FAISS
    search releases the GIL so readers run in parallel). A search never sees a half-applied add.
    Build with :meth:`build` or :meth:`empty`, not the constructor.
    """

    def __init__(self, dim: int, params: AnnParams) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise InvalidInputError(f"dim must be an int >= 1, got {dim!r}")
        if not isinstance(params, AnnParams):
            raise InvalidInputError(f"params must be AnnParams, got {type(params).__name__}")
        dim = int(dim)
        if params.kind is AnnKind.IVFPQ and dim % params.pq_m:
            raise InvalidInputError(
                f"IVF-PQ pq_m={params.pq_m} must divide dim={dim}; use choose_params to pick it"
            )
        self._dim = dim
        self._params = params
        self._lock = _RWLock()
        layout: _Layout = "hnsw" if params.kind is AnnKind.HNSW else "flat"
        self._layout: _Layout = layout
        self._index: faiss.Index = self._new_index(layout)
        # Every id stored in self._index (live or tombstoned), sorted: membership and duplicate
        # checks without asking FAISS, whose IDMap2 reverse map is not reachable from Python.
        self._ids: I64 = np.empty(0, dtype=np.int64)
        # Removed-but-still-stored ids (HNSW only; the other layouts delete for real), sorted.
        self._tombstones: I64 = np.empty(0, dtype=np.int64)
        # Kept alive together: IDSelectorNot holds a raw pointer to the batch selector.
        self._tombstone_sel: tuple[faiss.IDSelector, faiss.IDSelector] | None = None

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

    def _new_index(self, layout: _Layout) -> faiss.Index:
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

    def _ivf_min_train(self) -> int:
        return _POINTS_PER_CENTROID * max(self._params.nlist, 1 << _PQ_NBITS)

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
            d, p = self._dim, self._params
            per_stored: float
            if self._layout == "flat":
                per_stored = 4 * d + _ID_MAP2_BYTES
            elif self._layout == "hnsw":
                # Level 0 keeps 2M int32 links; a node reaches level l with probability M^-l and
                # holds M links there, so the upper levels add M/(M-1) links on average; plus
                # the int32 level and size_t offset FAISS keeps per node.
                links = 2 * p.hnsw_m + p.hnsw_m / (p.hnsw_m - 1)
                per_stored = 4 * d + 4 * links + 4 + 8 + _ID_MAP2_BYTES
            else:
                ivf = faiss.extract_index_ivf(self._index)
                per_stored = float(ivf.code_size + 8)  # code + the int64 id in its list
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
            self._ids = _merge_sorted(self._ids, sorted_new)
            if self._params.kind is AnnKind.IVFPQ and self._layout == "flat":
                self._maybe_train_locked()

    def _maybe_train_locked(self) -> None:
        # Train once, on everything buffered so far, as soon as there is enough to train well;
        # later adds are encoded with these codebooks (no retraining, no rebuild).
        if self._ids.size < self._ivf_min_train():
            return
        x = self._index.reconstruct_batch(self._ids)
        ivf = self._new_ivfpq()
        ivf.train(x)
        ivf.add_with_ids(x, self._ids)
        self._index = ivf  # swapped only once fully built: a failure leaves the buffer intact
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
        with self._lock.read():
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
            d, i = self._approx_locked(q, k_eff, cand, n_cand)
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
        allowed code is scored, so ranking uses PQ reconstructions; no float copy is kept because
        that would cost 4*dim bytes/vector and defeat the point of choosing IVF-PQ."""
        if self._layout == "flat":
            sel = None if cand is None else faiss.IDSelectorBatch(cand)
            params = faiss.SearchParameters()
            if sel is not None:
                params.sel = sel
            d, i = self._index.search(q, k, params=params)
            del sel
            return d, i
        if self._layout == "ivfpq":
            sel = None if cand is None else faiss.IDSelectorBatch(cand)
            d, i = self._index.search(q, k, params=_ivf_search_params(self._params.nlist, sel))
            del sel
            return d, i
        # HNSW: reconstruct the candidates from the graph's flat storage and scan them.
        ids = self._live_ids_locked() if cand is None else cand
        nq = q.shape[0]
        best_s = np.full((nq, k), -np.inf, dtype=np.float32)
        best_i = np.full((nq, k), -1, dtype=np.int64)
        for start in range(0, ids.size, _EXACT_CHUNK):
            chunk = ids[start : start + _EXACT_CHUNK]
            vecs = self._index.reconstruct_batch(chunk)
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
        """Atomically write the index, recording the LanceDB ``version`` it reflects.

        One file, written to a temp file in the same directory, fsynced, renamed over ``path``,
        and the directory fsynced: a crash at any point leaves the old or the new file, and a
        torn write is caught by the checksums on load. Searches keep running meanwhile.
        """
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise InvalidInputError(f"version must be an int >= 0, got {version!r}")
        path = Path(path)
        with self._lock.read():
            index_bytes = faiss.serialize_index(self._index)
            ids_bytes = self._ids.astype("<i8").tobytes()
            tomb_bytes = self._tombstones.astype("<i8").tobytes()
            payload: tuple[memoryview | bytes, ...] = (index_bytes.data, ids_bytes, tomb_bytes)
            digest = hashlib.sha256()
            for part in payload:
                digest.update(part)
            header = {
                "format": FORMAT_VERSION,
                "kind": self._params.kind.value,
                "layout": self._layout,
                "params": self._params.to_dict(),
                "dim": self._dim,
                "ntotal": int(self._ids.size - self._tombstones.size),
                "stored": int(self._ids.size),
                "tombstones": int(self._tombstones.size),
                "max_id": int(self._ids[-1]) if self._ids.size else None,
                "version": version,
                "sections": {
                    "index": int(index_bytes.nbytes),
                    "ids": len(ids_bytes),
                    "tombstones": len(tomb_bytes),
                },
                "payload_sha256": digest.hexdigest(),
                "faiss_version": faiss.__version__,
            }
        header_bytes = json.dumps(header, sort_keys=True).encode()
        prefix = _PREFIX.pack(
            _MAGIC, FORMAT_VERSION, len(header_bytes), hashlib.sha256(header_bytes).digest()
        )
        directory = path.parent
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                for part in (prefix, header_bytes, *payload):
                    f.write(part)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(directory)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ResourceExhaustedError(f"no space left to save ANN index {path}") from e
            raise
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> tuple[AnnIndex, int]:
        """Read an index written by :meth:`save`; returns it and the LanceDB version it reflects.
        Raises :class:`AnnIndexUnreadable` for anything but a complete, checksum-valid file."""
        path = Path(path)
        try:
            with open(path, "rb") as f:
                return cls._load_from(f, path, os.fstat(f.fileno()).st_size)
        except FileNotFoundError:
            raise AnnIndexUnreadable(path, "file does not exist") from None
        except AnnIndexUnreadable:
            raise
        except OSError as e:
            raise AnnIndexUnreadable(path, f"cannot read: {e.strerror or e}") from e

    @classmethod
    def _load_from(cls, f: Any, path: Path, size: int) -> tuple[AnnIndex, int]:
        def bad(reason: str) -> AnnIndexUnreadable:
            return AnnIndexUnreadable(path, reason)

        raw = f.read(_PREFIX.size)
        if len(raw) < _PREFIX.size:
            raise bad(f"truncated ({size} bytes, shorter than the file prefix)")
        magic, fmt, header_len, header_sha = _PREFIX.unpack(raw)
        if magic != _MAGIC:
            raise bad("not an omnivec ANN index (bad magic)")
        if fmt != FORMAT_VERSION:
            raise bad(f"unknown format version {fmt} (this build reads {FORMAT_VERSION})")
        if header_len > _MAX_HEADER_BYTES or _PREFIX.size + header_len > size:
            raise bad("truncated or corrupt header length")
        header_bytes = f.read(header_len)
        if len(header_bytes) != header_len or hashlib.sha256(header_bytes).digest() != header_sha:
            raise bad("header checksum mismatch")
        try:
            header = json.loads(header_bytes)
            params = AnnParams.from_dict(header["params"])
            dim = _json_int(header["dim"], 1)
            version = _json_int(header["version"], 0)
            sections = header["sections"]
            n_index = _json_int(sections["index"], 0)
            n_ids = _json_int(sections["ids"], 0)
            n_tomb = _json_int(sections["tombstones"], 0)
            layout = header["layout"]
            payload_sha = header["payload_sha256"]
            stored = _json_int(header["stored"], 0)
        except (ValueError, KeyError, TypeError, InvalidInputError) as e:
            raise bad(f"malformed header: {e}") from None
        if header.get("format") != FORMAT_VERSION or header.get("kind") != params.kind.value:
            raise bad("header does not agree with the file prefix")
        if layout not in ("flat", "hnsw", "ivfpq") or n_ids % 8 or n_tomb % 8:
            raise bad("malformed header: bad layout or section sizes")
        if _PREFIX.size + header_len + n_index + n_ids + n_tomb != size:
            raise bad(f"truncated or padded: {size} bytes on disk, header describes more or fewer")
        index_arr = np.fromfile(f, dtype=np.uint8, count=n_index)
        ids_raw = f.read(n_ids)
        tomb_raw = f.read(n_tomb)
        if index_arr.size != n_index or len(ids_raw) != n_ids or len(tomb_raw) != n_tomb:
            raise bad("truncated payload")
        digest = hashlib.sha256()
        for part in (index_arr.data, ids_raw, tomb_raw):
            digest.update(part)
        if digest.hexdigest() != payload_sha:
            raise bad("payload checksum mismatch")
        try:
            faiss_index = faiss.deserialize_index(index_arr)
        except RuntimeError as e:
            raise bad(f"FAISS cannot deserialize it: {e}") from None
        ids = np.frombuffer(ids_raw, dtype="<i8").astype(np.int64)
        tombstones = np.frombuffer(tomb_raw, dtype="<i8").astype(np.int64)

        try:
            index = cls(dim, params)
        except InvalidInputError as e:
            raise bad(f"inconsistent header: {e}") from None
        expected = _expected_types(layout, params.kind)
        if expected is None or not _matches(faiss_index, expected):
            raise bad(f"FAISS index type {type(faiss_index).__name__} does not match {layout}")
        if faiss_index.d != dim or faiss_index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise bad("FAISS index dim/metric does not match the header")
        if faiss_index.ntotal != ids.size or ids.size != stored:
            raise bad("stored id count does not match the FAISS index")
        if ids.size > 1 and not bool((ids[1:] > ids[:-1]).all()):
            raise bad("stored ids are not strictly increasing")
        if isinstance(faiss_index, faiss.IndexIDMap2):
            if not np.array_equal(np.sort(faiss.vector_to_array(faiss_index.id_map)), ids):
                raise bad("stored ids do not match the FAISS id map")
        if tombstones.size and (layout != "hnsw" or not _isin_sorted(tombstones, ids).all()):
            raise bad("tombstones are not a subset of the stored ids")
        index._index = faiss_index
        index._layout = layout
        index._ids = ids
        index._tombstones = tombstones
        if tombstones.size:
            batch = faiss.IDSelectorBatch(tombstones)
            index._tombstone_sel = (batch, faiss.IDSelectorNot(batch))
        return index, version


# --------------------------------------------------------------------------------- helpers


def _expected_types(layout: str, kind: AnnKind) -> tuple[type[Any], type[Any] | None] | None:
    if layout == "flat" and kind in (AnnKind.FLAT, AnnKind.IVFPQ):
        return faiss.IndexIDMap2, faiss.IndexFlatIP
    if layout == "hnsw" and kind is AnnKind.HNSW:
        return faiss.IndexIDMap2, faiss.IndexHNSWFlat
    if layout == "ivfpq" and kind is AnnKind.IVFPQ:
        return faiss.IndexIVFPQ, None
    return None


def _matches(index: faiss.Index, expected: tuple[type[Any], type[Any] | None]) -> bool:
    outer, inner = expected
    if not isinstance(index, outer):
        return False
    if inner is None:
        return True
    assert isinstance(index, faiss.IndexIDMap2)
    return isinstance(faiss.downcast_index(index.index), inner)


def _json_int(value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"expected an int >= {minimum}, got {value!r}")
    return value


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


def _fsync_dir(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
