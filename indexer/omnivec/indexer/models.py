"""The process-wide set of loaded encoders, created lazily from settings and shared.

Loading a model takes seconds, so each is created once, on first use, under a lock; the server
can also warm them all at start. Thread counts are applied here, once, before any model runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from omnivec.indexer.config import Settings
from omnivec.indexer.encoders.base import WeightsInfo
from omnivec.indexer.encoders.clip import ClipEncoder, describe_clip_weights
from omnivec.indexer.encoders.registry import get_entry
from omnivec.indexer.encoders.sentence import SentenceEncoder, describe_text_weights
from omnivec.indexer.encoders.speech import WhisperTranscriber, describe_speech_weights
from omnivec.indexer.errors import ConfigError, FailedPreconditionError

__all__ = ["EMBEDDING_SPACES", "ModelHub", "apply_thread_settings", "describe_weights"]

EMBEDDING_SPACES = ("clip", "text")

_threads_applied = False


def apply_thread_settings(settings: Settings) -> None:
    """Set torch's intra-op thread count once per process (torch refuses later changes)."""
    global _threads_applied
    if _threads_applied:
        return
    import torch

    torch.set_num_threads(settings.effective_torch_threads)
    _threads_applied = True


def describe_weights(settings: Settings) -> list[WeightsInfo]:
    """One line per configured encoder, without loading any model."""
    infos = []
    if settings.clip.enabled:
        infos.append(describe_clip_weights(settings))
    if settings.text.enabled:
        infos.append(describe_text_weights(settings))
    if settings.speech.enabled:
        infos.append(describe_speech_weights(settings))
    return infos


class ModelHub:
    """Lazily created, shared encoders for one Settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._models: dict[str, Any] = {}
        self._locks = {name: threading.Lock() for name in ("clip", "text", "speech")}
        self._wrapper: Callable[[Any], Any] | None = None

    def set_embedder_wrapper(self, wrapper: Callable[[Any], Any]) -> None:
        """Wrap clip/text encoders as they are created (the server installs dynamic batching).

        The wrapper must keep the encoder's interface. Encoders created earlier are wrapped now.
        """
        self._wrapper = wrapper
        for name in ("clip", "text"):
            if name in self._models:
                self._models[name] = wrapper(self._models[name])

    def _enabled(self, name: str) -> bool:
        return bool(getattr(self.settings, name).enabled)

    def _get(self, name: str) -> Any:
        if name not in self._locks:
            raise ConfigError(f"unknown encoder {name!r}; use one of clip, text, speech")
        if not self._enabled(name):
            raise FailedPreconditionError(
                f"the {name} encoder is disabled ({name}.enabled = false); enable it in the config"
            )
        model = self._models.get(name)
        if model is not None:
            return model
        with self._locks[name]:
            model = self._models.get(name)
            if model is None:
                apply_thread_settings(self.settings)
                model = get_entry(name).factory(self.settings)
                if self._wrapper is not None and name != "speech":
                    model = self._wrapper(model)
                self._models[name] = model
        return model

    def clip(self) -> ClipEncoder:
        encoder: ClipEncoder = self._get("clip")
        return encoder

    def text(self) -> SentenceEncoder:
        encoder: SentenceEncoder = self._get("text")
        return encoder

    def speech(self) -> WhisperTranscriber:
        transcriber: WhisperTranscriber = self._get("speech")
        return transcriber

    def embedder(self, space: str) -> ClipEncoder | SentenceEncoder:
        if space == "clip":
            return self.clip()
        if space == "text":
            return self.text()
        raise ConfigError(f"unknown space {space!r}; use one of: {', '.join(EMBEDDING_SPACES)}")

    def loaded(self) -> list[str]:
        return sorted(self._models)

    def close(self) -> None:
        for model in self._models.values():
            model.close()
        self._models.clear()
