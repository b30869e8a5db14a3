"""Retrieval figures per query, and their means with bootstrap intervals.

Per query, from the ranked item ids and the graded relevant ids (grade > 0):

- recall@k: the share of the relevant items in the first k;
- MRR@10: 1 / the rank of the first relevant item in the first 10, else 0;
- nDCG@10: DCG of the first 10 (gain = grade, discount log2(rank + 1), as trec_eval) over the
  DCG of the ideal order.

A mean over queries comes with a 95% percentile bootstrap interval: the queries are resampled
with replacement ``samples`` times from a seeded generator. A difference between two
configurations is paired: the per-query differences are resampled together, so the interval
reflects how consistently one beats the other on the same queries, not the spread of either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from omnivec.client.types import METRICS, Estimate

__all__ = ["bootstrap_means", "estimate", "query_metrics"]

DEPTH = 10


def query_metrics(ranked: Sequence[str], relevant: Mapping[str, float]) -> np.ndarray:
    """The figures of METRICS for one query, in that order."""
    gains = [float(relevant.get(item, 0.0)) for item in ranked[:DEPTH]]
    hits = [g > 0 for g in gains]
    n_relevant = sum(1 for g in relevant.values() if g > 0)
    out = np.zeros(len(METRICS), np.float64)
    if n_relevant == 0:
        return out
    out[0] = sum(hits[:1]) / n_relevant
    out[1] = sum(hits[:5]) / n_relevant
    out[2] = sum(hits[:10]) / n_relevant
    first = next((i for i, hit in enumerate(hits) if hit), None)
    out[3] = 0.0 if first is None else 1.0 / (first + 1)
    discounts = 1.0 / np.log2(np.arange(2, DEPTH + 2))
    dcg = float(np.dot(gains, discounts[: len(gains)]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:DEPTH]
    idcg = float(np.dot(ideal, discounts[: len(ideal)]))
    out[4] = dcg / idcg if idcg > 0 else 0.0
    return out


def bootstrap_means(values: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """(samples, figures): the column means of ``values`` (queries, figures) over resamples of
    its rows; the same seed resamples the same queries, which pairs two configurations."""
    n = values.shape[0]
    rng = np.random.default_rng(seed)
    out = np.empty((samples, values.shape[1]), np.float64)
    # In blocks, so 1000 resamples of thousands of queries stay a few MB.
    block = max(1, 2_000_000 // max(n, 1))
    for start in range(0, samples, block):
        stop = min(samples, start + block)
        picks = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = values[picks].mean(axis=1)
    return out


def estimate(values: np.ndarray, samples: int, seed: int) -> list[Estimate]:
    """Per figure (column of ``values``): the mean and its 95% bootstrap interval."""
    if values.shape[0] == 0:
        return [Estimate(0.0, 0.0, 0.0) for _ in range(values.shape[1])]
    means = values.mean(axis=0)
    if samples <= 0:
        return [Estimate(float(m), float(m), float(m)) for m in means]
    boot = bootstrap_means(values, samples, seed)
    low, high = np.percentile(boot, [2.5, 97.5], axis=0)
    return [Estimate(float(m), float(lo), float(hi)) for m, lo, hi in zip(means, low, high)]
