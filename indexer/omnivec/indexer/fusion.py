"""Fusing rankings into one list: weighted reciprocal rank fusion, optionally routed by modality.

One search gathers :class:`Candidates`: the union of the items that its rankings found (the
vector search of each space, the keyword search), with each item's rank, raw score and best row
in each ranking. :func:`fused_order` turns that table into the final order under a
:class:`~omnivec.client.types.Fusion`. Search and evaluation (whose tuning scores a grid of
weightings on every query) call the same function, so what ``omnivec eval`` reports is exactly
what ``omnivec search`` returns.

Reciprocal rank fusion needs no calibration between scores of different scales (cosine in two
spaces, BM25): an item's fused score is ``sum_r w_r / (RRF_K + rank_r)``. Routing by modality
ranks each item only by the rankings meant for its modality, with ranks counted among those
items alone: an image is ranked by CLIP among images, a text by the text space and the keyword
search among texts, so a weak space never pushes items of a modality it does not serve.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from omnivec.client.types import KEYWORD_RANKING, Fusion
from omnivec.indexer.errors import InvalidInputError

__all__ = [
    "RRF_K",
    "Candidate",
    "Candidates",
    "build_candidates",
    "check_fusion",
    "fused_order",
    "modality_routes",
]

RRF_K = 60
MAX_WEIGHT = 1e6


@dataclass(frozen=True)
class Candidate:
    """One item as one ranking found it: its best row (chunk) there and that row's raw score."""

    item_id: str
    modality: str
    score: float
    rowid: int


def modality_routes(spaces: Iterable[str]) -> dict[str, frozenset[str]]:
    """Which rankings may rank an item of each modality when routing: images by ``clip``;
    texts and transcripts by ``text`` and ``keyword`` (by ``clip`` and ``keyword`` when the
    collection has no text space)."""
    present = set(spaces)
    words = frozenset({"text", KEYWORD_RANKING}) if "text" in present else frozenset(
        {"clip", KEYWORD_RANKING}
    )
    return {"image": frozenset({"clip"}), "text": words, "audio": words}


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no single truth value
class Candidates:
    """The items one query's rankings found; row i of each matrix is ``items[i]``."""

    rankings: tuple[str, ...]
    items: tuple[str, ...]
    modalities: tuple[str, ...]
    ranks: np.ndarray
    """(items, rankings) int: 1-based rank, 0 where the ranking did not find the item."""
    routed_ranks: np.ndarray
    """Like ``ranks``, counted only among the items routed to the ranking (0 for the rest)."""
    scores: np.ndarray
    """(items, rankings) float: the raw score there (0 where not found)."""
    rowids: np.ndarray
    """(items, rankings) int: the best row there (-1 where not found)."""

    def contributions(self, routed: bool) -> np.ndarray:
        """(items, rankings): ``1 / (RRF_K + rank)``, 0 where the ranking does not count."""
        ranks = self.routed_ranks if routed else self.ranks
        return np.where(ranks > 0, 1.0 / (RRF_K + np.maximum(ranks, 1)), 0.0)


def build_candidates(
    lists: Mapping[str, Sequence[Candidate]], routes: Mapping[str, frozenset[str]]
) -> Candidates:
    """The table of ``lists`` (ranking -> candidates best first, one per item)."""
    names = tuple(lists)
    index: dict[str, int] = {}
    modalities: list[str] = []
    for candidates in lists.values():
        for c in candidates:
            if c.item_id not in index:
                index[c.item_id] = len(index)
                modalities.append(c.modality)
    n = len(index)
    ranks = np.zeros((n, len(names)), np.int64)
    routed = np.zeros((n, len(names)), np.int64)
    scores = np.zeros((n, len(names)), np.float64)
    rowids = np.full((n, len(names)), -1, np.int64)
    for j, name in enumerate(names):
        routed_rank = 0
        for rank, c in enumerate(lists[name], start=1):
            i = index[c.item_id]
            ranks[i, j], scores[i, j], rowids[i, j] = rank, c.score, c.rowid
            if name in routes.get(c.modality, frozenset()):
                routed_rank += 1
                routed[i, j] = routed_rank
    return Candidates(names, tuple(index), tuple(modalities), ranks, routed, scores, rowids)


def check_fusion(fusion: Fusion, rankings: Iterable[str]) -> Fusion:
    """``fusion`` checked against the rankings a collection can have (its spaces, keyword)."""
    known = sorted(set(rankings))
    for name, weight in fusion.weights.items():
        if name not in known:
            raise InvalidInputError(
                f"fusion weight for unknown ranking {name!r}; this collection's rankings are "
                f"{', '.join(known)}"
            )
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise InvalidInputError(f"fusion weight of {name!r} must be a number, got {weight!r}")
        if not math.isfinite(weight) or not 0.0 <= weight <= MAX_WEIGHT:
            raise InvalidInputError(
                f"fusion weight of {name!r} must be between 0 and {MAX_WEIGHT:g}, got {weight}"
            )
    return fusion


def fused_order(
    candidates: Candidates, fusion: Fusion, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best ``k`` items under ``fusion``: (item positions, fused scores, the ranking that
    weighs most for each). Ties go to the better best rank, then the higher raw score, then the
    item found first. Items no weighted ranking counts are left out."""
    if not candidates.items:
        empty = np.zeros(0, np.int64)
        return empty, np.zeros(0, np.float64), empty
    weights = np.array([fusion.weight(r) for r in candidates.rankings], np.float64)
    weighted = candidates.contributions(fusion.route_by_modality) * weights
    fused = weighted.sum(axis=1)
    # The ranking whose row the hit shows. Ties are common (few candidates rank alike in every
    # ranking); they go to the keyword ranking first, whose best chunk holds the query's words,
    # so a long transcript shows the passage that matched rather than a weak space's pick.
    columns = np.argsort([name != KEYWORD_RANKING for name in candidates.rankings], kind="stable")
    best = columns[np.argmax(weighted[:, columns], axis=1)]
    rows = np.arange(len(candidates.items))
    best_rank = candidates.ranks[rows, best]
    best_score = candidates.scores[rows, best]
    order = np.lexsort((rows, -best_score, best_rank, -fused))
    order = order[fused[order] > 0][:k]
    return order, fused[order], best[order]
