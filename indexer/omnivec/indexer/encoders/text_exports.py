"""The text encoder's ONNX and OpenVINO backends: exports of a sentence-transformers folder, made
locally and offline into the export cache (``exports.py``), and the runtime that encodes with them.

Why not ``SentenceTransformer(path, backend="onnx")``: sentence-transformers' own backends load
and export through optimum-onnx / optimum-intel, whose releases pin ``transformers<4.58`` /
``<5.6`` while this stack runs transformers 5 (sentence-transformers 6 needs it). So the same
steps are taken with the runtimes' own offline tools, which is what those helpers call underneath:

    onnx           torch.onnx.export of the whole sentence-transformers module chain (transformer,
                   pooling, dense, normalize: whatever the folder declares) -> ``model.onnx``
    onnx-int8      onnxruntime.quantization.quantize_dynamic of that, 8-bit weights per channel
                   (as ``export_dynamic_quantized_onnx_model`` does; the feed-forward blocks'
                   second MatMuls stay fp32, see _quantize_onnx) -> ``model.onnx``
    openvino       openvino.convert_model of the fp32 ONNX, saved in fp32 -> ``openvino_model.xml``
    openvino-int8  nncf.quantize of that: static int8, weights and activations, the activation
                   ranges measured on ``calibration_texts.txt`` (300 texts shipped with omnivec,
                   so no download), as ``export_static_quantized_openvino_model`` does

The source folder (in site-packages for the bundled model) is only read: every export is written
into the staging folder ``ensure_export`` hands out, with the tokenizer saved beside the model so
that the runtime never loads torch weights. Tokenization, length-sorted batching and the final
normalisation follow ``SentenceTransformer.encode``; the parity tests hold the vectors to torch's.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from omnivec.indexer.encoders.base import file_sha256
from omnivec.indexer.encoders.exports import (
    ExportKey,
    ensure_export,
    find_export,
    package_versions,
    quantize_openvino_int8,
    require_packages,
    source_digest,
)
from omnivec.indexer.errors import ConfigError

__all__ = ["ExportedTextModel", "ensure_text_export", "text_export_key"]

_META = "text_export.json"
_ONNX = "model.onnx"
_OPENVINO = "openvino_model.xml"
_FORMAT = 1
# How each variant is made, beyond the packages' versions: a new method makes a new export.
# openvino-int8 was NNCF's weight-only compression until 2026-12-01 (1.2x torch on AVX2, 1.6x on
# an AMX Xeon, where the int8 instructions need int8 activations too; static: 3.7x there).
_METHOD = {"openvino-int8": "nncf-static-mixed"}
_CALIBRATION = Path(__file__).with_name("calibration_texts.txt")
# Which installed packages make each variant (their versions salt the cache key: a new exporter
# or quantizer makes a new export) and the pip extra that provides them.
_TOOLS: dict[str, tuple[str, ...]] = {
    "onnx": ("torch", "onnx", "onnxruntime"),
    "onnx-int8": ("torch", "onnx", "onnxruntime"),
    "openvino": ("torch", "onnx", "openvino"),
    "openvino-int8": ("torch", "onnx", "openvino", "nncf"),
}
_MODEL_FILE = {"onnx": _ONNX, "onnx-int8": _ONNX, "openvino": _OPENVINO, "openvino-int8": _OPENVINO}


def text_export_key(backend: str, source: Path) -> ExportKey:
    """The cache key of ``backend``'s export of the sentence-transformers folder ``source``.

    The digest covers every file of the folder and the exporting packages' versions. Not
    max_seq_length: the graph's sequence axis is dynamic and the tokenizer truncates at run time,
    so one export serves every length."""
    if backend not in _TOOLS:
        raise ConfigError(f"text.backend {backend!r} has no export; use one of {', '.join(_TOOLS)}")
    salt = f"text-export/{_FORMAT}/{_METHOD.get(backend, '')}/" + package_versions(_TOOLS[backend])
    if backend in _METHOD:
        salt += "/" + file_sha256(_CALIBRATION)
    files = [p for p in source.rglob("*") if p.is_file()]
    return ExportKey("text", backend, source_digest(files, base=source, salt=salt))


def ensure_text_export(backend: str, source: Path, exports_dir: Path) -> Path:
    """The folder of ``backend``'s export of ``source``, made first when missing (seconds; the
    int8 and OpenVINO variants are made from the fp32 ONNX one, which is made on the way)."""
    require_packages("text.backend", backend, _TOOLS[backend])
    key = text_export_key(backend, source)
    found = find_export(exports_dir, key)
    if found is not None:
        return found
    build: Callable[[Path], None]
    if backend == "onnx":
        def build(staging: Path) -> None:
            _export_onnx(source, staging)
    else:
        parent = "openvino" if backend == "openvino-int8" else "onnx"
        parent_dir = ensure_text_export(parent, source, exports_dir)
        convert = {"onnx-int8": _quantize_onnx, "openvino": _convert_openvino,
                   "openvino-int8": _quantize_openvino}[backend]

        def build(staging: Path) -> None:
            _copy_runtime_files(parent_dir, staging)
            convert(parent_dir, staging)
    return ensure_export(exports_dir, key, build)


# -- exporters ------------------------------------------------------------------------------------
def _export_onnx(source: Path, staging: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(source), device="cpu", local_files_only=True).eval()
    tokenizer = model.tokenizer
    sample = tokenizer(["an export sample", "a second, longer export sample text"], padding=True,
                       truncation="longest_first", return_tensors="pt")
    names = list(sample.keys())

    class SentenceEmbedding(torch.nn.Module):
        """The module chain with positional inputs, as the ONNX exporter wants it."""

        def __init__(self) -> None:
            super().__init__()
            self.chain = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.chain(dict(zip(names, inputs)))["sentence_embedding"]
            return out

    axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "sequence"} for n in names}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes about shape-dependent Python branches
        # The TorchScript exporter: the dynamo one needs onnxscript and gives the same graph here.
        torch.onnx.export(
            SentenceEmbedding(), tuple(sample[n] for n in names), str(staging / _ONNX),
            input_names=names, output_names=["sentence_embedding"],
            dynamic_axes=axes | {"sentence_embedding": {0: "batch"}}, opset_version=17,
            dynamo=False,
        )
    tokenizer.save_pretrained(str(staging))
    meta = {"inputs": names, "max_seq_length": int(model.max_seq_length or 512),
            "dim": int(model.encode(["x"]).shape[1]), "source": source.name}
    (staging / _META).write_text(json.dumps(meta, indent=2))


# Ops that end an activation function (GELU exports as ... -> Mul): the MatMul they feed is the
# feed-forward block's second one, whose inputs have outliers that 8-bit activations clip.
_ACTIVATION_OPS = frozenset({"Mul", "Gelu", "FastGelu", "BiasGelu", "Relu", "Sigmoid", "Tanh"})


def _quantize_onnx(parent: Path, staging: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(parent / _ONNX)).graph
    producer = {out: node.op_type for node in graph.node for out in node.output}
    after_activation = [
        node.name for node in graph.node
        if node.op_type == "MatMul" and producer.get(node.input[0]) in _ACTIVATION_OPS
    ]
    # Measured on 1000 Debian descriptions and 100 queries against torch (tests/engine/
    # test_text_backends.py): quantizing every MatMul gave a mean cosine of 0.993 but the same
    # top-10 neighbours for only 87% of the queries; leaving the post-activation MatMuls in fp32
    # gives 0.996 and 90%. Per channel: per tensor lost more (cosine 0.960). uint8 weights: int8
    # ones saturate in AVX2's u8*s8 kernels.
    quantize_dynamic(
        parent / _ONNX, staging / _ONNX, weight_type=QuantType.QUInt8, per_channel=True,
        nodes_to_exclude=after_activation,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def _convert_openvino(parent: Path, staging: Path) -> None:
    import openvino as ov

    # compress_to_fp16 defaults to True: fp16 weights would not be the fp32 backend they claim.
    ov.save_model(ov.convert_model(parent / _ONNX), staging / _OPENVINO, compress_to_fp16=False)


def _quantize_openvino(parent: Path, staging: Path) -> None:
    import openvino as ov

    meta: dict[str, Any] = json.loads((parent / _META).read_text())
    max_length = int(meta["max_seq_length"])
    tokenize = _tokenizer(parent, max_length)
    inputs = list(meta["inputs"])
    # One text per sample, unpadded: the ranges are those of real tokens, not of padding.
    samples = [{n: v for n, v in tokenize([t]).items() if n in inputs} for t in calibration_texts()]
    quantized = quantize_openvino_int8(ov.Core().read_model(parent / _OPENVINO), samples)
    ov.save_model(quantized, staging / _OPENVINO, compress_to_fp16=False)


def calibration_texts() -> list[str]:
    """The texts whose activations set the static int8 export's ranges (``calibration_texts.txt``)."""
    lines = _CALIBRATION.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def _copy_runtime_files(parent: Path, staging: Path) -> None:
    """The tokenizer and the metadata, not the parent's model or manifest."""
    for path in parent.iterdir():
        if path.is_file() and not path.name.startswith(("model.onnx", "openvino_model", "export.json")):
            shutil.copy2(path, staging / path.name)


# -- runtime --------------------------------------------------------------------------------------
class _Session(Protocol):
    def __call__(self, feeds: dict[str, np.ndarray]) -> np.ndarray: ...


def _onnx_session(folder: Path, threads: int) -> _Session:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(folder / _ONNX), options, providers=["CPUExecutionProvider"])

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(session.run(None, feeds)[0])

    return run


def _openvino_session(folder: Path, threads: int) -> _Session:
    import openvino as ov

    # f32 inference: on CPUs with bf16 support OpenVINO would otherwise pick bf16 by itself.
    compiled = ov.Core().compile_model(
        str(folder / _OPENVINO), "CPU",
        {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads,
         "PERFORMANCE_HINT": "LATENCY"},
    )

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(compiled(feeds)[0])

    return run


class _Tokenizer(Protocol):
    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]: ...


def _tokenizer(folder: Path, max_length: int) -> _Tokenizer:
    """The export's saved tokenizer, as SentenceTransformer.encode calls it."""
    return _rust_tokenizer(folder, max_length) or _transformers_tokenizer(folder, max_length)


def _rust_tokenizer(folder: Path, max_length: int) -> _Tokenizer | None:
    """The saved ``tokenizer.json`` run by the ``tokenizers`` library itself: the same Rust
    tokenizer transformers' fast tokenizer wraps, without importing transformers (seconds of a
    cold start). None when the folder has no tokenizer.json (a slow-only tokenizer)."""
    path = folder / "tokenizer.json"
    if not path.is_file():
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    # As SentenceTransformer.encode calls it: truncate at max_seq_length, pad to the batch's
    # longest text, with the pad token the file declares.
    padding = tokenizer.padding or {}
    tokenizer.enable_truncation(max_length=max_length, strategy="longest_first",
                                direction="right")
    tokenizer.enable_padding(
        direction="right", pad_id=int(padding.get("pad_id", 0)),
        pad_type_id=int(padding.get("pad_type_id", 0)),
        pad_token=str(padding.get("pad_token", "[PAD]")),
    )

    def run(texts: list[str]) -> dict[str, np.ndarray]:
        encodings = tokenizer.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }

    return run


def _transformers_tokenizer(folder: Path, max_length: int) -> _Tokenizer:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)

    def run(texts: list[str]) -> dict[str, np.ndarray]:
        encoded = tokenizer(texts, padding=True, truncation="longest_first",
                            max_length=max_length, return_tensors="np")
        return {name: np.asarray(value, dtype=np.int64) for name, value in encoded.items()}

    return run


class ExportedTextModel:
    """Sentence embeddings from an export folder: the saved tokenizer, then one runtime call per
    batch of similar lengths (sorted like SentenceTransformer.encode, so padding stays short).
    Neither torch nor transformers is imported: the text path starts in a fraction of a second."""

    def __init__(self, folder: Path, backend: str, *, threads_for: Callable[[int], int],
                 max_seq_length: int | None = None) -> None:
        meta: dict[str, Any] = json.loads((folder / _META).read_text())
        self._inputs: list[str] = list(meta["inputs"])
        self.dim = int(meta["dim"])
        self.max_seq_length = int(max_seq_length or meta["max_seq_length"])
        self._tokenize = _tokenizer(folder, self.max_seq_length)
        self._folder = folder
        self._opener = _onnx_session if _MODEL_FILE[backend] == _ONNX else _openvino_session
        # A runtime session's thread count is fixed when it is made, so there is one session per
        # count the thread policy asks for (one for single queries, one for bulk batches on an
        # idle machine): the sessions share nothing but the file.
        self._threads_for = threads_for
        self._sessions: dict[int, _Session] = {}
        self._session(threads_for(1))  # loaded now: a bad export fails at load, not on a query

    def _session(self, threads: int) -> _Session:
        if threads not in self._sessions:
            self._sessions[threads] = self._opener(self._folder, threads)
        return self._sessions[threads]

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            encoded = self._tokenize([texts[i] for i in rows])
            run = self._session(self._threads_for(len(rows)))
            out[rows] = run({n: encoded[n] for n in self._inputs})
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        normalized: np.ndarray = out / np.maximum(norms, 1e-12)
        return normalized
