"""Choosing fusion weights on labelled queries, with cross-validation against overfitting.

The candidates are a grid: each ranking's weight in {0, 0.5, 1, 2} (weighted RRF only depends on
the ratios, so proportional weightings are tried once; all-zero is not a weighting), each with
and without routing by modality. Every candidate is scored on every query once; the choice is
then a matter of means over subsets of queries:

- cross-validation: the queries are split into ``folds`` (seeded); for each fold the candidate
  with the best mean objective on the other folds is chosen and scored on the held-out fold. The
  held-out scores of all folds estimate how the tuning procedure does on queries it has not seen:
  that is the ``tuned`` figure, comparable with every fixed configuration on the same queries;
- the weights stored are the best candidate on all the queries, and only when the
  cross-validated figure is not below the current weights' (tuning never makes search worse on
  the evidence at hand).

Ties go to the candidate listed first: the current weights, then equal weights, then the grid.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omnivec.client.types import Fusion

__all__ = ["GRID_VALUES", "CrossValidation", "candidate_fusions", "cross_validate"]

GRID_VALUES = (0.0, 0.5, 1.0, 2.0)


def _key(fusion: Fusion, rankings: Sequence[str]) -> tuple[object, ...]:
    weights = np.array([fusion.weight(r) for r in rankings], np.float64)
    top = weights.max()
    scaled = tuple(np.round(weights / top, 6)) if top > 0 else tuple(weights)
    return (*scaled, fusion.route_by_modality)


def candidate_fusions(rankings: Sequence[str], current: Fusion) -> list[Fusion]:
    """The current weights, equal weights, then the grid; each ordering once."""
    out: list[Fusion] = []
    seen: set[tuple[object, ...]] = set()

    def add(fusion: Fusion) -> None:
        key = _key(fusion, rankings)
        if key not in seen and any(fusion.weight(r) > 0 for r in rankings):
            seen.add(key)
            out.append(Fusion({r: fusion.weight(r) for r in rankings}, fusion.route_by_modality))

    add(current)
    add(Fusion())
    for routed in (False, True):
        for values in itertools.product(GRID_VALUES, repeat=len(rankings)):
            add(Fusion(dict(zip(rankings, values)), routed))
    return out


@dataclass(frozen=True, eq=False)
class CrossValidation:
    out_of_fold: np.ndarray
    """(queries, figures): each query's figures under the weights chosen without it."""
    chosen_per_fold: tuple[int, ...]
    best: int
    """The candidate with the best mean objective on all queries."""


def cross_validate(
    figures: np.ndarray, objective: int, folds: int, seed: int
) -> CrossValidation:
    """``figures`` is (candidates, queries, figures); ``objective`` the figure maximised."""
    n_candidates, n_queries, _ = figures.shape
    folds = max(2, min(folds, n_queries))
    order = np.random.default_rng(seed).permutation(n_queries)
    fold_of = np.empty(n_queries, np.int64)
    fold_of[order] = np.arange(n_queries) % folds
    target = figures[:, :, objective]
    out = np.empty(figures.shape[1:], np.float64)
    chosen: list[int] = []
    for fold in range(folds):
        held = fold_of == fold
        means = target[:, ~held].mean(axis=1)
        pick = int(np.argmax(means))  # the first of equals: current, equal, then the grid
        chosen.append(pick)
        out[held] = figures[pick, held]
    best = int(np.argmax(target.mean(axis=1)))
    assert n_candidates > 0
    return CrossValidation(out, tuple(chosen), best)
