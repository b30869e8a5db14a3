"""CLIP's two towers run by ONNX Runtime or OpenVINO: exported from the loaded open_clip model.

Each tower (``image``: preprocessed pixels -> features; ``text``: token ids -> features) is
exported once per source weights and cached through :func:`ensure_export`. Preprocessing and
tokenisation stay open_clip's; only the forward pass changes. Every variant but the first is made
from the cached ONNX export, so the slow torch trace runs once per tower::

    torch model --torch.onnx.export-->  onnx-<tower>           model.onnx (fp32, dynamic batch)
        onnx-int8-<tower>      onnxruntime quantize_dynamic: int8 weights, activations
                               quantized per batch at run time (MLAS int8 kernels, fast on AVX2)
        openvino-<tower>       openvino.convert_model of model.onnx (fp32 IR)
        openvino-int8-<tower>  nncf.compress_weights: int8 weights, f32 activations

OpenVINO int8 is weight compression, not full static quantization, on purpose: on this AVX2
machine (no VNNI) NNCF's calibrated static int8 of the ViT-B-32 image tower was no faster than
fp32 (1.06x) and took 85 s to make, while weight compression keeps cosine 0.9999 to torch and makes
the export 4x smaller. Everything runs offline: the exporters read only the loaded model and files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from omnivec.indexer.config import Backend
from omnivec.indexer.encoders.exports import (
    ExportKey,
    compress_openvino_int8,
    ensure_export,
    package_versions,
    require_packages,
    source_digest,
)

__all__ = ["ONNX_OPSET", "TOWERS", "Tower", "TowerRunner", "export_key", "load_tower"]

Tower = Literal["image", "text"]
TOWERS: tuple[Tower, ...] = ("image", "text")
TowerRunner = Callable[[np.ndarray], np.ndarray]  # a batch in (pixels or token ids), features out

ONNX_OPSET = 17
# Bumped when what an export holds changes (input names, quantization choices): old ones are remade.
_EXPORT_FORMAT = 1
_INPUT_NAME: dict[Tower, str] = {"image": "pixels", "text": "tokens"}
_NEEDS: dict[str, tuple[str, ...]] = {
    "onnx": ("onnx", "onnxruntime"),
    "onnx-int8": ("onnx", "onnxruntime"),
    "openvino": ("onnx", "openvino"),
    "openvino-int8": ("onnx", "openvino", "nncf"),
}


def _salt(backend: Backend, model_name: str) -> str:
    """What besides the weights decides an export: architecture, exporter and its settings.
    (Package versions from metadata: `models list` asks for the key without importing torch.)"""
    parts = [f"clip-export/{_EXPORT_FORMAT}", model_name, f"opset={ONNX_OPSET}",
             package_versions(["torch"])]
    if backend == "onnx-int8":
        parts.append("quantize_dynamic/QInt8/per-tensor/" + package_versions(["onnxruntime"]))
    if backend.startswith("openvino"):
        parts.append(package_versions(["openvino"]))
    if backend == "openvino-int8":
        parts.append("compress_weights/INT8_ASYM/" + package_versions(["nncf"]))
    return "|".join(parts)


def _tower_module(model: Any, tower: Tower) -> Any:
    import torch  # inside: the module is importable without torch loaded (cold start)

    class TowerForward(torch.nn.Module):
        """One tower as a module whose forward is what ClipEncoder calls (unnormalised)."""

        def __init__(self, clip: Any) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            if tower == "image":
                out: torch.Tensor = self.clip.encode_image(inputs)
            else:
                out = self.clip.encode_text(inputs)
            return out

    return TowerForward(model).eval()


def _export_onnx(model: Any, tower: Tower, example: np.ndarray, folder: Path) -> None:
    import warnings

    import torch

    name = _INPUT_NAME[tower]
    # Grad enabled: under no_grad, eval-mode nn.MultiheadAttention takes its fused fast path
    # (aten::_native_multi_head_attention), which has no ONNX export.
    with warnings.catch_warnings(), torch.inference_mode(False), torch.enable_grad():
        warnings.simplefilter("ignore")  # TorchScript-exporter deprecation and tracer notes
        torch.onnx.export(
            _tower_module(model, tower),
            (torch.from_numpy(example),),
            str(folder / "model.onnx"),
            input_names=[name],
            output_names=["features"],
            dynamic_axes={name: {0: "batch"}, "features": {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, same graph every time
        )


def _quantize_onnx(source: Path, folder: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # quantize_dynamic logs a "consider pre-processing" hint through the root logger every time.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(source / "model.onnx", folder / "model.onnx", weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)


def _convert_openvino(source: Path, folder: Path, *, int8: bool) -> None:
    import openvino as ov

    converted = ov.convert_model(source / "model.onnx")
    if int8:
        converted = compress_openvino_int8(converted)
    ov.save_model(converted, folder / "model.xml", compress_to_fp16=False)


def export_key(backend: Backend, tower: Tower, model_name: str, weights: list[Path]) -> ExportKey:
    """The cache key of one tower's export: its source weights' checksum, salted."""
    digest = source_digest(weights, salt=_salt(backend, model_name) + f"|{tower}")
    return ExportKey("clip", f"{backend}-{tower}", digest)


def _export(
    root: Path, backend: Backend, tower: Tower, *, model: Any, model_name: str,
    weights: list[Path], example: np.ndarray,
) -> Path:
    key = export_key(backend, tower, model_name, weights)
    if backend == "onnx":
        return ensure_export(root, key, lambda f: _export_onnx(model, tower, example, f))
    onnx = _export(root, "onnx", tower, model=model, model_name=model_name, weights=weights,
                   example=example)
    if backend == "onnx-int8":
        return ensure_export(root, key, lambda f: _quantize_onnx(onnx, f))
    int8 = backend == "openvino-int8"
    return ensure_export(root, key, lambda f: _convert_openvino(onnx, f, int8=int8))


def _onnxruntime_runner(folder: Path, tower: Tower, threads: int) -> TowerRunner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )
    name = _INPUT_NAME[tower]

    def run(batch: np.ndarray) -> np.ndarray:
        out: np.ndarray = session.run(None, {name: batch})[0]
        return out

    return run


def _openvino_runner(folder: Path, threads: int) -> TowerRunner:
    import openvino as ov

    # f32 inference even where the CPU offers bf16: fp32 exports must give torch's vectors.
    compiled = ov.Core().compile_model(
        str(folder / "model.xml"), "CPU",
        {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"},
    )
    request = compiled.create_infer_request()  # callers serialise forward passes (one lock)

    def run(batch: np.ndarray) -> np.ndarray:
        out: np.ndarray = request.infer([batch])[0]
        return np.array(out, copy=True)  # the request reuses its output buffer

    return run


def load_tower(
    backend: Backend, tower: Tower, *, model: Any, model_name: str, weights: list[Path],
    exports_dir: Path, example: np.ndarray, threads: int,
) -> TowerRunner:
    """A runner for one tower of ``model`` on ``backend``, exporting it first if not cached.

    ``weights`` are the source files the export is keyed by (the checkpoint, plus the architecture
    JSON of a local-dir model); ``example`` is one valid input batch for the trace.
    """
    if backend == "torch":
        raise ValueError("the torch backend runs the model itself, not an export")
    require_packages("clip.backend", backend, _NEEDS[backend])
    folder = _export(exports_dir, backend, tower, model=model, model_name=model_name,
                     weights=weights, example=example)
    if backend.startswith("openvino"):
        return _openvino_runner(folder, threads)
    return _onnxruntime_runner(folder, tower, threads)
