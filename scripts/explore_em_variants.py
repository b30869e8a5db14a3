#!/usr/bin/env python
"""Exploration behind issue 14's open 4-shot target: would a different EM over the unlabelled rows
(omnivec.indexer.probes.unlabeled) close the gap to the 16-shot probe? Nothing here is shipped.

On the three Debian section sets of scripts/bench_probes.py (same embeddings, prompts and draws),
every row not drawn is both the unlabelled pool and the test set. Each variant's EM classifier is
scored on its own, as the nearest re-estimated direction (``transductive_directions``), without
the probe fitted after it or the cross-validation guard that decides whether to keep it:

- ``shipped``: ``em_directions`` as it is (EM in the collection's whitened coordinates, since
  2026-12-02);
- ``raw``: the EM shipped before, in the raw embedding space; every variant below changes one
  thing of it:
- ``labelled xN``: each labelled row counts N times in the M-step (N = min(shots, 5) for "xS");
- ``proportions``: EM also learns each class's share of the rows (mixing weights);
- ``balanced``: the posteriors are rescaled (Sinkhorn, 10 rounds) so every class gets the same
  share: the assumption of the transductive few-shot literature (PT-MAP), true of these sets,
  rarely of a real collection;
- ``centred``: rows and prompts re-centred on the collection's mean and renormalised before EM
  (SimpleShot's CL2N);
- ``keywords`` (and ``keywords, xS`` with the labelled rows weighted): each row's embedding joined
  with its TF-IDF vector over the set's own texts (words and word pairs seen in 2+ texts,
  sublinear term frequency; each part unit-length, then the whole renormalised), the prompts
  padded with zeros there. The IDF is learnt from the whole collection, which makes the keyword
  half transductive too: a sparse "hybrid" feature, as hybrid search joins BM25 to the vectors.
- ``topics, whitened``: the shipped EM over each row's embedding joined with its TF-IDF vector
  reduced to 256 latent topics (truncated SVD, LSA; each part unit-length): the keyword half made
  small and dense enough for the shipped EM to whiten.

    python scripts/explore_em_variants.py [--seeds 10] [--shots 1,2,4,8,16] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_probes import (  # noqa: E402
    DATA_SETS,
    _draw,
    _load,
    emit,
    keyword_vectors,
    set_prompting,
    with_keywords,
)

from omnivec.indexer.probes import unlabeled as em  # noqa: E402
from omnivec.indexer.probes.numerics import softmax  # noqa: E402

# (labelled rows, labels, unlabelled rows, prompts, classes) -> (directions, bias): the
# classifier scores kappa * x . direction + bias.
Variant = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def _unit(a: np.ndarray) -> np.ndarray:
    out: np.ndarray = a / np.linalg.norm(a, axis=-1, keepdims=True)
    return out


def _balanced(posterior: np.ndarray, rounds: int = 10) -> np.ndarray:
    """Each class's column scaled to an equal share of the total mass, each row kept at its own."""
    q, rows = posterior.copy(), posterior.sum(axis=1, keepdims=True)
    for _ in range(rounds):
        q *= (rows.sum() / q.shape[1]) / np.maximum(q.sum(axis=0, keepdims=True), 1e-12)
        q *= rows / np.maximum(q.sum(axis=1, keepdims=True), 1e-12)
    return q


def _em(weight: Callable[[np.ndarray], float], balance: bool = False, proportions: bool = False) -> Variant:
    """The shipped E- and M-steps, with one change switched on."""
    kappa, anchor = em.EM_CONCENTRATION, em.PROMPT_ANCHOR

    def fit(X: np.ndarray, y: np.ndarray, U: np.ndarray, P: np.ndarray, C: int) -> tuple[np.ndarray, np.ndarray]:
        labelled = np.zeros((C, X.shape[1]))
        np.add.at(labelled, y, X)
        labelled *= weight(y)
        means = _unit(labelled + P)
        prompt_logits, log_share = U @ P.T * kappa * anchor, np.zeros(C)
        for _ in range(em.EM_ITERATIONS):
            logits = U @ means.T * kappa + prompt_logits + log_share
            background = np.full((len(U), 1), kappa * em.BACKGROUND_COSINE)
            posterior = softmax(np.hstack([logits, background]))[:, :C]
            if balance:
                posterior = _balanced(posterior)
            if proportions:
                share = posterior.sum(axis=0) + np.bincount(y, minlength=C)
                log_share = np.log(np.maximum(share / share.sum(), 1e-6) * C)
            means = _unit(posterior.T @ U + labelled)
        return em.transductive_directions(means, P), log_share

    return fit


def _shipped(X: np.ndarray, y: np.ndarray, U: np.ndarray, P: np.ndarray, C: int) -> tuple[np.ndarray, np.ndarray]:
    fit = em.em_directions(X, y, U, P, C)
    assert fit is not None
    return fit.directions, np.zeros(C)


_raw = _em(lambda y: 1.0)


def _fewest(y: np.ndarray) -> float:
    return float(min(int(np.bincount(y).min()), 5))


VARIANTS: dict[str, Variant] = {
    "shipped": _shipped,
    "raw": _raw,
    "labelled xS": _em(_fewest),
    "labelled x5": _em(lambda y: 5.0),
    "proportions": _em(lambda y: 1.0, proportions=True),
    "balanced": _em(lambda y: 1.0, balance=True),
    "balanced, xS": _em(_fewest, balance=True),
}


# On the raw EM: whitening thousands of keyword columns is another experiment.
KEYWORD_VARIANTS: dict[str, Variant] = {"keywords": _raw, "keywords, xS": _em(_fewest)}
TOPICS = 256


def with_topics(X: np.ndarray, P: np.ndarray, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's embedding joined with its TF-IDF vector's TOPICS latent topics (with_keywords'
    vectoriser, truncated SVD, seeded); the prompts padded with zeros there."""
    from sklearn.decomposition import TruncatedSVD

    Z = TruncatedSVD(TOPICS, random_state=0).fit_transform(keyword_vectors(texts))
    Z /= np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)  # a text of no kept word: 0
    return _unit(np.hstack([_unit(X), Z])), _unit(np.hstack([_unit(P), np.zeros((len(P), TOPICS))]))


def _every_label(X: np.ndarray, y: np.ndarray) -> str:
    """What the embedding allows a linear classifier with every label: 5-fold cross-validated
    logistic regression (scikit-learn) on all rows, the best of three C: a reference for the shot
    counts above, not a bound (the prior and EM can beat it)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = {c: cross_val_score(LogisticRegression(C=c, max_iter=2000), X, y, cv=folds).mean()
              for c in (1.0, 10.0, 100.0)}
    best = max(scores, key=lambda c: scores[c])
    per_class = int(np.bincount(y).min() * 4 / 5)
    return (f"every label: logistic regression, 5-fold CV (>= {per_class} labelled rows per class "
            f"per fold), best C {best:g}: {100 * scores[best]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--shots", default="1,2,4,8,16")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from omnivec.indexer.classify import embed_prompts
    from omnivec.indexer.config import load_settings
    from omnivec.indexer.models import ModelHub

    hub = ModelHub(load_settings())
    shots = [int(s) for s in args.shots.split(",")]
    names = [*VARIANTS, "centred", "keywords", "keywords, xS", "topics, whitened"]
    lines = [f"python scripts/explore_em_variants.py --seeds {args.seeds} --shots {args.shots}",
             "accuracy (%) of the EM classifier alone on the rows not drawn, mean of the draws", ""]
    for path in DATA_SETS:
        texts, labels = _load(path)
        X = hub.text().encode_texts(texts).astype(np.float64)
        classes = sorted(set(labels))
        prompt, readable = set_prompting(path)
        P = _unit(embed_prompts(hub, "text", classes, prompt, readable).astype(np.float64))
        centre = X.mean(axis=0)
        Xc, Pc = _unit(X - centre), _unit(P - centre)
        Xk, Pk = with_keywords(X, P, texts)
        Xt, Pt = with_topics(X, P, texts)
        y = np.asarray([classes.index(label) for label in labels])
        lines += [path.name, f"{'shots':>5} " + " ".join(f"{n:>13}" for n in names)]
        for s in shots:
            scores: dict[str, list[float]] = {n: [] for n in names}
            for seed in range(args.seeds):
                train, test = _draw(y, s, np.random.default_rng(1000 + seed))
                for name, fit in [
                    *VARIANTS.items(),
                    ("centred", _raw),
                    *KEYWORD_VARIANTS.items(),
                    ("topics, whitened", _shipped),
                ]:
                    rows, prompts = {
                        "centred": (Xc, Pc),
                        "topics, whitened": (Xt, Pt),
                        **dict.fromkeys(KEYWORD_VARIANTS, (Xk, Pk)),
                    }.get(name, (X, P))
                    D, bias = fit(rows[train], y[train], rows[test], prompts, len(classes))
                    logits = em.EM_CONCENTRATION * rows[test] @ D.T + bias
                    hits = np.argmax(logits, axis=1) == y[test]
                    scores[name].append(100 * float(hits.mean()))
            lines.append(f"{s:>5} " + " ".join(f"{np.mean(scores[n]):>13.1f}" for n in names))
            print(lines[-1], flush=True)
        lines += [_every_label(X, y), ""]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
