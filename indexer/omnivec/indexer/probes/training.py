"""Few-shot probe training: :func:`train_probe`, the orchestration of the pieces around it.

A probe is multinomial logistic regression on frozen, L2-normalised embeddings (the objective and
the solver: :mod:`.solver`). With the zero-shot prior its weights start from, and are regularised
towards, the class prompts' embeddings. :func:`train_probe` validates the examples and prompts,
draws the report's held-out split and the CV folds (:mod:`.selection`), runs the C search for the
plain family and - with prompts - for the prior family, on two threads, keeps the prior unless the
plain probe's CV accuracy is higher by more than a standard error (a strong but partly wrong
zero-shot classifier keeps pulling at every C, which can cost accuracy once there are enough
shots), calibrates a temperature on the chosen family's out-of-fold logits, measures the report
(:mod:`.report`) and refits the final model (:mod:`.model`) on all examples with the chosen C.
Measured on three Debian section sets (scripts/bench_probes.py): the prior probe beats zero-shot
and the plain probe at 1, 2 and 4 shots on every set.

Numpy in, numpy out: no storage, no encoders (those are :mod:`.service` and :mod:`.storage`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.probes.config import ProbeTrainingConfig
from omnivec.indexer.probes.model import ProbeModel
from omnivec.indexer.probes.numerics import F64, IntArr, as_unit_rows, log_loss
from omnivec.indexer.probes.progress import ProgressCallback, StageProgress, locked_progress
from omnivec.indexer.probes.report import ProbeReport, confusion_counts, metrics_per_class
from omnivec.indexer.probes.selection import (
    FEW_SHOT_MAX_PER_CLASS,
    FEW_SHOT_TRUST_RADIUS,
    Selection,
    best_score,
    make_splits,
    report_split,
    select_c,
    within_one_se,
)
from omnivec.indexer.probes.solver import SoftmaxFit, fit_prior_scale, fit_softmax, fit_temperature

__all__ = ["train_probe"]


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
    Xn = as_unit_rows(arr, None, what="X")
    dim = Xn.shape[1]
    n_classes = len(classes)
    prompts = None
    if prompt_embeddings is not None:
        prompts = _prepare_prompts(prompt_embeddings, classes, dim)
    use_prior = prompts is not None and config.zero_shot_prior
    rng = np.random.default_rng(config.seed)
    notes: list[str] = []

    train_idx, held_idx = report_split(y, n_classes, config, rng)
    if not len(held_idx) and config.holdout_fraction > 0:
        notes.append(
            f"some class has fewer than {config.holdout_min_per_class} examples, so none were "
            "held out (every one is needed to select C); report numbers are out-of-fold "
            "estimates from the C-selection cross-validation"
        )
    Xtr, ytr = Xn[train_idx], y[train_idx]
    splits = make_splits(ytr, n_classes, rng)

    # The two families are independent searches over the same folds: with prompts they run on
    # two threads (BLAS and NumPy's loops release the GIL; each BLAS call is single-threaded, see
    # train_probe), which is what keeps 16 shots x 50 classes under two seconds on two cores.
    safe_progress = locked_progress(progress)

    def select(family_prompts: F64 | None, stage: str) -> Selection:
        return select_c(Xtr, ytr, n_classes, family_prompts, config, splits, safe_progress, stage)

    prior_sel: Selection | None = None
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
            or within_one_se(plain.oof_correct, prior_sel.oof_correct)
        ):
            sel = prior_sel
        else:
            notes.append(
                "cross-validation preferred the plain probe to the zero-shot prior "
                f"({best_score(plain).accuracy:.3f} vs {best_score(prior_sel).accuracy:.3f})"
            )
    prior_used = sel is prior_sel
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
    if prior_used and int(np.bincount(ytr).min()) <= FEW_SHOT_MAX_PER_CLASS:
        notes.append(
            "few examples per class: C is the weakest regularisation within one standard error "
            "of the best cross-validated accuracy that keeps the probe within "
            f"{FEW_SHOT_TRUST_RADIUS:g} (relative) of the zero-shot classifier"
        )

    def fit_on(
        Xf: F64, yf: IntArr, s: Selection, prior: bool, init: tuple[F64, F64] | None = None
    ) -> tuple[SoftmaxFit, float | None]:
        scale = None
        W0 = None
        if prior and prompts is not None:
            scale = fit_prior_scale(Xf @ prompts.T, yf)
            W0 = scale * prompts
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
        heldout_log_loss = log_loss(Zh / temperature, yh)
        cm = confusion_counts(yh, pred, n_classes)
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
        heldout_log_loss = log_loss(sel.oof_logits / temperature, sel.oof_y)
        cm = confusion_counts(ytr, sel.oof_pred_first, n_classes)
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
    final_prog = StageProgress(progress, "fit final model", 1)
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
        regularization_c=sel.chosen_c,
        selection_method=sel.method,
        cv_scores=sel.scores,
        cv_folds=0 if sel.method == "fixed" else sum(1 for r, _, _ in splits.folds if r == 0),
        cv_repetitions=0 if sel.method == "fixed" else 1 + max(r for r, _, _ in splits.folds),
        estimate_method=estimate_method,
        heldout_accuracy=heldout_accuracy,
        zero_shot_accuracy=zero_shot_accuracy,
        plain_probe_accuracy=plain_accuracy,
        plain_probe_c=plain.chosen_c,
        class_metrics=() if cm is None else metrics_per_class(cm, classes),
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
