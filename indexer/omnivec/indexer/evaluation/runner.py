"""``omnivec eval``: retrieval figures of a collection on labelled queries, per configuration.

Each query is embedded once per space (in batches), and every ranking the collection has is run
once for it (:func:`omnivec.indexer.search.gather_rankings`, as a search with k = 10 runs them).
Every configuration is then a fusion of those same rankings (:func:`fused_order`, the function
search itself uses), so the figures are those that ``omnivec search`` would give:

- ``vector:<space>``: one space alone; ``keyword``: BM25 alone;
- ``vector``: the spaces fused; ``hybrid``: spaces and keyword fused; ``routed``: hybrid with
  routing by modality; all three with the collection's weights (or the ones given);
- ``tuned`` (with ``tune``): the cross-validated figure of weights chosen on the queries
  (:mod:`omnivec.indexer.evaluation.tuning`).

A configuration that cannot answer a query (the text space for an image query, keyword search
for an image) scores 0 there, as its search would return nothing. Every figure has a bootstrap
interval, and every configuration a paired difference with the baseline for every figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnivec.client.types import (
    KEYWORD_RANKING,
    METRICS,
    ConfigurationResult,
    EvalOptions,
    EvalProgress,
    EvalQuery,
    EvalReport,
    Fusion,
    PairedDifference,
    SearchQuery,
    TuningResult,
)
from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.evaluation.metrics import estimate, query_metrics
from omnivec.indexer.evaluation.queries import check_queries, query_label
from omnivec.indexer.evaluation.tuning import candidate_fusions, cross_validate
from omnivec.indexer.fusion import Candidates, check_fusion, fused_order
from omnivec.indexer.fusion_store import load_fusion, save_fusion
from omnivec.indexer.media import MediaSource
from omnivec.indexer.models import ModelHub
from omnivec.indexer.search import collection_rankings, gather_rankings, plan_search
from omnivec.indexer.store import Collection

__all__ = ["EvalProgressCallback", "check_options", "evaluate"]

EvalProgressCallback = Callable[[EvalProgress], None]
K = 10
EMBED_BATCH = 64
MAX_BOOTSTRAP = 10_000
MAX_FOLDS = 20


def check_options(options: EvalOptions) -> EvalOptions:
    if options.objective not in METRICS:
        raise InvalidInputError(
            f"unknown objective {options.objective!r}; use one of {', '.join(METRICS)}"
        )
    if not 2 <= options.folds <= MAX_FOLDS:
        raise InvalidInputError(f"folds must be between 2 and {MAX_FOLDS}, got {options.folds}")
    if not 0 <= options.bootstrap_samples <= MAX_BOOTSTRAP:
        raise InvalidInputError(
            f"bootstrap samples must be between 0 and {MAX_BOOTSTRAP}, got {options.bootstrap_samples}"
        )
    return options


@dataclass(frozen=True)
class _Config:
    name: str
    description: str
    fusion: Fusion


def _source(value: bytes | str | Path | object) -> MediaSource:
    return value if isinstance(value, bytes) else Path(str(value))


def _embed(
    collection: Collection,
    models: ModelHub,
    queries: Sequence[EvalQuery],
    progress: EvalProgressCallback,
) -> tuple[list[dict[str, np.ndarray]], list[str | None]]:
    """Per query: its vector in each space that can embed it, and its words (text or
    transcript) for the keyword ranking."""
    vectors: list[dict[str, np.ndarray]] = [{} for _ in queries]
    words: list[str | None] = [None] * len(queries)
    for i, query in enumerate(queries):
        if query.text is not None:
            words[i] = query.text
        elif query.audio is not None:
            transcript = models.speech().transcribe(_source(query.audio))
            if not transcript.text.strip():
                raise InvalidInputError(f"{query_label(query, i)}: no speech was recognised")
            words[i] = transcript.text
    worded = [i for i, w in enumerate(words) if w is not None]
    images = [i for i, q in enumerate(queries) if q.image is not None]
    total = len(worded) * len(collection.spaces) + len(images)
    done = 0
    progress(EvalProgress("embed", 0, total))
    for space in collection.spaces:
        encoder = models.embedder(space)
        collection.check_encoder(space, encoder.spec)
        for start in range(0, len(worded), EMBED_BATCH):
            batch = worded[start : start + EMBED_BATCH]
            texts = [words[i] or "" for i in batch]
            for i, vector in zip(batch, encoder.encode_texts(texts)):
                vectors[i][space] = vector
            done += len(batch)
            progress(EvalProgress("embed", done, total))
    if images and "clip" in collection.spaces:
        clip = models.clip()
        for start in range(0, len(images), EMBED_BATCH):
            batch = images[start : start + EMBED_BATCH]
            encoded = clip.encode_images([_source(queries[i].image) for i in batch])
            for i, vector in zip(batch, encoded):
                vectors[i]["clip"] = vector
            done += len(batch)
            progress(EvalProgress("embed", done, total))
    return vectors, words


def _rankings(
    collection: Collection,
    queries: Sequence[EvalQuery],
    vectors: Sequence[dict[str, np.ndarray]],
    words: Sequence[str | None],
    progress: EvalProgressCallback,
) -> list[Candidates]:
    """Every ranking of every query, as a search with k = 10 and equal weights runs them."""
    out: list[Candidates] = []
    for i, query in enumerate(queries):
        search = SearchQuery(
            text=words[i], image=b"" if query.image is not None else None, k=K,
            mode="hybrid", fusion=Fusion(),
        )
        try:
            plan = plan_search(collection, search)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{query_label(query, i)}: {exc}") from exc
        candidates, _ = gather_rankings(collection, plan, vectors[i])
        out.append(candidates)
        if (i + 1) % 50 == 0 or i + 1 == len(queries):
            progress(EvalProgress("search", i + 1, len(queries)))
    return out


def _configurations(rankings: Sequence[str], fusion: Fusion) -> list[_Config]:
    spaces = [r for r in rankings if r != KEYWORD_RANKING]
    only = {r: 0.0 for r in rankings}
    configs = [
        _Config(f"vector:{s}", f"the {s} space alone", Fusion({**only, s: 1.0})) for s in spaces
    ]
    configs.append(
        _Config("keyword", "keyword search (BM25) alone", Fusion({**only, KEYWORD_RANKING: 1.0}))
    )
    vector = {r: fusion.weight(r) for r in spaces}
    configs.append(
        _Config("vector", "the spaces fused (vector mode)", Fusion({**vector, KEYWORD_RANKING: 0.0}))
    )
    configs.append(_Config("hybrid", "spaces and keywords fused (hybrid mode)", Fusion(dict(fusion.weights))))
    configs.append(
        _Config("routed", "hybrid, each modality ranked by its own rankings",
                Fusion(dict(fusion.weights), route_by_modality=True))
    )
    return configs


def _figures(
    candidates: Sequence[Candidates], queries: Sequence[EvalQuery], fusion: Fusion
) -> np.ndarray:
    """(queries, figures) under ``fusion``."""
    out = np.zeros((len(queries), len(METRICS)), np.float64)
    for i, (table, query) in enumerate(zip(candidates, queries)):
        order, _, _ = fused_order(table, fusion, K)
        out[i] = query_metrics([table.items[j] for j in order], query.relevant)
    return out


def _differences(
    figures: dict[str, np.ndarray], baseline: str, samples: int, seed: int
) -> list[PairedDifference]:
    out: list[PairedDifference] = []
    base = figures[baseline]
    for name, values in figures.items():
        if name == baseline:
            continue
        delta = values - base
        estimates = estimate(delta, samples, seed)
        for m, metric in enumerate(METRICS):
            out.append(PairedDifference(
                name, baseline, metric, estimates[m],
                better=int((delta[:, m] > 1e-12).sum()), worse=int((delta[:, m] < -1e-12).sum()),
            ))
    return out


def _missing_note(collection: Collection, queries: Sequence[EvalQuery]) -> str | None:
    wanted = sorted({i for q in queries for i, g in q.relevant.items() if g > 0})
    present: set[str] = set()
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in part)
        present.update(collection.column("item_id", where=f"item_id IN ({quoted})").tolist())
    missing = [i for i in wanted if i not in present]
    if not missing:
        return None
    return (
        f"{len(missing)} of {len(wanted)} relevant ids are not in collection "
        f"{collection.name!r} (e.g. {missing[0]!r}); queries count them as not found"
    )


def evaluate(
    collection: Collection,
    models: ModelHub,
    queries: Sequence[EvalQuery],
    options: EvalOptions = EvalOptions(),
    progress: EvalProgressCallback | None = None,
) -> EvalReport:
    """The figures of every configuration on ``queries`` (see the module docstring); with
    ``options.tune``, also chosen weights, stored with the collection when they measure no
    worse than the current ones and ``options.dry_run`` is off."""
    started = time.perf_counter()
    queries = check_queries(queries)
    options = check_options(options)
    report_progress = progress or (lambda _event: None)
    rankings = collection_rankings(collection)
    current = check_fusion(options.fusion or load_fusion(collection) or Fusion(), rankings)
    configs = _configurations(rankings, current)
    names = [c.name for c in configs] + (["tuned"] if options.tune else [])
    if options.baseline not in names:
        raise InvalidInputError(
            f"unknown baseline {options.baseline!r}; use one of {', '.join(names)}"
        )
    notes = [n for n in (_missing_note(collection, queries),) if n]
    vectors, words = _embed(collection, models, queries, report_progress)
    candidates = _rankings(collection, queries, vectors, words, report_progress)
    figures = {c.name: _figures(candidates, queries, c.fusion) for c in configs}
    descriptions = {c.name: c.description for c in configs}
    tuning: TuningResult | None = None
    if options.tune:
        tuning, figures["tuned"] = _tune(
            collection, candidates, queries, options, rankings, current, figures["hybrid"],
            report_progress,
        )
        descriptions["tuned"] = (
            f"weights tuned for {options.objective} ({options.folds}-fold cross-validated)"
        )
    results = []
    for name, values in figures.items():
        # One seed for all: the same resampled queries pair every configuration.
        estimates = estimate(values, options.bootstrap_samples, options.seed)
        results.append(ConfigurationResult(
            name, descriptions[name], dict(zip(METRICS, estimates)), len(queries)
        ))
    return EvalReport(
        collection=collection.name,
        queries=len(queries),
        configurations=tuple(results),
        baseline=options.baseline,
        differences=tuple(
            _differences(figures, options.baseline, options.bootstrap_samples, options.seed)
        ),
        tuning=tuning,
        fusion=current,
        bootstrap_samples=options.bootstrap_samples,
        seed=options.seed,
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
    )


def _tune(
    collection: Collection,
    candidates: Sequence[Candidates],
    queries: Sequence[EvalQuery],
    options: EvalOptions,
    rankings: Sequence[str],
    current: Fusion,
    current_figures: np.ndarray,
    progress: EvalProgressCallback,
) -> tuple[TuningResult, np.ndarray]:
    present = [r for r in rankings if any(r in c.rankings for c in candidates)]
    fusions = candidate_fusions(present, current)
    grid = np.empty((len(fusions), len(queries), len(METRICS)), np.float64)
    for n, fusion in enumerate(fusions):
        grid[n] = _figures(candidates, queries, fusion)
        progress(EvalProgress("tune", n + 1, len(fusions)))
    objective = METRICS.index(options.objective)
    cv = cross_validate(grid, objective, options.folds, options.seed)
    chosen = fusions[cv.best]
    tuned_mean = float(cv.out_of_fold[:, objective].mean())
    current_mean = float(current_figures[:, objective].mean())
    # Stored only when the procedure, judged on queries it did not see, does not lose.
    if tuned_mean + 1e-12 < current_mean:
        stored, reason = False, (
            f"not stored: cross-validated {options.objective} {tuned_mean:.4f} is below the "
            f"current weights' {current_mean:.4f}"
        )
    elif options.dry_run:
        stored, reason = False, "not stored: dry run"
    else:
        save_fusion(collection, chosen, {
            "objective": options.objective, "folds": options.folds, "queries": len(queries),
            "cross_validated": tuned_mean,
        })
        stored, reason = True, (
            f"stored: cross-validated {options.objective} {tuned_mean:.4f} >= current "
            f"{current_mean:.4f}"
        )
    result = TuningResult(chosen, options.objective, options.folds, len(fusions), stored, reason)
    return result, cv.out_of_fold

