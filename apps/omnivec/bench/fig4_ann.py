"""Figure 4: ANN recall@10 and single-query QPS against exact search, build time, bytes/vector.

Data: a normalised Gaussian mixture (a few thousand random unit centres, isotropic noise around
each, then L2-normalised) -- clustered like real embeddings, not isotropic noise. Queries are fresh
draws from the same mixture (not in the index). Ground truth is exact inner-product search.

* fig4.hnsw: omnivec ``AnnIndex`` with ``choose_params`` auto parameters (HNSW above the exact
  threshold) vs raw FAISS ``IndexFlatIP`` (exact), single query at a time, one OpenMP thread.
  Targets: recall@10 >= 0.95 at >= 20x the exact QPS (issue 13). Also reported: raw FAISS search on the very
  same HNSW structure (the wrapper's overhead), build time and bytes/vector.
* fig4.ivfpq: the IVF-PQ option with PQ codes only (``choose_params(kind=IVFPQ,
  ivfpq_rerank=False)``): bytes/vector (target < 100), recall@10 and QPS reported.
* fig4.ivfpq_rerank: the IVF-PQ option as configured by default, its candidates re-ranked by
  an 8-bit copy of each vector: the same targets as HNSW (recall@10 >= 0.95 at >= 20x exact),
  with its memory reported; the raw side beside it is FAISS searching the same codes without
  re-ranking.
* fig4.lance: a space over the ANN memory budget, served by LanceDB's own index stored with the
  table (:mod:`omnivec.bench.fig4_lance`): recall@10 (target >= 0.95) and QPS against exact.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from omnivec.bench.common import (
    BenchContext,
    FigureResult,
    Measure,
    clustered_vectors,
    paired,
    stats,
)

DIM = 512
K = 10


def sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"n": 50_000, "n_ivfpq": 20_000, "n_lance": 20_000, "centres": 1_000, "queries": 200,
                "exact_queries": 40}
    return {"n": 1_000_000, "n_ivfpq": 1_000_000, "n_lance": 1_000_000, "centres": 4_000,
            "queries": 500, "exact_queries": 30}


def run(ctx: BenchContext, *, override: dict[str, int] | None = None) -> list[FigureResult]:

    from omnivec.indexer.ann import AnnIndex, AnnKind, choose_params, set_faiss_threads

    cfg = sizes(ctx.quick) | (override or {})
    n, n_q = cfg["n"], cfg["queries"]
    started = time.perf_counter()
    set_faiss_threads(ctx.faiss_threads)
    X, centres = clustered_vectors(max(n, cfg["n_ivfpq"], cfg["n_lance"]), DIM, centres=cfg["centres"], seed=0)
    Q, _ = clustered_vectors(n_q, DIM, centres=0, centre_matrix=centres, seed=1)
    data_note = (f"{n:,} x {DIM} clustered vectors: normalised Gaussian mixture around "
                 f"{cfg['centres']:,} random unit centres (noise norm 0.75, intra-cluster cosine "
                 f"~0.64), {n_q} held-out queries from the same mixture")
    if ctx.quick:
        data_note += (f"; quick mode: {n // 1000}k vectors (IVF-PQ: {cfg['n_ivfpq'] // 1000}k) "
                      "instead of 1M, to fit 5 minutes on 2 cores")

    def ground_truth(index: Any) -> np.ndarray:
        set_faiss_threads(ctx.faiss_threads)  # batched and multi-threaded: not the timed path
        _, gt = index.search(Q, K)
        return np.asarray(gt)

    truths: dict[int, tuple[Any, np.ndarray]] = {}

    def truth(size: int) -> tuple[Any, np.ndarray]:
        """Exact search over the first ``size`` vectors and its answers, made once per size."""
        if size not in truths:
            exact = _flat(X[:size])
            truths[size] = (exact, ground_truth(exact))
        return truths[size]

    def note(size: int) -> str:
        return data_note if size == n else data_note.replace(f"{n:,} x", f"{size:,} x")

    results = []
    # -- HNSW (auto) --------------------------------------------------------------------------
    if ctx.wants("fig4.hnsw"):
        exact, gt = truth(n)
        params = choose_params(n, DIM, recall_target=0.95)
        set_faiss_threads(ctx.faiss_threads)
        t0 = time.perf_counter()
        ann = AnnIndex.build(X[:n], np.arange(n, dtype=np.int64), params)
        # As the store does: lower ef_search to what the recall target needs on this data.
        ann.tune_search(0.95)
        build_s = time.perf_counter() - t0
        results.append(_figure(
            ctx, "fig4.hnsw", f"ANN ({params.kind.value}, auto params) vs exact search", ann,
            exact, Q, gt, cfg, build_s, data_note, n,
        ))
        del ann

    # -- IVF-PQ option, PQ codes only and re-ranked --------------------------------------------
    for row, rerank, title in (
        ("fig4.ivfpq", False, "ANN IVF-PQ option, PQ codes only (auto params) vs exact search"),
        ("fig4.ivfpq_rerank", True,
         "ANN IVF-PQ option re-ranked by 8-bit copies (the default) vs exact search"),
    ):
        if not ctx.wants(row):
            continue
        n_pq = cfg["n_ivfpq"]
        exact_pq, gt_pq = truth(n_pq)
        pq_params = choose_params(n_pq, DIM, kind=AnnKind.IVFPQ, recall_target=0.95,
                                  ivfpq_rerank=rerank)
        set_faiss_threads(ctx.faiss_threads)
        t0 = time.perf_counter()
        ivf = AnnIndex.build(X[:n_pq], np.arange(n_pq, dtype=np.int64), pq_params)
        build_pq = time.perf_counter() - t0
        results.append(_figure(
            ctx, row, title, ivf, exact_pq, Q, gt_pq, cfg, build_pq, note(n_pq), n_pq,
            ivfpq=True,
        ))
        del ivf

    # -- LanceDB's index, for a space over the memory budget ---------------------------------
    if ctx.wants("fig4.lance"):
        from omnivec.bench.fig4_lance import lance_figure

        n_lance = cfg["n_lance"]
        exact_lance, gt_lance = truth(n_lance)
        results.append(lance_figure(ctx, X[:n_lance], Q, gt_lance, exact_lance, note(n_lance)))
    set_faiss_threads(ctx.faiss_threads)
    total = time.perf_counter() - started
    for r in results:
        r.seconds = total / len(results)
    return results


def _flat(x: np.ndarray) -> Any:
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    return index


def _recall(found: np.ndarray, gt: np.ndarray) -> float:
    hits = [len(set(f.tolist()) & set(g.tolist())) for f, g in zip(found, gt)]
    return float(np.sum(hits)) / gt.size


def _figure(
    ctx: BenchContext, name: str, title: str, ann: Any, exact: Any, Q: np.ndarray, gt: np.ndarray,
    cfg: dict[str, int], build_s: float, data_note: str, n: int, *, ivfpq: bool = False,
) -> FigureResult:
    from omnivec.indexer.ann import set_faiss_threads

    set_faiss_threads(1)  # single query, one thread, as the issue asks
    n_q, n_exact = Q.shape[0], min(cfg["exact_queries"], Q.shape[0])
    found = np.stack([ann.search(Q[i : i + 1], K)[1][0] for i in range(n_q)])
    recall = _recall(found, gt)
    inner = ann.faiss_index
    ef_or_probe = ann.params.ef_search if not ivfpq else ann.params.nprobe

    def search_params() -> Any:
        import faiss

        if ivfpq:
            p = faiss.SearchParametersIVF()
            p.nprobe = ef_or_probe
        else:
            cls: Any = faiss.SearchParametersHNSW  # type: ignore[attr-defined,unused-ignore]
            p = cls()
            p.efSearch = ef_or_probe
        return p

    raw_params = search_params()

    def omnivec_qps(r: int) -> float:
        t = time.perf_counter()
        for i in range(n_q):
            ann.search(Q[i : i + 1], K)
        return float(n_q / (time.perf_counter() - t))

    def exact_qps(r: int) -> float:
        t = time.perf_counter()
        for i in range(n_exact):
            exact.search(Q[i : i + 1], K)
        return float(n_exact / (time.perf_counter() - t))

    def raw_same_index_qps() -> float:
        t = time.perf_counter()
        for i in range(n_q):
            inner.search(Q[i : i + 1], K, params=raw_params)
        return float(n_q / (time.perf_counter() - t))

    a, b = paired(omnivec_qps, exact_qps, ctx.repeats)
    same = [raw_same_index_qps() for _ in range(ctx.repeats)]
    set_faiss_threads(ctx.faiss_threads)
    speedup = stats([x / y for x, y in zip(a, b)])
    bpv = ann.bytes_per_vector()
    reranked = ivfpq and ann.params.refine_factor > 0
    codes_only = ivfpq and not reranked
    # For a re-ranked IVF-PQ, "the same index" in raw FAISS is its codes without the re-ranking.
    same_key, ratio_key = (("raw_faiss_codes_only_qps", "rerank_cost_ratio") if reranked
                           else ("raw_faiss_same_index_qps", "wrapper_overhead_ratio"))
    extra: dict[str, Any] = {
        "n": n, "dim": DIM, "queries": n_q, "exact_queries_timed": n_exact,
        "recall_at_10": round(recall, 4),
        "auto_params": ann.params.to_dict(),
        "build_s": round(build_s, 1), "build_threads": ctx.faiss_threads,
        "bytes_per_vector": round(bpv, 1),
        same_key: stats(same).to_dict(),
        ratio_key: round(stats(a).median / stats(same).median, 3),
    }
    if codes_only:
        status = "PASS" if bpv < 100 else "GAP"
        target = "< 100 bytes/vector; recall reported"
    elif n >= 1_000_000:
        ok = recall >= 0.95 and speedup.median >= 20
        status = "PASS" if ok else "GAP"
        target = "recall@10 >= 0.95 at >= 20x exact QPS"
    else:  # the speed-up target is set at 1M (see the note): below it, recall decides
        status = "PASS" if recall >= 0.95 else "GAP"
        target = "recall@10 >= 0.95 (>= 20x exact QPS at 1M)"
    notes = [f"recall@10 = {recall:.3f} against exact inner-product search"]
    if not codes_only and n < 1_000_000:
        notes.append(f"the >= 20x target is set at 1M vectors; exact search costs O(n) per query, "
                     f"so at {n:,} it is {1_000_000 // n}x cheaper than at 1M and the ratio is "
                     "correspondingly smaller (full mode measures 1M)")
    if codes_only and recall < 0.9:
        notes.append("IVF-PQ trades recall for memory: 8-bit PQ codes cannot separate neighbours "
                      "whose cosines differ by ~0.01 (tight clusters); fig4.ivfpq_rerank "
                      "re-ranks the candidates with 8-bit copies of the vectors (the default).")
    if reranked:
        notes.append(f"re-ranks {ann.params.refine_factor} x k PQ candidates by an 8-bit copy of "
                     "each vector (one byte a dimension in RAM); rerank_cost_ratio = QPS with "
                     "re-ranking / FAISS on the same codes without it")
    return FigureResult(
        "fig4", name, title,
        f"{data_note}; omnivec AnnIndex.search vs raw FAISS IndexFlatIP.search, one query at a "
        "time, 1 OpenMP thread",
        omnivec=Measure(f"AnnIndex.search ({ann.params.kind.value})", "QPS", stats(a)),
        raw=Measure("FAISS IndexFlatIP (exact)", "QPS", stats(b)),
        ratio=Measure("ANN QPS / exact QPS", "x", speedup),
        target=target, status=status, extra=extra, notes=notes,
    )
