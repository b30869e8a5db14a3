"""Figure 1, threads by the kind of work: omnivec's automatic choice (``torch_threads = 0``) in
both cases it has to get right, each against the fixed count that would get it wrong.

- **bulk, nothing else running**: omnivec's MiniLM encoder on a large batch, auto (every core
  when the machine is idle) vs a fixed half of the cores (the old default for everything);
- **single queries under concurrent load**: one query at a time while as many CPU-bound
  processes as cores run beside it, auto (half the cores) vs a fixed all-cores count.

Both sides are omnivec's own ``SentenceEncoder`` with different ``torch_threads``, on the same
texts, alternating. Kept apart from ``fig1_indexing`` (whose rows compare omnivec with raw
libraries): this measures a setting, not a wrapper.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

from omnivec.bench.common import BenchContext, FigureResult, Measure, make_texts, paired, stats

__all__ = ["run_threads_by_work"]

BURN = "while True: pass"


def _settings(ctx: BenchContext, threads: int) -> Any:
    return ctx.settings("fig1-threads-by-work", use_clip=False).model_copy(
        update={"torch_threads": threads}
    )


def _encoder(ctx: BenchContext, threads: int) -> Any:
    from omnivec.indexer.encoders.sentence import SentenceEncoder

    return SentenceEncoder(_settings(ctx, threads))


def run_threads_by_work(ctx: BenchContext) -> FigureResult:
    import torch

    from omnivec.indexer.threads import ThreadPolicy, machine_busy, usable_cores

    cores = usable_cores()
    half = max(1, cores // 2)
    auto, fixed_half, fixed_all = _encoder(ctx, 0), _encoder(ctx, half), _encoder(ctx, cores)
    texts = make_texts(256 if ctx.quick else 1024, seed=5)
    queries = make_texts(10 if ctx.quick else 100, seed=6, min_words=4, max_words=10)
    reps = 2 if ctx.quick else ctx.repeats
    before = torch.get_num_threads()
    policy = ThreadPolicy(_settings(ctx, 0))
    bulk_choice = {"busy_at_start": machine_busy(cores), "threads": policy.threads_for(len(texts)),
                   "load_average": [round(x, 2) for x in os.getloadavg()]}

    def bulk(encoder: Any) -> float:
        t = time.perf_counter()
        encoder.encode_texts(texts)
        return len(texts) / (time.perf_counter() - t)

    def queries_ms(encoder: Any) -> float:
        lat = []
        for q in queries:
            t = time.perf_counter()
            encoder.encode_texts([q])
            lat.append((time.perf_counter() - t) * 1e3)
        return float(np.median(lat))

    try:
        bulk(auto), bulk(fixed_half)  # warm both
        a, b = paired(lambda r: bulk(auto), lambda r: bulk(fixed_half), reps)
        burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(cores)]
        try:
            time.sleep(0.5)
            c, d = paired(lambda r: queries_ms(auto), lambda r: queries_ms(fixed_all), reps)
        finally:
            for proc in burners:
                proc.kill()
                proc.wait()
    finally:
        torch.set_num_threads(before)
    bulk_ratio = stats([x / y for x, y in zip(a, b)])
    query_ratio = stats([y / x for x, y in zip(c, d)])
    return FigureResult(
        "fig1", "fig1.threads_by_work",
        "Threads by the kind of work: auto vs fixed counts (omnivec MiniLM)",
        f"omnivec SentenceEncoder, torch_threads = 0 (auto) vs fixed: {len(texts)} texts in one "
        f"call with nothing else running, auto vs {half} thread(s) (the old default); and "
        f"single queries while {cores} CPU-bound processes run, auto vs {cores} threads",
        omnivec=Measure("auto, bulk", "texts/s", stats(a)),
        raw=Measure(f"{half} thread(s), bulk", "texts/s", stats(b)),
        ratio=Measure("auto / fixed-half bulk throughput", "x", bulk_ratio),
        target="auto >= fixed in both cases (bulk ratio >= 1, query speed-up >= 1)",
        status="PASS" if bulk_ratio.median >= 0.95 and query_ratio.median >= 0.95 else "GAP",
        extra={
            "cores": cores,
            "bulk_auto_choice": bulk_choice,
            "query_under_load_ms_auto": stats(c).to_dict(),
            f"query_under_load_ms_{cores}_threads": stats(d).to_dict(),
            "query_under_load_speedup_auto_vs_all_cores": query_ratio.to_dict(),
            "query_auto_threads": policy.threads_for(1),
        },
        notes=["auto picks every core for a batch of >= 16 inputs unless the 1-minute load "
               "average already exceeds the cores (then half), and half the cores for queries "
               "(omnivec.indexer.threads). On a machine shared with other jobs the bulk case "
               "is not 'nothing else running': bulk_auto_choice records what auto saw."],
    )
