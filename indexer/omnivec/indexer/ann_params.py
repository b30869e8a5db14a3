"""Which FAISS structure serves an embedding space, and with which parameters.

:func:`choose_params` picks the kind (exact, HNSW, IVF-PQ) and its build/search parameters from
the number of vectors, their dimension and a recall target; :class:`AnnParams` validates them and
round-trips through JSON (saved index headers, config). Nothing here touches FAISS.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final, Literal

import numpy as np

from omnivec.indexer.errors import InvalidInputError

__all__ = [
    "POINTS_PER_CENTROID",
    "AnnKind",
    "AnnParams",
    "Layout",
    "check_index_shape",
    "choose_params",
    "stored_vector_bytes",
]

Layout = Literal["flat", "hnsw", "ivfpq"]
"""How an index is stored right now: an IVF-PQ holds its vectors flat until it can be trained."""

# IndexIDMap2 keeps an int64 id array plus a std::unordered_map id -> slot; with libstdc++ a map
# node is 24 bytes + malloc overhead + a bucket pointer, ~40 bytes per vector.
ID_MAP2_BYTES: Final = 8 + 40

# FAISS k-means warns below 39 training points per centroid and quality drops visibly there, so
# an IVF-PQ is not trained before it has that many for both the coarse and the PQ codebooks.
POINTS_PER_CENTROID: Final = 39


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
    # IVF-PQ: re-rank refine_factor * k PQ candidates with an 8-bit scalar-quantised copy of
    # each vector (dim more bytes a vector); 0 = rank by the PQ codes alone.
    refine_factor: int = 0

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
            if self.refine_factor < 0:
                raise InvalidInputError(
                    f"AnnParams.refine_factor must be >= 0 (0 = no re-ranking), got "
                    f"{self.refine_factor}"
                )
        elif min(self.nlist, self.nprobe, self.pq_m) < 0:
            raise InvalidInputError("AnnParams.nlist, nprobe and pq_m must be >= 0")
        elif self.refine_factor:
            raise InvalidInputError("AnnParams.refine_factor applies to IVF-PQ only; leave it 0")

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


def check_index_shape(dim: object, params: object) -> int:
    """``dim`` as an int, once it and ``params`` can describe one index; InvalidInputError if not."""
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
        raise InvalidInputError(f"dim must be an int >= 1, got {dim!r}")
    if not isinstance(params, AnnParams):
        raise InvalidInputError(f"params must be AnnParams, got {type(params).__name__}")
    if params.kind is AnnKind.IVFPQ and int(dim) % params.pq_m:
        raise InvalidInputError(
            f"IVF-PQ pq_m={params.pq_m} must divide dim={dim}; use choose_params to pick it"
        )
    return int(dim)


def choose_params(
    n: int,
    dim: int,
    *,
    kind: AnnKind | None = None,
    exact_threshold: int = 20_000,
    recall_target: float = 0.95,
    ivfpq_rerank: bool = True,
) -> AnnParams:
    """Pick an index kind and its parameters from the collection size, dim and recall target.

    Exact below ``exact_threshold``, HNSW above (the default), IVF-PQ only when asked for it (it
    trades recall for ~30x less memory, a decision the caller must make knowingly). Like autofaiss
    the choice uses only n and dim; the HNSW numbers are calibrated on isotropic random vectors,
    the hardest case for a graph index, so real embeddings (low intrinsic dimension) get recall
    above the target. Tune ``ef_search``/``nprobe`` down after measuring if latency matters.
    ``ivfpq_rerank``: an IVF-PQ re-ranks its candidates with 8-bit copies of the vectors (False:
    PQ codes only, the smallest memory and the lowest recall).
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
    nlist = max(1, min(int(round(4 * math.sqrt(max(n, 1)))), max(n, 1) // POINTS_PER_CENTROID))
    # Probing ~2*sqrt(nlist) lists reaches ~0.95 of what PQ can give on clustered data; the
    # effort factor scales it for other targets.
    nprobe = min(nlist, max(1, math.ceil(2 * math.sqrt(nlist) * effort)))
    # 8-dim sub-vectors (dim 512 -> 64 bytes) are the standard memory/accuracy point; high
    # recall targets get 4-dim sub-vectors (twice the bytes). pq_m must divide dim.
    dsub = 4 if recall_target >= 0.97 else 8
    pq_m = _largest_divisor_at_most(dim, max(1, dim // dsub))
    # PQ codes rank the right neighbours near the top but not in order when their cosines
    # differ by less than the quantisation error (tight clusters). Re-ranking 20 * k candidates
    # by an 8-bit copy fixes the order: on 200k clustered 512-d vectors recall@10 went 0.33 (PQ
    # alone) -> 0.91 (10 * k) -> 0.97 (20 * k) -> 0.97 (40 * k: nprobe bounds it), for 1.7x
    # the PQ-only search time.
    refine = math.ceil(20 * effort) if ivfpq_rerank else 0
    return AnnParams(kind=kind, nlist=nlist, nprobe=nprobe, pq_m=pq_m, refine_factor=refine)


def _round_up(x: float, step: int) -> int:
    return int(math.ceil(x / step) * step)


def _largest_divisor_at_most(n: int, cap: int) -> int:
    for m in range(min(cap, n), 0, -1):
        if n % m == 0:
            return m
    return 1


def stored_vector_bytes(
    layout: Layout, dim: int, params: AnnParams, *, code_size: int | None = None
) -> float:
    """Resident bytes one stored vector costs in a FAISS index of ``layout`` (vectors or codes,
    graph links, id bookkeeping), fixed costs (coarse quantizer, codebooks) left out. The one
    formula both for planning (the memory budget, from ``params``) and for a live index, which
    passes its IVF-PQ's real ``code_size``. A trained IVF-PQ holds the re-ranking copy exactly
    when ``params.refine_factor`` asks for one (built so, and checked when read back)."""
    if layout == "flat":
        return float(4 * dim + ID_MAP2_BYTES)
    if layout == "hnsw":
        # Level 0 keeps 2M int32 links; a node reaches level l with probability M^-l and holds M
        # links there, so the upper levels add M/(M-1) links on average; plus the int32 level
        # and size_t offset FAISS keeps per node.
        m = params.hnsw_m
        links = 2 * m + m / (m - 1)
        return 4 * dim + 4 * links + 4 + 8 + ID_MAP2_BYTES
    per = float((params.pq_m if code_size is None else code_size) + 8)  # code + int64 id in its list
    if params.refine_factor > 0:
        per += dim + ID_MAP2_BYTES  # the 8-bit re-ranking copy (a byte a dimension) and its id map
    return per
