"""Few-shot linear probes: the pure training math (numpy in, numpy out; no storage, no encoders).

A probe is multinomial logistic regression on frozen, L2-normalised embeddings. The objective is
scikit-learn's ``LogisticRegression(C)`` objective divided by the number of examples::

    mean_i CE(softmax(W x_i + b), y_i)  +  1 / (2 C n) * ||W - W0||^2        (b unregularised)

so a given ``C`` means exactly what it means in scikit-learn (and in the CLIP paper's linear-probe
sweep), and the parity test can compare against it. ``W0`` is 0 for a plain probe; with the
zero-shot prior it is the zero-shot classifier ``s * normalise(prompt embedding)`` per class and the
optimisation starts there, so strong regularisation (small C) *is* the zero-shot classifier and weak
regularisation is a plain probe: choosing C by cross-validation interpolates between the two, which
is what makes 1-4 shot probes beat both (the WiSE-FT / "LP from zero-shot init" observation).

Solver: full-batch L-BFGS (scipy's L-BFGS-B, analytic gradient, float64) with the same stopping
rule scikit-learn uses (gtol on the projected gradient, ftol 64 eps, 50 line-search steps). It was
measured against torch.optim.LBFGS(strong_wolfe): at these sizes (hundreds of rows, a few hundred
dims) the cost is a couple of BLAS calls per evaluation and scipy's C driver has less per-iteration
overhead than torch's Python one; see ``omnivec bench --only fig6`` for the numbers.

Model selection: C is chosen by stratified k-fold CV (k = min(5, the smallest class count)), by
repeated stratified splits when the smallest class has 2-3 examples (one k-fold is too noisy
there), and by leave-one-out with the zero-shot prior when there is a single example per class. The
grid is walked from strong to weak regularisation with warm starts along the path, then refined
around the best value (coarse-to-fine, like CLIP's parametric search). With 4+ examples per class a
stratified held-out split, never seen by selection, gives the report and C is chosen on the rest;
with fewer, every example is needed for selection and the report gives out-of-fold estimates. The
final model is refitted on all examples with the chosen C. With 1-3 examples per class the prior
probe's CV is too noisy and biased towards the prior to take its argmax (see
``_FEW_SHOT_TRUST_RADIUS``): C is then the weakest regularisation statistically tied with the best
that stays near the zero-shot classifier. With prompts, the plain family (W0 = 0) is scored on the
same folds and the prior is kept unless the plain probe's CV accuracy is higher by more than a
standard error (a strong but partly wrong zero-shot classifier keeps pulling at every C, which can
cost accuracy once there are enough shots); the two searches run on two threads. Measured on three
Debian section sets (scripts/bench_probes.py): the prior probe beats zero-shot and the plain probe
at 1, 2 and 4 shots on every set.
A single temperature, fitted on out-of-fold logits by minimising NLL, calibrates the served
probabilities without changing the argmax.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize, minimize_scalar

from omnivec.indexer.errors import CorruptDataError, InvalidInputError

__all__ = [
    "DEFAULT_C_GRID",
    "CScore",
    "ClassMetrics",
    "ProbeModel",
    "ProbeReport",
    "ProbeTrainingConfig",
    "ProgressCallback",
    "train_probe",
]

F64 = NDArray[np.float64]
F32 = NDArray[np.float32]
IntArr = NDArray[np.intp]

# progress(stage, done, total): stage is a short human-readable phase name.
ProgressCallback = Callable[[str, int, int], None]

# 13 decades, 1e-6 .. 1e6: the CLIP paper's linear-probe sweep range. Refinement (below) adds
# half- and quarter-decade points around the best decade, so 17 values are evaluated in all.
DEFAULT_C_GRID: tuple[float, ...] = tuple(10.0**e for e in range(-6, 7))

# The zero-shot prior's logit scale is fitted (max likelihood on the training fold), bounded above by
# CLIP's learned logit scale cap of 100: beyond it the prior would be a hard argmax and the L2 pull
# towards it would dominate every C on the grid.
_PRIOR_SCALE_BOUNDS = (1e-2, 100.0)
# Calibration may sharpen logits until the top class is at most e^10 times the average class.
_MAX_CALIBRATED_SPREAD = 10.0
# Leave-one-out costs one fit per example per C; beyond this many examples k-fold is used instead.
_MAX_LEAVE_ONE_OUT = 100
_REPEATED_SPLITS_PREDICTIONS = 200
# Fits made only to score a C in cross-validation stop at this multiple of ``tol``: their job is to
# rank C values by validation accuracy, which a 10x looser gradient tolerance does not change
# (measured: same chosen C and accuracy within 0.3 points on the Debian sets) while it halves
# the L-BFGS iterations. Reported models (held-out and final fits) use ``tol`` itself.
_SELECTION_TOL_FACTOR = 10.0
# With 1-3 examples per class, cross-validation of the zero-shot-prior probe is both noisy and
# biased towards the prior: its validation set is a handful of examples per class (standard error
# ~10 points, more than the differences it measures), and each fold trains on fewer shots than the
# final model gets - with one example per class, leaving it out leaves its class with none, so
# leave-one-out only sees what adapting the other classes costs, never what a class gains from its
# own example. The rule for that regime: the weakest regularisation whose CV accuracy is within one
# standard error of the best (the error of an accuracy over the distinct validated examples; with
# one example per class every C counts as tied), among those that keep the probe within this
# relative distance ||W - W0|| / ||W0|| of the
# zero-shot classifier (a trust region: a few examples refine the prompts' directions, they do not
# replace them); when no C tied with the best is inside it, the tied C closest to the prior.
# The radius trades the two failure modes (measured on three Debian section sets, 5-10 draws):
# with good prompts the 1-4 shot optima sat at relative distances 0.1-0.5 and a tight radius
# (0.25) gained up to 1.5 points over none; with poor prompts (zero-shot 15-25 points below a
# 4-shot plain probe, simulated by perturbing the prompt embeddings) 0.25 held the probe too
# close to them and lost to the plain probe at 4 shots by 2-4 points, while 0.5 kept both gains.
_FEW_SHOT_MAX_PER_CLASS = 3
_FEW_SHOT_TRUST_RADIUS = 0.5
_MODEL_FORMAT = 1


@dataclass(frozen=True)
class ProbeTrainingConfig:
    """Knobs of :func:`train_probe`. The defaults are what the service uses."""

    c_grid: tuple[float, ...] = DEFAULT_C_GRID
    # Coarse-to-fine: each step evaluates the two neighbours of the best C at half the previous
    # spacing (in log space), so 2 steps turn decades into quarter-decades around the optimum.
    refine_steps: int = 2
    max_iter: int = 1000
    # scikit-learn's default tol for lbfgs (max |projected gradient|); parity needs the same rule.
    tol: float = 1e-4
    seed: int = 0
    zero_shot_prior: bool = True
    holdout_fraction: float = 0.25
    # A held-out split is made only when every class has at least this many examples. Below it the
    # split would take the examples model selection needs most (2 shots would leave 1 per class for
    # cross-validation: leave-one-out, which cannot see a class's own example); the report then
    # gives out-of-fold estimates instead, and says so.
    holdout_min_per_class: int = 4
    abstain_threshold: float | None = None

    def __post_init__(self) -> None:
        if not self.c_grid:
            raise InvalidInputError("c_grid must name at least one C value")
        for c in self.c_grid:
            if not (math.isfinite(c) and c > 0):
                raise InvalidInputError(f"c_grid values must be finite and > 0, got {c!r}")
        if self.refine_steps < 0:
            raise InvalidInputError(f"refine_steps must be >= 0, got {self.refine_steps}")
        if self.max_iter < 1:
            raise InvalidInputError(f"max_iter must be >= 1, got {self.max_iter}")
        if not (math.isfinite(self.tol) and self.tol > 0):
            raise InvalidInputError(f"tol must be finite and > 0, got {self.tol!r}")
        if self.holdout_min_per_class < 2:
            raise InvalidInputError(
                f"holdout_min_per_class must be >= 2, got {self.holdout_min_per_class}"
            )
        if not (0.0 <= self.holdout_fraction < 1.0):
            raise InvalidInputError(
                f"holdout_fraction must be in [0, 1), got {self.holdout_fraction!r}"
            )
        _check_threshold(self.abstain_threshold)


def _check_threshold(threshold: float | None) -> None:
    if threshold is not None and not (0.0 <= threshold <= 1.0):
        raise InvalidInputError(f"abstain_threshold must be in [0, 1] or None, got {threshold!r}")


# --------------------------------------------------------------------------------------------
# The served model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no single truth value
class ProbeModel:
    """A trained probe: ``softmax((x_hat @ weights.T + bias) / temperature)`` over ``classes``.

    ``x_hat`` is the input renormalised to unit length, as in training. Arrays are stored as
    read-only float32 copies so a served model cannot be mutated by a caller.
    """

    classes: tuple[str, ...]
    weights: F32
    bias: F32
    temperature: float
    abstain_threshold: float | None = None

    def __post_init__(self) -> None:
        weights = np.array(self.weights, dtype=np.float32, copy=True)
        bias = np.array(self.bias, dtype=np.float32, copy=True)
        n_classes = len(self.classes)
        if n_classes < 2 or len(set(self.classes)) != n_classes:
            raise InvalidInputError("a probe needs at least 2 distinct classes")
        if weights.ndim != 2 or weights.shape[0] != n_classes or weights.shape[1] < 1:
            raise InvalidInputError(
                f"weights must have shape ({n_classes}, dim), got {weights.shape}"
            )
        if bias.shape != (n_classes,):
            raise InvalidInputError(f"bias must have shape ({n_classes},), got {bias.shape}")
        if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(bias))):
            raise InvalidInputError("probe weights and bias must be finite")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise InvalidInputError(f"temperature must be finite and > 0, got {self.temperature}")
        _check_threshold(self.abstain_threshold)
        weights.flags.writeable = False
        bias.flags.writeable = False
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "bias", bias)
        object.__setattr__(self, "temperature", float(self.temperature))

    @property
    def dim(self) -> int:
        return int(self.weights.shape[1])

    def logits(self, X: NDArray[Any]) -> F64:
        """Uncalibrated logits, shape (n, n_classes). A 1-D ``X`` is one row."""
        Xn = _as_unit_rows(X, self.dim, what="X")
        logits: F64 = Xn @ self.weights.T.astype(np.float64) + self.bias.astype(np.float64)
        return logits

    def predict_proba(self, X: NDArray[Any]) -> F64:
        """Temperature-calibrated class probabilities, shape (n, n_classes)."""
        return _softmax(self.logits(X) / self.temperature)

    def predict_top_k(self, X: NDArray[Any], k: int) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable classes per row, best first, with calibrated probabilities."""
        if k < 1:
            raise InvalidInputError(f"k must be >= 1, got {k}")
        proba = self.predict_proba(X)
        k = min(k, len(self.classes))
        # Stable sort on -p so equal probabilities keep class order (deterministic output).
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        return [[(self.classes[j], float(row[j])) for j in idx] for row, idx in zip(proba, order)]

    def predict(self, X: NDArray[Any]) -> list[str | None]:
        """Best class per row, or ``None`` ("unknown") when its probability is below the
        abstain threshold."""
        proba = self.predict_proba(X)
        best = np.argmax(proba, axis=1)
        out: list[str | None] = []
        for row, j in zip(proba, best):
            keep = self.abstain_threshold is None or row[j] >= self.abstain_threshold
            out.append(self.classes[int(j)] if keep else None)
        return out

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """Storage form: (numpy arrays, JSON-able metadata). Inverse of :meth:`from_arrays`."""
        arrays: dict[str, NDArray[Any]] = {
            "weights": np.array(self.weights, dtype=np.float32),
            "bias": np.array(self.bias, dtype=np.float32),
        }
        meta: dict[str, Any] = {
            "format": _MODEL_FORMAT,
            "classes": list(self.classes),
            "temperature": self.temperature,
            "abstain_threshold": self.abstain_threshold,
        }
        return arrays, meta

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]
    ) -> ProbeModel:
        """Rebuild a stored model; damaged or foreign data raises :class:`CorruptDataError`."""
        try:
            if meta.get("format") != _MODEL_FORMAT:
                raise CorruptDataError(
                    f"unsupported probe format {meta.get('format')!r} (expected {_MODEL_FORMAT})"
                )
            threshold = meta.get("abstain_threshold")
            return cls(
                classes=tuple(str(c) for c in meta["classes"]),
                weights=np.asarray(arrays["weights"]),
                bias=np.asarray(arrays["bias"]),
                temperature=float(meta["temperature"]),
                abstain_threshold=None if threshold is None else float(threshold),
            )
        except CorruptDataError:
            raise
        except (KeyError, TypeError, ValueError, InvalidInputError) as exc:
            raise CorruptDataError(f"stored probe is damaged: {exc}") from exc


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassMetrics:
    label: str
    precision: float
    recall: float
    f1: float
    support: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
        }


@dataclass(frozen=True)
class CScore:
    """Cross-validated score of one C: pooled out-of-fold accuracy and mean log loss."""

    c: float
    accuracy: float
    log_loss: float

    def to_dict(self) -> dict[str, float]:
        return {"c": self.c, "accuracy": self.accuracy, "log_loss": self.log_loss}


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
    # Rows of X the estimates were computed on (the held-out split, or every training row for
    # out-of-fold estimates) and what the evaluated probe predicted for them: lets a UI show the
    # mistakes and lets anyone recompute the metrics.
    evaluated_rows: tuple[int, ...] = ()
    evaluated_predictions: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "chosen_c": self.chosen_c,
            "selection_method": self.selection_method,
            "cv_scores": [s.to_dict() for s in self.cv_scores],
            "cv_folds": self.cv_folds,
            "cv_repetitions": self.cv_repetitions,
            "estimate_method": self.estimate_method,
            "heldout_accuracy": self.heldout_accuracy,
            "zero_shot_accuracy": self.zero_shot_accuracy,
            "plain_probe_accuracy": self.plain_probe_accuracy,
            "plain_probe_c": self.plain_probe_c,
            "per_class": [m.to_dict() for m in self.per_class],
            "confusion_matrix": [list(r) for r in self.confusion_matrix],
            "heldout_log_loss": self.heldout_log_loss,
            "temperature": self.temperature,
            "zero_shot_prior_used": self.zero_shot_prior_used,
            "prior_scale": self.prior_scale,
            "train_seconds": self.train_seconds,
            "n_train": self.n_train,
            "n_heldout": self.n_heldout,
            "evaluated_rows": list(self.evaluated_rows),
            "evaluated_predictions": list(self.evaluated_predictions),
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------------------------
# Numerics
# --------------------------------------------------------------------------------------------


def _softmax(Z: F64) -> F64:
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return cast(F64, E / E.sum(axis=1, keepdims=True))


def _log_loss(Z: F64, y: IntArr) -> float:
    """Mean cross-entropy of logits ``Z`` against integer labels ``y``."""
    m = Z.max(axis=1)
    lse = np.log(np.exp(Z - m[:, None]).sum(axis=1)) + m
    return float(np.mean(lse - Z[np.arange(len(y)), y]))


def _as_unit_rows(X: NDArray[Any], dim: int | None, *, what: str) -> F64:
    """Validate and renormalise rows (embeddings should already be unit length; a few ulps of
    drift from float32 storage must not change the meaning of C or of the prior)."""
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InvalidInputError(f"{what} must be a 2-D array (n, dim), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise InvalidInputError(f"{what} must hold real numbers, got dtype {arr.dtype}")
    if dim is not None and arr.shape[1] != dim:
        raise InvalidInputError(f"{what} has dimension {arr.shape[1]}, expected {dim}")
    out = arr.astype(np.float64, copy=True)
    bad = ~np.all(np.isfinite(out), axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise InvalidInputError(f"{what} has NaN or infinite values in rows {rows}")
    norms = np.linalg.norm(out, axis=1)
    zero = norms <= 1e-12
    if zero.any():
        rows = np.flatnonzero(zero)[:5].tolist()
        raise InvalidInputError(f"{what} has zero vectors in rows {rows}; they have no direction")
    out /= norms[:, None]
    return out


@dataclass
class _Fit:
    W: F64
    b: F64
    n_iter: int


def _fit_softmax(
    X: F64,
    y: IntArr,
    n_classes: int,
    c: float,
    *,
    W0: F64 | None,
    init: tuple[F64, F64] | None,
    fit_intercept: bool,
    max_iter: int,
    tol: float,
    penalize_intercept: bool = False,
) -> _Fit:
    """Minimise mean CE + 1/(2 C n) ||W - W0||^2 by L-BFGS-B from ``init`` (or W0 / zeros).

    ``penalize_intercept`` adds 1/(2 C n) ||b||^2: the zero-shot prior has no bias, so a probe
    regularised towards it must pull its bias towards 0 too. Unpenalised, a few shots per class
    fit the bias freely and it overfits (measured: 2-shot probes at strong regularisation fell
    ~2 points below the zero-shot classifier they should equal).
    """
    n, d = X.shape
    lam = 1.0 / (c * n)
    Y = np.zeros((n, n_classes))
    Y[np.arange(n), y] = 1.0
    rows = np.arange(n)
    size_w = n_classes * d
    prior = np.zeros((n_classes, d)) if W0 is None else W0

    # Diagonal preconditioning: optimise V = W / s_w. The W block's Hessian is lam*I + data term
    # while the unregularised bias only sees the data term (<= 1/4), so at strong regularisation
    # (lam ~ 1e3 for C = 1e-6) the problem is ill-conditioned by ~1e5 and L-BFGS crawls (thousands of
    # iterations when starting from a zero-shot prior). Scaling by 1/sqrt(1 + lam) brings the W
    # block's curvature to ~1 without changing the minimiser; at moderate and weak regularisation
    # (lam << 1, where parity with scikit-learn is tested) s_w ~ 1 and nothing changes.
    s_w = 1.0 / math.sqrt(1.0 + lam)
    # The penalised bias has the same lam + data curvature, so it gets the same scaling.
    s_b = s_w if penalize_intercept else 1.0
    lam_b = lam if penalize_intercept else 0.0

    # The two products with X are nearly all of the cost; they run in float32 (3x faster in
    # single-threaded BLAS at these shapes), everything that accumulates - log-sum-exp, the loss,
    # the penalty, L-BFGS's state - stays float64. float32's 6e-8 relative error in a logit is far
    # below the 1e-4 gradient tolerance, and parity with scikit-learn (float64) is benchmarked.
    X32 = np.ascontiguousarray(X, dtype=np.float32)

    def fun(theta: F64) -> tuple[float, F64]:
        W = theta[:size_w].reshape(n_classes, d) * s_w
        Z = (X32 @ W.T.astype(np.float32)).astype(np.float64)
        b = theta[size_w:] * s_b
        if fit_intercept:
            Z += b
        m = Z.max(axis=1, keepdims=True)
        Z -= m
        correct = Z[rows, y]
        E = np.exp(Z, out=Z)
        S = E.sum(axis=1)
        diff = W - prior
        loss = float(np.mean(np.log(S) - correct)) + 0.5 * lam * float(np.vdot(diff, diff))
        if fit_intercept and lam_b:
            loss += 0.5 * lam_b * float(np.vdot(b, b))
        E /= S[:, None]
        E -= Y
        E *= 1.0 / n  # E is now the gradient of the mean CE w.r.t. the logits
        grad = np.empty_like(theta)
        data = (E.T.astype(np.float32) @ X32).astype(np.float64)
        grad[:size_w] = ((data + lam * diff) * s_w).ravel()
        if fit_intercept:
            grad[size_w:] = (E.sum(axis=0) + lam_b * b) * s_b
        return loss, grad

    theta0 = np.zeros(size_w + (n_classes if fit_intercept else 0))
    if init is not None:
        theta0[:size_w] = init[0].ravel() / s_w
        if fit_intercept:
            theta0[size_w:] = init[1] / s_b
    elif W0 is not None:
        theta0[:size_w] = W0.ravel() / s_w
    # The same options scikit-learn passes for lbfgs, so "converged" means the same thing.
    res = minimize(
        fun,
        theta0,
        jac=True,
        method="L-BFGS-B",
        options={
            "maxiter": max_iter,
            "maxls": 50,
            "gtol": tol,
            "ftol": 64 * np.finfo(float).eps,
        },
    )
    theta = np.asarray(res.x, dtype=np.float64)
    W = theta[:size_w].reshape(n_classes, d) * s_w
    b = theta[size_w:] * s_b if fit_intercept else np.zeros(n_classes)
    return _Fit(W=W, b=b, n_iter=int(res.nit))


def _fit_prior_scale(S: F64, y: IntArr) -> float:
    """Logit scale s maximising the likelihood of ``softmax(s * cos)`` on the training rows: the
    zero-shot classifier calibrated to this data, so W0's norm matches what the data supports."""
    res = minimize_scalar(
        lambda log_s: _log_loss(math.exp(log_s) * S, y),
        bounds=(math.log(_PRIOR_SCALE_BOUNDS[0]), math.log(_PRIOR_SCALE_BOUNDS[1])),
        method="bounded",
        options={"xatol": 1e-3},
    )
    return float(math.exp(float(res.x)))


def _fit_temperature(Z: F64, y: IntArr) -> float:
    """One temperature minimising NLL of ``softmax(Z / T)`` (Guo et al. 2017), searched in log T.

    The search range is relative to the logits' own spread (median of max minus mean logit), since a
    strongly regularised probe has logits ~1e-3 and a weakly regularised one ~1e2. The lower bound
    caps the calibrated spread at 10 (top class about e^10 times the average one): when the
    out-of-fold predictions happen to be all right - likely with a handful of shots - the NLL keeps
    falling as T -> 0 and would otherwise turn every probability into a hard 0/1.
    """
    spread = float(np.median(Z.max(axis=1) - Z.mean(axis=1)))
    if not spread > 0:
        return 1.0  # all logits equal: no scale to calibrate
    lo, hi = spread / _MAX_CALIBRATED_SPREAD, max(spread, 1.0) * 100.0
    res = minimize_scalar(
        lambda log_t: _log_loss(Z / math.exp(log_t), y),
        bounds=(math.log(lo), math.log(hi)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    t = float(math.exp(float(res.x)))
    # Keep T = 1 when it is allowed and at least as good: Brent's search on a flat loss stops a
    # hair away from it, and an exact 1 says "no correction was needed".
    if lo <= 1.0 <= hi and _log_loss(Z, y) <= _log_loss(Z / t, y):
        return 1.0
    return t


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------


def _holdout_split(y: IntArr, fraction: float, rng: np.random.Generator) -> tuple[IntArr, IntArr]:
    """Per-class stratified split; every class keeps >= 1 training and gives >= 1 held-out row."""
    train: list[int] = []
    held: list[int] = []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        n_held = min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))
        held.extend(idx[:n_held].tolist())
        train.extend(idx[n_held:].tolist())
    return np.sort(np.asarray(train, dtype=np.intp)), np.sort(np.asarray(held, dtype=np.intp))


def _report_split(
    y: IntArr, n_classes: int, config: ProbeTrainingConfig, rng: np.random.Generator
) -> tuple[IntArr, IntArr]:
    """(training rows, held-out rows) for the report; no held-out rows below the minimum."""
    counts = np.bincount(y, minlength=n_classes)
    if config.holdout_fraction > 0 and int(counts.min()) >= config.holdout_min_per_class:
        return _holdout_split(y, config.holdout_fraction, rng)
    return np.arange(len(y)), np.empty(0, dtype=np.intp)


def _stratified_folds(y: IntArr, k: int, rng: np.random.Generator) -> list[tuple[IntArr, IntArr]]:
    """k folds, each class dealt round-robin from a random offset so fold sizes stay balanced."""
    fold_of = np.empty(len(y), dtype=np.intp)
    offset = 0
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        fold_of[idx] = (offset + np.arange(len(idx))) % k
        offset += len(idx)
    folds = []
    for f in range(k):
        val = np.flatnonzero(fold_of == f)
        if len(val):
            folds.append((np.flatnonzero(fold_of != f), val))
    return folds


# --------------------------------------------------------------------------------------------
# C selection
# --------------------------------------------------------------------------------------------


@dataclass
class _Selection:
    method: str
    chosen_c: float
    scores: tuple[CScore, ...]
    # Out-of-fold logits / labels at the chosen C (all repetitions), for temperature fitting.
    oof_logits: F64 | None
    oof_y: IntArr | None
    # One prediction per training row at the chosen C (first repetition), for estimates.
    oof_pred_first: IntArr | None
    fit_intercept: bool
    # Per training row at the chosen C: the fraction of its out-of-fold predictions that are right.
    oof_correct: F64 | None = None


class _Progress:
    def __init__(self, cb: ProgressCallback | None, stage: str, total: int) -> None:
        self.cb, self.stage, self.total, self.done = cb, stage, max(total, 1), 0

    def step(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.total)
        if self.cb is not None:
            self.cb(self.stage, self.done, self.total)

    def finish(self) -> None:
        self.done = self.total
        if self.cb is not None:
            self.cb(self.stage, self.total, self.total)


def _locked(progress: ProgressCallback | None) -> ProgressCallback | None:
    """The callback behind a lock: the two C searches report from two threads."""
    if progress is None:
        return None
    lock = threading.Lock()
    report = progress

    def call(stage: str, done: int, total: int) -> None:
        with lock:
            report(stage, done, total)

    return call


@dataclass
class _Splits:
    method: str  # "k-fold" | "repeated-splits" | "leave-one-out"
    # (repetition, training rows, validation rows); repetition 0 covers every row exactly once.
    folds: list[tuple[int, IntArr, IntArr]]


def _make_splits(y: IntArr, n_classes: int, rng: np.random.Generator) -> _Splits:
    """The CV plan for the training part, shared by the prior and the plain family so their scores
    are compared on identical folds."""
    counts = np.bincount(y, minlength=n_classes)
    min_count = int(counts.min())
    n = len(y)
    if min_count == 1:
        if n <= _MAX_LEAVE_ONE_OUT:
            all_idx = np.arange(n)
            loo = [(0, np.delete(all_idx, i), all_idx[i : i + 1]) for i in range(n)]
            return _Splits("leave-one-out", loo)
        return _Splits("k-fold", [(0, tr, va) for tr, va in _stratified_folds(y, 5, rng)])
    if min_count <= 3:
        # k-fold with k = 2 or 3 has a few examples per validation fold; repeating it with
        # fresh shuffles averages out the luck of one split. Enough repetitions for about
        # _REPEATED_SPLITS_PREDICTIONS pooled validation predictions (the accuracy's standard
        # error then ~3 points), between 2 and 10: 10 classes x 2 shots gets 10 repetitions,
        # 50 classes x 3 shots 2.
        repeats = min(10, max(2, math.ceil(_REPEATED_SPLITS_PREDICTIONS / n)))
        folds = [
            (r, tr, va) for r in range(repeats) for tr, va in _stratified_folds(y, min_count, rng)
        ]
        return _Splits("repeated-splits", folds)
    k = min(5, min_count)
    return _Splits("k-fold", [(0, tr, va) for tr, va in _stratified_folds(y, k, rng)])


def _select_c(
    X: F64,
    y: IntArr,
    n_classes: int,
    prompts: F64 | None,
    config: ProbeTrainingConfig,
    splits: _Splits,
    progress: ProgressCallback | None,
    stage: str,
) -> _Selection:
    counts = np.bincount(y, minlength=n_classes)
    # With a single example of some class the intercept cannot be estimated (and in a fold without
    # that class it would run off to -inf), so such probes are fitted without one.
    fit_intercept = int(counts.min()) >= 2
    grid = sorted(set(config.c_grid))
    n = len(y)

    if prompts is None and int(counts.max()) == 1:
        # Every leave-one-out fold would ask for a class with no example and no prior: there is
        # nothing to select on, so use the geometric centre of the grid.
        centre = float(math.exp(0.5 * (math.log(grid[0]) + math.log(grid[-1]))))
        return _Selection("fixed", centre, (), None, None, None, fit_intercept)

    method = splits.method
    flat = splits.folds
    # Per fold: the prior (fitted on that fold's training rows only) and the fits made so far,
    # so every new C warm-starts from the nearest C already solved on the same fold.
    # Fold slices are made once: every C on the grid reuses them.
    X_tr = [X[tr] for _, tr, _ in flat]
    y_tr = [y[tr] for _, tr, _ in flat]
    X_va = [X[va] for _, _, va in flat]
    priors: list[F64 | None] = []
    for Xf, yf in zip(X_tr, y_tr):
        if prompts is None:
            priors.append(None)
        else:
            priors.append(_fit_prior_scale(Xf @ prompts.T, yf) * prompts)
    solved: list[dict[float, _Fit]] = [{} for _ in flat]
    val_logits: dict[float, list[F64]] = {}
    # ||W - W0|| / ||W0|| per C, averaged over folds (prior family only).
    distance: dict[float, list[float]] = {}
    penalize_intercept = prompts is not None

    prog = _Progress(progress, stage, len(flat) * (len(grid) + 2 * config.refine_steps))

    def evaluate(cs: list[float]) -> None:
        for f in range(len(flat)):
            for c in cs:
                known = solved[f]
                init = _path_start(known, c)
                fit = _fit_softmax(
                    X_tr[f],
                    y_tr[f],
                    n_classes,
                    c,
                    W0=priors[f],
                    init=init,
                    fit_intercept=fit_intercept,
                    max_iter=config.max_iter,
                    tol=config.tol * _SELECTION_TOL_FACTOR,
                    penalize_intercept=penalize_intercept,
                )
                known[c] = fit
                val_logits.setdefault(c, []).append(X_va[f] @ fit.W.T + fit.b)
                prior = priors[f]
                if prior is not None:
                    distance.setdefault(c, []).append(
                        float(np.linalg.norm(fit.W - prior) / np.linalg.norm(prior))
                    )
                prog.step()

    def score(c: float) -> CScore:
        Z = np.concatenate(val_logits[c])
        yy = np.concatenate([y[va] for _, _, va in flat])
        return CScore(c, float(np.mean(np.argmax(Z, axis=1) == yy)), _log_loss(Z, yy))

    oof_rows = np.concatenate([va for _, _, va in flat])
    repeats_per_row = np.bincount(oof_rows, minlength=n).astype(np.float64)

    def correct(c: float) -> F64:
        """Per training row: the fraction of its out-of-fold predictions at C that are right."""
        Z = np.concatenate(val_logits[c])
        hits = (np.argmax(Z, axis=1) == y[oof_rows]).astype(np.float64)
        return np.bincount(oof_rows, weights=hits, minlength=n) / np.maximum(repeats_per_row, 1)

    def best_of(scores: dict[float, CScore]) -> float:
        # Accuracy first (what the user sees); log loss breaks the many ties few-shot accuracy has;
        # then the stronger regularisation (smaller C), the safer choice on an exact tie.
        return min(scores, key=lambda c: (-scores[c].accuracy, scores[c].log_loss, c))

    evaluate(grid)  # ascending: strong -> weak regularisation, each warm-started from the last
    scores = {c: score(c) for c in grid}
    few_shot_prior = prompts is not None and int(counts.min()) <= _FEW_SHOT_MAX_PER_CLASS
    if few_shot_prior:
        best = scores[best_of(scores)].accuracy
        tolerance = math.sqrt(best * (1.0 - best) / n)  # one standard error of the best accuracy
        tied = [c for c in grid if scores[c].accuracy >= best - tolerance]
        if int(counts.max()) == 1:
            # One example per class: leave-one-out only measures what adapting the other classes
            # costs the left-out one, never what its own example gains, so it cannot rank C at
            # all (it fell with C even where held-out accuracy rose by 10 points, with poor
            # prompts): the trust region alone decides, as the plain probe's C is fixed here.
            tied = list(grid)
        inside = [c for c in tied if float(np.mean(distance[c])) <= _FEW_SHOT_TRUST_RADIUS]
        # When every C tied with the best is outside the trust region (many classes move the
        # weights further), the closest of them to the prior is the conservative choice.
        chosen_few_shot = (
            max(inside) if inside else min(tied, key=lambda c: float(np.mean(distance[c])))
        )
    elif len(grid) > 1:
        step = max(
            math.log(b) - math.log(a) for a, b in zip(grid, grid[1:])
        )  # coarsest spacing
        for _ in range(config.refine_steps):
            step /= 2
            best = best_of(scores)
            new = [
                c
                for c in (best * math.exp(-step), best * math.exp(step))
                if grid[0] <= c <= grid[-1] and c not in scores
            ]
            evaluate(new)
            scores.update({c: score(c) for c in new})
    prog.finish()

    chosen = chosen_few_shot if few_shot_prior else best_of(scores)
    chosen_correct = correct(chosen)
    oof_y = np.concatenate([y[va] for _, _, va in flat])
    oof_logits = np.concatenate(val_logits[chosen])
    first = np.empty(n, dtype=np.intp)
    pos = 0
    for r, _, va in flat:
        if r == 0:
            first[va] = np.argmax(oof_logits[pos : pos + len(va)], axis=1)
        pos += len(va)
    return _Selection(
        method,
        chosen,
        tuple(scores[c] for c in sorted(scores)),
        oof_logits,
        oof_y,
        first,
        fit_intercept,
        chosen_correct,
    )


def _within_one_se(better: F64, other: F64) -> bool:
    """Whether ``other`` is within one standard error of ``better`` in accuracy, paired by row.

    Both are per-row correctness on the same validation rows, so the standard error is that of the
    mean per-row difference: rows both get right (or wrong) cancel, and a consistent gain of a few
    rows is resolved where an unpaired binomial error (~10 points on a few dozen rows) would call
    everything a tie.
    """
    diff = better - other
    if len(diff) < 2:
        return True
    return float(np.mean(diff)) <= float(np.std(diff, ddof=1) / math.sqrt(len(diff)))


def _path_start(known: Mapping[float, _Fit], c: float) -> tuple[F64, F64] | None:
    """A warm start for C from the solutions already on the regularisation path.

    Along the path the weights move roughly linearly in log C (in the separable regime the norm
    grows like log C), so the start is the linear interpolation between the solved neighbours on
    either side, or the extrapolation from the two nearest below when walking up the grid: that
    cut L-BFGS iterations against starting from the nearest solution alone.
    """
    if not known:
        return None
    t = math.log(c)
    below = sorted(k for k in known if k < c)
    above = sorted(k for k in known if k > c)
    if below and above:
        a, b = below[-1], above[0]
    elif len(below) >= 2:
        a, b = below[-2], below[-1]
    else:
        near = min(known, key=lambda k: abs(math.log(k) - t))
        return known[near].W, known[near].b
    ta, tb = math.log(a), math.log(b)
    w = (t - ta) / (tb - ta)
    fa, fb = known[a], known[b]
    return fa.W + w * (fb.W - fa.W), fa.b + w * (fb.b - fa.b)


def _best(sel: _Selection) -> CScore:
    return next(sc for sc in sel.scores if sc.c == sel.chosen_c)


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def _confusion(y_true: IntArr, y_pred: IntArr, n_classes: int) -> NDArray[np.int64]:
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def _per_class(cm: NDArray[np.int64], classes: Sequence[str]) -> tuple[ClassMetrics, ...]:
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


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _prepare_prompts(
    prompt_embeddings: Mapping[str, NDArray[Any]], classes: Sequence[str], dim: int
) -> F64:
    """One unit vector per class; a (k, dim) entry is a prompt ensemble (mean of unit vectors,
    renormalised, as in CLIP's prompt engineering)."""
    class_set = set(classes)
    for key in prompt_embeddings:
        if key not in class_set:
            raise InvalidInputError(
                f"prompt_embeddings has label {key!r}, which has no examples; every class needs "
                "at least one labelled example"
            )
    rows = []
    for label in classes:
        if label not in prompt_embeddings:
            raise InvalidInputError(
                f"prompt_embeddings has no entry for label {label!r}; give a prompt for every "
                "class or none"
            )
        vecs = np.asarray(prompt_embeddings[label])
        if vecs.ndim not in (1, 2) or vecs.size == 0:
            raise InvalidInputError(
                f"prompt embedding for {label!r} must be (dim,) or (k, dim), got {vecs.shape}"
            )
        if vecs.shape[-1] != dim:
            raise InvalidInputError(
                f"prompt embedding for {label!r} has dimension {vecs.shape[-1]}, but X has "
                f"dimension {dim}"
            )
        unit = _as_unit_rows(vecs, dim, what=f"prompt embedding for {label!r}")
        mean = unit.mean(axis=0)
        norm = float(np.linalg.norm(mean))
        if norm <= 1e-12:
            raise InvalidInputError(f"prompt embeddings for {label!r} cancel out to zero")
        rows.append(mean / norm)
    return np.stack(rows)


def _resolve_classes(
    labels: Sequence[str], class_names: Sequence[str] | None
) -> tuple[tuple[str, ...], IntArr]:
    for i, lab in enumerate(labels):
        if not isinstance(lab, str) or not lab:
            raise InvalidInputError(f"labels[{i}] must be a non-empty string, got {lab!r}")
    if class_names is None:
        classes = tuple(sorted(set(labels)))
    else:
        classes = tuple(class_names)
        seen: set[str] = set()
        for name in classes:
            if not isinstance(name, str) or not name:
                raise InvalidInputError(f"class_names must be non-empty strings, got {name!r}")
            if name in seen:
                raise InvalidInputError(f"class_names lists {name!r} twice")
            seen.add(name)
        for i, lab in enumerate(labels):
            if lab not in seen:
                raise InvalidInputError(
                    f"labels[{i}] is {lab!r}, which is not one of class_names"
                )
        present = set(labels)
        for name in classes:
            if name not in present:
                raise InvalidInputError(
                    f"label {name!r} has no examples; every class needs at least one"
                )
    if len(classes) < 2:
        raise InvalidInputError(
            f"a probe needs at least 2 classes, got {len(classes)}: {list(classes)}"
        )
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.asarray([index[lab] for lab in labels], dtype=np.intp)


def train_probe(
    X: NDArray[Any],
    labels: Sequence[str],
    *,
    class_names: Sequence[str] | None = None,
    prompt_embeddings: Mapping[str, NDArray[Any]] | None = None,
    config: ProbeTrainingConfig = ProbeTrainingConfig(),
    progress: ProgressCallback | None = None,
) -> tuple[ProbeModel, ProbeReport]:
    """Train a few-shot probe on embeddings ``X`` (n, dim) with string ``labels``.

    ``class_names`` fixes the class order (default: sorted labels) and makes a class without
    examples an error instead of silently disappearing. ``prompt_embeddings`` maps each class to
    the embedding of its text prompt (or a (k, dim) ensemble); with ``config.zero_shot_prior`` the
    probe is regularised towards and started from the zero-shot classifier, and the same CV decides
    between that and a plain probe.
    """
    # The matrices here are a few hundred rows by a few hundred columns: multi-threaded BLAS costs
    # more in hand-offs than it saves, and on a busy 2-core machine it was measured 4-25x slower
    # than one thread (spinning workers fighting the other load). threadpoolctl ships with
    # scikit-learn; without it the process-wide setting applies.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return _train_probe(X, labels, class_names, prompt_embeddings, config, progress)
    with threadpool_limits(limits=1, user_api="blas"):
        return _train_probe(X, labels, class_names, prompt_embeddings, config, progress)


def _train_probe(
    X: NDArray[Any],
    labels: Sequence[str],
    class_names: Sequence[str] | None,
    prompt_embeddings: Mapping[str, NDArray[Any]] | None,
    config: ProbeTrainingConfig,
    progress: ProgressCallback | None,
) -> tuple[ProbeModel, ProbeReport]:
    started = time.perf_counter()
    if isinstance(labels, str):
        raise InvalidInputError("labels must be a sequence of strings, not one string")
    labels = list(labels)
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise InvalidInputError(f"X must be a 2-D array (n, dim), got shape {arr.shape}")
    if arr.shape[0] != len(labels):
        raise InvalidInputError(
            f"X has {arr.shape[0]} rows but there are {len(labels)} labels; they must match"
        )
    classes, y = _resolve_classes(labels, class_names)
    Xn = _as_unit_rows(arr, None, what="X")
    dim = Xn.shape[1]
    n_classes = len(classes)
    prompts = None
    if prompt_embeddings is not None:
        prompts = _prepare_prompts(prompt_embeddings, classes, dim)
    use_prior = prompts is not None and config.zero_shot_prior
    rng = np.random.default_rng(config.seed)
    notes: list[str] = []

    train_idx, held_idx = _report_split(y, n_classes, config, rng)
    if not len(held_idx) and config.holdout_fraction > 0:
        notes.append(
            f"some class has fewer than {config.holdout_min_per_class} examples, so none were "
            "held out (every one is needed to select C); report numbers are out-of-fold "
            "estimates from the C-selection cross-validation"
        )
    Xtr, ytr = Xn[train_idx], y[train_idx]
    splits = _make_splits(ytr, n_classes, rng)

    # The two families are independent searches over the same folds: with prompts they run on
    # two threads (BLAS and NumPy's loops release the GIL; each BLAS call is single-threaded, see
    # train_probe), which is what keeps 16 shots x 50 classes under two seconds on two cores.
    safe_progress = _locked(progress)

    def select(family_prompts: F64 | None, stage: str) -> _Selection:
        return _select_c(Xtr, ytr, n_classes, family_prompts, config, splits, safe_progress, stage)

    prior_sel: _Selection | None = None
    if use_prior and (os.cpu_count() or 1) >= 2:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="probe-cv") as pool:
            prior_future = pool.submit(select, prompts, "select C (zero-shot prior)")
            plain = select(None, "select C (plain probe)")
            prior_sel = prior_future.result()
    else:
        plain = select(None, "select C (plain probe)")
        if use_prior:
            prior_sel = select(prompts, "select C (zero-shot prior)")
    sel = plain
    if prior_sel is not None:
        # The prior is a choice the same CV makes: a strong but partly wrong zero-shot classifier
        # keeps pulling W at every C (the penalty is ||W - W0||^2, not ||W||^2), so with enough
        # shots the plain probe can be better. The prior is the design default: the plain probe
        # must win by more than one standard error of the CV accuracy (paired by validated row),
        # or a few lucky folds would throw the prompts away.
        if (
            plain.method == "fixed"
            or plain.oof_correct is None
            or prior_sel.oof_correct is None
            or _within_one_se(plain.oof_correct, prior_sel.oof_correct)
        ):
            sel = prior_sel
        else:
            notes.append(
                "cross-validation preferred the plain probe to the zero-shot prior "
                f"({_best(plain).accuracy:.3f} vs {_best(prior_sel).accuracy:.3f})"
            )
    prior_used = sel is prior_sel
    if sel.method == "fixed":
        notes.append(
            "one example per class and no prompts: C fixed at the centre of the grid "
            f"({sel.chosen_c:g}); no estimate of accuracy is possible"
        )
    temperature = 1.0
    if sel.oof_logits is not None and sel.oof_y is not None:
        temperature = _fit_temperature(sel.oof_logits, sel.oof_y)
    else:
        notes.append("no out-of-fold logits to calibrate on; temperature left at 1")
    if sel.method == "leave-one-out" and int(np.bincount(ytr).min()) == 1:
        notes.append(
            "leave-one-out with one example per class removes the only example of the left-out "
            "class, so its estimates (and the temperature) are pessimistic"
        )
    if prior_used and int(np.bincount(ytr).min()) <= _FEW_SHOT_MAX_PER_CLASS:
        notes.append(
            "few examples per class: C is the weakest regularisation within one standard error "
            "of the best cross-validated accuracy that keeps the probe within "
            f"{_FEW_SHOT_TRUST_RADIUS:g} (relative) of the zero-shot classifier"
        )

    def fit_on(
        Xf: F64, yf: IntArr, s: _Selection, prior: bool, init: tuple[F64, F64] | None = None
    ) -> tuple[_Fit, float | None]:
        scale = None
        W0 = None
        if prior and prompts is not None:
            scale = _fit_prior_scale(Xf @ prompts.T, yf)
            W0 = scale * prompts
        fit = _fit_softmax(
            Xf,
            yf,
            n_classes,
            s.chosen_c,
            W0=W0,
            init=init,
            fit_intercept=s.fit_intercept,
            max_iter=config.max_iter,
            tol=config.tol,
            penalize_intercept=W0 is not None,
        )
        return fit, scale

    # Held-out evaluation (or out-of-fold estimates when nothing was held out).
    heldout_accuracy: float | None = None
    heldout_log_loss: float | None = None
    zero_shot_accuracy: float | None = None
    plain_accuracy: float | None = None
    cm: NDArray[np.int64] | None = None
    rows: IntArr = np.empty(0, dtype=np.intp)
    preds: IntArr = np.empty(0, dtype=np.intp)
    init: tuple[F64, F64] | None = None
    if len(held_idx):
        estimate_method = "held-out split"
        Xh, yh = Xn[held_idx], y[held_idx]
        fit, _ = fit_on(Xtr, ytr, sel, prior_used)
        init = (fit.W, fit.b)
        Zh = Xh @ fit.W.T + fit.b
        pred = np.argmax(Zh, axis=1)
        heldout_accuracy = float(np.mean(pred == yh))
        heldout_log_loss = _log_loss(Zh / temperature, yh)
        cm = _confusion(yh, pred, n_classes)
        rows, preds = held_idx, pred
        if prompts is not None:
            zero_shot_accuracy = float(np.mean(np.argmax(Xh @ prompts.T, axis=1) == yh))
        if prior_used:
            plain_fit, _ = fit_on(Xtr, ytr, plain, False)
            plain_pred = np.argmax(Xh @ plain_fit.W.T + plain_fit.b, axis=1)
            plain_accuracy = float(np.mean(plain_pred == yh))
        else:
            plain_accuracy = heldout_accuracy
    elif sel.oof_pred_first is not None and sel.oof_logits is not None and sel.oof_y is not None:
        estimate_method = "leave-one-out" if sel.method == "leave-one-out" else "cross-validation"
        heldout_accuracy = float(np.mean(sel.oof_pred_first == ytr))
        heldout_log_loss = _log_loss(sel.oof_logits / temperature, sel.oof_y)
        cm = _confusion(ytr, sel.oof_pred_first, n_classes)
        rows, preds = train_idx, sel.oof_pred_first
        if prompts is not None:
            zero_shot_accuracy = float(np.mean(np.argmax(Xtr @ prompts.T, axis=1) == ytr))
        if plain.oof_pred_first is not None:
            plain_accuracy = float(np.mean(plain.oof_pred_first == ytr))
    else:
        estimate_method = "none"
        if prompts is not None:
            zero_shot_accuracy = float(np.mean(np.argmax(Xtr @ prompts.T, axis=1) == ytr))

    # Final model: all data, chosen C, warm-started from the train-part fit when there is one.
    final_prog = _Progress(progress, "fit final model", 1)
    final, scale = fit_on(Xn, y, sel, prior_used, init)
    final_prog.finish()

    model = ProbeModel(
        classes=classes,
        weights=final.W.astype(np.float32),
        bias=final.b.astype(np.float32),
        temperature=temperature,
        abstain_threshold=config.abstain_threshold,
    )
    report = ProbeReport(
        classes=classes,
        chosen_c=sel.chosen_c,
        selection_method=sel.method,
        cv_scores=sel.scores,
        cv_folds=0 if sel.method == "fixed" else sum(1 for r, _, _ in splits.folds if r == 0),
        cv_repetitions=0 if sel.method == "fixed" else 1 + max(r for r, _, _ in splits.folds),
        estimate_method=estimate_method,
        heldout_accuracy=heldout_accuracy,
        zero_shot_accuracy=zero_shot_accuracy,
        plain_probe_accuracy=plain_accuracy,
        plain_probe_c=plain.chosen_c,
        per_class=() if cm is None else _per_class(cm, classes),
        confusion_matrix=() if cm is None else tuple(tuple(int(v) for v in r) for r in cm),
        heldout_log_loss=heldout_log_loss,
        temperature=temperature,
        zero_shot_prior_used=prior_used,
        prior_scale=scale,
        train_seconds=time.perf_counter() - started,
        n_train=int(len(train_idx)),
        n_heldout=int(len(held_idx)),
        evaluated_rows=tuple(int(i) for i in rows),
        evaluated_predictions=tuple(classes[int(j)] for j in preds),
        notes=tuple(notes),
    )
    return model, report
