"""What both remote backends (collections and probes) need: SDK calls that fail like the engine,
the engine's encoder spec of a wire encoder, and local files read with the engine's errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from omnivec.client import errors as client_errors
from omnivec.client.types import EncoderConfig
from omnivec.indexer import errors
from omnivec.indexer.encoders.base import EncoderSpec

__all__ = ["call_remote", "encoder_spec", "read_local_file"]

P = ParamSpec("P")
T = TypeVar("T")


def _translate(exc: client_errors.OmnivecClientError) -> errors.OmnivecError:
    """The engine's error class for the server's status (read from the classes themselves), with
    the server's text, so the CLI reports a remote failure exactly like a local one."""
    error_type = errors.error_for_status(exc.code.name)
    if error_type is errors.OmnivecError:  # a status no deliberate engine error has
        return errors.OmnivecError(f"server error: {exc}")
    return error_type(exc.message)


def call_remote(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call the SDK, raising the engine's error classes so the CLI reports both paths alike."""
    try:
        return fn(*args, **kwargs)
    except client_errors.OmnivecClientError as exc:
        raise _translate(exc) from exc


def encoder_spec(encoder: EncoderConfig) -> EncoderSpec:
    """The engine's spec of an encoder the server described (same fields, the engine's names)."""
    return EncoderSpec(
        encoder=encoder.name, model=encoder.model, weights=encoder.pretrained,
        dim=encoder.dim, normalized=encoder.normalized,
    )


def read_local_file(path: Path, label: str) -> bytes:
    """A file of this machine, to upload: the engine's errors for missing, unreadable, empty."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise errors.MediaError(label, "file does not exist; check the path") from None
    except IsADirectoryError:
        raise errors.MediaError(label, "is a directory, not a file") from None
    except OSError as exc:
        raise errors.MediaError(label, f"cannot be read: {exc.strerror or exc}") from exc
    if not data:
        raise errors.MediaError(label, "is empty (0 bytes)")
    return data
