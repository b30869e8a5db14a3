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
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_probes import (  # noqa: E402
    DATA_SETS,
    PER_ROUND,
    ROUNDS,
    Chooser,
    _load,
    emit,
    labelling_rounds,
    random_chooser,
    set_prompting,
    suggest_chooser,
)

from omnivec.indexer.probes.suggestion import suggest_rows  # noqa: E402

SHORTLIST_PER_PICK = 5


def _spread(model: Any, X: np.ndarray, pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    proba = model.predict_proba(X[pool])
    shortlist = suggest_rows(proba, X[pool], min(len(pool), SHORTLIST_PER_PICK * PER_ROUND))
    by_class: dict[int, list[Any]] = {}
    for s in shortlist:
        by_class.setdefault(s.predicted, []).append(s)
    picked: list[int] = []
    while len(picked) < PER_ROUND and by_class:
        for cls in sorted(by_class, key=lambda c: -by_class[c][0].score):
            picked.append(by_class[cls].pop(0).row)
            if not by_class[cls]:
                del by_class[cls]
            if len(picked) == PER_ROUND:
                break
    return pool[picked]


STRATEGIES: dict[str, Chooser] = {"shipped": suggest_chooser, "spread": _spread, "random": random_chooser}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--data", type=Path, action="append")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from omnivec.indexer.classify import embed_prompts
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
        texts, labels = _load(path)
        X = hub.text().encode_texts(texts).astype(np.float64)
        classes = sorted(set(labels))
        prompt, readable = set_prompting(path)
        P = embed_prompts(hub, "text", classes, prompt, readable)
        finals, _ = labelling_rounds(
            X, labels, {c: P[i] for i, c in enumerate(classes)}, args.seeds, STRATEGIES
        )
        random = [100 * a for a in finals["random"]]
        lines.append(path.name)
        for name, draws in finals.items():
            values = [100 * a for a in draws]
            wins = sum(a > b for a, b in zip(values, random))
            vs = (
                "" if name == "random"
                else f"  {np.mean(values) - np.mean(random):+.1f} vs random, better in {wins}/{args.seeds} draws"
            )
            lines.append(f"  {name:>8} {np.mean(values):5.1f} ± {np.std(values):3.1f}{vs}")
        lines.append("")
        print("\n".join(lines[-len(finals) - 2 :]), flush=True)
    emit(lines, args.out)


if __name__ == "__main__":
    main()
