"""Model selection: the report's held-out split, the CV folds, and the choice of C.

C is chosen by stratified k-fold CV (k = min(5, the smallest class count)), by repeated
stratified splits when the smallest class has 2-3 examples (one k-fold is too noisy there), and by
leave-one-out with the zero-shot prior when there is a single example per class. The grid is
walked from strong to weak regularisation with warm starts along the path (:func:`_path_start`),
then refined around the best value (coarse-to-fine, like CLIP's parametric search). With 4+
examples per class a stratified held-out split (:func:`report_split`), never seen by selection,
gives the report and C is chosen on the rest; with fewer, every example is needed for selection
and the report gives out-of-fold estimates. With 1-3 examples per class the prior probe's CV is
too noisy and biased towards the prior to take its argmax (see ``FEW_SHOT_TRUST_RADIUS``): C is
then the weakest regularisation statistically tied with the best that stays near the zero-shot
classifier. :func:`within_one_se` is the paired rule by which the orchestration keeps the prior
unless the plain probe is better by more than a standard error.

The folds are drawn from the caller's generator in a fixed order (held-out split first, then the
folds), which is what lets ``omnivec.bench.fig6_probes`` rebuild train_probe's exact split and
folds for scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from omnivec.indexer.probes.config import ProbeTrainingConfig
from omnivec.indexer.probes.numerics import F64, IntArr, log_loss
from omnivec.indexer.probes.progress import ProgressCallback, StageProgress
from omnivec.indexer.probes.report import CScore
from omnivec.indexer.probes.solver import SoftmaxFit, fit_prior_scale, fit_softmax

__all__ = [
    "C_RULES",
    "FEW_SHOT_MAX_PER_CLASS",
    "FEW_SHOT_TRUST_RADIUS",
    "Selection",
    "Splits",
    "best_score",
    "make_splits",
    "report_split",
    "select_c",
    "within_one_se",
]

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
FEW_SHOT_MAX_PER_CLASS = 3
FEW_SHOT_TRUST_RADIUS = 0.5

# How C was set, as the report names it: the argmax of cross-validated accuracy (refined); the
# weakest regularisation within one standard error of the best inside the trust region (2-3
# examples per class with a prior); the trust region alone (one example per class with a prior:
# leave-one-out cannot rank C); the centre of the grid (one example per class, no prior).
C_RULES = ("cross-validation", "one standard error, trust region", "trust region", "fixed")


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


def report_split(
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


@dataclass
class Selection:
    """The outcome of one C search (one family: with or without the prior)."""

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
    # The rule that set C (see C_RULES): what the report says instead of "chosen by CV" when CV
    # did not choose it.
    c_rule: str = "cross-validation"
    # At the chosen C, the accuracy of each repetition of the folds (repeated splits only): how
    # much the luck of one split moves an out-of-fold estimate.
    repetition_accuracy: tuple[float, ...] = ()


@dataclass
class Splits:
    """The CV plan: how the folds were made and the folds themselves."""

    method: str  # "k-fold" | "repeated-splits" | "leave-one-out"
    # (repetition, training rows, validation rows); repetition 0 covers every row exactly once.
    folds: list[tuple[int, IntArr, IntArr]]


def make_splits(y: IntArr, n_classes: int, rng: np.random.Generator) -> Splits:
    """The CV plan for the training part, shared by the prior and the plain family so their scores
    are compared on identical folds."""
    counts = np.bincount(y, minlength=n_classes)
    min_count = int(counts.min())
    n = len(y)
    if min_count == 1:
        if n <= _MAX_LEAVE_ONE_OUT:
            all_idx = np.arange(n)
            loo = [(0, np.delete(all_idx, i), all_idx[i : i + 1]) for i in range(n)]
            return Splits("leave-one-out", loo)
        return Splits("k-fold", [(0, tr, va) for tr, va in _stratified_folds(y, 5, rng)])
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
        return Splits("repeated-splits", folds)
    k = min(5, min_count)
    return Splits("k-fold", [(0, tr, va) for tr, va in _stratified_folds(y, k, rng)])


def select_c(
    X: F64,
    y: IntArr,
    n_classes: int,
    prompts: F64 | Sequence[F64] | None,
    config: ProbeTrainingConfig,
    splits: Splits,
    progress: ProgressCallback | None,
    stage: str,
    trust_radius: float = FEW_SHOT_TRUST_RADIUS,
) -> Selection:
    """Choose C for one family on ``splits``, reporting each fit to ``progress`` under ``stage``.

    ``prompts`` None is the plain probe; one (classes, dim) matrix is the zero-shot prior of every
    fold; a sequence of them, one per fold of ``splits``, is a prior that depends on the fold's
    labels (the classifier re-estimated on the unlabelled rows, :mod:`.unlabeled`).
    ``trust_radius`` is the few-shot rule's relative distance from the prior."""
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
        return Selection("fixed", centre, (), None, None, None, fit_intercept, c_rule="fixed")

    method = splits.method
    flat = splits.folds
    # Per fold: the prior (fitted on that fold's training rows only) and the fits made so far,
    # so every new C warm-starts from the nearest C already solved on the same fold.
    # Fold slices are made once: every C on the grid reuses them.
    X_tr = [X[tr] for _, tr, _ in flat]
    y_tr = [y[tr] for _, tr, _ in flat]
    X_va = [X[va] for _, _, va in flat]
    if prompts is None or isinstance(prompts, np.ndarray):
        fold_prompts: list[F64 | None] = [prompts] * len(flat)
    else:
        fold_prompts = list(prompts)
        if len(fold_prompts) != len(flat):
            raise ValueError(f"{len(fold_prompts)} fold priors for {len(flat)} folds")
    priors: list[F64 | None] = []
    for Xf, yf, P in zip(X_tr, y_tr, fold_prompts):
        priors.append(None if P is None else fit_prior_scale(Xf @ P.T, yf) * P)
    solved: list[dict[float, SoftmaxFit]] = [{} for _ in flat]
    val_logits: dict[float, list[F64]] = {}
    # ||W - W0|| / ||W0|| per C, averaged over folds (prior family only).
    distance: dict[float, list[float]] = {}
    penalize_intercept = prompts is not None

    prog = StageProgress(progress, stage, len(flat) * (len(grid) + 2 * config.refine_steps))

    def evaluate(cs: list[float]) -> None:
        for f in range(len(flat)):
            for c in cs:
                known = solved[f]
                init = _path_start(known, c)
                fit = fit_softmax(
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
        return CScore(c, float(np.mean(np.argmax(Z, axis=1) == yy)), log_loss(Z, yy))

    def best_of(scores: dict[float, CScore]) -> float:
        # Accuracy first (what the user sees); log loss breaks the many ties few-shot accuracy has;
        # then the stronger regularisation (smaller C), the safer choice on an exact tie.
        return min(scores, key=lambda c: (-scores[c].accuracy, scores[c].log_loss, c))

    evaluate(grid)  # ascending: strong -> weak regularisation, each warm-started from the last
    scores = {c: score(c) for c in grid}
    few_shot_prior = prompts is not None and int(counts.min()) <= FEW_SHOT_MAX_PER_CLASS
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
        inside = [c for c in tied if float(np.mean(distance[c])) <= trust_radius]
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
    rule = "cross-validation"
    if few_shot_prior:
        rule = "trust region" if int(counts.max()) == 1 else "one standard error, trust region"
    # Every out-of-fold prediction at the chosen C, in fold order: the row, its repetition, hit.
    oof_rows = np.concatenate([va for _, _, va in flat])
    repetition_of = np.concatenate([np.full(len(va), r) for r, _, va in flat])
    oof_y = y[oof_rows]
    oof_logits = np.concatenate(val_logits[chosen])
    oof_pred = np.argmax(oof_logits, axis=1)
    oof_hits = (oof_pred == oof_y).astype(np.float64)
    # Per training row: the fraction of its out-of-fold predictions that are right.
    repeats_per_row = np.bincount(oof_rows, minlength=n).astype(np.float64)
    chosen_correct = np.bincount(oof_rows, weights=oof_hits, minlength=n) / np.maximum(
        repeats_per_row, 1
    )
    first = np.empty(n, dtype=np.intp)
    in_first = repetition_of == 0
    first[oof_rows[in_first]] = oof_pred[in_first]
    repetitions = np.unique(repetition_of)
    return Selection(
        method,
        chosen,
        tuple(scores[c] for c in sorted(scores)),
        oof_logits,
        oof_y,
        first,
        fit_intercept,
        chosen_correct,
        rule,
        tuple(float(np.mean(oof_hits[repetition_of == r])) for r in repetitions)
        if len(repetitions) > 1
        else (),
    )


def within_one_se(better: F64, other: F64) -> bool:
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


def _path_start(known: Mapping[float, SoftmaxFit], c: float) -> tuple[F64, F64] | None:
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


def best_score(sel: Selection) -> CScore:
    """The cross-validated score of the chosen C."""
    return next(sc for sc in sel.scores if sc.c == sel.chosen_c)
