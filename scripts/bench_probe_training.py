#!/usr/bin/env python3
"""Benchmark the probe training math: 16 shots x 50 classes x 384-d over the whole C grid.

Prints the wall and CPU time of ``train_probe`` (plain, and with a zero-shot prior, which runs
the CV for both families) and of scikit-learn doing the same job: ``LogisticRegression(C)`` fitted
on the very same folds for the very same C values, C chosen by the same rule, refitted, scored on
the same held-out split. Timing is reported, never asserted (machines are shared).

    python scripts/bench_probe_training.py [--classes 50] [--shots 16] [--dim 384] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from omnivec.indexer.probes import ProbeTrainingConfig, train_probe
from omnivec.indexer.probes.training import _holdout_split, _log_loss, _make_splits


def _data(
    n_classes: int, shots: int, dim: int, noise: float, seed: int
) -> tuple[NDArray[np.float64], list[str], dict[str, NDArray[np.float64]]]:
    """Overlapping unit-norm clusters (a shared direction makes all cosines positive, like real
    embedding spaces) and noisy 'prompt' embeddings near each class mean."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=dim) + 0.5 * rng.normal(size=(n_classes, dim))
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    X = np.repeat(means, shots, axis=0) + noise * rng.normal(size=(n_classes * shots, dim))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    labels = [f"c{i}" for i in np.repeat(np.arange(n_classes), shots)]
    prompts = {f"c{i}": means[i] + 0.05 * rng.normal(size=dim) for i in range(n_classes)}
    return X, labels, prompts


def _timed(fn: Any, repeats: int) -> tuple[float, float, Any]:
    best_wall, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu, out


def _sklearn_same_job(
    X: NDArray[np.float64], labels: list[str], cs: list[float], config: ProbeTrainingConfig
) -> tuple[float, float]:
    """scikit-learn on our folds and C values; returns (chosen C, held-out accuracy)."""
    from sklearn.linear_model import LogisticRegression

    classes = sorted(set(labels))
    y = np.asarray([classes.index(lab) for lab in labels])
    # Same seed, same draw order as train_probe: identical held-out split and CV folds.
    rng = np.random.default_rng(config.seed)
    train, held = _holdout_split(y, config.holdout_fraction, rng)
    splits = _make_splits(y[train], len(classes), rng)
    Xtr, ytr = X[train], y[train]
    scores: dict[float, tuple[float, float]] = {}
    for c in cs:
        Z, yy = [], []
        for _, tr, va in splits.folds:
            m = LogisticRegression(C=c, max_iter=config.max_iter, tol=config.tol)
            m.fit(Xtr[tr], ytr[tr])
            Z.append(m.decision_function(Xtr[va]))
            yy.append(ytr[va])
        Zc, yc = np.concatenate(Z), np.concatenate(yy)
        scores[c] = (float(np.mean(Zc.argmax(1) == yc)), _log_loss(Zc, yc))
    chosen = min(scores, key=lambda c: (-scores[c][0], scores[c][1], c))
    m = LogisticRegression(C=chosen, max_iter=config.max_iter, tol=config.tol).fit(Xtr, ytr)
    acc = float(np.mean(m.predict(X[held]) == y[held]))
    LogisticRegression(C=chosen, max_iter=config.max_iter, tol=config.tol).fit(X, y)  # refit
    return chosen, acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--shots", type=int, default=16)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--noise", type=float, default=0.08)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-sklearn", action="store_true")
    ap.add_argument("--json", action="store_true", help="one JSON line instead of text")
    args = ap.parse_args()

    X, labels, prompts = _data(args.classes, args.shots, args.dim, args.noise, args.seed)
    config = ProbeTrainingConfig(seed=args.seed)
    result: dict[str, Any] = {
        "shape": f"{args.shots} shots x {args.classes} classes x {args.dim}-d",
        "cpu_count": os.cpu_count(),
        "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS")
        or os.environ.get("OMP_NUM_THREADS"),
    }
    wall, cpu, (_, rep) = _timed(lambda: train_probe(X, labels, config=config), args.repeats)
    result["plain"] = {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "c_values_evaluated": len(rep.cv_scores),
        "selection": rep.selection_method,
        "chosen_c": rep.chosen_c,
        "heldout_accuracy": rep.heldout_accuracy,
    }
    wall, cpu, (_, rep_p) = _timed(
        lambda: train_probe(X, labels, prompt_embeddings=prompts, config=config), args.repeats
    )
    result["with_prompts"] = {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "chosen_c": rep_p.chosen_c,
        "zero_shot_prior_used": rep_p.zero_shot_prior_used,
        "heldout_accuracy": rep_p.heldout_accuracy,
        "zero_shot_accuracy": rep_p.zero_shot_accuracy,
        "plain_probe_accuracy": rep_p.plain_probe_accuracy,
    }
    if not args.no_sklearn:
        cs = [s.c for s in rep.cv_scores]
        wall, cpu, (c_sk, acc_sk) = _timed(lambda: _sklearn_same_job(X, labels, cs, config), 1)
        result["sklearn_same_grid_same_folds"] = {
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "chosen_c": c_sk,
            "heldout_accuracy": acc_sk,
        }
    if args.json:
        print(json.dumps(result))
        return
    print(f"probe training benchmark: {result['shape']} ({result['cpu_count']} CPUs)")
    for key in ("plain", "with_prompts", "sklearn_same_grid_same_folds"):
        if key in result:
            fields = ", ".join(f"{k}={v}" for k, v in result[key].items())
            print(f"  {key:30s} {fields}")


if __name__ == "__main__":
    main()
