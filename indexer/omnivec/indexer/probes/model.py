"""The served probe: :class:`ProbeModel` (weights, bias, temperature, abstention) and its
storage form (``to_arrays`` / ``from_arrays``).

Kept apart from the training so that what is stored and served - and the rules it is validated by
(:func:`validate_abstain_threshold`, shared with the training config and the CLI's remote
backend) - reads on its own, with the numerics it needs from :mod:`.numerics` only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from omnivec.indexer.errors import CorruptDataError, InvalidInputError
from omnivec.indexer.probes.numerics import F32, F64, as_unit_rows, softmax

__all__ = ["MODEL_FORMAT", "ProbeModel", "validate_abstain_threshold"]

MODEL_FORMAT = 1


def validate_abstain_threshold(threshold: float | None) -> None:
    """A probability in [0, 1], or None (never abstain); InvalidInputError otherwise."""
    if threshold is not None and not (0.0 <= threshold <= 1.0):
        raise InvalidInputError(f"abstain_threshold must be in [0, 1] or None, got {threshold!r}")


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
        validate_abstain_threshold(self.abstain_threshold)
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
        Xn = as_unit_rows(X, self.dim, what="X")
        logits: F64 = Xn @ self.weights.T.astype(np.float64) + self.bias.astype(np.float64)
        return logits

    def predict_proba(self, X: NDArray[Any]) -> F64:
        """Temperature-calibrated class probabilities, shape (n, n_classes)."""
        return softmax(self.logits(X) / self.temperature)

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
            "format": MODEL_FORMAT,
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
            if meta.get("format") != MODEL_FORMAT:
                raise CorruptDataError(
                    f"unsupported probe format {meta.get('format')!r} (expected {MODEL_FORMAT})"
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
