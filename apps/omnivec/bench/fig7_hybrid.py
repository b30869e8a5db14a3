"""Figure 7: hybrid (keyword + vector) query latency vs vector-only, in the engine.

One text collection of 100k rows (quick mode: 20k): real-word sentences in the text column (so
LanceDB's full-text index has real postings) and random normalised 384-d vectors, written through
``Collection.add_rows`` like fig2's, then flushed (ANN index and keyword index built). The same
queries run as ``Engine.search(SearchQuery(text=q, k=10, mode=...))`` with ``mode="vector"`` and
``mode="hybrid"`` in alternating blocks, on a worker thread like the server's. Both pay the MiniLM
encode of the query; hybrid adds the BM25 search and the fusion. Target (issue 16): hybrid
median <= vector-only median + 5 ms at the quick size.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from omnivec.bench.common import BenchContext, FigureResult, Measure, make_texts, paired, stats
from omnivec.bench.fig2_latency import K, _latencies, on_worker

COLLECTION = "hybrid"
BATCH = 20_000


def _build(settings: Any, n: int) -> dict[str, float]:
    from omnivec.bench.served import synth_table
    from omnivec.indexer.engine import Engine

    engine = Engine(settings)
    try:
        collection = engine.create_collection(COLLECTION, ["text"])
        dim = collection.specs["text"].dim
        texts = make_texts(n, seed=11)
        t0 = time.perf_counter()
        for start in range(0, n, BATCH):
            count = min(BATCH, n - start)
            collection.add_rows(synth_table(start, count, {"text": dim}, seed=start + 3,
                                            texts=texts[start:start + count]))
        t1 = time.perf_counter()
        collection.flush_ann()
        t2 = time.perf_counter()
    finally:
        engine.close()
    return {"write_and_keyword_index_s": round(t1 - t0, 2), "flush_s": round(t2 - t1, 2)}


def run(ctx: BenchContext) -> list[FigureResult]:
    from omnivec.client.types import SearchQuery
    from omnivec.indexer.engine import Engine

    n = 20_000 if ctx.quick else 100_000
    settings = ctx.settings("hybrid", use_clip=False, speech={"enabled": False})
    ctx.log(f"  synthesising {n:,} rows with real-word texts ...")
    build = _build(settings, n)
    engine = Engine(settings)
    ctx.on_close.append(engine.close)
    uncovered = engine.collection(COLLECTION).keyword_uncovered_rows()
    per_block = 40 if ctx.quick else 250
    queries = make_texts(per_block * ctx.repeats + 20, seed=17, min_words=3, max_words=8)
    warm, queries = queries[:20], queries[20:]

    def search(mode: str) -> Any:
        return lambda q: engine.search(COLLECTION, SearchQuery(text=q, k=K, mode=mode))  # type: ignore[arg-type]

    hybrid, vector = search("hybrid"), search("vector")
    on_worker(_latencies, hybrid, warm)
    on_worker(_latencies, vector, warm)

    def block(fn: Any) -> Any:
        return lambda r: float(np.median(on_worker(_latencies, fn, queries[r * per_block:(r + 1) * per_block])))

    a, b = paired(block(hybrid), block(vector), ctx.repeats)
    keyword_only = on_worker(_latencies, search("keyword"), queries[:per_block])
    diff = stats([x - y for x, y in zip(a, b)])
    notes = [f"{n:,} rows: make_texts sentences (real words) and random 384-d vectors",
             f"rows the keyword index left to LanceDB's flat scan: {uncovered}"]
    if ctx.quick:
        notes.append("quick mode: 20k rows instead of 100k")
    return [FigureResult(
        "fig7", "fig7.hybrid", "Hybrid (keyword + vector) query latency vs vector-only",
        f"median latency of Engine.search(text, k={K}, mode='hybrid') vs mode='vector' on the "
        f"same {n:,}-row collection and queries; {per_block} queries per repeat, sequential, on a "
        "worker thread",
        omnivec=Measure("hybrid search (median)", "ms", stats(a)),
        raw=Measure("vector-only search (median)", "ms", stats(b)),
        ratio=Measure("hybrid median - vector-only median", "ms", diff),
        target="<= vector-only + 5 ms", status="PASS" if diff.median <= 5.0 else "GAP",
        extra={"rows": n, **build, "keyword_only_median_ms": round(float(np.median(keyword_only)), 2),
               "keyword_uncovered_rows": uncovered},
        notes=notes,
    )]
