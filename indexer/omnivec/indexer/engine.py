"""The engine facade: everything the CLI and the gRPC server ask of omnivec, in plain Python.

The server is a thin translation layer over this class; the CLI calls it directly (or a remote
twin with the same methods when given ``--server``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omnivec.indexer.config import Settings
from omnivec.indexer.encoders.base import EncoderSpec, require_list
from omnivec.indexer.encoders.speech import Transcript
from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.media import MediaSource
from omnivec.indexer.models import EMBEDDING_SPACES, ModelHub

__all__ = ["Embedding", "Engine"]


@dataclass(frozen=True)
class Embedding:
    """Vectors for a batch of inputs, with the encoder that made them."""

    vectors: np.ndarray  # (n, dim) float32, L2-normalised
    space: str
    spec: EncoderSpec
    transcripts: tuple[Transcript, ...] = ()  # for audio inputs: what was embedded


class Engine:
    """In-process omnivec: models, collections, indexing, search and probes."""

    def __init__(self, settings: Settings, models: ModelHub | None = None) -> None:
        self.settings = settings
        self.models = models or ModelHub(settings)

    # -- embedding ----------------------------------------------------------------------------
    def embed_texts(self, texts: Sequence[str], *, space: str = "text") -> Embedding:
        texts = require_list(texts, "texts")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise InvalidInputError(f"texts[{i}] is empty; send non-empty text")
        encoder = self.models.embedder(_check_space(space))
        return Embedding(encoder.encode_texts(texts), space, encoder.spec)

    def embed_images(self, images: Sequence[MediaSource], *, space: str = "clip") -> Embedding:
        if _check_space(space) != "clip":
            raise InvalidInputError(
                f"images can only be embedded in the clip space, not {space!r}; use --space clip"
            )
        encoder = self.models.clip()
        return Embedding(encoder.encode_images(require_list(images, "images")), space, encoder.spec)

    def embed_audio(self, clips: Sequence[MediaSource], *, space: str = "text") -> Embedding:
        """Audio is embedded through its transcript, in either text-capable space."""
        transcripts = tuple(self.transcribe(c) for c in require_list(clips, "clips"))
        texts = [t.text if t.text.strip() else " " for t in transcripts]
        encoder = self.models.embedder(_check_space(space))
        return Embedding(encoder.encode_texts(texts), space, encoder.spec, transcripts)

    def transcribe(self, clip: MediaSource) -> Transcript:
        return self.models.speech().transcribe(clip)

    def close(self) -> None:
        self.models.close()


def _check_space(space: str) -> str:
    if space not in EMBEDDING_SPACES:
        raise InvalidInputError(
            f"unknown space {space!r}; use one of: {', '.join(EMBEDDING_SPACES)}"
        )
    return space
