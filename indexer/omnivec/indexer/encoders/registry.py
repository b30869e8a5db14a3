"""Encoders looked up by name, each bound to its typed settings class.

A duplicate name or a settings class that is not a pydantic model fails at registration (import
time), not at first use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from omnivec.indexer.errors import ConfigError

__all__ = ["EncoderEntry", "get_entry", "register", "registered_names"]

T = TypeVar("T")


@dataclass(frozen=True)
class EncoderEntry:
    name: str
    settings_type: type[BaseModel]
    factory: Callable[..., Any]
    role: str  # "embedding" or "transcription": what the encoder produces


_REGISTRY: dict[str, EncoderEntry] = {}


def register(name: str, *, settings: type[BaseModel], role: str) -> Callable[[T], T]:
    """Class decorator: ``@register("clip", settings=ClipSettings, role="embedding")``."""
    if not (isinstance(settings, type) and issubclass(settings, BaseModel)):
        raise TypeError(f"encoder {name!r}: settings must be a pydantic model class")
    if role not in ("embedding", "transcription"):
        raise TypeError(f"encoder {name!r}: unknown role {role!r}")

    def decorate(factory: T) -> T:
        if name in _REGISTRY:
            raise ValueError(f"encoder name {name!r} is already registered")
        _REGISTRY[name] = EncoderEntry(name, settings, factory, role)  # type: ignore[arg-type]
        return factory

    return decorate


def get_entry(name: str) -> EncoderEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(f"unknown encoder {name!r}; registered encoders: {known}") from None


def registered_names() -> list[str]:
    return sorted(_REGISTRY)
