"""The report's numbers from predictions on one set of rows: the accuracy and its interval, the
class metrics, and the paired comparisons with the baselines.

Training gathers, for the rows it can score honestly (the held-out split, or every training row's
out-of-fold prediction), what the chosen probe predicted and what each baseline predicted on the
*same* rows (:class:`ScoredRows`); :func:`measure` turns them into the report's fields. Pairing
is the point: on 8 rows a probe at 75.0% and zero-shot at 87.5% differ by one row, and
:func:`~.intervals.paired_difference` says so ("cannot tell apart on 8 rows") instead of
declaring a winner.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from omnivec.indexer.probes.intervals import (
    REPORT_LEVEL,
    bootstrap_applies,
    bootstrap_interval,
    paired_bootstrap,
    paired_difference,
    verdict,
    wilson_interval,
    z_score,
)
from omnivec.indexer.probes.numerics import IntArr
from omnivec.indexer.probes.report import (
    ClassMetrics,
    Comparison,
    Interval,
    confusion_counts,
    metrics_per_class,
)

__all__ = ["Measured", "ScoredRows", "measure"]

# The order comparisons are listed in.
BASELINES = ("zero-shot", "plain probe", "without unlabeled rows")


@dataclass
class ScoredRows:
    """Predictions on one set of rows: the probe's, and each baseline's on the same rows."""

    method: str  # "held-out split" | "cross-validation" | "leave-one-out"
    rows: IntArr  # indices into the training examples
    y: IntArr
    predictions: IntArr
    log_loss: float | None
    baselines: dict[str, IntArr] = field(default_factory=dict)  # name -> predictions
    # Out-of-fold estimates from repeated splits: each repetition's accuracy (see measure).
    repetition_accuracy: tuple[float, ...] = ()


@dataclass
class Measured:
    accuracy: float
    interval: Interval
    log_loss: float | None
    confusion: NDArray[np.int64]
    class_metrics: tuple[ClassMetrics, ...]
    baseline_accuracy: dict[str, float]
    comparisons: tuple[Comparison, ...]


def measure(scored: ScoredRows, classes: Sequence[str]) -> Measured:
    """Accuracy with its interval, class metrics, and a paired comparison per baseline.

    A held-out split gets Wilson's interval and Newcombe's paired one; out-of-fold estimates get
    the stratified bootstrap's when there are rows enough to resample (see
    :mod:`~.intervals`), else those too."""
    hits = (scored.predictions == scored.y).astype(np.float64)
    n = len(hits)
    bootstrap = scored.method != "held-out split" and bootstrap_applies(scored.y)
    if bootstrap:
        low, high = bootstrap_interval(hits, scored.y, REPORT_LEVEL)
    else:
        low, high = wilson_interval(float(hits.sum()), n, REPORT_LEVEL)
    method = "bootstrap" if bootstrap else "wilson"
    if len(scored.repetition_accuracy) > 1 and n:
        low, high = _with_split_luck(float(hits.mean()), low, high, scored.repetition_accuracy)
        method += " + split variance"
    confusion = confusion_counts(scored.y, scored.predictions, len(classes))
    comparisons: list[Comparison] = []
    accuracies: dict[str, float] = {}
    for name in _ordered(scored.baselines):
        base_hits = (scored.baselines[name] == scored.y).astype(np.float64)
        accuracies[name] = float(base_hits.mean()) if n else float("nan")
        diff = (
            paired_bootstrap(hits, base_hits, scored.y, REPORT_LEVEL) if bootstrap
            else paired_difference(hits, base_hits, REPORT_LEVEL)
        )
        comparisons.append(
            Comparison(
                baseline=name,
                probe_accuracy=diff.first,
                baseline_accuracy=diff.second,
                difference=diff.difference,
                interval=Interval(
                    diff.low, diff.high, REPORT_LEVEL, "bootstrap" if bootstrap else "newcombe"
                ),
                rows=diff.rows,
                verdict=verdict(diff.low, diff.high),
            )
        )
    return Measured(
        accuracy=float(hits.mean()) if n else float("nan"),
        interval=Interval(low, high, REPORT_LEVEL, method),
        log_loss=scored.log_loss,
        confusion=confusion,
        class_metrics=metrics_per_class(confusion, classes),
        baseline_accuracy=accuracies,
        comparisons=tuple(comparisons),
    )


def _with_split_luck(
    accuracy: float, low: float, high: float, repetition_accuracy: Sequence[float]
) -> tuple[float, float]:
    """Widen each side of an interval over the rows by the spread of accuracy across the
    repetitions of the folds, added in variance.

    The estimate scores one repetition's folds; the bootstrap (or Wilson's count) resamples rows
    with that split held fixed, so the luck of the split is missing from it, and with 2-3
    examples per class it is large (on the Debian sets the repetitions' accuracies have a
    standard deviation of 2-3 points). Measured over 20 draws of each Debian set: 2-shot
    coverage 42/60 -> 48/60 (``scripts/bench_probes.py``, draws 0-19; README, "Few-shot
    probes"), 3 shots 49/60 -> 52/60 on the same draws."""
    spread = z_score(REPORT_LEVEL) * float(np.std(repetition_accuracy, ddof=1))
    below = math.hypot(accuracy - low, spread)
    above = math.hypot(high - accuracy, spread)
    return max(0.0, accuracy - below), min(1.0, accuracy + above)


def _ordered(baselines: Mapping[str, IntArr]) -> list[str]:
    return [b for b in BASELINES if b in baselines] + sorted(set(baselines) - set(BASELINES))
