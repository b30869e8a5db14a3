"""Few-shot probe training: :func:`train_probe`, the orchestration of the pieces around it.

A probe is multinomial logistic regression on frozen, L2-normalised embeddings (the objective and
the solver: :mod:`.solver`). With the zero-shot prior its weights start from, and are regularised
towards, the class prompts' embeddings. :func:`train_probe` validates the examples and prompts,
draws the report's held-out split and the CV folds (:mod:`.selection`), runs the C search for the
plain family and - with prompts - for the prior family, on two threads, keeps the prior unless the
plain probe's CV accuracy is higher by more than a standard error (a strong but partly wrong
zero-shot classifier keeps pulling at every C, which can cost accuracy once there are enough
shots), calibrates a temperature on the chosen family's out-of-fold logits, measures the report
(:mod:`.report`), raises its interval's upper end by the gain the learning curve expects from the
examples the scored probe did not have (:mod:`.learning_curve`) and refits the final model
(:mod:`.model`) on all examples with the chosen C.
Measured on three Debian section sets (scripts/bench_probes.py): the prior probe beats zero-shot
and the plain probe at 1, 2 and 4 shots on every set.

Numpy in, numpy out: no storage, no encoders (those are :mod:`.service` and :mod:`.storage`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.probes.config import ProbeTrainingConfig
from omnivec.indexer.probes.estimates import ScoredRows, measure
from omnivec.indexer.probes.families import (
    PLAIN,
    PRIOR,
    UNLABELED,
    FamilyChoice,
    Transduction,
    choose_family,
)
from omnivec.indexer.probes.learning_curve import (
    LearningCurve,
    describe_learning_curve,
    measure_learning_curve,
)
from omnivec.indexer.probes.model import ProbeModel
from omnivec.indexer.probes.numerics import F64, IntArr, as_unit_rows, as_unit_rows_f32, log_loss
from omnivec.indexer.probes.progress import ProgressCallback, StageProgress
from omnivec.indexer.probes.report import ProbeReport
from omnivec.indexer.probes.selection import (
    FEW_SHOT_TRUST_RADIUS,
    Splits,
    make_splits,
    report_split,
)
from omnivec.indexer.probes.solver import SoftmaxFit, fit_prior_scale, fit_softmax, fit_temperature
from omnivec.indexer.probes.unlabeled import min_unlabeled_rows

__all__ = ["LEARNING_CURVE_STAGE", "train_probe"]

LEARNING_CURVE_STAGE = "measure learning curve"


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
        unit = as_unit_rows(vecs, dim, what=f"prompt embedding for {label!r}")
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
    unlabeled: NDArray[Any] | None = None,
    config: ProbeTrainingConfig = ProbeTrainingConfig(),
    progress: ProgressCallback | None = None,
) -> tuple[ProbeModel, ProbeReport]:
    """Train a few-shot probe on embeddings ``X`` (n, dim) with string ``labels``.

    ``class_names`` fixes the class order (default: sorted labels) and makes a class without
    examples an error instead of silently disappearing. ``prompt_embeddings`` maps each class to
    the embedding of its text prompt (or a (k, dim) ensemble); with ``config.zero_shot_prior`` the
    probe is regularised towards and started from the zero-shot classifier, and the same CV decides
    between that and a plain probe. ``unlabeled`` (m, dim) are rows of the same space without
    labels (the rest of the collection): with ``config.use_unlabeled`` and at least
    :func:`~.unlabeled.min_unlabeled_rows` of them, a third family learns the class means from
    them (:mod:`.unlabeled`) and is kept only when it wins on the same folds (:mod:`.families`).
    """
    # The matrices here are a few hundred rows by a few hundred columns: multi-threaded BLAS costs
    # more in hand-offs than it saves, and on a busy 2-core machine it was measured 4-25x slower
    # than one thread (spinning workers fighting the other load). threadpoolctl ships with
    # scikit-learn; without it the process-wide setting applies.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return _train_probe(X, labels, class_names, prompt_embeddings, unlabeled, config, progress)
    with threadpool_limits(limits=1, user_api="blas"):
        return _train_probe(X, labels, class_names, prompt_embeddings, unlabeled, config, progress)


def _train_probe(
    X: NDArray[Any],
    labels: Sequence[str],
    class_names: Sequence[str] | None,
    prompt_embeddings: Mapping[str, NDArray[Any]] | None,
    unlabeled: NDArray[Any] | None,
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
    Xn = as_unit_rows(arr, None, what="X")
    dim = Xn.shape[1]
    n_classes = len(classes)
    prompts = None
    if prompt_embeddings is not None:
        prompts = _prepare_prompts(prompt_embeddings, classes, dim)
    prior_prompts = prompts if config.zero_shot_prior else None
    notes: list[str] = []
    transduction = _transduction(unlabeled, dim, n_classes, prior_prompts, config, notes)
    rng = np.random.default_rng(config.seed)

    train_idx, held_idx = report_split(y, n_classes, config, rng)
    if not len(held_idx) and config.holdout_fraction > 0:
        notes.append(
            f"some class has fewer than {config.holdout_min_per_class} examples, so none were "
            "held out (every one is needed to select C); report numbers are out-of-fold "
            "estimates from the C-selection cross-validation"
        )
    Xtr, ytr = Xn[train_idx], y[train_idx]
    Xh, yh = Xn[held_idx], y[held_idx]
    splits = make_splits(ytr, n_classes, rng)
    # The held-out rows are unlabelled inputs of every fit on the training part.
    if transduction is not None and len(held_idx):
        transduction.cv_rows = np.vstack([transduction.cv_rows, Xh.astype(np.float32)])
    choice = choose_family(
        Xtr, ytr, n_classes, prior_prompts, transduction, config, splits, progress
    )
    notes.extend(choice.notes)
    sel = choice.chosen
    if sel.method == "fixed":
        notes.append(
            "one example per class and no prompts: C fixed at the centre of the grid "
            f"({sel.chosen_c:g}); no estimate of accuracy is possible"
        )
    temperature = 1.0
    if sel.oof_logits is not None and sel.oof_y is not None:
        temperature = fit_temperature(sel.oof_logits, sel.oof_y)
    else:
        notes.append("no out-of-fold logits to calibrate on; temperature left at 1")
    if sel.method == "leave-one-out" and int(np.bincount(ytr).min()) == 1:
        notes.append(
            "leave-one-out with one example per class removes the only example of the left-out "
            "class, so its estimates (and the temperature) are pessimistic"
        )
    if sel.c_rule == "trust region":
        notes.append(
            "one example per class: leave-one-out cannot rank C (it never sees what a class's own "
            f"example adds), so C is set by the trust region alone: the weakest regularisation "
            f"that keeps the probe within {FEW_SHOT_TRUST_RADIUS:g} (relative) of its prior"
        )
    elif sel.c_rule == "one standard error, trust region":
        notes.append(
            "few examples per class: C is the weakest regularisation within one standard error "
            "of the best cross-validated accuracy that keeps the probe within "
            f"{FEW_SHOT_TRUST_RADIUS:g} (relative) of its prior"
        )

    def directions(
        family: str, Xf: F64, yf: IntArr, extra: F64 | None, cv: bool = False
    ) -> F64 | None:
        """The prior of ``family`` for a fit on ``Xf``/``yf`` (None: plain); ``cv`` for a fit
        made only to be scored, on the folds' smaller sample of unlabelled rows."""
        if family == PRIOR:
            return prior_prompts
        if family == UNLABELED:
            assert transduction is not None
            return transduction.directions(Xf, yf, n_classes, extra, cv=cv)
        return None

    def fit_on(
        Xf: F64, yf: IntArr, family: str, prior: F64 | None, init: tuple[F64, F64] | None = None
    ) -> tuple[SoftmaxFit, float | None]:
        s = choice.selection(family)
        assert s is not None
        scale = None
        W0 = None
        if prior is not None:
            scale = fit_prior_scale(Xf @ prior.T, yf)
            W0 = scale * prior
        fit = fit_softmax(
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

    # The rows the report scores, and what each baseline predicts on the same rows.
    baselines = _baseline_families(choice, prompts is not None)
    scored: ScoredRows | None = None
    init: tuple[F64, F64] | None = None
    if len(held_idx):
        fits: dict[str, SoftmaxFit] = {}
        for family in dict.fromkeys([choice.chosen_family, *baselines.values()]):
            if family == "zero-shot":
                continue
            fits[family], _ = fit_on(Xtr, ytr, family, directions(family, Xtr, ytr, Xh))
        chosen_fit = fits[choice.chosen_family]
        init = (chosen_fit.W, chosen_fit.b)
        Zh = Xh @ chosen_fit.W.T + chosen_fit.b
        scored = ScoredRows(
            "held-out split", held_idx, yh, np.argmax(Zh, axis=1), log_loss(Zh / temperature, yh)
        )
        for name, family in baselines.items():
            if family == "zero-shot":
                assert prompts is not None
                scored.baselines[name] = np.argmax(Xh @ prompts.T, axis=1)
            else:
                scored.baselines[name] = np.argmax(Xh @ fits[family].W.T + fits[family].b, axis=1)
    elif sel.oof_pred_first is not None and sel.oof_logits is not None and sel.oof_y is not None:
        scored = ScoredRows(
            "leave-one-out" if sel.method == "leave-one-out" else "cross-validation",
            train_idx,
            ytr,
            sel.oof_pred_first,
            log_loss(sel.oof_logits / temperature, sel.oof_y),
            repetition_accuracy=sel.repetition_accuracy,
        )
        for name, family in baselines.items():
            if family == "zero-shot":
                assert prompts is not None
                scored.baselines[name] = np.argmax(Xtr @ prompts.T, axis=1)
                continue
            other = choice.selection(family)
            if other is not None and other.oof_pred_first is not None:
                scored.baselines[name] = other.oof_pred_first
    measured = measure(scored, classes) if scored is not None else None
    if measured is not None and sel.oof_pred_first is not None:
        scored_rows = len(train_idx) if len(held_idx) else None
        curve = _learning_curve(
            Xtr, ytr, splits, sel.oof_pred_first, choice.chosen_family, directions, fit_on,
            config.seed, progress,
        )
        if curve is not None:
            # CV's probes were each trained on a fold's share of the training part.
            served_gain = curve.gain(scored_rows or curve.rows_full, len(y))
            if served_gain > 0:
                interval = measured.interval
                measured.interval = dataclasses.replace(
                    interval,
                    high=min(1.0, interval.high + served_gain),
                    method=f"{interval.method} + learning curve",
                )
            notes.append(describe_learning_curve(curve, scored_rows, len(y), served_gain))

    # Final model: all data, chosen C, warm-started from the train-part fit when there is one.
    final_prog = StageProgress(progress, "fit final model", 1)
    final_prior = directions(choice.chosen_family, Xn, y, None)
    final, scale = fit_on(Xn, y, choice.chosen_family, final_prior, init)
    final_prog.finish()

    model = ProbeModel(
        classes=classes,
        weights=final.W.astype(np.float32),
        bias=final.b.astype(np.float32),
        temperature=temperature,
        abstain_threshold=config.abstain_threshold,
    )
    method = scored.method if scored is not None else "none"
    accuracy = measured.accuracy if measured is not None else None
    zero_shot_accuracy = None
    if prompts is not None:
        zs_rows = Xh if len(held_idx) else Xtr
        zs_y = yh if len(held_idx) else ytr
        zero_shot_accuracy = float(np.mean(np.argmax(zs_rows @ prompts.T, axis=1) == zs_y))
    plain_accuracy = None
    if measured is not None:
        plain_accuracy = (
            measured.accuracy
            if choice.chosen_family == PLAIN
            else measured.baseline_accuracy.get("plain probe")
        )
    report = ProbeReport(
        classes=classes,
        regularization_c=sel.chosen_c,
        selection_method=sel.method,
        cv_scores=sel.scores,
        cv_folds=0 if sel.method == "fixed" else sum(1 for r, _, _ in splits.folds if r == 0),
        cv_repetitions=0 if sel.method == "fixed" else 1 + max(r for r, _, _ in splits.folds),
        estimate_method=method,
        heldout_accuracy=accuracy if method == "held-out split" else None,
        cv_accuracy=accuracy if method == "cross-validation" else None,
        loo_accuracy=accuracy if method == "leave-one-out" else None,
        accuracy_interval=measured.interval if measured is not None else None,
        comparisons=measured.comparisons if measured is not None else (),
        zero_shot_accuracy=zero_shot_accuracy,
        plain_probe_accuracy=plain_accuracy,
        plain_probe_c=choice.plain.chosen_c,
        class_metrics=() if measured is None else measured.class_metrics,
        confusion_matrix=()
        if measured is None
        else tuple(tuple(int(v) for v in r) for r in measured.confusion),
        log_loss=measured.log_loss if measured is not None else None,
        temperature=temperature,
        zero_shot_prior_used=choice.chosen_family == PRIOR
        or (choice.chosen_family == UNLABELED and prior_prompts is not None),
        prior_scale=scale,
        c_rule=sel.c_rule,
        unlabeled_available=0 if unlabeled is None else int(np.asarray(unlabeled).shape[0]),
        unlabeled_rows=len(transduction.rows)
        if transduction is not None and choice.chosen_family == UNLABELED
        else 0,
        unlabeled_used=choice.chosen_family == UNLABELED,
        train_seconds=time.perf_counter() - started,
        n_train=int(len(train_idx)),
        n_heldout=int(len(held_idx)),
        evaluated_rows=() if scored is None else tuple(int(i) for i in scored.rows),
        evaluated_predictions=()
        if scored is None
        else tuple(classes[int(j)] for j in scored.predictions),
        notes=tuple(notes),
    )
    return model, report


def _transduction(
    unlabeled: NDArray[Any] | None,
    dim: int,
    n_classes: int,
    prompts: F64 | None,
    config: ProbeTrainingConfig,
    notes: list[str],
) -> Transduction | None:
    """The unlabelled rows to learn from, or None (not given, turned off, or too few)."""
    if unlabeled is None:
        return None
    U = np.asarray(unlabeled)
    if U.ndim != 2 or (U.shape[0] and U.shape[1] != dim):
        raise InvalidInputError(
            f"unlabeled must be a 2-D array (m, {dim}) in the space of X, got shape {U.shape}"
        )
    if not config.use_unlabeled:
        notes.append(f"the {len(U)} unlabeled rows were not used (turned off)")
        return None
    needed = min_unlabeled_rows(n_classes)
    if len(U) < needed:
        notes.append(
            f"only {len(U)} unlabeled rows (at least {needed} are needed for {n_classes} "
            "classes), so none were used"
        )
        return None
    return Transduction.of(as_unit_rows_f32(U, dim, what="unlabeled"), prompts, config.seed)


def _learning_curve(
    Xtr: F64,
    ytr: IntArr,
    splits: Splits,
    first_predictions: IntArr,
    family: str,
    directions: Callable[..., F64 | None],
    fit_on: Callable[..., tuple[SoftmaxFit, float | None]],
    seed: int,
    progress: ProgressCallback | None,
) -> LearningCurve | None:
    """The chosen probe's learning curve on the training part (:mod:`.learning_curve`): each
    first-repetition fold refitted on half its rows, with the family and C chosen."""
    prog = StageProgress(progress, LEARNING_CURVE_STAGE, sum(1 for r, _, _ in splits.folds if r == 0))

    def refit(rows: IntArr, validation: IntArr) -> IntArr:
        Xf, yf, Xv = Xtr[rows], ytr[rows], Xtr[validation]
        fit, _ = fit_on(Xf, yf, family, directions(family, Xf, yf, Xv, cv=True))
        prog.step()
        predicted: IntArr = np.argmax(Xv @ fit.W.T + fit.b, axis=1)
        return predicted

    # Its own generator, so the halving draws nothing from the folds' or the split's.
    curve = measure_learning_curve(
        ytr, splits, first_predictions, refit, np.random.default_rng([seed, 0x1C])
    )
    prog.finish()
    return curve


def _baseline_families(choice: FamilyChoice, has_prompts: bool) -> dict[str, str]:
    """Comparison name -> the family (or "zero-shot") whose predictions it pairs with."""
    out: dict[str, str] = {}
    if has_prompts:
        out["zero-shot"] = "zero-shot"
    if choice.chosen_family == UNLABELED:
        out["without unlabeled rows"] = choice.base_family
        if choice.base_family != PLAIN and choice.plain.method != "fixed":
            out["plain probe"] = PLAIN
    elif choice.chosen_family != PLAIN and choice.plain.method != "fixed":
        out["plain probe"] = PLAIN
    return out
