"""The knobs of :func:`~omnivec.indexer.probes.training.train_probe`: :class:`ProbeTrainingConfig`
and the default C grid, validated when made.

Its own module because both the C selection (:mod:`.selection`) and the orchestration
(:mod:`.training`) read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.probes.model import validate_abstain_threshold

__all__ = ["DEFAULT_C_GRID", "ProbeTrainingConfig"]

# 13 decades, 1e-6 .. 1e6: the CLIP paper's linear-probe sweep range. Refinement (see selection)
# adds half- and quarter-decade points around the best decade, so 17 values are evaluated in all.
DEFAULT_C_GRID: tuple[float, ...] = tuple(10.0**e for e in range(-6, 7))


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
    # Learn from the unlabelled rows given to train_probe (when there are enough of them, see
    # omnivec.indexer.probes.unlabeled); the same folds decide whether what they taught is kept.
    use_unlabeled: bool = True
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
        validate_abstain_threshold(self.abstain_threshold)
