"""How sure the report's numbers are: intervals for an accuracy and for a paired difference.

- :func:`wilson_interval` - the Wilson score interval of a proportion (Wilson 1927): unlike the
  normal approximation it stays inside [0, 1] and keeps its coverage with a handful of rows and
  accuracies near 0 or 1, which is exactly a few-shot probe's report;
- :func:`paired_difference` - the difference of two accuracies measured on the *same* rows, with
  Newcombe's score interval for paired proportions (Newcombe 1998, method 10): built from the two
  Wilson intervals and the correlation of the two classifiers' hits, so rows both get right (or
  wrong) narrow it, as they should;
- :func:`bootstrap_interval` and :func:`paired_bootstrap` - for out-of-fold estimates
  (cross-validation, leave-one-out): a percentile bootstrap over the scored rows, resampled within
  each class as the folds were drawn (Efron & Tibshirani 1993, ch. 13), with 2,000 seeded
  resamples so a report is reproducible. An out-of-fold row's hit is not a draw of a fixed
  classifier (each fold's probe is another), so the binomial model behind Wilson's interval is
  not the estimate's; the bootstrap makes no such assumption. It needs rows to resample: with
  fewer than ``BOOTSTRAP_MIN_ROWS`` rows, or a class with a single row (one shot), every resample
  is nearly the same set and the interval collapses to a point, so those keep Wilson's and
  Newcombe's intervals (:func:`bootstrap_applies`);
- :func:`verdict` - the words for a difference: "better", "worse", or "cannot tell apart" when
  its interval spans 0.

Rows may carry fractional hits (the share of a row's repeated out-of-fold predictions that were
right); the formulas take the summed counts as they are.

The report's level is ``REPORT_LEVEL`` (90%). These intervals are for the probe that was scored,
which had fewer examples than the one served; :mod:`.learning_curve` raises the accuracy
interval's upper end for that. An out-of-fold estimate from repeated splits also carries the luck
of its split, which resampling rows does not see: :mod:`.estimates` widens it by the spread across
the repetitions. Whether the intervals keep the level is measured, not assumed:
``scripts/bench_probes.py`` counts how often the interval of the report covers the accuracy on
every row not used for training, over many draws (README, "Few-shot probes").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from omnivec.indexer.probes.numerics import F64

__all__ = [
    "BOOTSTRAP_MIN_ROWS",
    "REPORT_LEVEL",
    "PairedDifference",
    "bootstrap_applies",
    "bootstrap_interval",
    "paired_bootstrap",
    "paired_difference",
    "verdict",
    "wilson_interval",
    "z_score",
]

REPORT_LEVEL = 0.9
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_MIN_ROWS = 20


def z_score(level: float) -> float:
    """The two-sided standard normal quantile of ``level`` (1.645 for 0.9)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def wilson_interval(successes: float, n: float, level: float = REPORT_LEVEL) -> tuple[float, float]:
    """Wilson score interval of ``successes / n``; (0, 1) when ``n`` is 0."""
    if n <= 0:
        return 0.0, 1.0
    z = z_score(level)
    p = min(max(successes / n, 0.0), 1.0)
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    # The interval always holds p itself: rounding can leave centre + half a hair below 1 at p = 1.
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


@dataclass(frozen=True)
class PairedDifference:
    """``first - second`` accuracy on the same ``rows``, with its interval at ``level``."""

    first: float
    second: float
    difference: float
    low: float
    high: float
    rows: int
    level: float


def _paired_hits(first_hits: F64, second_hits: F64) -> tuple[np.ndarray, np.ndarray]:
    a_hits = np.asarray(first_hits, dtype=np.float64)
    b_hits = np.asarray(second_hits, dtype=np.float64)
    if a_hits.shape != b_hits.shape or a_hits.ndim != 1:
        raise ValueError("paired hits must be two 1-D arrays of the same length")
    return a_hits, b_hits


def _no_rows(level: float) -> PairedDifference:
    """Nothing was scored: no difference, and an interval that says nothing."""
    return PairedDifference(math.nan, math.nan, math.nan, -1.0, 1.0, 0, level)


def paired_difference(
    first_hits: F64, second_hits: F64, level: float = REPORT_LEVEL
) -> PairedDifference:
    """Accuracy difference of two classifiers scored on the same rows (hits in [0, 1] per row),
    with Newcombe's method-10 interval."""
    a_hits, b_hits = _paired_hits(first_hits, second_hits)
    n = len(a_hits)
    if n == 0:
        return _no_rows(level)
    both = float(np.sum(a_hits * b_hits))
    only_first = float(np.sum(a_hits * (1.0 - b_hits)))
    only_second = float(np.sum((1.0 - a_hits) * b_hits))
    neither = float(n) - both - only_first - only_second
    p1 = (both + only_first) / n
    p2 = (both + only_second) / n
    l1, u1 = wilson_interval(both + only_first, n, level)
    l2, u2 = wilson_interval(both + only_second, n, level)
    denominator = (both + only_first) * (only_second + neither) * (both + only_second) * (
        only_first + neither
    )
    phi = 0.0
    if denominator > 0:
        phi = (both * neither - only_first * only_second) / math.sqrt(denominator)
    delta = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    epsilon = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    diff = p1 - p2
    return PairedDifference(
        first=p1,
        second=p2,
        difference=diff,
        low=max(-1.0, diff - delta),
        high=min(1.0, diff + epsilon),
        rows=n,
        level=level,
    )


def bootstrap_applies(strata: np.ndarray) -> bool:
    """Whether a stratified bootstrap over rows of these classes varies at all (see above)."""
    _, counts = np.unique(np.asarray(strata), return_counts=True)
    return len(strata) >= BOOTSTRAP_MIN_ROWS and bool(np.all(counts >= 2))


def _resampled_sums(hits: np.ndarray, strata: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Per resample, the sum of each row of ``hits`` (k, n) over the same stratified draw of
    its columns: (k, resamples)."""
    rng = np.random.default_rng(seed)
    sums = np.zeros((hits.shape[0], resamples))
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        picks = members[rng.integers(0, len(members), size=(resamples, len(members)))]
        sums += hits[:, picks].sum(axis=2)
    return sums


def bootstrap_interval(
    hits: F64, strata: np.ndarray, level: float = REPORT_LEVEL, *,
    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``hits`` (per row, in [0, 1]), resampling
    rows within each stratum (class); it always holds the measured mean."""
    values = np.asarray(hits, dtype=np.float64)
    if len(values) == 0:
        return 0.0, 1.0
    means = _resampled_sums(values[None, :], np.asarray(strata), resamples, seed)[0] / len(values)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    p = float(values.mean())
    return min(p, float(low)), max(p, float(high))


def paired_bootstrap(
    first_hits: F64, second_hits: F64, strata: np.ndarray, level: float = REPORT_LEVEL, *,
    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
) -> PairedDifference:
    """``first - second`` accuracy on the same rows, with a percentile bootstrap interval that
    resamples the rows once for both (the pairing is kept)."""
    a_hits, b_hits = _paired_hits(first_hits, second_hits)
    n = len(a_hits)
    if n == 0:
        return _no_rows(level)
    sums = _resampled_sums(np.stack([a_hits - b_hits]), np.asarray(strata), resamples, seed)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(sums[0] / n, [tail, 1.0 - tail])
    p1, p2 = float(a_hits.mean()), float(b_hits.mean())
    diff = p1 - p2
    return PairedDifference(p1, p2, diff, min(diff, float(low)), max(diff, float(high)), n, level)


def verdict(low: float, high: float) -> str:
    """"better" / "worse" when the interval of the difference is on one side of 0, else
    "cannot tell apart" (the rows scored are too few to decide)."""
    if low > 0.0:
        return "better"
    if high < 0.0:
        return "worse"
    return "cannot tell apart"
