"""What both remote backends (collections and probes) need: SDK calls that fail like the engine
and the engine's encoder spec of a wire encoder. (Local files are read with the engine's own
``omnivec.indexer.media.read_media_bytes``, so they fail with the engine's errors.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from omnivec.client import errors as client_errors
from omnivec.client.types import EncoderConfig
from omnivec.indexer import errors
from omnivec.indexer.encoders.base import EncoderSpec

__all__ = ["call_remote", "encoder_spec"]

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
