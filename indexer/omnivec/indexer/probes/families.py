"""The probe families one training compares on the same folds, and the rules that pick one.

- **plain probe** - no prior, regularised towards 0;
- **zero-shot prior** - regularised towards (and started from) the class prompts' embeddings;
- **unlabeled rows** - regularised towards the classifier re-estimated on the collection's
  unlabelled rows (:mod:`.unlabeled`), with or without prompts.

Each family's C is chosen by :func:`~.selection.select_c` on the same :class:`~.selection.Splits`,
so their out-of-fold hits are paired row by row. The prior is the design default and is dropped
only when the plain probe is better by more than a standard error (:func:`~.selection.within_one_se`).
The unlabelled rows must earn their place: their family is kept only when it *wins* on the same
folds against the best family without them (a higher out-of-fold accuracy; a tie keeps the probe
without them), so they can make a probe worse than it would be without them only by the noise of
those folds.

No leak: in each fold the unlabelled family re-estimates the class means from that fold's
labelled rows only; the fold's validation rows join the unlabelled rows as *inputs* (they would be
unlabelled had the user not labelled them) and are scored against their true labels only by the
fold's probe, never used as targets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from omnivec.indexer.probes.config import ProbeTrainingConfig
from omnivec.indexer.probes.numerics import F32, F64, IntArr
from omnivec.indexer.probes.progress import ProgressCallback, StageProgress, locked_progress
from omnivec.indexer.probes.selection import (
    FEW_SHOT_TRUST_RADIUS,
    Selection,
    Splits,
    best_score,
    select_c,
    within_one_se,
)
from omnivec.indexer.probes.unlabeled import (
    CV_UNLABELED_ROWS,
    MAX_UNLABELED_ROWS,
    UNLABELED_TRUST_RADIUS,
    em_directions,
    sample_rows,
)

__all__ = [
    "PLAIN",
    "PRIOR",
    "UNLABELED",
    "FamilyChoice",
    "Transduction",
    "choose_family",
    "unlabeled_wins",
]

PLAIN = "plain probe"
PRIOR = "zero-shot prior"
UNLABELED = "unlabeled rows"

# Stage names the progress callback sees.
_STAGES = {
    PLAIN: "select C (plain probe)",
    PRIOR: "select C (zero-shot prior)",
    UNLABELED: "select C (unlabeled rows)",
}
LEARN_STAGE = "learn from unlabeled rows"


@dataclass
class Transduction:
    """The unlabelled rows a probe learns from, and how it turns them into class directions.

    ``rows`` is what the final fit reads (every offered row, or a seeded sample of
    ``MAX_UNLABELED_ROWS``); ``cv_rows`` the smaller sample each CV fold reads.
    """

    rows: F32  # unit rows in float32: EM's products are float32 (see .unlabeled)
    cv_rows: F32
    prompts: F64 | None
    offered: int
    # The means of the last full fit, to warm-start the next one (the final fit after the
    # held-out evaluation's: the same rows plus a few, so it converges in a few iterations).
    last_means: F64 | None = field(default=None, repr=False)

    @classmethod
    def of(cls, unlabeled: F32, prompts: F64 | None, seed: int) -> Transduction:
        # Its own generator: the held-out split and the folds keep drawing from the caller's in
        # the same order whether or not unlabelled rows are given.
        rng = np.random.default_rng([seed, 0x7A11])
        rows = sample_rows(unlabeled, MAX_UNLABELED_ROWS, rng)
        return cls(rows, sample_rows(rows, CV_UNLABELED_ROWS, rng), prompts, len(unlabeled))

    def directions(
        self, X: F64, y: IntArr, n_classes: int, extra: F64 | None, *, cv: bool
    ) -> F64 | None:
        """The classifier to regularise towards, re-estimated from labelled ``X``/``y`` and the
        unlabelled rows (plus ``extra`` unlabelled inputs); None when a class has no anchor."""
        pool = self.cv_rows if cv else self.rows
        if extra is not None and len(extra):
            pool = np.vstack([pool, extra.astype(pool.dtype)])
        init = None if cv else self.last_means
        fit = em_directions(X, y, pool, self.prompts, n_classes, init=init)
        if fit is None:
            return None
        if not cv:
            self.last_means = fit.means
        return fit.directions


@dataclass
class FamilyChoice:
    """Every family's C search and the one chosen."""

    plain: Selection
    prior: Selection | None
    unlabeled: Selection | None
    chosen: Selection
    chosen_family: str
    # The best family without the unlabelled rows (what "without unlabeled rows" compares to).
    base: Selection
    base_family: str
    notes: list[str]

    def selection(self, family: str) -> Selection | None:
        return {PLAIN: self.plain, PRIOR: self.prior, UNLABELED: self.unlabeled}[family]


def unlabeled_wins(unlabeled: Selection, base: Selection) -> bool:
    """Whether the unlabelled family beats ``base`` on the same folds: a higher out-of-fold
    accuracy on the same rows.

    Until 2026-12-02 it also had to win by more than one paired standard error, because rows of
    another distribution (400 random directions next to 12 labelled rows) were kept in half the
    draws and cost 2-8 points. EM now gives such rows almost no weight (the background component
    decides each row's share before the whitening and the means are estimated), so the margin only
    threw gains away: over 10 draws on the three Debian sets and the fortunes
    (``scripts/bench_probes.py --only few-shot``) the bare win kept the unlabelled rows at 4 shots
    in 7-10 draws of 10 where the margin kept them in 3-8, and was better or equal at every shot
    count on every set (+2.3 at 4 shots on the second set, +3.4 at 2 shots on the fortunes); its
    worst draw was 1.6 points below the prior probe."""
    if unlabeled.oof_correct is None or base.oof_correct is None:
        return False
    return float(np.mean(unlabeled.oof_correct)) > float(np.mean(base.oof_correct))


def _oof_accuracy(sel: Selection) -> float:
    """The out-of-fold accuracy :func:`unlabeled_wins` compares (the chosen C's CV score when
    there are no per-row results)."""
    if sel.oof_correct is None:
        return best_score(sel).accuracy
    return float(np.mean(sel.oof_correct))


def choose_family(
    X: F64,
    y: IntArr,
    n_classes: int,
    prompts: F64 | None,
    transduction: Transduction | None,
    config: ProbeTrainingConfig,
    splits: Splits,
    progress: ProgressCallback | None,
) -> FamilyChoice:
    """Run the C search of every family on ``splits`` (two at a time on two threads: BLAS and
    NumPy release the GIL) and pick one by the rules of the module docstring."""
    safe_progress = locked_progress(progress)

    def search(family: str, family_prompts: F64 | list[F64] | None) -> Selection:
        radius = UNLABELED_TRUST_RADIUS if family == UNLABELED else FEW_SHOT_TRUST_RADIUS
        return select_c(
            X, y, n_classes, family_prompts, config, splits, safe_progress, _STAGES[family],
            trust_radius=radius,
        )

    def unlabeled_search() -> Selection | None:
        assert transduction is not None
        learn = StageProgress(safe_progress, LEARN_STAGE, len(splits.folds))
        fold_directions: list[F64] = []
        for _, tr, va in splits.folds:
            directions = transduction.directions(X[tr], y[tr], n_classes, X[va], cv=True)
            if directions is None:
                return None  # a fold leaves some class without prompt or example
            fold_directions.append(directions)
            learn.step()
        learn.finish()
        return search(UNLABELED, fold_directions)

    jobs: list[Callable[[], Selection | None]] = [lambda: search(PLAIN, None)]
    if prompts is not None:
        jobs.append(lambda: search(PRIOR, prompts))
    if transduction is not None:
        jobs.append(unlabeled_search)
    if len(jobs) > 1 and (os.cpu_count() or 1) >= 2:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="probe-cv") as pool:
            futures = [pool.submit(job) for job in jobs]
            results = [f.result() for f in futures]
    else:
        results = [job() for job in jobs]
    plain = results[0]
    assert plain is not None
    prior = results[1] if prompts is not None else None
    unlabeled = results[-1] if transduction is not None else None

    notes: list[str] = []
    base, base_family = plain, PLAIN
    if prior is not None:
        # A strong but partly wrong zero-shot classifier keeps pulling W at every C (the penalty
        # is ||W - W0||^2), so with enough shots the plain probe can be better; the prior is the
        # default and the plain probe must win by more than one paired standard error.
        if (
            plain.method == "fixed"
            or plain.oof_correct is None
            or prior.oof_correct is None
            or within_one_se(plain.oof_correct, prior.oof_correct)
        ):
            base, base_family = prior, PRIOR
        else:
            notes.append(
                "cross-validation preferred the plain probe to the zero-shot prior "
                f"({best_score(plain).accuracy:.3f} vs {best_score(prior).accuracy:.3f})"
            )
    chosen, chosen_family = base, base_family
    if transduction is not None:
        if unlabeled is None:
            notes.append(
                "the unlabeled rows were not used: with one example per class and no prompts a "
                "cross-validation fold leaves a class with nothing to start from"
            )
        elif unlabeled_wins(unlabeled, base):
            chosen, chosen_family = unlabeled, UNLABELED
        else:
            notes.append(
                f"the {transduction.offered} unlabeled rows were not used: cross-validation did "
                f"not score the probe higher with them ({_oof_accuracy(unlabeled):.3f} "
                f"with them, {_oof_accuracy(base):.3f} without)"
            )
    return FamilyChoice(plain, prior, unlabeled, chosen, chosen_family, base, base_family, notes)
