"""Figure 1: indexing throughput vs the raw encoder on the same inputs, batch size and threads.

* images: ``Engine.index_paths`` on a folder of JPEGs (discover, read, hash, decode + preprocess on
  the decode workers, CLIP forward passes, LanceDB commits, FAISS flush) vs a plain loop of
  open_clip ``preprocess`` + ``encode_image`` over the same files. Target >= 0.9x.
* texts: ``Engine.upsert`` of N short texts (+ FAISS flush) vs ``SentenceTransformer.encode`` of the
  same list with the same batch size. Target >= 0.9x.
* audio: ``Engine.index_paths`` on speech files vs faster-whisper transcription of each file plus
  MiniLM embedding of the transcripts. Target <= 1.1x the raw time.

CLIP backends (``fig1.clip_onnx`` ... ``fig1.clip_openvino_int8``): ``ClipEncoder`` on each
ONNX/OpenVINO backend vs raw open_clip torch fp32, image tower only, on the same preprocessed
tensors (decoding is the same for every backend, so it is left out). Target for int8 >= 1.5x.

On CUDA (``--device cuda``) the CLIP towers also run in fp16 (autocast, both sides alike) and a row
reports images/s and texts/s next to clip-as-service's published ViT-B-32 figures.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.bench.common import (
    CLIP_AS_SERVICE,
    BenchContext,
    FigureResult,
    Measure,
    judge,
    make_jpegs,
    make_texts,
    paired,
    stats,
)
from omnivec.bench.fig1_text_backends import run_text_backends

REPO = Path(__file__).resolve().parents[3]
SPEECH_FIXTURES = REPO / "tests" / "fixtures" / "speech"


def run(ctx: BenchContext) -> list[FigureResult]:
    results = []
    for fn in (run_images, run_texts, run_audio, run_threads):
        if ctx.wants("fig1." + fn.__name__.removeprefix("run_")):
            results.append(_guard(fn, ctx))
    results.extend(run_clip_backends(ctx))
    results.extend(run_text_backends(ctx))  # fig1.text_<backend>, in their own module
    if ctx.wants("fig1.threads_by_work"):
        from omnivec.bench.fig1_threads_by_work import run_threads_by_work

        results.append(_guard(run_threads_by_work, ctx))
    explicit = "fig1.gpu" in ctx.rows
    if ctx.device.startswith("cuda") and ctx.wants("fig1.gpu") or explicit:
        results.append(_guard(run_gpu_clip, ctx))
    return results


def _guard(fn: Any, ctx: BenchContext) -> FigureResult:
    started = time.perf_counter()
    try:
        result: FigureResult = fn(ctx)
    except Exception as exc:  # noqa: BLE001 - one broken figure never stops the suite
        name = fn.__name__.removeprefix("run_").removesuffix("_clip")
        result = FigureResult("fig1", f"fig1.{name}", f"indexing throughput ({name})", "",
                              status="ERROR", notes=[f"{type(exc).__name__}: {exc}"])
    result.seconds = time.perf_counter() - started
    return result


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


@contextlib.contextmanager
def _precision(device: str) -> Iterator[None]:
    """fp16 autocast on CUDA (same for omnivec and raw); plain fp32 on CPU."""
    if device.startswith("cuda"):
        import torch

        with torch.autocast("cuda", dtype=torch.float16):
            yield
    else:
        yield


# -- images --------------------------------------------------------------------------------------


def _raw_clip(ctx: BenchContext) -> tuple[Any, Any, Any]:
    import open_clip
    import torch

    model, _, preprocess = open_clip.create_model_and_transforms(
        ctx.clip_model, pretrained=str(ctx.checkpoint()), device=torch.device(ctx.device)
    )
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(ctx.clip_model)


def raw_encode_images(model: Any, preprocess: Any, files: list[Path], batch: int, device: str) -> np.ndarray:
    """What a user writes with open_clip alone: open, preprocess, stack, encode, normalise."""
    import torch
    from PIL import Image

    out = []
    for start in range(0, len(files), batch):
        tensors = [preprocess(Image.open(p).convert("RGB")) for p in files[start : start + batch]]
        with torch.inference_mode(), _precision(device):
            feats = model.encode_image(torch.stack(tensors).to(device))
        feats = feats.float()
        out.append((feats / feats.norm(dim=-1, keepdim=True)).cpu().numpy())
    return np.concatenate(out)


def run_images(ctx: BenchContext) -> FigureResult:
    from omnivec.indexer.engine import Engine

    gpu = ctx.device.startswith("cuda")
    n = (1024 if gpu else 32) if ctx.quick else (2048 if gpu else 192)
    batch = (128 if gpu else 16) if ctx.quick else (128 if gpu else 32)
    folder = ctx.path("fig1", "jpegs")
    files = make_jpegs(folder, n)
    warm_folder = ctx.path("fig1", "jpegs-warm")
    make_jpegs(warm_folder, min(batch, 8), seed=1)
    settings = ctx.settings("fig1-images", clip={"batch_size": batch})
    engine = Engine(settings)
    engine.models.clip()  # model load is not indexing throughput
    with _precision(ctx.device):
        engine.index_paths("warmup", [warm_folder], spaces=["clip"])
    model, preprocess, _ = _raw_clip(ctx)
    raw_encode_images(model, preprocess, sorted(warm_folder.iterdir()), batch, ctx.device)

    def omnivec(r: int) -> float:
        _sync(ctx.device)
        started = time.perf_counter()
        with _precision(ctx.device):
            report = engine.index_paths(f"images{r}", [folder], spaces=["clip"])
        _sync(ctx.device)
        elapsed = time.perf_counter() - started
        if report.indexed != n or report.failed:
            raise RuntimeError(f"indexed {report.indexed}/{n}: {report.failed[:3]}")
        return n / elapsed

    def raw(r: int) -> float:
        _sync(ctx.device)
        started = time.perf_counter()
        vectors = raw_encode_images(model, preprocess, files, batch, ctx.device)
        _sync(ctx.device)
        assert vectors.shape[0] == n
        return n / (time.perf_counter() - started)

    a, b = paired(omnivec, raw, ctx.repeats)
    # Same weights, same preprocessing: the vectors must agree (a correctness check of the figure).
    check = _agreement(engine, "images0", model, preprocess, files[:4], batch, ctx.device)
    engine.close()
    ratios = [x / y for x, y in zip(a, b)]
    r = stats(ratios)
    return FigureResult(
        "fig1", "fig1.images", "Indexing throughput: images (CLIP image tower)",
        f"omnivec Engine.index_paths on a folder of {n} JPEGs (640x480) vs a raw open_clip "
        f"preprocess + encode_image loop over the same files; batch {batch}, "
        f"{ctx.threads} torch threads, {ctx.clip_model} with seeded random weights",
        omnivec=Measure("Engine.index_paths (decode workers + model + LanceDB writer)", "images/s", stats(a)),
        raw=Measure("open_clip preprocess + encode_image loop", "images/s", stats(b)),
        ratio=Measure("omnivec / raw throughput", "x", r),
        target=">= 0.9x", status=judge(r.median, 0.9, higher_is_better=True),
        extra={"images": n, "batch_size": batch, "max_abs_diff_vs_raw": check,
               "precision": "fp16 autocast" if gpu else "fp32"},
        notes=["ViT-B-32 with seeded random weights (no pretrained CLIP offline); throughput does "
               "not depend on weight values."],
    )


def _agreement(engine: Any, collection: str, model: Any, preprocess: Any, files: list[Path],
               batch: int, device: str) -> float:
    """max |omnivec vector - raw vector| over a few of the indexed files (fp32/fp16 noise only)."""
    coll = engine.collection(collection)
    vecs, ids = coll.vectors("clip")
    uris = coll.column("source_uri")
    rowids = coll.column("rowid")
    by_uri = {str(u): int(r) for u, r in zip(uris, rowids)}
    raw = raw_encode_images(model, preprocess, files, batch, device)
    pos = {int(i): k for k, i in enumerate(ids)}
    diffs = [float(np.abs(vecs[pos[by_uri[str(f.resolve())]]] - raw[k]).max()) for k, f in enumerate(files)]
    return max(diffs)


# -- CLIP image tower on ONNX Runtime / OpenVINO -------------------------------------------------


def run_clip_backends(ctx: BenchContext) -> list[FigureResult]:
    """One row per CLIP backend: images/s of its image tower as a ratio to torch fp32."""
    from omnivec.indexer.config import BACKENDS

    rows = [(b, "fig1.clip_" + b.replace("-", "_")) for b in BACKENDS if b != "torch"]
    rows = [(b, name) for b, name in rows if ctx.wants(name)]
    if not rows or ctx.device != "cpu":
        return []
    import torch
    from PIL import Image

    n, batch = (32, 16) if ctx.quick else (96, 32)
    files = make_jpegs(ctx.path("fig1", "jpegs-backends"), n, seed=4)
    model, preprocess, _ = _raw_clip(ctx)
    tensors = [preprocess(Image.open(p).convert("RGB")) for p in files]

    def raw_vectors() -> np.ndarray:
        out = []
        for start in range(0, n, batch):
            with torch.inference_mode():
                feats = model.encode_image(torch.stack(tensors[start : start + batch])).float()
            out.append((feats / feats.norm(dim=-1, keepdim=True)).numpy())
        return np.concatenate(out)

    reference = raw_vectors()  # also the warm-up of the raw side
    results = []
    for backend, name in rows:
        started = time.perf_counter()
        try:
            results.append(_clip_backend_row(ctx, backend, name, tensors, batch, reference, raw_vectors))
        except Exception as exc:  # noqa: BLE001 - one broken backend never stops the others
            results.append(FigureResult("fig1", name, f"CLIP image tower on {backend}", "",
                                        status="ERROR", notes=[f"{type(exc).__name__}: {exc}"]))
        results[-1].seconds = time.perf_counter() - started
    return results


def _clip_backend_row(ctx: BenchContext, backend: str, name: str, tensors: list[Any], batch: int,
                      reference: np.ndarray, raw_vectors: Any) -> FigureResult:
    from omnivec.indexer.encoders.clip import ClipEncoder

    n = len(tensors)
    settings = ctx.settings(f"fig1-{backend}", clip={"batch_size": batch, "backend": backend})
    load_started = time.perf_counter()
    encoder = ClipEncoder(settings)  # exports both towers the first time (cached after)
    load_s = time.perf_counter() - load_started

    def ours_vectors() -> np.ndarray:
        return np.concatenate([encoder.encode_image_tensors(tensors[s : s + batch])
                               for s in range(0, n, batch)])

    vectors = ours_vectors()  # warm-up, and the agreement check below

    def ours(r: int) -> float:
        started = time.perf_counter()
        ours_vectors()
        return n / (time.perf_counter() - started)

    def raw(r: int) -> float:
        started = time.perf_counter()
        raw_vectors()
        return n / (time.perf_counter() - started)

    a, b = paired(ours, raw, ctx.repeats)
    encoder.close()
    r = stats([x / y for x, y in zip(a, b)])
    int8 = backend.endswith("-int8")
    target = 1.5 if int8 else 1.0
    return FigureResult(
        "fig1", name, f"CLIP image tower on {backend} vs torch fp32",
        f"ClipEncoder.encode_image_tensors with clip.backend={backend} vs raw open_clip "
        f"encode_image (torch fp32) on the same {n} preprocessed JPEGs; batch {batch}, "
        f"{ctx.threads} threads, {ctx.clip_model} with seeded random weights",
        omnivec=Measure(f"ClipEncoder ({backend})", "images/s", stats(a)),
        raw=Measure("open_clip encode_image, torch fp32", "images/s", stats(b)),
        ratio=Measure(f"{backend} / torch images/s", "x", r),
        target=f">= {target}x", status=judge(r.median, target, higher_is_better=True),
        extra={"images": n, "batch_size": batch, "precision": "int8" if int8 else "fp32",
               "mean_cosine_vs_torch": float((vectors * reference).sum(axis=1).mean()),
               "max_abs_diff_vs_torch": float(np.abs(vectors - reference).max()),
               "encoder_load_s_incl_export": round(load_s, 1),
               "exports_dir": str(settings.effective_exports_dir)},
    )


# -- texts ---------------------------------------------------------------------------------------


def run_texts(ctx: BenchContext) -> FigureResult:
    from sentence_transformers import SentenceTransformer

    from omnivec.indexer.engine import Engine
    from omnivec.indexer.ingest import IngestItem
    from omnivec.indexer.media import MediaKind

    gpu = ctx.device.startswith("cuda")
    n = (8192 if gpu else 640) if ctx.quick else (16384 if gpu else 4096)
    settings = ctx.settings("fig1-texts", use_clip=False)
    batch = settings.text.batch_size
    texts = make_texts(n)
    engine = Engine(settings)
    encoder = engine.models.text()
    raw_model = SentenceTransformer(str(_text_model_path(settings)), device=ctx.device, local_files_only=True)
    warm = make_texts(batch, seed=1)
    engine.create_collection("warmup", ["text"])
    engine.upsert("warmup", [IngestItem(str(i), MediaKind.TEXT, text=t) for i, t in enumerate(warm)])
    raw_model.encode(warm, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)

    def omnivec(r: int) -> float:
        name = f"texts{r}"
        engine.create_collection(name, ["text"])
        items = (IngestItem(str(i), MediaKind.TEXT, text=t) for i, t in enumerate(texts))
        _sync(ctx.device)
        started = time.perf_counter()
        report = engine.upsert(name, items)
        engine.collection(name).flush_ann()
        _sync(ctx.device)
        elapsed = time.perf_counter() - started
        if report.indexed != n:
            raise RuntimeError(f"indexed {report.indexed}/{n}: {report.failed[:3]}")
        return n / elapsed

    def raw(r: int) -> float:
        _sync(ctx.device)
        started = time.perf_counter()
        vectors = raw_model.encode(
            texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        _sync(ctx.device)
        assert vectors.shape[0] == n
        return n / (time.perf_counter() - started)

    a, b = paired(omnivec, raw, ctx.repeats)
    diff = float(np.abs(encoder.encode_texts(texts[:8]) - raw_model.encode(texts[:8], normalize_embeddings=True)).max())
    engine.close()
    r = stats([x / y for x, y in zip(a, b)])
    return FigureResult(
        "fig1", "fig1.texts", "Indexing throughput: texts (MiniLM)",
        f"omnivec Engine.upsert of {n} short texts into a text collection (+ FAISS flush) vs "
        f"SentenceTransformer.encode of the same list; batch {batch}, {ctx.threads} torch threads",
        omnivec=Measure("Engine.upsert + flush_ann", "texts/s", stats(a)),
        raw=Measure("SentenceTransformer.encode", "texts/s", stats(b)),
        ratio=Measure("omnivec / raw throughput", "x", r),
        target=">= 0.9x", status=judge(r.median, 0.9, higher_is_better=True),
        extra={"texts": n, "batch_size": batch, "write_batch_rows": settings.index.write_batch_rows,
               "max_abs_diff_vs_raw": diff},
    )


def _text_model_path(settings: Any) -> Path:
    from omnivec.indexer.encoders.sentence import resolve_text_model_path

    return resolve_text_model_path(settings.text)[0]


# -- audio ---------------------------------------------------------------------------------------


def _speech_files(ctx: BenchContext) -> list[Path]:
    names = ["cooking.wav", "weather.flac"]
    if not ctx.quick:
        names += ["rocket.ogg", "long_lecture.ogg"]
    found = [SPEECH_FIXTURES / n for n in names if (SPEECH_FIXTURES / n).is_file()]
    if found:
        folder = ctx.path("fig1", "audio")
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for f in found:
            target = folder / f.name
            shutil.copyfile(f, target)
            out.append(target)
        return out
    return _espeak_files(ctx)


def _espeak_files(ctx: BenchContext) -> list[Path]:
    import subprocess

    if shutil.which("espeak-ng") is None:
        raise RuntimeError("no speech fixtures (tests/fixtures/speech) and no espeak-ng to make some")
    folder = ctx.path("fig1", "audio")
    folder.mkdir(parents=True, exist_ok=True)
    sentences = [
        "The rocket launch was delayed by strong winds over the coast this morning.",
        "Add two cups of flour and stir the batter until it is smooth.",
        "Tomorrow will be sunny in the north with light rain in the south.",
    ]
    out = []
    for i, s in enumerate(sentences):
        path = folder / f"speech{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(path), s], check=True, capture_output=True)
        out.append(path)
    return out


def run_audio(ctx: BenchContext) -> FigureResult:
    from faster_whisper import WhisperModel
    from sentence_transformers import SentenceTransformer

    from omnivec.indexer.encoders.speech import resolve_speech_model_path
    from omnivec.indexer.engine import Engine

    files = _speech_files(ctx)
    settings = ctx.settings("fig1-audio", use_clip=False)
    engine = Engine(settings)
    engine.models.speech()
    engine.models.text()
    sp = settings.speech
    whisper = WhisperModel(
        str(resolve_speech_model_path(sp)[0]),
        device="cuda" if ctx.device.startswith("cuda") else "cpu",
        compute_type=sp.compute_type, cpu_threads=settings.torch_threads, local_files_only=True,
    )
    st = SentenceTransformer(str(_text_model_path(settings)), device=ctx.device, local_files_only=True)
    seconds = 0.0
    try:
        import soundfile as sf

        seconds = sum(float(sf.info(str(f)).duration) for f in files)
    except Exception:  # noqa: BLE001 - only for the description
        pass

    def raw_once() -> tuple[float, float]:
        t0 = time.perf_counter()
        transcripts = []
        for f in files:
            segments, _ = whisper.transcribe(
                str(f), language=sp.language or "en", beam_size=sp.beam_size,
                vad_filter=sp.vad_filter, condition_on_previous_text=False,
            )
            transcripts.append(" ".join(s.text.strip() for s in segments))
        t1 = time.perf_counter()
        st.encode(transcripts, batch_size=settings.text.batch_size, normalize_embeddings=True,
                  show_progress_bar=False)
        return t1 - t0, time.perf_counter() - t1

    # warm both sides (first transcription pays one-off allocations)
    engine.index_paths("warmup", [files[0]], spaces=["text"])
    raw_once()
    split: list[tuple[float, float]] = []

    def omnivec(r: int) -> float:
        started = time.perf_counter()
        report = engine.index_paths(f"audio{r}", [files[0].parent], spaces=["text"])
        elapsed = time.perf_counter() - started
        if report.indexed != len(files):
            raise RuntimeError(f"indexed {report.indexed}/{len(files)}: {report.failed[:3]}")
        return elapsed

    def raw(r: int) -> float:
        t_tr, t_emb = raw_once()
        split.append((t_tr, t_emb))
        return t_tr + t_emb

    a, b = paired(omnivec, raw, ctx.repeats)
    engine.close()
    r = stats([x / y for x, y in zip(a, b)])
    return FigureResult(
        "fig1", "fig1.audio", "Indexing end to end: audio (Whisper tiny.en + MiniLM)",
        f"omnivec Engine.index_paths on {len(files)} speech files ({seconds:.1f} s of audio) vs "
        f"raw faster-whisper transcription of each file + one SentenceTransformer.encode of the "
        f"transcripts; beam {sp.beam_size}, {sp.compute_type}, {settings.torch_threads} CTranslate2/torch threads",
        omnivec=Measure("Engine.index_paths (decode, transcribe, chunk, embed, write)", "s", stats(a)),
        raw=Measure("WhisperModel.transcribe + SentenceTransformer.encode", "s", stats(b)),
        ratio=Measure("omnivec time / raw time", "x", r),
        target="<= 1.1x", status=judge(r.median, 1.1, higher_is_better=False),
        extra={"files": [f.name for f in files], "audio_seconds": round(seconds, 2),
               "raw_transcribe_s_median": round(float(np.median([s[0] for s in split])), 3),
               "raw_embed_s_median": round(float(np.median([s[1] for s in split])), 3),
               "raw_real_time_factor": round(float(np.median([s[0] for s in split])) / seconds, 3) if seconds else None},
    )


# -- GPU: CLIP towers next to clip-as-service ----------------------------------------------------


def run_gpu_clip(ctx: BenchContext) -> FigureResult:
    """CLIP ViT-B-32 image and text towers on CUDA in fp16: omnivec's encoder vs raw open_clip,
    with clip-as-service's published numbers (ViT-B-32, TITAN RTX) beside them."""
    import torch

    from omnivec.indexer.models import ModelHub

    if not torch.cuda.is_available():
        return FigureResult("fig1", "fig1.gpu", "CLIP on GPU", "", status="SKIPPED",
                            notes=["torch.cuda.is_available() is False"])
    n_img = 1024 if ctx.quick else 4096
    n_txt = 4096 if ctx.quick else 16384
    batch = 128
    files = make_jpegs(ctx.path("fig1", "jpegs-gpu"), n_img, seed=2)
    texts = make_texts(n_txt, seed=3)
    settings = ctx.settings("fig1-gpu", clip={"batch_size": batch})
    hub = ModelHub(settings)
    enc = hub.clip()
    model, preprocess, tokenizer = _raw_clip(ctx)

    def raw_texts() -> None:
        for s in range(0, len(texts), 128):
            with torch.inference_mode(), _precision(ctx.device):
                f = model.encode_text(tokenizer(texts[s : s + 128]).to(ctx.device)).float()
            (f / f.norm(dim=-1, keepdim=True)).cpu().numpy()

    with _precision(ctx.device):
        enc.encode_images(files[:batch])
        enc.encode_texts(texts[:256])
    raw_encode_images(model, preprocess, files[:batch], batch, ctx.device)

    def side(fn: Any, count: int) -> float:
        _sync(ctx.device)
        t = time.perf_counter()
        fn()
        _sync(ctx.device)
        return count / (time.perf_counter() - t)

    def om_img(r: int) -> float:
        with _precision(ctx.device):
            return side(lambda: enc.encode_images(files), n_img)

    def raw_img(r: int) -> float:
        return side(lambda: raw_encode_images(model, preprocess, files, batch, ctx.device), n_img)

    def om_txt(r: int) -> float:
        with _precision(ctx.device):
            return side(lambda: enc.encode_texts(texts), n_txt)

    def raw_txt(r: int) -> float:
        return side(raw_texts, n_txt)

    ai, bi = paired(om_img, raw_img, ctx.repeats)
    at, bt = paired(om_txt, raw_txt, ctx.repeats)
    hub.close()
    ri = stats([x / y for x, y in zip(ai, bi)])
    rt = stats([x / y for x, y in zip(at, bt)])
    name = torch.cuda.get_device_name(0)
    return FigureResult(
        "fig1", "fig1.gpu", f"CLIP {ctx.clip_model} on GPU (fp16): images/s and texts/s",
        f"omnivec ClipEncoder.encode_images ({n_img} JPEG paths, batch {batch}, decode workers) and "
        f"encode_texts ({n_txt} texts) vs raw open_clip loops, fp16 autocast both, on {name}",
        omnivec=Measure("ClipEncoder.encode_images", "images/s", stats(ai)),
        raw=Measure("open_clip preprocess + encode_image loop", "images/s", stats(bi)),
        ratio=Measure("omnivec / raw images/s", "x", ri),
        target=">= 0.9x", status=judge(ri.median, 0.9, higher_is_better=True),
        extra={
            "gpu": name,
            "texts_per_s_omnivec": stats(at).to_dict(),
            "texts_per_s_raw": stats(bt).to_dict(),
            "texts_ratio": rt.to_dict(),
            "clip_as_service_published": CLIP_AS_SERVICE,
            "images_vs_clip_as_service": round(stats(ai).median / CLIP_AS_SERVICE["images_per_s"], 2),
            "texts_vs_clip_as_service": round(stats(at).median / CLIP_AS_SERVICE["texts_per_s"], 2),
        },
        notes=["Published clip-as-service figures are from other hardware (TITAN RTX): context, "
               "not a like-for-like ratio.",
               "Seeded random ViT-B-32 weights; throughput does not depend on weight values."],
    )


# -- threads: the lever behind "do not oversubscribe 2 cores" ------------------------------------


def run_threads(ctx: BenchContext) -> FigureResult:
    """Raw MiniLM at 1 torch thread vs all cores, bulk (batch 64) and single-query, main thread.
    Not an omnivec-vs-raw figure: it measures the thread setting both sides share."""
    import torch
    from sentence_transformers import SentenceTransformer

    settings = ctx.settings("fig1-threads", use_clip=False)
    model = SentenceTransformer(str(_text_model_path(settings)), device=ctx.device, local_files_only=True)
    texts = make_texts(128 if ctx.quick else 1024, seed=5)
    queries = make_texts(8 if ctx.quick else 100, seed=6, min_words=4, max_words=10)
    before = torch.get_num_threads()
    many = max(ctx.threads, 2)

    def bulk(threads: int) -> float:
        torch.set_num_threads(threads)
        t = time.perf_counter()
        model.encode(texts, batch_size=64, show_progress_bar=False)
        return len(texts) / (time.perf_counter() - t)

    def single(threads: int) -> float:
        torch.set_num_threads(threads)
        lat = []
        for q in queries:
            t = time.perf_counter()
            model.encode([q], show_progress_bar=False)
            lat.append((time.perf_counter() - t) * 1e3)
        return float(np.median(lat))

    try:
        bulk(1), single(1)
        reps = 2 if ctx.quick else ctx.repeats
        a, b = paired(lambda r: bulk(1), lambda r: bulk(many), reps)
        c, d = paired(lambda r: single(1), lambda r: single(many), reps)
    finally:
        torch.set_num_threads(before)
    r = stats([x / y for x, y in zip(a, b)])
    return FigureResult(
        "fig1", "fig1.threads", f"Thread setting: MiniLM at 1 vs {many} torch threads (raw)",
        f"SentenceTransformer.encode of {len(texts)} texts (batch 64) and of single queries, main "
        f"thread, torch.set_num_threads(1) vs ({many}); informs torch_threads / decode_workers",
        omnivec=Measure("1 torch thread", "texts/s", stats(a)),
        raw=Measure(f"{many} torch threads", "texts/s", stats(b)),
        ratio=Measure(f"1-thread / {many}-thread throughput", "x", r),
        target="informative", status="INFO",
        extra={"single_query_ms_1_thread": stats(c).to_dict(),
               f"single_query_ms_{many}_threads": stats(d).to_dict()},
        notes=["On a shared machine, a parallel region waits for its slowest thread: when other "
               "processes hold the cores, fewer intra-op threads can be faster."],
    )
