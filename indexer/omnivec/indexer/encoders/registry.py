"""The encoders omnivec knows, each declared once, by name (like lancedb's ``@register``).

An entry says all the rest of omnivec needs to know about an encoder without loading it: its
name (also the field of :class:`~omnivec.indexer.config.Settings` holding its settings, and for
an embedding encoder the name of its embedding space), its settings class, its role, how to
describe where its weights come from, and its factory. ``ModelHub``, ``describe_weights``, the
list of embedding spaces and the checks of space names are all derived from these entries.

A duplicate name, a settings class that is not a pydantic model or not the type of
``Settings.<name>``, an unknown role, or a factory lacking its role's method fails at
registration (import time), not at first use.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from omnivec.indexer.config import Settings
from omnivec.indexer.encoders.base import WeightsInfo
from omnivec.indexer.errors import ConfigError, InvalidInputError

__all__ = [
    "EncoderEntry",
    "Role",
    "embedding_spaces",
    "entries",
    "get_entry",
    "register",
    "space_entry",
]


class Role(str, enum.Enum):
    """What an encoder produces."""

    EMBEDDING = "embedding"  # vectors of an embedding space named like the encoder
    TRANSCRIPTION = "transcription"  # text from speech


# The method each role's encoders are called through; a factory class must have it.
_ROLE_METHOD = {Role.EMBEDDING: "encode_texts", Role.TRANSCRIPTION: "transcribe"}

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class EncoderEntry:
    name: str
    settings_type: type[BaseModel]
    role: Role
    describe_weights: Callable[[Settings], WeightsInfo]  # never loads the model
    factory: Callable[[Settings], Any]  # loads it (seconds); ModelHub calls it once

    def settings(self, settings: Settings) -> BaseModel:
        """This encoder's settings: the field of ``settings`` named like the encoder."""
        own: BaseModel = getattr(settings, self.name)
        return own

    def enabled(self, settings: Settings) -> bool:
        # register() checked the field exists; BaseModel itself does not declare it.
        return bool(getattr(self.settings(settings), "enabled"))  # noqa: B009


_REGISTRY: dict[str, EncoderEntry] = {}


def register(
    name: str,
    *,
    settings: type[BaseModel],
    role: Role | str,
    describe_weights: Callable[[Settings], WeightsInfo],
) -> Callable[[F], F]:
    """Class (or factory) decorator::

        @register("clip", settings=ClipSettings, role="embedding",
                  describe_weights=describe_clip_weights)
        class ClipEncoder: ...
    """
    if name in _REGISTRY:
        raise ValueError(f"encoder name {name!r} is already registered")
    if not (isinstance(settings, type) and issubclass(settings, BaseModel)):
        raise TypeError(f"encoder {name!r}: settings must be a pydantic model class")
    try:
        kind = Role(role)
    except ValueError:
        raise TypeError(f"encoder {name!r}: unknown role {role!r}") from None
    field = Settings.model_fields.get(name)
    if field is None or field.annotation is not settings:
        raise TypeError(
            f"encoder {name!r}: its settings are read from Settings.{name}, which must be a "
            f"{settings.__name__} field"
        )
    if "enabled" not in settings.model_fields:
        raise TypeError(f"encoder {name!r}: {settings.__name__} needs an 'enabled' field")
    if not callable(describe_weights):
        raise TypeError(f"encoder {name!r}: describe_weights must be callable")

    def decorate(factory: F) -> F:
        method = _ROLE_METHOD[kind]
        if not callable(factory) or (
            isinstance(factory, type) and not callable(getattr(factory, method, None))
        ):
            raise TypeError(f"encoder {name!r}: a {kind.value} encoder needs a {method}() method")
        if name in _REGISTRY:
            raise ValueError(f"encoder name {name!r} is already registered")
        _REGISTRY[name] = EncoderEntry(name, settings, kind, describe_weights, factory)
        return factory

    return decorate


def get_entry(name: str) -> EncoderEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY) or "none"
        raise ConfigError(f"unknown encoder {name!r}; registered encoders: {known}") from None


def entries(role: Role | None = None) -> list[EncoderEntry]:
    """Every registered encoder (of ``role``), in registration order."""
    return [e for e in _REGISTRY.values() if role is None or e.role is role]


def embedding_spaces() -> tuple[str, ...]:
    """The names of the embedding spaces: one per embedding encoder."""
    return tuple(e.name for e in entries(Role.EMBEDDING))


def space_entry(space: str) -> EncoderEntry:
    """The encoder of embedding space ``space``; InvalidInputError naming the known spaces."""
    entry = _REGISTRY.get(space)
    if entry is None or entry.role is not Role.EMBEDDING:
        raise InvalidInputError(
            f"unknown space {space!r}; use one of: {', '.join(embedding_spaces())}"
        )
    return entry
