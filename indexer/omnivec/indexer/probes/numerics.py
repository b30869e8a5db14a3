"""Numerics shared by the served probe and its training: unit rows, softmax, log loss.

They are here, apart from the solver, because the served model (:mod:`.model`) needs the first
two to answer and the training needs all three; numpy only.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from omnivec.indexer.errors import InvalidInputError

__all__ = ["F32", "F64", "IntArr", "as_unit_rows", "as_unit_rows_f32", "log_loss", "softmax"]

F64 = NDArray[np.float64]
F32 = NDArray[np.float32]
IntArr = NDArray[np.intp]


def softmax(Z: F64) -> F64:
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return cast(F64, E / E.sum(axis=1, keepdims=True))


def log_loss(Z: F64, y: IntArr) -> float:
    """Mean cross-entropy of logits ``Z`` against integer labels ``y``."""
    m = Z.max(axis=1)
    lse = np.log(np.exp(Z - m[:, None]).sum(axis=1)) + m
    return float(np.mean(lse - Z[np.arange(len(y)), y]))


def as_unit_rows(X: NDArray[Any], dim: int | None, *, what: str) -> F64:
    """Validate and renormalise rows (embeddings should already be unit length; a few ulps of
    drift from float32 storage must not change the meaning of C or of the prior)."""
    out: F64 = _unit_copy(X, dim, what, np.float64)
    return out


def as_unit_rows_f32(X: NDArray[Any], dim: int | None, *, what: str) -> F32:
    """:func:`as_unit_rows` in float32: for a collection's unlabelled rows, which only feed
    float32 products (100k x 384 rows are 150 MB so, 300 MB in float64, and converting them
    back and forth cost a second a probe)."""
    out: F32 = _unit_copy(X, dim, what, np.float32)
    return out


def _unit_copy(X: NDArray[Any], dim: int | None, what: str, dtype: type[np.floating[Any]]) -> Any:
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InvalidInputError(f"{what} must be a 2-D array (n, dim), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise InvalidInputError(f"{what} must hold real numbers, got dtype {arr.dtype}")
    if dim is not None and arr.shape[1] != dim:
        raise InvalidInputError(f"{what} has dimension {arr.shape[1]}, expected {dim}")
    out = arr.astype(dtype, copy=True)
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
