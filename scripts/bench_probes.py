#!/usr/bin/env python3
"""Quality bar of few-shot probes on real labelled text (a benchmark, not a test).

Data set: benchmarks/data/debian_sections.jsonl - 1000 one-line Debian package descriptions, 100
from each of 10 archive sections (sound, graphics, math, games, net, science, database, editors,
mail, fonts), made offline from ``apt-cache dumpavail`` by scripts/make_debian_probe_dataset.py.
Embedded with the bundled MiniLM (the ``text`` space, through omnivec's own encoder).

1. Few-shot: for 1, 2 and 4 shots per class and 10 seeds, the shots are drawn per class and every
   other row is the test set. Three classifiers are scored on it:
   - zero-shot: argmax of cosine to the prompt "software package for {}" with readable class
     names, embedded by the same space's text encoder (omnivec.indexer.classify.embed_prompts);
   - plain probe: ``train_probe`` without prompts;
   - prior probe: ``train_probe`` with the prompt embeddings (zero-shot initialised and
     regularised towards them; CV picks C and prior-vs-plain).
2. Parity: 16 shots x 10 classes, 5 seeds; ``train_probe`` (plain) vs scikit-learn's
   ``LogisticRegression`` with C chosen on the very same CV folds and grid, both scored on the
   same held-out split (40 rows: one row is 2.5 points) and, refitted on all shots with their
   chosen C, on the ~840 remaining rows, where the one-point bar is judged.
3. Training time at 16 shots x 50 classes x 384-d (synthetic, as `omnivec bench --only fig6`),
   reported, never asserted.

    python scripts/bench_probes.py [--seeds 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = REPO / "benchmarks" / "data" / "debian_sections.jsonl"
PROMPT = "software package for {}"
READABLE = {
    "sound": "sound and music",
    "graphics": "graphics and images",
    "math": "mathematics",
    "games": "games",
    "net": "networking",
    "science": "science",
    "database": "databases",
    "editors": "text editors",
    "mail": "email",
    "fonts": "fonts",
}


def _load(path: Path) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["text"] for r in rows], [r["section"] for r in rows]


def _draw(y: np.ndarray, shots: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    train = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), size=shots, replace=False) for c in np.unique(y)]
    )
    test = np.setdiff1d(np.arange(len(y)), train)
    return np.sort(train), test


def few_shot(X: np.ndarray, labels: list[str], prompts: dict[str, np.ndarray], seeds: int) -> dict[str, Any]:
    from omnivec.indexer.probes import ProbeTrainingConfig, train_probe

    classes = sorted(prompts)
    y = np.asarray([classes.index(lab) for lab in labels])
    P = np.stack([prompts[c] for c in classes])
    out: dict[str, Any] = {}
    for shots in (1, 2, 4):
        acc: dict[str, list[float]] = {"zero_shot": [], "plain": [], "prior": []}
        prior_used = 0
        for seed in range(seeds):
            rng = np.random.default_rng(1000 + seed)
            train, test = _draw(y, shots, rng)
            ytr = [labels[i] for i in train]
            truth = np.asarray([labels[i] for i in test])
            acc["zero_shot"].append(float(np.mean(np.asarray(classes)[np.argmax(X[test] @ P.T, 1)] == truth)))
            cfg = ProbeTrainingConfig(seed=seed)
            plain, _ = train_probe(X[train], ytr, config=cfg)
            acc["plain"].append(float(np.mean(np.asarray(plain.predict(X[test])) == truth)))
            prior, rep = train_probe(X[train], ytr, prompt_embeddings=prompts, config=cfg)
            acc["prior"].append(float(np.mean(np.asarray(prior.predict(X[test])) == truth)))
            prior_used += int(rep.zero_shot_prior_used)
        out[f"{shots}_shot"] = {
            **{k: {"mean": round(100 * float(np.mean(v)), 2), "std": round(100 * float(np.std(v)), 2)}
               for k, v in acc.items()},
            "prior_beats_plain_seeds": int(sum(p > q for p, q in zip(acc["prior"], acc["plain"]))),
            "prior_beats_zero_shot_seeds": int(sum(p > z for p, z in zip(acc["prior"], acc["zero_shot"]))),
            "prior_chosen_by_cv_seeds": prior_used,
            "seeds": seeds,
            "test_rows": int(len(labels) - shots * len(classes)),
        }
    return out


def parity(X: np.ndarray, labels: list[str], seeds: int = 5, shots: int = 16) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    from omnivec.bench.fig6_probes import sklearn_same_job as _sklearn_same_job
    from omnivec.indexer.probes import ProbeTrainingConfig, train_probe

    classes = sorted(set(labels))
    y = np.asarray([classes.index(lab) for lab in labels])
    rows = []
    for seed in range(seeds):
        train, test = _draw(y, shots, np.random.default_rng(2000 + seed))
        ytr = [labels[i] for i in train]
        cfg = ProbeTrainingConfig(seed=seed)
        model, rep = train_probe(X[train], ytr, config=cfg)
        cs = [s.c for s in rep.cv_scores]
        c_sk, held_sk = _sklearn_same_job(X[train], ytr, cs, cfg)
        sk = LogisticRegression(C=c_sk, max_iter=cfg.max_iter, tol=cfg.tol).fit(X[train], y[train])
        truth = np.asarray([labels[i] for i in test])
        ours_test = float(np.mean(np.asarray(model.predict(X[test])) == truth))
        sk_test = float(np.mean(np.asarray(classes)[sk.predict(X[test])] == truth))
        rows.append({
            "seed": seed, "c_ours": rep.chosen_c, "c_sklearn": c_sk,
            "heldout_ours": rep.heldout_accuracy, "heldout_sklearn": held_sk,
            "test_ours": ours_test, "test_sklearn": sk_test,
        })
    diff_held = [100 * abs(r["heldout_ours"] - r["heldout_sklearn"]) for r in rows]
    diff_test = [100 * abs(r["test_ours"] - r["test_sklearn"]) for r in rows]
    return {
        "shape": f"{shots} shots x {len(classes)} classes (Debian sections)",
        "runs": rows,
        "max_abs_diff_points_heldout": round(max(diff_held), 2),
        "max_abs_diff_points_test": round(max(diff_test), 2),
        "mean_test_ours": round(100 * float(np.mean([r["test_ours"] for r in rows])), 2),
        "mean_test_sklearn": round(100 * float(np.mean([r["test_sklearn"] for r in rows])), 2),
        # The internal held-out split is 25% of 160 shots = 40 rows (2.5 points per row), too coarse
        # for a 1-point bar; the bar is judged on the ~840 remaining rows.
        "heldout_rows": int(round(len(classes) * shots * 0.25)),
        "test_rows": int(len(labels) - len(classes) * shots),
        "within_one_point": bool(max(diff_test) <= 1.0),
    }


def _timed(fn: Any, repeats: int) -> tuple[float, float, Any]:
    """Best wall and CPU seconds over ``repeats`` calls, and the last result."""
    import time

    walls, cpus, result = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), result


def timing() -> dict[str, Any]:
    from omnivec.bench.fig6_probes import make_data as _data
    from omnivec.indexer.probes import ProbeTrainingConfig, train_probe

    X, labels, prompts = _data(50, 16, 384, 0.08, 0)
    cfg = ProbeTrainingConfig(seed=0)
    wall_p, cpu_p, _ = _timed(lambda: train_probe(X, labels, config=cfg), 3)
    wall_z, cpu_z, _ = _timed(lambda: train_probe(X, labels, prompt_embeddings=prompts, config=cfg), 3)
    return {
        "shape": "16 shots x 50 classes x 384-d (synthetic)",
        "plain_wall_s": round(wall_p, 3), "plain_cpu_s": round(cpu_p, 3),
        "prior_wall_s": round(wall_z, 3), "prior_cpu_s": round(cpu_z, 3),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from omnivec.indexer.classify import embed_prompts
    from omnivec.indexer.config import load_settings
    from omnivec.indexer.models import ModelHub

    texts, labels = _load(args.data)
    hub = ModelHub(load_settings(offline=True))
    started = time.perf_counter()
    X = hub.text().encode_texts(texts).astype(np.float64)
    embed_s = time.perf_counter() - started
    classes = sorted(set(labels))
    P = embed_prompts(hub, "text", classes, PROMPT, READABLE)
    prompts = {c: P[i] for i, c in enumerate(classes)}
    result: dict[str, Any] = {
        "data": f"{args.data.relative_to(REPO) if args.data.is_relative_to(REPO) else args.data}: "
                f"{len(texts)} Debian package descriptions, {len(classes)} sections",
        "encoder": hub.text().spec.describe(),
        "prompt": PROMPT,
        "embed_seconds": round(embed_s, 2),
        "few_shot_accuracy_pct": few_shot(X, labels, prompts, args.seeds),
        "parity_vs_sklearn": parity(X, labels),
        "train_time_16x50": timing(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"data: {result['data']}\nencoder: {result['encoder']}  prompt: {PROMPT!r}")
    print(f"{'shots':>6} {'zero-shot':>12} {'plain':>12} {'prior':>12}   prior>plain  prior>zs  cv chose prior")
    for key, r in result["few_shot_accuracy_pct"].items():
        cells = [f"{r[k]['mean']:6.2f}±{r[k]['std']:4.1f}" for k in ("zero_shot", "plain", "prior")]
        print(f"{key:>6} {cells[0]:>12} {cells[1]:>12} {cells[2]:>12}   "
              f"{r['prior_beats_plain_seeds']:>5}/{r['seeds']}  {r['prior_beats_zero_shot_seeds']:>5}/{r['seeds']}"
              f"  {r['prior_chosen_by_cv_seeds']:>5}/{r['seeds']}")
    p = result["parity_vs_sklearn"]
    print(f"parity ({p['shape']}): max |diff| held-out ({p['heldout_rows']} rows) "
          f"{p['max_abs_diff_points_heldout']} pts, test ({p['test_rows']} rows) "
          f"{p['max_abs_diff_points_test']} pts (ours {p['mean_test_ours']}%, sklearn "
          f"{p['mean_test_sklearn']}%) -> within 1 point: {p['within_one_point']}")
    t = result["train_time_16x50"]
    print(f"training {t['shape']}: plain {t['plain_wall_s']} s wall ({t['plain_cpu_s']} s CPU), "
          f"with prior {t['prior_wall_s']} s wall ({t['prior_cpu_s']} s CPU), {t['cpu_count']} CPUs")


if __name__ == "__main__":
    main()
