"""Figure 5: cold start, from process start to the first answered query, default encoders.

omnivec: ``python -m omnivec.cli.main serve --port 0`` (what ``omnivec serve`` runs) over a data dir
holding a small clip+text collection, with the default encoders: MiniLM text, Whisper tiny.en speech
and CLIP ViT-B-32 from the local checkpoint. Timed from ``Popen`` to the first answered text search
over gRPC (both spaces), and to health SERVING (every encoder warmed).

Raw: a Python process that imports the same libraries, loads MiniLM and the CLIP checkpoint with
open_clip, builds a FAISS flat index over the same vectors, encodes the query in both spaces and
searches (first answer), then loads faster-whisper (all loaded). Same threads, same files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.bench.common import BenchContext, FigureResult, Measure, paired, stats

ROWS = 1000
QUERY = "a photo of a cat on a sofa"

RAW_SCRIPT = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np, torch, faiss
from sentence_transformers import SentenceTransformer
text_path, clip_model, clip_ckpt, whisper_path, vec_dir, threads, query = sys.argv[1:8]
torch.set_num_threads(int(threads))
st = SentenceTransformer(text_path, device="cpu", local_files_only=True)
indexes = {}
for space in ("clip", "text"):
    x = np.load(f"{vec_dir}/{space}.npy")
    index = faiss.IndexFlatIP(x.shape[1]); index.add(x); indexes[space] = index
v_text = st.encode([query], normalize_embeddings=True)
indexes["text"].search(v_text, 10)
print("text-answered", flush=True)
import open_clip
from faster_whisper import WhisperModel
model, _, preprocess = open_clip.create_model_and_transforms(clip_model, pretrained=clip_ckpt)
model.eval()
tokenizer = open_clip.get_tokenizer(clip_model)
with torch.inference_mode():
    f = model.encode_text(tokenizer([query])).float()
v_clip = (f / f.norm(dim=-1, keepdim=True)).numpy()
indexes["clip"].search(v_clip, 10)
print("answered", flush=True)
WhisperModel(whisper_path, device="cpu", compute_type="int8", cpu_threads=int(threads), local_files_only=True)
print("loaded", flush=True)
"""


def _prepare(ctx: BenchContext) -> tuple[Any, Path]:
    from omnivec.bench.served import COLLECTION, build_collection
    from omnivec.indexer.engine import Engine

    settings = ctx.settings("cold")
    build_collection(settings, ROWS, spaces=("clip", "text"), batch=ROWS)
    vec_dir = ctx.path("fig5", "vectors")
    vec_dir.mkdir(parents=True, exist_ok=True)
    engine = Engine(settings)
    try:
        coll = engine.collection(COLLECTION)
        for space in ("clip", "text"):
            vectors, _ = coll.vectors(space)  # the same vectors for the raw side
            np.save(vec_dir / f"{space}.npy", vectors)
    finally:
        engine.close()
    return settings, vec_dir


def _omnivec_once(settings: Any) -> tuple[float, float, dict[str, float]]:
    from omnivec.bench.served import COLLECTION, start_server, wait_serving
    from omnivec.client import Client

    server = start_server(settings)
    try:
        with Client(server.address, timeout=300, retries=0) as client:
            # A text query in the text space first (what needs MiniLM only): the cold-start target.
            if not client.search(COLLECTION, text=QUERY, k=10, spaces=["text"]):
                raise RuntimeError("the first text-space query came back empty")
            first_text = time.perf_counter() - server.started_at
            hits = client.search(COLLECTION, text=QUERY, k=10)
            first = time.perf_counter() - server.started_at
            if not hits:
                raise RuntimeError("the first query came back empty")
            serving = wait_serving(client) - server.started_at
    finally:
        server.stop()
    marks = server.milestones()
    marks["first_text_answer"] = round(first_text, 2)
    marks["first_answer"] = round(first, 2)
    return first, serving, marks


def _raw_once(settings: Any, vec_dir: Path, threads: int) -> tuple[float, float, float]:
    from omnivec.indexer.encoders.sentence import resolve_text_model_path
    from omnivec.indexer.encoders.speech import resolve_speech_model_path

    args = [
        sys.executable, "-c", RAW_SCRIPT, str(resolve_text_model_path(settings.text)[0]),
        settings.clip.model, str(settings.clip.checkpoint),
        str(resolve_speech_model_path(settings.speech)[0]), str(vec_dir), str(threads), QUERY,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    first = loaded = first_text = float("nan")
    for line in proc.stdout:
        if line.startswith("text-answered"):
            first_text = time.perf_counter() - started
        elif line.startswith("answered"):
            first = time.perf_counter() - started
        elif line.startswith("loaded"):
            loaded = time.perf_counter() - started
    err = proc.stderr.read() if proc.stderr else ""
    if proc.wait() != 0 or first != first:
        raise RuntimeError(f"raw cold-start script failed: {err[-800:]}")
    return first, loaded, first_text


def _sha256_seconds(path: Path) -> float:
    """What one uncached fingerprint of the checkpoint costs (omnivec hashes it once per process)."""
    import hashlib

    t = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return time.perf_counter() - t


def run(ctx: BenchContext) -> list[FigureResult]:
    from omnivec.bench.fig2_latency import pending, server_available

    title = "Cold start: process start to first answered query"
    missing = server_available()
    if missing is not None:
        return [pending("fig5", "fig5.cold_start", title, missing)]
    settings, vec_dir = _prepare(ctx)
    serving: list[float] = []
    raw_loaded: list[float] = []
    raw_text: list[float] = []
    timelines: list[dict[str, float]] = []

    def omnivec(r: int) -> float:
        first, ready, marks = _omnivec_once(settings)
        serving.append(ready)
        timelines.append(marks)
        return first

    def raw(r: int) -> float:
        first, loaded, first_text = _raw_once(settings, vec_dir, ctx.threads)
        raw_loaded.append(loaded)
        raw_text.append(first_text)
        return first

    repeats = min(ctx.repeats, 2) if ctx.quick else ctx.repeats
    a, b = paired(omnivec, raw, repeats)
    sha_s = _sha256_seconds(Path(settings.clip.checkpoint))
    ratio = stats([x / y for x, y in zip(a, b)])
    size_mb = Path(settings.clip.checkpoint).stat().st_size / 1e6
    return [FigureResult(
        "fig5", "fig5.cold_start", title,
        "seconds from Popen of `omnivec serve --port 0` to the first answered gRPC text search "
        f"(clip + text spaces, {ROWS} rows) vs a raw script loading the same models (MiniLM, "
        f"open_clip {settings.clip.model} checkpoint, faster-whisper) and answering the same query "
        "with FAISS",
        omnivec=Measure("omnivec serve: first answered query", "s", stats(a)),
        raw=Measure("raw script: first answered query", "s", stats(b)),
        ratio=Measure("omnivec / raw", "x", ratio),
        target="report (no target)", status="INFO",
        extra={
            "omnivec_to_health_serving_s": stats(serving).to_dict(),
            "raw_all_models_loaded_s": stats(raw_loaded).to_dict(),
            "omnivec_first_text_space_query_s": stats(
                [t["first_text_answer"] for t in timelines]).to_dict(),
            "raw_first_text_space_query_s": stats(raw_text).to_dict(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "clip_checkpoint_mb": round(size_mb),
            "sha256_of_checkpoint_s": round(sha_s, 2),
            "omnivec_timeline_s": timelines,
        },
        notes=["omnivec hashes the CLIP checkpoint (sha256) to fingerprint the encoder; "
               f"that took {sha_s:.1f} s here per hash (the raw script does not)."]
        + (["quick mode: 2 repeats"] if ctx.quick and repeats < ctx.repeats else []),
    )]
