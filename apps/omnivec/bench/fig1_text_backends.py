"""Figure 1, text backends: the text encoder through each ONNX/OpenVINO export vs raw
sentence-transformers (torch, fp32) on the same texts, batch size and threads, in the same run.

One row per backend (``fig1.text_onnx``, ``fig1.text_onnx-int8``, ...): texts/s of
``SentenceEncoder.encode_texts`` over N short texts vs ``SentenceTransformer.encode`` of the same
list (paired repeats, alternating which goes first), and single-query latency (one text per call,
the search path) of both, with the max abs difference (fp32) or mean cosine (int8) to torch's
vectors. Targets: int8 >= 2x texts/s; every backend's single-query latency below torch's.
Exports are made before timing (the default cache, or ``exports_dir``), never timed.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from omnivec.bench.common import (
    BenchContext,
    FigureResult,
    Measure,
    judge,
    make_texts,
    paired,
    stats,
)

__all__ = ["TEXT_BACKENDS", "run_text_backends"]

TEXT_BACKENDS = ("onnx", "onnx-int8", "openvino", "openvino-int8")


def run_text_backends(ctx: BenchContext) -> list[FigureResult]:
    from sentence_transformers import SentenceTransformer

    from omnivec.indexer.encoders.sentence import SentenceEncoder, resolve_text_model_path

    base = ctx.settings("fig1-text-backends", use_clip=False)
    batch = base.text.batch_size
    n = 640 if ctx.quick else 4096
    texts = make_texts(n)
    queries = make_texts(20 if ctx.quick else 100, seed=2)
    path, _ = resolve_text_model_path(base.text)
    raw = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    raw.encode(texts[:batch], batch_size=batch)  # warm-up
    reference = raw.encode(texts, batch_size=batch, normalize_embeddings=True)

    def raw_rate(_: int) -> float:
        started = time.perf_counter()
        raw.encode(texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False)
        return n / (time.perf_counter() - started)

    def latency_ms(encode: object) -> float:
        times = []
        for q in queries:
            started = time.perf_counter()
            encode([q])  # type: ignore[operator]
            times.append(1000 * (time.perf_counter() - started))
        return statistics.median(times)

    def raw_one(batch_texts: list[str]) -> object:
        return raw.encode(batch_texts, normalize_embeddings=True, show_progress_bar=False)

    results = []
    for backend in TEXT_BACKENDS:
        if not ctx.wants(f"fig1.text_{backend}") and not ctx.wants("fig1.text_backends"):
            continue
        started = time.perf_counter()
        try:
            settings = base.model_copy(
                update={"text": base.text.model_copy(update={"backend": backend})}
            )
            encoder = SentenceEncoder(settings)  # makes the export when missing (not timed)
            encoder.encode_texts(texts[:batch])

            def ours(_: int, encoder: SentenceEncoder = encoder) -> float:
                begun = time.perf_counter()
                encoder.encode_texts(texts)
                return n / (time.perf_counter() - begun)

            a, b = paired(ours, raw_rate, ctx.repeats)
            lat_ours = [latency_ms(encoder.encode_texts) for _ in range(ctx.repeats)]
            lat_raw = [latency_ms(raw_one) for _ in range(ctx.repeats)]
            vectors = encoder.encode_texts(texts)
            ratio = stats([x / y for x, y in zip(a, b)])
            latency_ratio = stats([r / o for o, r in zip(lat_ours, lat_raw)])
            int8 = backend.endswith("-int8")
            target = 2.0 if int8 else 1.0
            faster_single = latency_ratio.median > 1.0
            status = judge(ratio.median, target, higher_is_better=True)
            if not faster_single and status == "PASS":
                status = "GAP"
            result = FigureResult(
                "fig1", f"fig1.text_{backend}", f"Text backend {backend} (MiniLM)",
                f"SentenceEncoder(text.backend={backend}).encode_texts of {n} short texts vs "
                f"SentenceTransformer.encode (torch fp32) of the same list; batch {batch}, "
                f"{ctx.threads} threads; and single-query latency over {len(queries)} queries",
                omnivec=Measure(f"text.backend={backend}", "texts/s", stats(a)),
                raw=Measure("SentenceTransformer.encode (torch fp32)", "texts/s", stats(b)),
                ratio=Measure(f"{backend} / torch throughput", "x", ratio),
                target=f">= {target:.1f}x texts/s and single-query latency below torch",
                status=status,
                extra={
                    "texts": n, "batch_size": batch,
                    "single_query_ms": stats(lat_ours).to_dict(),
                    "single_query_ms_torch": stats(lat_raw).to_dict(),
                    "single_query_speedup": latency_ratio.to_dict(),
                    "max_abs_diff_vs_torch": float(np.abs(vectors - reference).max()),
                    "mean_cosine_vs_torch": float(np.mean(np.sum(vectors * reference, axis=1))),
                },
            )
            encoder.close()
        except Exception as exc:  # noqa: BLE001 - one broken backend never stops the suite
            result = FigureResult("fig1", f"fig1.text_{backend}", f"Text backend {backend}", "",
                                  status="ERROR", notes=[f"{type(exc).__name__}: {exc}"])
        result.seconds = time.perf_counter() - started
        results.append(result)
    return results
