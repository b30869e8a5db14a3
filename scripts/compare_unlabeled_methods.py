#!/usr/bin/env python
"""Which way of learning from a collection's unlabelled rows to ship: the comparison behind
omnivec.indexer.probes.unlabeled.

On the three Debian section sets of scripts/bench_probes.py (same embeddings, prompts and draws),
for 1, 2 and 4 shots per class and ``--seeds`` draws, every other row is both the unlabelled pool
and the test set (transductive, as ``omnivec probe train`` on a collection holding them all).
Scored on those rows:

- ``prior``: today's probe without unlabelled rows (``train_probe`` with the prompts);
- ``em``: the shipped method, ``train_probe(..., unlabeled=...)``: class means re-estimated by EM
  on the rows, anchored at the prompts, then the probe regularised towards them (with its CV guard);
- ``self-training``: the prior probe pseudo-labels the rows; those with probability >= 0.9 (at most
  8 per class, the most confident) join the labels, weight 1, and the probe is trained again;
- ``label propagation``: Zhou et al.'s spreading over a 10-NN cosine graph of labelled + unlabelled
  rows (alpha 0.9, 20 iterations), the unlabelled rows seeded with the zero-shot softmax at 0.3;
- ``tip-adapter``: zero-shot logits plus Tip-Adapter's cache logits over the labelled rows
  (alpha 1, beta 5; training-free, uses no unlabelled row).

    python scripts/compare_unlabeled_methods.py [--seeds 3] [--out benchmarks/results/unlabeled_methods.txt]

Prints the mean accuracy (%) per set, method and shot count, and writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_probes import DATA_SETS, PROMPT, _draw, _load, set_prompting  # noqa: E402

METHODS = ("zero-shot", "prior", "em", "self-training", "label propagation", "tip-adapter")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _self_training(X: np.ndarray, y: np.ndarray, U: np.ndarray, classes: list[str], prompts: dict[str, Any], cfg: Any) -> Any:
    from omnivec.indexer.probes import train_probe

    model, _ = train_probe(X, [classes[i] for i in y], prompt_embeddings=prompts, config=cfg)
    proba = np.asarray(model.predict_proba(U))
    order = np.asarray([classes.index(c) for c in model.classes])
    best, conf = order[np.argmax(proba, axis=1)], proba.max(axis=1)
    extra: list[int] = []
    for k in range(len(classes)):
        rows = np.flatnonzero((best == k) & (conf >= 0.9))
        extra += list(rows[np.argsort(-conf[rows])][:8])
    if not extra:
        return model
    X2 = np.vstack([X, U[extra]])
    y2 = [classes[i] for i in y] + [classes[best[i]] for i in extra]
    model, _ = train_probe(X2, y2, prompt_embeddings=prompts, config=cfg)
    return model


def _label_propagation(X: np.ndarray, y: np.ndarray, U: np.ndarray, P: np.ndarray) -> np.ndarray:
    A = np.vstack([X, U])
    S = A @ A.T
    np.fill_diagonal(S, -np.inf)
    k = 10
    nn = np.argpartition(-S, k, axis=1)[:, :k]
    W = np.zeros_like(S)
    rows = np.repeat(np.arange(len(A)), k)
    W[rows, nn.ravel()] = np.maximum(S[rows, nn.ravel()], 0)
    W = np.maximum(W, W.T)
    d = W.sum(axis=1)
    d[d == 0] = 1
    Sn = W / np.sqrt(d[:, None] * d[None, :])
    Y0 = np.zeros((len(A), P.shape[0]))
    Y0[np.arange(len(X)), y] = 1
    Y0[len(X):] = 0.3 * _softmax(50 * (U @ P.T))
    F = Y0.copy()
    for _ in range(20):
        F = 0.9 * Sn @ F + 0.1 * Y0
    return np.argmax(F[len(X):], axis=1)


def _tip_adapter(X: np.ndarray, y: np.ndarray, U: np.ndarray, P: np.ndarray) -> np.ndarray:
    onehot = np.eye(P.shape[0])[y]
    cache = np.exp(-5.0 * (1 - U @ X.T)) @ onehot
    return np.argmax(100 * (U @ P.T) + 1.0 * cache, axis=1)


def _score(model: Any, classes: list[str], U: np.ndarray, truth: np.ndarray) -> float:
    order = np.asarray([classes.index(c) for c in model.classes])
    return float(np.mean(order[np.argmax(model.logits(U), axis=1)] == truth))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "unlabeled_methods.txt")
    ap.add_argument("--data", type=Path, action="append",
                    help="JSONL set(s) to compare on (default: the three Debian sets)")
    ap.add_argument("--shots", default="1,2,4", help="comma-separated shots per class")
    args = ap.parse_args()

    from omnivec.indexer.classify import embed_prompts
    from omnivec.indexer.config import load_settings
    from omnivec.indexer.models import ModelHub
    from omnivec.indexer.probes import ProbeTrainingConfig, train_probe

    hub = ModelHub(load_settings(offline=True))
    lines = [f"transductive accuracy (%) on the rows not drawn, mean of {args.seeds} draws; prompt {PROMPT!r}"]
    for path in [p.resolve() for p in args.data] if args.data else list(DATA_SETS):
        prompt, names = set_prompting(path)
        texts, labels = _load(path)
        X = hub.text().encode_texts(texts).astype(np.float64)
        classes = sorted(set(labels))
        P = embed_prompts(hub, "text", classes, prompt, names)
        P = P / np.linalg.norm(P, axis=1, keepdims=True)
        prompts = {c: P[i] for i, c in enumerate(classes)}
        y = np.asarray([classes.index(lab) for lab in labels])
        lines.append(f"\n{path.name} ({len(classes)} classes, {'readable' if names else 'raw'} "
                     f"names, prompt {prompt!r})")
        lines.append(f"{'shots':>6} " + " ".join(f"{m:>18}" for m in METHODS))
        for shots in (int(n) for n in args.shots.split(",")):
            acc: dict[str, list[float]] = {m: [] for m in METHODS}
            for seed in range(args.seeds):
                train, test = _draw(y, shots, np.random.default_rng(1000 + seed))
                Xt, yt, U, truth = X[train], y[train], X[test], y[test]
                cfg = ProbeTrainingConfig(seed=seed)
                names = [classes[i] for i in yt]

                score = functools.partial(_score, classes=classes, U=U, truth=truth)
                acc["zero-shot"].append(float(np.mean(np.argmax(U @ P.T, axis=1) == truth)))
                acc["prior"].append(score(train_probe(Xt, names, prompt_embeddings=prompts, config=cfg)[0]))
                acc["em"].append(score(train_probe(Xt, names, prompt_embeddings=prompts, unlabeled=U, config=cfg)[0]))
                acc["self-training"].append(score(_self_training(Xt, yt, U, classes, prompts, cfg)))
                acc["label propagation"].append(float(np.mean(_label_propagation(Xt, yt, U, P) == truth)))
                acc["tip-adapter"].append(float(np.mean(_tip_adapter(Xt, yt, U, P) == truth)))
            lines.append(f"{shots:>6} " + " ".join(f"{100 * np.mean(acc[m]):>18.1f}" for m in METHODS))
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
