"""What training measured: :class:`ProbeReport` and its parts, and the metrics that fill them.

Training returns it and ``probe.json`` stores its :meth:`ProbeReport.to_dict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from omnivec.indexer.probes.numerics import IntArr

__all__ = ["CScore", "ClassMetrics", "ProbeReport", "confusion_counts", "metrics_per_class"]


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall and F1 of one class on the evaluated rows."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class CScore:
    """Cross-validated score of one C: pooled out-of-fold accuracy and mean log loss."""

    c: float
    accuracy: float
    log_loss: float


@dataclass(frozen=True)
class ProbeReport:
    """What training measured. Accuracies are fractions in [0, 1].

    ``heldout_*`` numbers come from the stratified held-out split when there is one
    (``estimate_method == "held-out split"``); with one example per class (or
    ``holdout_fraction == 0``) they are out-of-fold estimates from the selection CV at the chosen C
    (``"leave-one-out"`` / ``"cross-validation"``), and ``notes`` says so; ``None`` when they cannot
    be estimated at all.
    """

    classes: tuple[str, ...]
    chosen_c: float
    selection_method: str  # "k-fold" | "repeated-splits" | "leave-one-out" | "fixed"
    cv_scores: tuple[CScore, ...]
    cv_folds: int  # folds per repetition (n for leave-one-out); 0 when C was fixed
    cv_repetitions: int  # 1, or the number of reshuffled repetitions of "repeated-splits"
    estimate_method: str  # "held-out split" | "leave-one-out" | "cross-validation" | "none"
    heldout_accuracy: float | None
    zero_shot_accuracy: float | None
    plain_probe_accuracy: float | None
    plain_probe_c: float | None
    per_class: tuple[ClassMetrics, ...]
    confusion_matrix: tuple[tuple[int, ...], ...]  # rows: true class, columns: predicted
    heldout_log_loss: float | None  # with the fitted temperature
    temperature: float
    zero_shot_prior_used: bool  # False without prompts, or when CV preferred the plain probe
    prior_scale: float | None  # logit scale s of the zero-shot prior, None when not used
    train_seconds: float
    n_train: int
    n_heldout: int
    # Engine-only (not on the wire): the rows of X the estimates were computed on (the held-out
    # split, or every training row for out-of-fold estimates) and what the evaluated probe
    # predicted for them: lets a UI show the mistakes and lets anyone recompute the metrics.
    evaluated_rows: tuple[int, ...] = ()
    evaluated_predictions: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, keys in field order (what ``probe.json`` stores and ``--json`` prints)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, (ClassMetrics, CScore)):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    return value


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def confusion_counts(y_true: IntArr, y_pred: IntArr, n_classes: int) -> NDArray[np.int64]:
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def metrics_per_class(cm: NDArray[np.int64], classes: Sequence[str]) -> tuple[ClassMetrics, ...]:
    """Precision/recall/F1 per class with scikit-learn's zero_division=0 convention."""
    out = []
    for j, label in enumerate(classes):
        tp = int(cm[j, j])
        predicted = int(cm[:, j].sum())
        support = int(cm[j, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * tp / (predicted + support) if (predicted + support) else 0.0
        out.append(ClassMetrics(label, precision, recall, f1, support))
    return tuple(out)
