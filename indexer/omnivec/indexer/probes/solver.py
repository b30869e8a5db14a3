"""The solver: multinomial logistic regression by L-BFGS, and the two scalar fits around it.

The objective is scikit-learn's ``LogisticRegression(C)`` objective divided by the number of
examples::

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

Around it: the zero-shot prior's logit scale (:func:`fit_prior_scale`) and the calibration
temperature (:func:`fit_temperature`, fitted on out-of-fold logits by minimising NLL, which
calibrates the served probabilities without changing the argmax).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from omnivec.indexer.probes.numerics import F64, IntArr, log_loss

__all__ = ["SoftmaxFit", "fit_prior_scale", "fit_softmax", "fit_temperature"]

# The zero-shot prior's logit scale is fitted (max likelihood on the training fold), bounded above by
# CLIP's learned logit scale cap of 100: beyond it the prior would be a hard argmax and the L2 pull
# towards it would dominate every C on the grid.
_PRIOR_SCALE_BOUNDS = (1e-2, 100.0)
# Calibration may sharpen logits until the top class is at most e^10 times the average class.
_MAX_CALIBRATED_SPREAD = 10.0


@dataclass
class SoftmaxFit:
    """A fitted probe's weights (classes x dim) and bias, and the L-BFGS iterations it took."""

    W: F64
    b: F64
    n_iter: int


def fit_softmax(
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
) -> SoftmaxFit:
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
    from scipy.optimize import minimize  # here: 0.5 s of import a search never needs
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
    return SoftmaxFit(W=W, b=b, n_iter=int(res.nit))


def fit_prior_scale(S: F64, y: IntArr) -> float:
    """Logit scale s maximising the likelihood of ``softmax(s * cos)`` on the training rows: the
    zero-shot classifier calibrated to this data, so W0's norm matches what the data supports."""
    from scipy.optimize import minimize_scalar  # here: 0.5 s of import a search never needs
    res = minimize_scalar(
        lambda log_s: log_loss(math.exp(log_s) * S, y),
        bounds=(math.log(_PRIOR_SCALE_BOUNDS[0]), math.log(_PRIOR_SCALE_BOUNDS[1])),
        method="bounded",
        options={"xatol": 1e-3},
    )
    return float(math.exp(float(res.x)))


def fit_temperature(Z: F64, y: IntArr) -> float:
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
    from scipy.optimize import minimize_scalar  # here: 0.5 s of import a search never needs
    res = minimize_scalar(
        lambda log_t: log_loss(Z / math.exp(log_t), y),
        bounds=(math.log(lo), math.log(hi)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    t = float(math.exp(float(res.x)))
    # Keep T = 1 when it is allowed and at least as good: Brent's search on a flat loss stops a
    # hair away from it, and an exact 1 says "no correction was needed".
    if lo <= 1.0 <= hi and log_loss(Z, y) <= log_loss(Z / t, y):
        return 1.0
    return t
