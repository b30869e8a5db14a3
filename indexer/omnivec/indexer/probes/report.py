"""What training measured: :class:`ProbeReport` and its parts, and the metrics that fill them.

One type for the report wherever it goes: training returns it, ``probe.json`` stores its
:meth:`ProbeReport.to_dict`, :class:`~omnivec.indexer.probes.storage.ProbeRecord` holds it, and
its field names are those of ``omnivec.v1.ProbeReport`` (``regularization_c``, ``class_metrics``,
``cv_scores``, ...), so the server's conversion and the CLI's remote backend copy fields by name.
Two fields are engine-only (not on the wire): ``evaluated_rows`` and ``evaluated_predictions``.

Reports stored before the fields took the proto's names (``probe.json`` format 1: ``chosen_c``,
``per_class``; the oldest without ``cv_folds`` / ``cv_repetitions``) are read by
:meth:`ProbeReport.from_dict` too. Its parts, :class:`ClassMetrics` and :class:`CScore`, are the
SDK's own dataclasses (``omnivec.client``): the same values on both sides of the wire.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from omnivec.client.types import ClassMetrics, CScore
from omnivec.indexer.probes.numerics import IntArr

__all__ = ["CScore", "ClassMetrics", "ProbeReport", "confusion_counts", "metrics_per_class"]

# Format-1 names of renamed fields -> their (proto) names: only stored reports use the old ones.
_FORMAT1_NAMES = {"chosen_c": "regularization_c", "per_class": "class_metrics"}


def _class_metrics(data: Mapping[str, Any]) -> ClassMetrics:
    return ClassMetrics(
        label=str(data["label"]),
        precision=float(data["precision"]),
        recall=float(data["recall"]),
        f1=float(data["f1"]),
        support=int(data["support"]),
    )


def _c_score(data: Mapping[str, Any]) -> CScore:
    return CScore(c=float(data["c"]), accuracy=float(data["accuracy"]), log_loss=float(data["log_loss"]))


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class ProbeReport:
    """What training measured. Accuracies are fractions in [0, 1].

    ``heldout_*`` numbers come from the stratified held-out split when there is one
    (``estimate_method == "held-out split"``); with one example per class (or
    ``holdout_fraction == 0``) they are out-of-fold estimates from the selection CV at the chosen C
    (``"leave-one-out"`` / ``"cross-validation"``), and ``notes`` says so; ``None`` when they cannot
    be estimated at all. Field names are the proto's (module docstring).
    """

    classes: tuple[str, ...]
    regularization_c: float  # the chosen C
    selection_method: str  # "k-fold" | "repeated-splits" | "leave-one-out" | "fixed"
    cv_scores: tuple[CScore, ...]
    cv_folds: int  # folds per repetition (n for leave-one-out); 0 when C was fixed
    cv_repetitions: int  # 1, or the number of reshuffled repetitions of "repeated-splits"
    estimate_method: str  # "held-out split" | "leave-one-out" | "cross-validation" | "none"
    heldout_accuracy: float | None
    zero_shot_accuracy: float | None
    plain_probe_accuracy: float | None
    plain_probe_c: float | None
    class_metrics: tuple[ClassMetrics, ...]
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeReport:
        """Inverse of :meth:`to_dict`; also reads format-1 names. A field absent from an older
        report gets the value readers showed for it before (0, "", None, empty, C NaN)."""
        d = {_FORMAT1_NAMES.get(key, key): value for key, value in data.items()}
        return cls(
            classes=tuple(str(c) for c in d.get("classes", ())),
            regularization_c=float(d.get("regularization_c", math.nan)),
            selection_method=str(d.get("selection_method") or ""),
            cv_scores=tuple(_c_score(s) for s in d.get("cv_scores") or ()),
            cv_folds=int(d.get("cv_folds") or 0),
            cv_repetitions=int(d.get("cv_repetitions") or 0),
            estimate_method=str(d.get("estimate_method") or ""),
            heldout_accuracy=_optional(d.get("heldout_accuracy")),
            zero_shot_accuracy=_optional(d.get("zero_shot_accuracy")),
            plain_probe_accuracy=_optional(d.get("plain_probe_accuracy")),
            plain_probe_c=_optional(d.get("plain_probe_c")),
            class_metrics=tuple(_class_metrics(m) for m in d.get("class_metrics") or ()),
            confusion_matrix=tuple(
                tuple(int(v) for v in row) for row in d.get("confusion_matrix") or ()
            ),
            heldout_log_loss=_optional(d.get("heldout_log_loss")),
            temperature=float(d.get("temperature", 1.0)),
            zero_shot_prior_used=bool(d.get("zero_shot_prior_used")),
            prior_scale=_optional(d.get("prior_scale")),
            train_seconds=float(d.get("train_seconds") or 0.0),
            n_train=int(d.get("n_train") or 0),
            n_heldout=int(d.get("n_heldout") or 0),
            evaluated_rows=tuple(int(i) for i in d.get("evaluated_rows") or ()),
            evaluated_predictions=tuple(str(p) for p in d.get("evaluated_predictions") or ()),
            notes=tuple(str(n) for n in d.get("notes") or ()),
        )


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
