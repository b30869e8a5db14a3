"""What training measured: :class:`ProbeReport` and its parts, and the metrics that fill them.

One type for the report wherever it goes: training returns it, ``probe.json`` stores its
:meth:`ProbeReport.to_dict`, :class:`~omnivec.indexer.probes.storage.ProbeRecord` holds it, and
its field names are those of ``omnivec.v1.ProbeReport`` (``regularization_c``, ``class_metrics``,
``cv_scores``, ...), so the server's conversion and the CLI's remote backend copy fields by name.
Two fields are engine-only (not on the wire): ``evaluated_rows`` and ``evaluated_predictions``.

Reports stored before the fields took the proto's names (``probe.json`` format 1: ``chosen_c``,
``per_class``; the oldest without ``cv_folds`` / ``cv_repetitions``) are read by
:meth:`ProbeReport.from_dict` too, and so are reports written before the accuracy was named by
how it was estimated: their out-of-fold ``heldout_accuracy`` is read as ``cv_accuracy`` /
``loo_accuracy``. Its parts, :class:`ClassMetrics`, :class:`CScore`, :class:`Interval` and
:class:`Comparison`, are the SDK's own dataclasses (``omnivec.client``): the same values on both
sides of the wire.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from omnivec.client.types import ClassMetrics, Comparison, CScore, Interval
from omnivec.indexer.probes.numerics import IntArr

__all__ = [
    "ACCURACY_KEYS",
    "CScore",
    "ClassMetrics",
    "Comparison",
    "Interval",
    "ProbeReport",
    "confusion_counts",
    "metrics_per_class",
]

# estimate_method -> the field (and JSON key) its accuracy is stored under, and its title: a key
# says how the number was made, so an out-of-fold estimate is never called "held out".
ACCURACY_KEYS: dict[str, tuple[str, str]] = {
    "held-out split": ("heldout_accuracy", "held-out accuracy"),
    "cross-validation": ("cv_accuracy", "cross-validated accuracy"),
    "leave-one-out": ("loo_accuracy", "leave-one-out accuracy"),
}

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


def _interval(data: Mapping[str, Any] | None) -> Interval | None:
    if not data:
        return None
    return Interval(
        low=float(data["low"]), high=float(data["high"]), level=float(data["level"]),
        method=str(data.get("method") or ""),
    )


def _comparison(data: Mapping[str, Any]) -> Comparison:
    interval = _interval(data["interval"])
    assert interval is not None
    return Comparison(
        baseline=str(data["baseline"]),
        probe_accuracy=float(data["probe_accuracy"]),
        baseline_accuracy=float(data["baseline_accuracy"]),
        difference=float(data["difference"]),
        interval=interval,
        rows=int(data["rows"]),
        verdict=str(data["verdict"]),
    )


@dataclass(frozen=True)
class ProbeReport:
    """What training measured. Accuracies are fractions in [0, 1].

    The probe's accuracy is in the field that says how it was estimated (:data:`ACCURACY_KEYS`):
    ``heldout_accuracy`` from the stratified held-out split (4+ examples per class), else
    ``cv_accuracy`` / ``loo_accuracy``, out-of-fold estimates of the selection CV at the chosen C;
    at most one is set, none when no estimate is possible. ``accuracy_interval`` is its interval
    (Wilson, at 90%); ``zero_shot_accuracy`` and ``plain_probe_accuracy`` are measured on the same
    rows, and ``comparisons`` hold the paired differences with their intervals and verdicts.
    ``log_loss``, the class metrics and the confusion matrix are on those rows too. Field
    names are the proto's (module docstring).
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
    log_loss: float | None  # with the fitted temperature, on the rows of the accuracy estimate
    temperature: float
    zero_shot_prior_used: bool  # False without prompts, or when CV preferred the plain probe
    prior_scale: float | None  # logit scale s of the zero-shot prior, None when not used
    train_seconds: float
    n_train: int
    n_heldout: int
    cv_accuracy: float | None = None
    loo_accuracy: float | None = None
    accuracy_interval: Interval | None = None
    comparisons: tuple[Comparison, ...] = ()
    # How C was set: "cross-validation", "one standard error, trust region", "trust region" (one
    # example per class: leave-one-out cannot rank C, so no C was *chosen*) or "fixed".
    c_rule: str = ""
    # Unlabelled rows of the collection: offered, read by the final fit, and whether the probe
    # kept what they taught (the same folds compared it with the probe without them).
    unlabeled_available: int = 0
    unlabeled_rows: int = 0
    unlabeled_used: bool = False
    # Engine-only (not on the wire): the rows of X the estimates were computed on (the held-out
    # split, or every training row for out-of-fold estimates) and what the evaluated probe
    # predicted for them: lets a UI show the mistakes and lets anyone recompute the metrics.
    evaluated_rows: tuple[int, ...] = ()
    evaluated_predictions: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def accuracy(self) -> float | None:
        """The probe's estimated accuracy, whichever way it was estimated."""
        for value in (self.heldout_accuracy, self.cv_accuracy, self.loo_accuracy):
            if value is not None:
                return value
        return None

    @property
    def accuracy_title(self) -> str:
        """"held-out accuracy" / "cross-validated accuracy" / "leave-one-out accuracy"."""
        return ACCURACY_KEYS.get(self.estimate_method, ("", "accuracy"))[1]

    def comparison(self, baseline: str) -> Comparison | None:
        """The paired comparison with ``baseline`` ("zero-shot", ...), when it was made."""
        return next((c for c in self.comparisons if c.baseline == baseline), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, keys in field order (what ``probe.json`` stores and ``--json`` prints).
        Of the three accuracy keys only the one that names how it was estimated is written."""
        key = ACCURACY_KEYS.get(self.estimate_method, ("heldout_accuracy", ""))[0]
        skipped = {k for k, _ in ACCURACY_KEYS.values()} - {key}
        return {
            f.name: _jsonable(getattr(self, f.name)) for f in fields(self) if f.name not in skipped
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeReport:
        """Inverse of :meth:`to_dict`; also reads format-1 names. A field absent from an older
        report gets the value readers showed for it before (0, "", None, empty, C NaN)."""
        d = {_FORMAT1_NAMES.get(key, key): value for key, value in data.items()}
        estimate = str(d.get("estimate_method") or "")
        if estimate in ("cross-validation", "leave-one-out") and d.get("heldout_accuracy") is not None:
            # Written before the accuracy was named by how it was estimated.
            d[ACCURACY_KEYS[estimate][0]] = d.pop("heldout_accuracy")
        # Before format 3 the log loss was "heldout_log_loss" whatever the estimate.
        return cls(
            classes=tuple(str(c) for c in d.get("classes", ())),
            regularization_c=float(d.get("regularization_c", math.nan)),
            selection_method=str(d.get("selection_method") or ""),
            cv_scores=tuple(_c_score(s) for s in d.get("cv_scores") or ()),
            cv_folds=int(d.get("cv_folds") or 0),
            cv_repetitions=int(d.get("cv_repetitions") or 0),
            estimate_method=estimate,
            heldout_accuracy=_optional(d.get("heldout_accuracy")),
            cv_accuracy=_optional(d.get("cv_accuracy")),
            loo_accuracy=_optional(d.get("loo_accuracy")),
            accuracy_interval=_interval(d.get("accuracy_interval")),
            comparisons=tuple(_comparison(c) for c in d.get("comparisons") or ()),
            c_rule=str(d.get("c_rule") or ""),
            unlabeled_available=int(d.get("unlabeled_available") or 0),
            unlabeled_rows=int(d.get("unlabeled_rows") or 0),
            unlabeled_used=bool(d.get("unlabeled_used")),
            zero_shot_accuracy=_optional(d.get("zero_shot_accuracy")),
            plain_probe_accuracy=_optional(d.get("plain_probe_accuracy")),
            plain_probe_c=_optional(d.get("plain_probe_c")),
            class_metrics=tuple(_class_metrics(m) for m in d.get("class_metrics") or ()),
            confusion_matrix=tuple(
                tuple(int(v) for v in row) for row in d.get("confusion_matrix") or ()
            ),
            log_loss=_optional(d.get("log_loss", d.get("heldout_log_loss"))),
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
    if isinstance(value, (ClassMetrics, CScore, Interval, Comparison)):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
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
