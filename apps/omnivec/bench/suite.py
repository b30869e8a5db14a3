"""Run the benchmark suite: ``python -m omnivec.bench.suite [--quick] [--only fig1,fig4]``.

The same entry point backs ``omnivec bench`` and ``make bench BENCH_ARGS=--quick``. Figures:

  fig1  indexing throughput vs the raw encoders (images, texts, audio; CLIP fp16 on CUDA)
  fig2  query latency over gRPC on a 100k collection vs raw encode + FAISS search
  fig3  queries/s with 16 concurrent clients vs sequential (dynamic batching)
  fig4  ANN recall@10 and QPS vs exact search on 1M x 512 clustered vectors, IVF-PQ option
  fig5  cold start: process start to first answered query
  fig6  probe training time and accuracy vs scikit-learn on the same embeddings
  fig7  hybrid (keyword + vector) query latency vs vector-only
  fig8  indexing on a two-node local Ray cluster vs in process (opt-in: --only fig8; it needs
        the distributed extra and minutes of Ray start-up)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omnivec.bench.common import BenchContext, FigureResult

__all__ = ["FIGURES", "main", "run_suite"]

FIGURES: dict[str, str] = {
    "fig1": "omnivec.bench.fig1_indexing",
    "fig2": "omnivec.bench.fig2_latency",
    "fig3": "omnivec.bench.fig3_concurrency",
    "fig4": "omnivec.bench.fig4_ann",
    "fig5": "omnivec.bench.fig5_cold_start",
    "fig6": "omnivec.bench.fig6_probes",
    "fig7": "omnivec.bench.fig7_hybrid",
    "fig8": "omnivec.bench.fig8_ray_indexing",
}
# Run only when named: fig8 needs the distributed extra and starts a Ray cluster.
OPT_IN = frozenset({"fig8"})
DEFAULT_OUT = Path("benchmarks/results")


def parse_only(value: str | None) -> list[str]:
    """Figures to run, in suite order. ``fig1.gpu``-style names select the figure (the rows are
    filtered by :func:`row_filter`)."""
    if not value:
        return [f for f in FIGURES if f not in OPT_IN]
    chosen = [v.strip().lower() for v in value.split(",") if v.strip()]
    unknown = [c for c in chosen if c.split(".", 1)[0] not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    wanted = {c.split(".", 1)[0] for c in chosen}
    return [f for f in FIGURES if f in wanted]


def row_filter(value: str | None) -> set[str]:
    """Rows named explicitly (``fig1.gpu``); a figure given bare runs all its rows."""
    if not value:
        return set()
    chosen = [v.strip().lower() for v in value.split(",") if v.strip()]
    bare = {c for c in chosen if "." not in c}
    return {c for c in chosen if "." in c and c.split(".", 1)[0] not in bare}


def configure_threads(threads: int, faiss_threads: int) -> dict[str, Any]:
    """torch's intra-op pool and FAISS's OpenMP pool, set once for the benchmark process (the
    omnivec settings of every figure carry the same torch_threads)."""
    import torch

    torch.set_num_threads(threads)
    try:
        from omnivec.indexer.ann import set_faiss_threads
    except ImportError:  # a GPU box running only fig1.gpu may lack FAISS
        return {"torch_threads": torch.get_num_threads(), "faiss_threads": None}
    set_faiss_threads(faiss_threads)
    return {"torch_threads": torch.get_num_threads(), "faiss_threads": faiss_threads}


def run_suite(
    ctx: BenchContext,
    only: Sequence[str],
    *,
    on_result: Callable[[FigureResult], None] | None = None,
) -> list[FigureResult]:
    results: list[FigureResult] = []
    for fig in only:
        ctx.log(f"[{fig}] running ...")
        started = time.perf_counter()
        try:
            module = importlib.import_module(FIGURES[fig])
            produced = module.run(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken figure never stops the suite
            if os.environ.get("OMNIVEC_DEBUG"):
                raise
            produced = [FigureResult(fig, fig, fig, "", status="ERROR",
                                     notes=[f"{type(exc).__name__}: {exc}"])]
            produced[0].seconds = time.perf_counter() - started
        elapsed = time.perf_counter() - started
        for result in produced:
            if not result.seconds:
                result.seconds = elapsed / len(produced)
            results.append(result)
            ctx.log(f"  {result.name}: {summary_line(result)}")
            if on_result is not None:
                on_result(result)
        ctx.log(f"[{fig}] done in {time.perf_counter() - started:.0f} s")
    return results


def summary_line(r: FigureResult) -> str:
    parts = []
    if r.omnivec is not None:
        parts.append(f"omnivec {r.omnivec.stats.median:.4g} {r.omnivec.unit}")
    if r.raw is not None:
        parts.append(f"raw {r.raw.stats.median:.4g} {r.raw.unit}")
    if r.ratio is not None:
        s = r.ratio.stats
        parts.append(f"ratio {s.median:.3g}{r.ratio.unit} [{s.min:.3g}, {s.max:.3g}]")
    if r.target:
        parts.append(f"target {r.target}")
    parts.append(r.status)
    if r.status in ("ERROR", "PENDING", "SKIPPED") and r.notes:
        parts.append(r.notes[0])
    return ", ".join(parts)


def run(
    *,
    quick: bool = False,
    only: str | None = None,
    device: str = "cpu",
    out: Path | None = None,
    repeats: int | None = None,
    threads: int | None = None,
    log: Callable[[str], None] = print,
) -> tuple[list[FigureResult], dict[str, Path]]:
    """The whole suite: run the chosen figures, write the results, return both."""
    from omnivec.bench.report import describe_machine, write_results

    figures = parse_only(only)
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda was asked for but torch.cuda.is_available() is False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.time()
    machine = describe_machine()
    ctx = BenchContext(quick=quick, device=device, out_dir=out or DEFAULT_OUT,
                       repeats=repeats or (3 if quick else 5), log=log)
    ctx.rows = row_filter(only)
    if device.startswith("cuda"):
        # JPEG decoding feeds the GPU: give it the cores the (idle) intra-op pool does not need.
        ctx.decode_workers = max(2, (os.cpu_count() or 2) - 2)
    if threads:
        ctx.threads = threads
    n_threads = ctx.threads
    thread_info = configure_threads(ctx.threads, ctx.faiss_threads)
    settings = {
        "device": device,
        "quick": quick,
        "repeats": ctx.repeats,
        "torch_threads": thread_info["torch_threads"],
        "faiss_threads": thread_info["faiss_threads"],
        "decode_workers": ctx.decode_workers,
        "clip_model": ctx.clip_model,
        "clip_weights": "seeded random (torch.manual_seed(0)), loaded via clip.checkpoint",
        "figures": figures,
    }
    mode = "quick" if quick else "full"
    log(f"omnivec bench ({mode}, {device}, {n_threads} threads, {ctx.repeats} repeats): "
        f"{', '.join(figures)}")
    done: list[FigureResult] = []

    def checkpoint(result: FigureResult) -> None:
        # Rewrite latest.* after every figure, so an interrupted full run keeps what it measured.
        done.append(result)
        write_results(done, out_dir=ctx.out_dir, mode=mode + " (partial)", settings=settings,
                      started=started, machine=machine)

    try:
        results = run_suite(ctx, figures, on_result=checkpoint)
    finally:
        ctx.close()
    paths = write_results(results, out_dir=ctx.out_dir, mode=mode, settings=settings,
                          started=started, machine=machine)
    log(f"done in {time.time() - started:.0f} s; results: {paths['latest_md']} and {paths['json']}")
    return results, paths


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="omnivec bench", description="Run omnivec's benchmark suite.")
    ap.add_argument("--quick", action="store_true", help="smaller data, under 5 minutes on 2 cores")
    ap.add_argument("--only", default=None,
                    help="comma-separated figures or rows, e.g. fig1,fig4 or fig1.gpu")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="torch device")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per figure (3 quick, 5 full)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: half the cores, at least 1)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        results, _ = run(quick=args.quick, only=args.only, device=args.device, out=args.out,
                         repeats=args.repeats, threads=args.threads)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if any(r.status == "ERROR" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
