"""What to label next: the unlabelled rows whose labels would help a probe most.

:func:`suggest_rows` ranks the unlabelled rows by how unsure the probe is about them - the margin
between its two most probable classes (1 - (p1 - p2): a row the probe splits between two classes
sits on a boundary a label would move) - weighted by how typical the row is of its neighbourhood
(the mean cosine to its nearest neighbours among the unsure rows: a label on a dense region settles
many rows, a label on an outlier settles one), and then picks greedily along a kNN graph so that
the picks are not near-duplicates: once a row is picked its nearest neighbours are passed over.

Why both: with a handful of labels pure margin sampling keeps choosing outliers and
near-duplicates from one confused pair of classes (measured against random choice on the Debian
section sets, ``scripts/bench_probes.py --only suggest``: README, "What to label next").

Cost: the probe scores every row (one product); the graph is built only among the
``CANDIDATE_ROWS`` most unsure rows (a dense product of that many rows with themselves, ~40 ms for
2000 x 384-d), so 100k unlabelled rows cost about what 2000 do beyond the scoring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.probes.numerics import F64

__all__ = ["CANDIDATE_ROWS", "NEIGHBOURS", "SUGGEST_STRATEGIES", "Suggested", "suggest_rows"]

# The graph is built among this many of the most unsure rows (at least 20 per requested pick).
CANDIDATE_ROWS = 2000
# Neighbours per row in the graph: a pick passes over this many of its nearest candidates.
NEIGHBOURS = 10
SUGGEST_STRATEGIES = ("margin", "entropy")
MAX_SUGGESTIONS = 1000


@dataclass(frozen=True)
class Suggested:
    """One row to label: its index, the probe's best guess and how unsure it is."""

    row: int
    score: float  # what the rows were ranked by: uncertainty x typicality
    uncertainty: float  # 1 - margin, or the normalised entropy
    margin: float  # p1 - p2
    predicted: int  # the probe's most probable class
    probability: float  # its probability


def _uncertainty(proba: F64, strategy: str) -> tuple[F64, F64]:
    """(uncertainty in [0, 1], margin p1 - p2) per row."""
    top2 = -np.sort(-proba, axis=1)[:, :2]
    margin = top2[:, 0] - (top2[:, 1] if proba.shape[1] > 1 else 0.0)
    if strategy == "margin":
        return 1.0 - margin, margin
    p = np.clip(proba, 1e-12, 1.0)
    entropy = -np.sum(p * np.log(p), axis=1) / math.log(proba.shape[1])
    return entropy, margin


def suggest_rows(
    proba: F64,
    vectors: F64,
    n: int,
    *,
    strategy: str = "margin",
    neighbours: int = NEIGHBOURS,
) -> list[Suggested]:
    """Up to ``n`` rows of ``vectors`` (unit rows, with the probe's ``proba`` per row) to label
    next, most useful first."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SUGGESTIONS:
        raise InvalidInputError(f"the number of suggestions must be 1-{MAX_SUGGESTIONS}, got {n!r}")
    if strategy not in SUGGEST_STRATEGIES:
        raise InvalidInputError(
            f"unknown strategy {strategy!r}; use one of: {', '.join(SUGGEST_STRATEGIES)}"
        )
    if len(proba) != len(vectors):
        raise ValueError("proba and vectors must have one row per unlabelled row")
    if not len(proba):
        return []
    uncertainty, margin = _uncertainty(proba, strategy)
    # The most unsure rows (stable order: ties keep row order, so results are reproducible).
    n_candidates = min(len(proba), max(CANDIDATE_ROWS, 20 * n))
    candidates = np.argsort(-uncertainty, kind="stable")[:n_candidates]
    C = np.ascontiguousarray(vectors[candidates], dtype=np.float32)
    similarity = C @ C.T
    np.fill_diagonal(similarity, -np.inf)
    k = max(1, min(neighbours, len(candidates) - 1))
    if len(candidates) > 1:
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        typicality = np.take_along_axis(similarity, nearest, axis=1).mean(axis=1)
        typicality = np.clip(typicality, 0.0, None).astype(np.float64)
    else:
        nearest = np.zeros((1, 0), dtype=np.intp)
        typicality = np.ones(1)
    score = uncertainty[candidates] * typicality
    order = np.argsort(-score, kind="stable")
    passed_over = np.zeros(len(candidates), dtype=bool)
    picked: list[int] = []
    for position in order:
        if passed_over[position]:
            continue
        picked.append(int(position))
        passed_over[nearest[position]] = True
        if len(picked) == n:
            break
    if len(picked) < n:  # the graph passed over too many: fill with the best of the rest
        taken = set(picked)
        rest = [int(p) for p in order if int(p) not in taken]
        picked += rest[: n - len(picked)]
    best = np.argmax(proba, axis=1)
    return [
        Suggested(
            row=int(candidates[p]),
            score=float(score[p]),
            uncertainty=float(uncertainty[candidates[p]]),
            margin=float(margin[candidates[p]]),
            predicted=int(best[candidates[p]]),
            probability=float(proba[candidates[p], best[candidates[p]]]),
        )
        for p in picked
    ]
