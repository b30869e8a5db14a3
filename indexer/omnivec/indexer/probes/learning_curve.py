"""How much better the served probe should be than the one the report scored.

The report's estimate never scores the probe that is served: a held-out split scores a probe
trained without the held-out rows (a quarter of the examples), cross-validation scores probes
trained on each fold's share. The served probe is refitted on every example, and with a few shots
per class more examples help a lot (on the Debian section sets the probe gains 2-4 points per
doubling of the shots). An interval around the estimate is therefore an interval for a weaker
probe: measured over 150 draws on the three Debian sets, the served probe's accuracy fell *above*
the 90% interval in 17 draws and below it in 9, 82.7% coverage where 90% was claimed.

:func:`measure_learning_curve` measures the gain on the user's own examples, with no extra
labels: in each fold of the first cross-validation repetition it refits the chosen probe (same
family, same C) on half of the fold's training rows per class, and scores it on the fold's
validation rows next to the full fold's probe (paired: the same rows). The accuracy lost by
halving, over ``log(2)``-ish of training rows, is the slope of a learning curve that is linear in
the log of the rows (the shape few-shot learning curves have at these sizes, and the one the bench
shows from 1 to 16 shots). :meth:`LearningCurve.gain` extrapolates it from the rows the scored
probe had to the rows the served one has, and the report raises the interval's *upper* end by
that much: the served probe is expected to be better, never worse, so the lower end stays where
the rows put it. The slope is measured at fewer rows than the served probe has; learning curves
flatten as rows grow, so the extrapolation errs on the wide side.

Measured on the same 150 draws (``scripts/bench_probes.py --only few-shot``,
``benchmarks/results/probes_learning_curve_20261202.txt``): the upper end rose by 0.8-1.9 points on
average at 4-16 shots, and coverage went from 82.7% to 85.3% (4 pessimistic misses fewer, the
optimistic ones unchanged).

Nothing is measured when no class has two training rows in a fold (1-2 shots: halving would leave
a class with none); the interval is then the estimate's own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from omnivec.indexer.probes.numerics import IntArr
from omnivec.indexer.probes.selection import Splits

__all__ = ["LearningCurve", "describe_learning_curve", "halved_rows", "measure_learning_curve"]


@dataclass(frozen=True)
class LearningCurve:
    """Accuracy against the log of the training rows, measured by halving each fold's rows."""

    # Accuracy lost on the same validation rows when each fold's training rows were halved
    # (negative when the half did better: noise, or a curve that has flattened).
    halving_cost: float
    rows_full: float  # mean training rows of a fold's probe
    rows_half: float  # mean training rows of its halved refit
    scored_rows: int  # validation rows both were scored on

    @property
    def slope(self) -> float:
        """Accuracy per unit of log(rows), never below 0: more rows are not expected to hurt."""
        return max(0.0, self.halving_cost) / math.log(self.rows_full / self.rows_half)

    def gain(self, scored_rows: float, served_rows: float) -> float:
        """The expected accuracy gain of a probe trained on ``served_rows`` examples over one
        trained on ``scored_rows``."""
        if scored_rows <= 0 or served_rows <= scored_rows:
            return 0.0
        return self.slope * math.log(served_rows / scored_rows)


def halved_rows(rows: IntArr, y: IntArr, rng: np.random.Generator) -> IntArr:
    """Half of ``rows`` per class (rounded down, at least one row of each class), sorted."""
    kept: list[IntArr] = []
    for cls in np.unique(y[rows]):
        members = rows[y[rows] == cls]
        kept.append(rng.choice(members, size=max(1, len(members) // 2), replace=False))
    return np.sort(np.concatenate(kept))


def measure_learning_curve(
    y: IntArr,
    splits: Splits,
    full_predictions: IntArr,
    predict: Callable[[IntArr, IntArr], IntArr],
    rng: np.random.Generator,
) -> LearningCurve | None:
    """The learning curve of the probe whose out-of-fold predictions (first repetition) are
    ``full_predictions``; ``predict(training rows, validation rows)`` refits it on the given rows
    and predicts the validation rows. None when no fold can be halved."""
    full_hits: list[np.ndarray] = []
    half_hits: list[np.ndarray] = []
    full_sizes: list[int] = []
    half_sizes: list[int] = []
    for repetition, train, validation in splits.folds:
        if repetition != 0:
            continue
        half = halved_rows(train, y, rng)
        if len(half) == len(train):
            continue  # every class has one training row: nothing to halve
        half_hits.append(predict(half, validation) == y[validation])
        full_hits.append(full_predictions[validation] == y[validation])
        full_sizes.append(len(train))
        half_sizes.append(len(half))
    if not full_hits:
        return None
    full = np.concatenate(full_hits).astype(np.float64)
    halved = np.concatenate(half_hits).astype(np.float64)
    return LearningCurve(
        halving_cost=float(np.mean(full - halved)),
        rows_full=float(np.mean(full_sizes)),
        rows_half=float(np.mean(half_sizes)),
        scored_rows=len(full),
    )


def describe_learning_curve(
    curve: LearningCurve, scored_rows: int | None, served_rows: int, gain: float
) -> str:
    """The report's note: what the estimate scored, what halving cost, and the gain expected
    (``scored_rows`` None: a cross-validated estimate, whose probes had a fold's rows)."""
    scored = (
        f"the held-out estimate scores a probe trained on {scored_rows} of the {served_rows} "
        "examples"
        if scored_rows is not None
        else f"the cross-validated estimate scores probes trained on {curve.rows_full:.0f} of "
        f"the {served_rows} examples"
    )
    effect = (
        f"cost {100 * curve.halving_cost:.1f} points"
        if curve.halving_cost > 0
        else f"did not lower the accuracy (the halved probes scored {-100 * curve.halving_cost:.1f} "
        "points higher)"
    )
    halving = (
        f"halving the rows of each cross-validation fold ({curve.rows_full:.0f} to "
        f"{curve.rows_half:.0f}) {effect} on the same {curve.scored_rows} rows"
    )
    if gain <= 0:
        return (
            f"{scored}; {halving}, so no gain is expected from the rest and the accuracy "
            "interval is the estimate's own"
        )
    return (
        f"{scored}; {halving}, so the probe served, trained on all of them, is expected to be "
        f"about {100 * gain:.1f} points better: the accuracy interval's upper end is raised by "
        "that much (a learning curve linear in the log of the rows)"
    )
