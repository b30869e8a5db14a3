#!/usr/bin/env python
"""Exploration behind issue 14's active-learning target: would spreading ``suggest``'s picks over
the classes the probe predicts beat the shipped ranking? Nothing here is shipped.

The protocol is ``scripts/bench_probes.py --only suggest`` (same start of 1 shot per class, same
probe, 5 rounds of 10 labels, every strategy's final probe scored on the rows no strategy
labelled), with one more strategy beside the shipped one and random choice:

- ``shipped``: ``omnivec.indexer.probes.suggestion.suggest_rows`` as it is (uncertainty x
  typicality, near-duplicates passed over on a kNN graph);
- ``spread``: the shipped ranking's best ``5 x n`` rows (its own picks for ``5 x n``) taken in
  passes over the classes the probe predicts for them, one row per class in each pass, the class
  with the best remaining row first: class-balanced selection (Bengar et al. 2022), so that the
  pairs of classes the probe confuses most do not take the whole round.

    python scripts/explore_suggest_variants.py [--seeds 10] [--data SET ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_probes import DATA_SETS, PER_ROUND, ROUNDS, _accuracy, _draw, _load, set_prompting  # noqa: E402

from omnivec.indexer.probes.suggestion import suggest_rows  # noqa: E402

SHORTLIST_PER_PICK = 5

# (probe, unlabelled rows, their vectors, generator) -> chosen indices into the rows
Chooser = Callable[[Any, np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


def _spread(proba: np.ndarray, vectors: np.ndarray, n: int) -> list[int]:
    shortlist = suggest_rows(proba, vectors, min(len(proba), SHORTLIST_PER_PICK * n))
    by_class: dict[int, list[Any]] = {}
    for s in shortlist:
        by_class.setdefault(s.predicted, []).append(s)
    picked: list[int] = []
    while len(picked) < n and by_class:
        for cls in sorted(by_class, key=lambda c: -by_class[c][0].score):
            picked.append(by_class[cls].pop(0).row)
            if not by_class[cls]:
                del by_class[cls]
            if len(picked) == n:
                break
    return picked


STRATEGIES: dict[str, Chooser] = {
    "shipped": lambda m, pool, X, rng: pool[
        [s.row for s in suggest_rows(m.predict_proba(X[pool]), X[pool], PER_ROUND)]
    ],
    "spread": lambda m, pool, X, rng: pool[_spread(m.predict_proba(X[pool]), X[pool], PER_ROUND)],
    "random": lambda m, pool, X, rng: rng.choice(pool, PER_ROUND, replace=False),
}


def _compare(hub: Any, path: Path, seeds: int) -> dict[str, list[float]]:
    """Every strategy's accuracy (%) after the rounds, one per draw."""
    from omnivec.indexer.classify import embed_prompts
    from omnivec.indexer.probes import ProbeTrainingConfig, train_probe

    texts, labels = _load(path)
    X = hub.text().encode_texts(texts).astype(np.float64)
    classes = sorted(set(labels))
    prompt, readable = set_prompting(path)
    P = embed_prompts(hub, "text", classes, prompt, readable)
    prompts = {c: P[i] for i, c in enumerate(classes)}
    y = np.asarray([classes.index(label) for label in labels])
    truth = np.asarray(labels)

    def train(rows: np.ndarray, seed: int) -> Any:
        rest = np.setdiff1d(np.arange(len(y)), rows)
        model, _ = train_probe(
            X[rows], [labels[i] for i in rows], prompt_embeddings=prompts, unlabeled=X[rest],
            config=ProbeTrainingConfig(seed=seed),
        )
        return model

    finals: dict[str, list[float]] = {name: [] for name in STRATEGIES}
    for seed in range(seeds):
        start, _ = _draw(y, 1, np.random.default_rng(1000 + seed))
        labelled: dict[str, np.ndarray] = {}
        for name, choose in STRATEGIES.items():
            rng, rows = np.random.default_rng(5000 + seed), start.copy()
            for _ in range(ROUNDS):
                model = train(rows, seed)
                pool = np.setdiff1d(np.arange(len(y)), rows)
                rows = np.union1d(rows, choose(model, pool, X, rng))
            labelled[name] = rows
        test = np.setdiff1d(np.arange(len(y)), np.unique(np.concatenate(list(labelled.values()))))
        for name, rows in labelled.items():
            finals[name].append(100 * _accuracy(train(rows, seed), X[test], truth[test]))
        print(path.name, seed, {k: round(v[-1], 1) for k, v in finals.items()}, flush=True)
    return finals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--data", type=Path, action="append")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from omnivec.indexer.config import load_settings
    from omnivec.indexer.models import ModelHub

    hub = ModelHub(load_settings(offline=True))
    paths = [p.resolve() for p in args.data] if args.data else list(DATA_SETS)
    lines = [
        f"python scripts/explore_suggest_variants.py --seeds {args.seeds} "
        + " ".join(f"--data {p.relative_to(REPO)}" for p in paths),
        f"accuracy (%) after 1 shot per class + {ROUNDS} rounds of {PER_ROUND} labels, on the rows "
        "no strategy labelled",
        "",
    ]
    for path in paths:
        finals = _compare(hub, path, args.seeds)
        random = finals["random"]
        lines.append(path.name)
        for name, values in finals.items():
            wins = sum(a > b for a, b in zip(values, random))
            vs = (
                "" if name == "random"
                else f"  {np.mean(values) - np.mean(random):+.1f} vs random, better in {wins}/{args.seeds} draws"
            )
            lines.append(f"  {name:>8} {np.mean(values):5.1f} ± {np.std(values):3.1f}{vs}")
        lines.append("")
        print("\n".join(lines[-len(finals) - 2 :]), flush=True)
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
