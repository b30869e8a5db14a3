"""The text encoder's ONNX and OpenVINO backends against torch, on real data (bundled MiniLM).

The exports live in the default cache (~/.cache/omnivec/exports, as for users), so a run pays each
export once and later runs none; the offline test makes the OpenVINO int8 chain from scratch in an
empty folder, with no network. Every backend embeds the same texts: the 1000 Debian package descriptions of
benchmarks/data/debian_sections.jsonl and 100 Debian retrieval queries. The bars: fp32 backends
give torch's vectors to 1e-4 per component; int8 ones a mean cosine of at least 0.99 to them, the
same top-10 neighbours for at least 90% of them, and few-shot probes within 0.5 accuracy points.
Then the engine: fp32 backends search a torch-built collection, int8 ones are refused with the
remedy unless the user opts in, and never add rows to it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnivec.client.types import SearchQuery
from omnivec.indexer.config import Settings, TextSettings
from omnivec.indexer.encoders.exports import export_state
from omnivec.indexer.encoders.sentence import SentenceEncoder, describe_text_weights
from omnivec.indexer.encoders.text_exports import text_export_key
from omnivec.indexer.errors import PrecisionMismatchError
from tests.support.paths import OMNIVEC_BIN, REPO
from tests.support.processes import unshare_available

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")
pytest.importorskip("nncf")

FP32 = ("onnx", "openvino")
INT8 = ("onnx-int8", "openvino-int8")
DATA = REPO / "benchmarks" / "data"


def _rows(name: str, limit: int | None = None) -> list[dict[str, Any]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()[:limit]
    return [json.loads(line) for line in lines if line.strip()]


SECTIONS = _rows("debian_sections.jsonl")
QUERIES = [r["query"] for r in _rows("debian_retrieval_queries.jsonl")[::28]]


@pytest.fixture(scope="module")
def exports_dir() -> Path:
    return Settings().effective_exports_dir


def _settings(backend: str, exports_dir: Path) -> Settings:
    return Settings(exports_dir=exports_dir, text=TextSettings(backend=backend))


@pytest.fixture(scope="module")
def encoders(exports_dir: Path) -> dict[str, SentenceEncoder]:
    return {b: SentenceEncoder(_settings(b, exports_dir)) for b in ("torch", *FP32, *INT8)}


@pytest.fixture(scope="module")
def embedded(encoders: dict[str, SentenceEncoder]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """backend -> (section texts' vectors, queries' vectors)."""
    texts = [r["text"] for r in SECTIONS]
    return {b: (e.encode_texts(texts), e.encode_texts(QUERIES)) for b, e in encoders.items()}


def test_specs_record_backend_and_precision_and_exports_are_ready(
    encoders: dict[str, SentenceEncoder], exports_dir: Path
) -> None:
    torch_spec = encoders["torch"].spec
    for backend, encoder in encoders.items():
        assert encoder.spec.backend == backend
        assert encoder.spec.precision == ("int8" if backend in INT8 else "fp32")
        # fp32 exports share torch's fingerprint (collections open with either); int8 do not.
        assert (encoder.spec.fingerprint == torch_spec.fingerprint) == (backend not in INT8)
        if backend != "torch":
            info = describe_text_weights(_settings(backend, exports_dir))
            assert (info.backend, info.precision, info.export) == (
                backend, encoder.spec.precision, "ready"
            )
            # The export sits in the cache, named by the bundled folder's checksum.
            folder = text_export_key(backend, Path(info.source)).folder(exports_dir)
            assert (folder / "export.json").is_file()
    assert describe_text_weights(_settings("torch", exports_dir)).export == "-"
    other = exports_dir / "elsewhere"
    key = text_export_key("onnx", Path(describe_text_weights(Settings()).source))
    assert export_state(other, key) == "not exported yet"


def test_auto_is_onnx_on_the_cpu_and_torch_on_a_gpu(exports_dir: Path) -> None:
    """The default backend: the fp32 ONNX export on the CPU (the parity above holds for it)."""
    assert TextSettings().backend == "auto"
    assert TextSettings().resolved_backend("cpu") == "onnx"
    assert TextSettings().resolved_backend("cuda") == "torch"
    assert TextSettings(backend="openvino").resolved_backend("cpu") == "openvino"
    info = describe_text_weights(Settings(exports_dir=exports_dir))
    assert (info.backend, info.precision) == ("onnx", "fp32")


def test_fp32_backends_give_torch_vectors(embedded: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    for backend in FP32:
        for got, want in zip(embedded[backend], embedded["torch"]):
            assert float(np.abs(got - want).max()) <= 1e-4, backend


def test_openvino_int8_quantizes_activations_too(
    encoders: dict[str, SentenceEncoder], exports_dir: Path
) -> None:
    """Static int8: NNCF puts FakeQuantize on the activations it calibrated on the shipped texts
    (weight compression alone would leave none, and no int8 instruction could run)."""
    import openvino as ov

    from omnivec.indexer.encoders.text_exports import calibration_texts

    assert len(calibration_texts()) == 300
    info = describe_text_weights(_settings("openvino-int8", exports_dir))
    folder = text_export_key("openvino-int8", Path(info.source)).folder(exports_dir)
    ops = [op.get_type_name() for op in ov.Core().read_model(folder / "openvino_model.xml").get_ops()]
    assert ops.count("FakeQuantize") >= 24  # 6 layers x (q, k, v, out, 2 feed-forward) at least


def test_int8_backends_are_close_to_torch(embedded: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    torch_docs, torch_queries = embedded["torch"]
    for backend in INT8:
        docs, queries = embedded[backend]
        cosine = float(np.mean(np.sum(docs * torch_docs, axis=1)))
        assert cosine >= 0.99, (backend, cosine)
        # Top-10 neighbours of each query among the 1000 descriptions, as torch ranks them.
        want = np.argsort(-(torch_queries @ torch_docs.T), axis=1)[:, :10]
        got = np.argsort(-(queries @ docs.T), axis=1)[:, :10]
        overlap = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got, want)])
        assert overlap >= 0.9, (backend, overlap)


def test_probe_accuracy_matches_torch(embedded: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    from omnivec.indexer.probes import ProbeTrainingConfig, train_probe

    labels = np.asarray([r["section"] for r in SECTIONS])
    rng = np.random.default_rng(7)
    draws = []
    for _ in range(5):  # 16 shots per section, tested on the other 840 rows
        train = np.concatenate(
            [rng.choice(np.flatnonzero(labels == c), 16, replace=False) for c in np.unique(labels)]
        )
        draws.append((train, np.setdiff1d(np.arange(len(labels)), train)))
    config = ProbeTrainingConfig(seed=0, c_grid=(10.0,), refine_steps=0, holdout_fraction=0.0)

    def accuracy(X: np.ndarray) -> float:
        scores = []
        for train, test in draws:
            model, _ = train_probe(X[train], list(labels[train]), config=config)
            scores.append(np.mean(np.asarray(model.predict(X[test])) == labels[test]))
        return 100 * float(np.mean(scores))

    reference = accuracy(embedded["torch"][0])
    assert reference > 60  # the probe learned the sections: the comparison means something
    for backend in (*FP32, *INT8):
        assert abs(accuracy(embedded[backend][0]) - reference) <= 0.5, backend


def test_collections_follow_precision_not_backend(
    settings: Settings, exports_dir: Path, tmp_path: Path,
) -> None:
    from omnivec.indexer.engine import Engine

    manifest = tmp_path / "notes.jsonl"
    manifest.write_text("".join(json.dumps({"id": r["package"], "text": r["text"]}) + "\n"
                                for r in SECTIONS[:40]))

    def engine_with(backend: str, allow: bool = False) -> Any:
        own = settings.model_copy(update={
            "exports_dir": exports_dir,
            "text": settings.text.model_copy(update={"backend": backend}),
            "index": settings.index.model_copy(update={"allow_precision_mismatch": allow}),
        })
        return Engine(own)  # its text encoder loads the cached export

    engine = engine_with("torch")  # built by torch, searched by the exports
    engine.create_collection("precision", ["text"])
    assert engine.index_paths("precision", [manifest]).indexed == 40

    query = SearchQuery(text=QUERIES[0], k=3, spaces=["text"], mode="vector")
    want = [h.id for h in engine.search("precision", query).hits]
    assert [h.id for h in engine_with("openvino").search("precision", query).hits] == want

    with pytest.raises(PrecisionMismatchError) as refused:
        engine_with("onnx-int8").search("precision", query)
    message = str(refused.value)
    assert "holds fp32 vectors (built with backend torch)" in message
    assert "makes int8 vectors (backend onnx-int8)" in message
    assert 'text.backend = "torch"' in message and "allow_precision_mismatch" in message

    opted_in = engine_with("onnx-int8", allow=True)
    assert [h.id for h in opted_in.search("precision", query).hits][:1] == want[:1]
    with pytest.raises(PrecisionMismatchError, match="rows of two precisions are never mixed"):
        opted_in.index_paths("precision", [])
    engine.delete_collection("precision")


@pytest.mark.offline
@pytest.mark.slow
@pytest.mark.skipif(not unshare_available(), reason="`unshare -n` is not permitted here")
def test_exports_are_made_and_loaded_with_no_network(cli_env: dict[str, str], tmp_path: Path) -> None:
    import os
    import subprocess

    env = {**os.environ, **cli_env, "OMNIVEC_TEXT__BACKEND": "openvino-int8",
           "OMNIVEC_EXPORTS_DIR": str(tmp_path / "fresh")}
    done = subprocess.run(
        ["unshare", "-n", str(OMNIVEC_BIN), "embed", "--text", QUERIES[0], "--space", "text",
         "--json"], capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    vector = np.asarray(json.loads(done.stdout)["embeddings"][0]["vector"])
    want = SentenceEncoder(_settings("torch", tmp_path)).encode_texts(QUERIES[:1])[0]
    assert float(vector @ want) >= 0.99
    made = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "fresh" / "text").iterdir()
                  if p.is_dir())
    assert made == ["onnx", "openvino", "openvino-int8"]
