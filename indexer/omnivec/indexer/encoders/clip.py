"""CLIP (open_clip): images through the image tower, texts through the text tower, one space.

Weights come from exactly one of: a local checkpoint file or folder (``clip.checkpoint``), an
open_clip ``local-dir:`` model, or a pretrained tag downloaded once into a cache where the settings
allow. Random weights are never used: with no weights found we raise WeightsUnavailableError that
names the model, the tag and the setting that points at a local checkpoint.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from omnivec.indexer.concurrency import prefetch_map
from omnivec.indexer.config import ClipSettings, Settings
from omnivec.indexer.encoders.base import EncoderSpec, WeightsInfo, file_sha256, require_list
from omnivec.indexer.encoders.clip_runtime import TOWERS, TowerRunner, export_key, load_tower
from omnivec.indexer.encoders.exports import export_state, precision_of
from omnivec.indexer.encoders.registry import register
from omnivec.indexer.errors import ConfigError, WeightsUnavailableError
from omnivec.indexer.media import MediaSource, decode_image
from omnivec.indexer.threads import ThreadPolicy

if TYPE_CHECKING:  # torch loads with the model (ClipEncoder()), not when the registry is read
    import torch

__all__ = ["ClipEncoder", "describe_clip_weights", "resolve_clip_weights"]

CHECKPOINT_HINT = (
    "set clip.checkpoint in the config file or OMNIVEC_CLIP__CHECKPOINT=/path/to/"
    "open_clip_pytorch_model.bin (a file, or a folder holding one) to use local weights"
)


@contextmanager
def _hub_offline(enabled: bool) -> Iterator[None]:
    """Force huggingface_hub (used by open_clip) to stay off the network for this block."""
    if not enabled:
        yield
        return
    old = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as hub_constants

        previous = hub_constants.HF_HUB_OFFLINE
        hub_constants.HF_HUB_OFFLINE = True
        try:
            yield
        finally:
            hub_constants.HF_HUB_OFFLINE = previous
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _register_architectures(cfg: ClipSettings) -> None:
    if cfg.architecture_file is None:
        return
    import open_clip

    if not cfg.architecture_file.exists():
        raise ConfigError(f"clip.architecture_file {cfg.architecture_file} does not exist")
    open_clip.add_model_config(cfg.architecture_file)


def _cached_tag_file(model: str, tag: str, cache_dir: Path | None) -> Path | None:
    """The cached checkpoint of a pretrained tag, or None; never touches the network."""
    import open_clip
    from huggingface_hub import try_to_load_from_cache

    pcfg = open_clip.get_pretrained_cfg(model, tag)
    hub_id = pcfg.get("hf_hub", "")
    if not hub_id:
        return None
    parts = hub_id.strip("/").split("/")
    repo_id = "/".join(parts[:2])
    candidates = [
        "/".join(parts[2:]) or "open_clip_pytorch_model.bin",
        "open_clip_model.safetensors",
        "open_clip_pytorch_model.bin",
    ]
    for filename in candidates:
        found = try_to_load_from_cache(
            repo_id, filename, cache_dir=str(cache_dir) if cache_dir else None
        )
        if isinstance(found, str):
            return Path(found)
    return None


def resolve_clip_weights(cfg: ClipSettings, *, offline: bool) -> tuple[str, str | None, str]:
    """Decide how to load CLIP: returns (open_clip model name, pretrained arg, weights identity).

    Raises WeightsUnavailableError (never falls back to random weights) with the remedy.
    """
    import open_clip

    _register_architectures(cfg)
    if cfg.checkpoint is not None:
        path = cfg.checkpoint.expanduser()
        if not path.exists():
            raise WeightsUnavailableError(
                f"CLIP checkpoint {path} (clip.checkpoint) does not exist for model "
                f"{cfg.model!r}; fix the path or unset it to use the pretrained tag"
            )
        if path.is_dir():
            if (path / "open_clip_config.json").is_file():
                found = _find_dir_checkpoint(path)
                return f"local-dir:{path}", None, f"sha256:{file_sha256(found)}"
            found = _find_dir_checkpoint(path)
            path = found
        if cfg.model not in open_clip.list_models():
            raise ConfigError(
                f"clip.model {cfg.model!r} is not a known open_clip architecture; register its "
                "JSON with clip.architecture_file or use a 'local-dir:' folder"
            )
        return cfg.model, str(path), f"sha256:{file_sha256(path)}"
    if cfg.model.startswith("local-dir:"):
        folder = Path(cfg.model.removeprefix("local-dir:"))
        if not (folder / "open_clip_config.json").is_file():
            raise WeightsUnavailableError(
                f"CLIP folder {folder} has no open_clip_config.json; {CHECKPOINT_HINT}"
            )
        return cfg.model, None, f"sha256:{file_sha256(_find_dir_checkpoint(folder))}"
    if not cfg.pretrained:
        raise WeightsUnavailableError(
            f"no CLIP weights configured for model {cfg.model!r} (clip.pretrained is empty and "
            f"clip.checkpoint unset); {CHECKPOINT_HINT}, or set clip.enabled = false"
        )
    if cfg.model not in open_clip.list_models():
        raise ConfigError(f"clip.model {cfg.model!r} is not a known open_clip architecture")
    tags = open_clip.list_pretrained_tags_by_model(cfg.model)
    if cfg.pretrained not in tags:
        raise ConfigError(
            f"clip.pretrained {cfg.pretrained!r} is not a tag of {cfg.model!r}; "
            f"known tags: {', '.join(tags) or 'none'}"
        )
    if offline and _cached_tag_file(cfg.model, cfg.pretrained, cfg.cache_dir) is None:
        raise WeightsUnavailableError(
            f"CLIP weights for model {cfg.model!r} tag {cfg.pretrained!r} are not in the local "
            f"cache and offline mode forbids downloading them; {CHECKPOINT_HINT}"
        )
    return cfg.model, cfg.pretrained, f"tag:{cfg.pretrained}"


def _weights_files(cfg: ClipSettings, model_name: str, pretrained: str | None) -> list[Path]:
    """The files an export is made from (what its cache key checksums): the checkpoint, and the
    architecture JSON of a local-dir model."""
    if pretrained is not None and cfg.checkpoint is not None:
        return [Path(pretrained)]
    if model_name.startswith("local-dir:"):
        folder = Path(model_name.removeprefix("local-dir:"))
        return [_find_dir_checkpoint(folder), folder / "open_clip_config.json"]
    assert pretrained is not None  # resolve_clip_weights: a tag otherwise
    found = _cached_tag_file(model_name, pretrained, cfg.cache_dir)  # just loaded: cached now
    if found is None:
        raise WeightsUnavailableError(
            f"clip.backend {cfg.backend!r} exports the weights of tag {pretrained!r}, but they "
            f"are not in the local cache; {CHECKPOINT_HINT}"
        )
    return [found]


def _find_dir_checkpoint(folder: Path) -> Path:
    for pattern in ("*.safetensors", "*.bin", "*.pt", "*.pth"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    raise WeightsUnavailableError(
        f"CLIP folder {folder} holds no weights file (.safetensors, .bin, .pt, .pth); "
        f"{CHECKPOINT_HINT}"
    )


def describe_clip_weights(settings: Settings) -> WeightsInfo:
    """Where CLIP weights would come from and whether they load without the network."""
    cfg = settings.clip
    try:
        model, pretrained, identity = resolve_clip_weights(cfg, offline=True)
    except (WeightsUnavailableError, ConfigError) as exc:
        note = str(exc)
        if isinstance(exc, WeightsUnavailableError) and cfg.checkpoint is None and not settings.offline:
            note = (
                f"tag {cfg.pretrained!r} of {cfg.model!r} is not downloaded yet: `omnivec models "
                f"pull` fetches it once into the cache; or {CHECKPOINT_HINT}"
            )
        return WeightsInfo("clip", cfg.model, _clip_source(cfg), False, note, cfg.backend,
                           precision_of(cfg.backend))
    export = "-"
    if cfg.backend != "torch":  # a checksum of the weights, never an export or a model load
        try:
            weights = _weights_files(cfg, model, pretrained)
        except WeightsUnavailableError:
            export = "not exported yet"
        else:
            states = {export_state(settings.effective_exports_dir,
                                   export_key(cfg.backend, tower, model, weights))
                      for tower in TOWERS}
            export = states.pop() if len(states) == 1 else "not exported yet"
    return WeightsInfo("clip", cfg.model, _clip_source(cfg), True, identity, cfg.backend,
                       precision_of(cfg.backend), export)


def _clip_source(cfg: ClipSettings) -> str:
    if cfg.checkpoint is not None:
        return f"checkpoint {cfg.checkpoint}"
    if cfg.model.startswith("local-dir:"):
        return cfg.model
    return f"pretrained tag {cfg.pretrained} (cache: {cfg.cache_dir or 'huggingface default'})"


@register(
    "clip", settings=ClipSettings, role="embedding", describe_weights=describe_clip_weights
)
class ClipEncoder:
    """open_clip model + its exact eval preprocessing; outputs L2-normalised float32 vectors."""

    space = "clip"

    def __init__(self, settings: Settings) -> None:
        import open_clip
        import torch

        cfg = settings.clip
        self._cfg = cfg
        self._device = torch.device(settings.device)
        model_name, pretrained, identity = resolve_clip_weights(cfg, offline=settings.offline)
        cache_dir = str(cfg.cache_dir) if cfg.cache_dir else None
        # A tag already in the cache loads with the hub forced offline: no network round trip.
        cached = pretrained is not None and identity.startswith("tag:") and (
            _cached_tag_file(model_name, pretrained, cfg.cache_dir) is not None
        )
        try:
            with _hub_offline(settings.offline or cached or not identity.startswith("tag:")):
                model, _, preprocess = open_clip.create_model_and_transforms(
                    model_name, pretrained=pretrained, device=self._device, cache_dir=cache_dir
                )
        except (WeightsUnavailableError, ConfigError):
            raise
        except Exception as exc:
            raise WeightsUnavailableError(
                f"could not load CLIP model {cfg.model!r} with weights {pretrained or model_name!r}: "
                f"{exc}; {CHECKPOINT_HINT}"
            ) from exc
        model.eval()
        self._model = model
        self.preprocess = preprocess
        self._tokenizer = open_clip.get_tokenizer(model_name, cache_dir=cache_dir)
        with torch.inference_mode():
            probe = self._tokenizer(["x"]).to(self._device)
            self.dim = int(model.encode_text(probe).shape[-1])
        self._image_runner: TowerRunner | None = None
        self._text_runner: TowerRunner | None = None
        if cfg.backend != "torch":
            self._load_exports(settings, model_name, pretrained)
        self.spec = EncoderSpec(
            encoder="clip",
            model=cfg.model if not cfg.model.startswith("local-dir:") else "local-dir",
            weights=identity,
            dim=self.dim,
            normalized=True,
            extra={"open_clip_model": model_name},
            backend=cfg.backend,
            precision=precision_of(cfg.backend),
        )
        self._decode_pool = ThreadPoolExecutor(
            max_workers=settings.decode_workers, thread_name_prefix="clip-decode"
        )
        # One forward pass at a time: torch already uses every core inside a pass, and
        # concurrent passes on 2 cores only thrash. Decoding runs beside it on its own threads.
        self._lock = threading.Lock()
        self._threads = ThreadPolicy(settings)  # threads by the kind of work (omnivec.indexer.threads)

    def _load_exports(self, settings: Settings, model_name: str, pretrained: str | None) -> None:
        """Both towers on the configured ONNX/OpenVINO backend, exported (once) from this model."""
        if self._device.type != "cpu":
            raise ConfigError(
                f"clip.backend {self._cfg.backend!r} runs on the CPU; with device "
                f"{settings.device!r} use clip.backend = \"torch\""
            )
        size = getattr(self._model.visual, "image_size", 224)
        side = size if isinstance(size, int) else int(size[0])
        common = {
            "model": self._model, "model_name": model_name, "exports_dir":
            settings.effective_exports_dir, "weights": _weights_files(self._cfg, model_name,
            pretrained), "threads": settings.effective_torch_threads,
        }
        self._image_runner = load_tower(
            self._cfg.backend, "image", example=np.zeros((2, 3, side, side), np.float32), **common
        )
        self._text_runner = load_tower(
            self._cfg.backend, "text", example=self._tokenizer(["a photo", "x"]).numpy(), **common
        )

    @property
    def batch_size(self) -> int:
        return self._cfg.batch_size

    # -- images -------------------------------------------------------------------------------
    def load_image_tensor(self, source: MediaSource, *, name: str | None = None) -> torch.Tensor:
        """Decode and preprocess one image (runs on decode workers, not the model thread)."""
        image = decode_image(source, name=name)
        tensor: torch.Tensor = self.preprocess(image)
        return tensor

    def encode_image_tensors(self, tensors: Sequence[torch.Tensor]) -> np.ndarray:
        """One forward pass over already-preprocessed images."""
        import torch

        if not tensors:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = torch.stack(list(tensors)).to(self._device)
        with self._lock, self._threads.torch_threads(len(tensors)), torch.inference_mode():
            if self._image_runner is not None:
                features = torch.from_numpy(self._image_runner(batch.numpy()))
            else:
                features = self._model.encode_image(batch)
        return _normalise(features)

    def encode_images(self, sources: Sequence[MediaSource]) -> np.ndarray:
        """Embed images (paths or bytes); decoding overlaps inference. Raises on a bad image."""
        sources = require_list(sources, "images")
        out: list[np.ndarray] = []
        pending: list[torch.Tensor] = []
        for _, result in prefetch_map(
            self.load_image_tensor,
            sources,
            executor=self._decode_pool,
            window=self.batch_size * 2,
        ):
            if isinstance(result, BaseException):
                raise result
            pending.append(result)
            if len(pending) >= self.batch_size:
                out.append(self.encode_image_tensors(pending))
                pending = []
        if pending:
            out.append(self.encode_image_tensors(pending))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    # -- texts --------------------------------------------------------------------------------
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts through the text tower (truncated to the model's context length)."""
        texts = require_list(texts, "texts")
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for start in range(0, len(texts), self._text_batch):
            tokens = self._tokenizer(list(texts[start : start + self._text_batch]))
            with self._lock, self._threads.torch_threads(len(tokens)), torch.inference_mode():
                if self._text_runner is not None:
                    features = torch.from_numpy(self._text_runner(tokens.numpy()))
                else:
                    features = self._model.encode_text(tokens.to(self._device))
                out.append(_normalise(features))
        return np.concatenate(out)

    _text_batch = 128

    def close(self) -> None:
        self._decode_pool.shutdown(wait=False, cancel_futures=True)


def _normalise(features: torch.Tensor) -> np.ndarray:
    features = features.float()
    features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return features.cpu().numpy().astype(np.float32, copy=False)

