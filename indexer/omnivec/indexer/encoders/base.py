"""What every encoder shares: its identity (saved with collections) and input checks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from omnivec.indexer.errors import InvalidInputError, PrecisionMismatchError

__all__ = [
    "Embedder",
    "EncoderSpec",
    "WeightsInfo",
    "file_sha256",
    "precision_mismatch",
    "require_list",
]


@dataclass(frozen=True)
class EncoderSpec:
    """The identity of an embedding space's encoder, stored with each collection.

    ``fingerprint`` covers what changes the vectors (model, weights identity, dimension,
    normalisation) but not where the weights happen to live on disk, so a collection moved to
    another machine with the same weights still opens.

    ``backend`` (torch, onnx, openvino) is recorded but not fingerprinted: fp32 exports give the
    torch vectors to 1e-4, so a collection built with one is searched with another. ``precision``
    is fingerprinted once it is not fp32: int8 vectors are close to, not the same as, fp32 ones,
    and mixing them needs the user's explicit choice. (Leaving fp32 out keeps the fingerprints of
    collections made before backends existed unchanged.)
    """

    encoder: str  # registry name: "clip" or "text"
    model: str
    weights: str  # pretrained tag, "sha256:<hex>" of a local checkpoint, or "bundled:<name>"
    dim: int
    normalized: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    backend: str = "torch"  # how the forward passes ran; see config.Backend
    precision: str = "fp32"  # "fp32" or "int8"

    def identity(self) -> dict[str, Any]:
        """The fields that decide the vectors (what ``fingerprint`` covers), for display."""
        fields = {k: v for k, v in asdict(self).items() if k not in ("extra", "backend")}
        if self.precision == "fp32":
            del fields["precision"]
        return fields

    @cached_property
    def fingerprint(self) -> str:
        # Cached: every query checks it (asdict + JSON + SHA-256 twice was 0.2 ms of a search),
        # and the fields it covers are immutable (``extra``, the one mutable field, is not in it).
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderSpec:
        return cls(**data)

    def describe(self) -> str:
        return f"{self.encoder}:{self.model} ({self.weights}, {self.dim}-d)"


# The backends (config.Backend) by the precision of their vectors, for the remedy in messages.
_BACKENDS_BY_PRECISION = {"fp32": ("torch", "onnx", "openvino"), "int8": ("onnx-int8", "openvino-int8")}


def precision_mismatch(
    collection: str, space: str, stored: EncoderSpec, current: EncoderSpec, *, writing: bool
) -> PrecisionMismatchError:
    """The error for a space whose stored vectors and configured encoder differ in precision only,
    naming both and the settings that resolve it (the space's settings are named like it)."""
    matching = [stored.backend] + [
        b for b in _BACKENDS_BY_PRECISION.get(stored.precision, ()) if b != stored.backend
    ]
    message = (
        f"collection {collection!r} space {space!r} holds {stored.precision} vectors (built with "
        f"backend {stored.backend}) but the configured {space} encoder makes {current.precision} "
        f"vectors (backend {current.backend}); set {space}.backend = \"{matching[0]}\" "
        f"(OMNIVEC_{space.upper()}__BACKEND={matching[0]}"
        + (f"; also {', '.join(matching[1:])}" if len(matching) > 1 else "")
        + ") to match it"
    )
    if writing:
        message += (
            ", or index into a new collection: rows of two precisions are never mixed in one "
            "space (index.allow_precision_mismatch only lets searches through)"
        )
    else:
        message += (
            f", or set index.allow_precision_mismatch = true "
            f"(OMNIVEC_INDEX__ALLOW_PRECISION_MISMATCH=1) to search it with {current.precision} "
            "queries anyway (scores shift slightly)"
        )
    return PrecisionMismatchError(message)


class Embedder(Protocol):
    """What every embedding encoder offers (the registry's role "embedding"): texts in, unit
    vectors of its space out, and the spec stored with the collections it builds."""

    spec: EncoderSpec

    @property
    def batch_size(self) -> int: ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class WeightsInfo:
    """Where an encoder's weights come from, for `omnivec models list`."""

    encoder: str
    model: str
    source: str  # human-readable origin: a path, a tag, a package
    available_offline: bool
    note: str = ""
    backend: str = "torch"  # config.Backend: how its forward passes run
    precision: str = "fp32"  # "int8" for the -int8 backends
    export: str = "-"  # exports.export_state(): "ready", "not exported yet"; "-" when none is used


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a weights file, cached by (path, size, mtime) since checkpoints are large."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASH_CACHE:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _HASH_CACHE[key] = digest.hexdigest()
    return _HASH_CACHE[key]


def require_list(value: object, what: str) -> Sequence[Any]:
    """Reject a bare string (or bytes) where a list is expected: iterating it gives characters."""
    if isinstance(value, (str, bytes)):
        raise InvalidInputError(
            f"{what} must be a list, got a single {type(value).__name__}; wrap it: [{what[:-1]}]"
        )
    if not isinstance(value, Sequence):
        raise InvalidInputError(f"{what} must be a list, got {type(value).__name__}")
    return value
