"""The process-wide set of loaded encoders, created lazily from settings and shared.

Which encoders exist, their settings, roles and factories come from the encoder registry
(:mod:`omnivec.indexer.encoders.registry`); nothing here names an encoder except the typed
accessors. Loading a model takes seconds, so each is created once, on first use, under its own
lock; the server warms them at start, in parallel (omnivec.server.warm_up). Loading an encoder
imports only its own libraries: torch and open_clip load with CLIP or MiniLM, CTranslate2 with
Whisper, never with the registry. Thread counts are set per forward pass by the kind of work
(:mod:`omnivec.indexer.threads`); here, once, the query count for whatever runs in between.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, get_args

from omnivec.indexer.config import Settings
from omnivec.indexer.encoders import (
    ClipEncoder,
    Role,
    SentenceEncoder,
    WhisperTranscriber,
    embedding_spaces,
    entries,
    get_entry,
    space_entry,
)
from omnivec.indexer.encoders.base import Embedder, WeightsInfo
from omnivec.indexer.errors import FailedPreconditionError, InvalidInputError

__all__ = ["EMBEDDING_SPACES", "ModelHub", "apply_thread_settings", "describe_weights"]

EMBEDDING_SPACES = embedding_spaces()
"""The embedding spaces of the built-in encoders, as registered at import."""

_threads_applied = False


def apply_thread_settings(settings: Settings) -> None:
    """Set torch's intra-op thread count once per process, if an encoder imported torch (one
    that did not, Whisper, must not pay for importing it)."""
    global _threads_applied
    if _threads_applied or "torch" not in sys.modules:
        return
    # `import`, not sys.modules: while another thread is still importing torch (CLIP's loader
    # beside Whisper's at server start-up), sys.modules holds a half-initialised torch without
    # set_num_threads, and Whisper's load failed with AttributeError (health NOT_SERVING for
    # good; a CI run, 3 start-ups in 38). The import statement waits for that import to finish.
    import torch

    torch.set_num_threads(settings.effective_torch_threads)
    _threads_applied = True


def describe_weights(settings: Settings) -> list[WeightsInfo]:
    """One line per enabled encoder, in registration order, without loading any model."""
    return [e.describe_weights(settings) for e in entries() if e.enabled(settings)]


def make_exports(
    settings: Settings, encoders: Sequence[str] | None = None, backend: str | None = None
) -> list[tuple[WeightsInfo, WeightsInfo]]:
    """Make now, offline and from the local weights, the ONNX/OpenVINO exports that the
    embedding encoders' backends use; a server or an index run would otherwise make them at
    first use (seconds to minutes). Returns (before, after) per encoder.

    Loading an encoder on an exported backend is what exports it, cached by a checksum of the
    source weights (:mod:`omnivec.indexer.encoders.exports`): one already made and current is
    kept, a stale one is made again. ``encoders``: embedding encoder names (default: every
    enabled one); ``backend``: instead of each one's configured backend. An encoder on ``torch``
    has nothing to export and is only described."""
    known = entries(Role.EMBEDDING)
    names = list(encoders) if encoders else [e.name for e in known if e.enabled(settings)]
    by_name = {e.name: e for e in known}
    for name in names:
        if name not in by_name:
            raise InvalidInputError(
                f"unknown embedding encoder {name!r}; use {', '.join(by_name)}"
            )
        if not by_name[name].enabled(settings):
            raise FailedPreconditionError(
                f"the {name} encoder is disabled ({name}.enabled = false); enable it in the config"
            )
    if backend is not None:
        settings = _with_backend(settings, backend, names)
    hub = ModelHub(settings)
    out: list[tuple[WeightsInfo, WeightsInfo]] = []
    try:
        for name in names:
            entry = by_name[name]
            before = entry.describe_weights(settings)
            if before.backend != "torch":
                hub.get(name)
                hub.close()  # one encoder in memory at a time
            out.append((before, entry.describe_weights(settings)))
    finally:
        hub.close()
    return out


def _with_backend(settings: Settings, backend: str, encoders: Sequence[str]) -> Settings:
    """``settings`` with ``backend`` for each of ``encoders``, checked like the config file."""
    from pydantic import ValidationError

    updates: dict[str, Any] = {}
    for name in encoders:
        section = getattr(settings, name)
        try:
            updates[name] = type(section).model_validate(
                {**section.model_dump(), "backend": backend}
            )
        except ValidationError as exc:
            allowed = type(section).model_fields["backend"].annotation
            raise InvalidInputError(
                f"{backend!r} is not a {name} backend; use one of: {', '.join(get_args(allowed))}"
            ) from exc
    return settings.model_copy(update=updates)


class ModelHub:
    """Lazily created, shared encoders for one Settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._models: dict[str, Any] = {}
        self._locks = {entry.name: threading.Lock() for entry in entries()}
        self._wrapper: Callable[[Any], Any] | None = None
        self._load_listeners: list[Callable[[str], None]] = []

    def set_embedder_wrapper(self, wrapper: Callable[[Any], Any]) -> None:
        """Wrap embedding encoders as they are created (the server installs dynamic batching).

        The wrapper must keep the encoder's interface. Encoders created earlier are wrapped now.
        """
        self._wrapper = wrapper
        for entry in entries(Role.EMBEDDING):
            if entry.name in self._models:
                self._models[entry.name] = wrapper(self._models[entry.name])

    def add_load_listener(self, listener: Callable[[str], None]) -> None:
        """``listener(name)`` runs after each encoder this hub loads, on the loading thread: the
        server's health follows an encoder that its start-up could not load and a later call
        did (weights copied in after the start)."""
        self._load_listeners.append(listener)

    def get(self, name: str) -> Any:
        """The encoder registered as ``name``, loaded on first use."""
        entry = get_entry(name)
        if not entry.enabled(self.settings):
            raise FailedPreconditionError(
                f"the {name} encoder is disabled ({name}.enabled = false); enable it in the config"
            )
        model = self._models.get(name)
        if model is not None:
            return model
        # An encoder registered after this hub was made gets its lock here (setdefault is atomic).
        loaded_here = False
        with self._locks.setdefault(name, threading.Lock()):
            model = self._models.get(name)
            if model is None:
                model = entry.factory(self.settings)
                apply_thread_settings(self.settings)
                if self._wrapper is not None and entry.role is Role.EMBEDDING:
                    model = self._wrapper(model)
                self._models[name] = model
                loaded_here = True
        if loaded_here:  # outside the lock: a listener may ask for this encoder
            for listener in self._load_listeners:
                listener(name)
        return model

    def clip(self) -> ClipEncoder:
        encoder: ClipEncoder = self.get("clip")
        return encoder

    def text(self) -> SentenceEncoder:
        encoder: SentenceEncoder = self.get("text")
        return encoder

    def speech(self) -> WhisperTranscriber:
        transcriber: WhisperTranscriber = self.get("speech")
        return transcriber

    def embedder(self, space: str) -> Embedder:
        """The encoder of embedding space ``space`` (InvalidInputError for an unknown one)."""
        encoder: Embedder = self.get(space_entry(space).name)
        return encoder

    def loaded(self) -> list[str]:
        return sorted(self._models)

    def close(self) -> None:
        for model in self._models.values():
            model.close()
        self._models.clear()
