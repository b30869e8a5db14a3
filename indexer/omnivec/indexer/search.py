"""Cross-modal search: rank the collection in each space and by keywords, fuse the rankings.

The query and result types are the SDK's (``omnivec.client.SearchQuery``, ``SearchResult``,
``Hit``): the engine in process and a server over gRPC answer with the same values, as Qdrant's
local mode does, so no layer converts a hit from one shape into another.

A text query reaches images through CLIP's text tower and texts/transcripts through both spaces;
an image query reaches images and texts through CLIP; an audio query is transcribed and searched as
text; an item id searches with that item's stored vectors. The search mode says which rankings
run: ``vector`` (one per space), ``keyword`` (LanceDB's BM25 full-text index over texts and
transcripts, for a query with words: text or audio) or ``hybrid`` (both). Each ranking is cut to
one candidate per item (see :mod:`omnivec.indexer.chunk_scores`), then the rankings are fused
(:mod:`omnivec.indexer.fusion`) with the query's weights, else the collection's stored ones.

Search runs in three steps that evaluation (:mod:`omnivec.indexer.evaluation`) reuses, so its
figures are those of real searches: :func:`plan_search` checks a query, :func:`gather_rankings`
runs the rankings for given query vectors, and :func:`fused_hits` fuses and fetches the hits.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.client.types import (
    KEYWORD_RANKING,
    SEARCH_MODES,
    Fusion,
    Hit,
    Match,
    PathLike,
    SearchMode,
    SearchQuery,
    SearchResult,
    SpaceTiming,
    Span,
)
from omnivec.indexer.chunk_scores import item_candidates, items_with_documents
from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.filters import translate_filter
from omnivec.indexer.fusion import (
    Candidate,
    Candidates,
    build_candidates,
    check_fusion,
    fused_order,
    modality_routes,
)
from omnivec.indexer.fusion_store import load_fusion
from omnivec.indexer.media import MediaSource
from omnivec.indexer.models import ModelHub
from omnivec.indexer.store import Collection
from omnivec.indexer.table_schema import DOCUMENT_CHUNK

__all__ = [
    "DEFAULT_MODE",
    "MAX_K",
    "SearchPlan",
    "collection_rankings",
    "fused_hits",
    "gather_rankings",
    "plan_search",
    "row_metadata",
    "run_search",
]

DEFAULT_MODE: SearchMode = "hybrid"
"""Chosen by measurement on the Debian retrieval set (README, "Retrieval quality"): hybrid
beat vector-only and keyword-only on recall@10 and MRR@10."""
MAX_K = 1000
MODALITIES = ("image", "text", "audio")
# Candidates per ranking: enough below the k-th hit for fusion to promote an item that one
# ranking places a little lower.
FETCH_FACTOR = 4

# The keyword search runs beside the query's embedding: LanceDB's full-text search releases the
# GIL, so on two cores it costs little extra wall time.
_KEYWORD_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="keyword")


@dataclass(frozen=True)
class SearchPlan:
    """What one query runs: the spaces to search, whether the keyword ranking runs (and on
    which words), the LanceDB predicate of the filters, the fusion, the depth, and the table
    version its lookups read.

    The version is read once per query: each read is a round trip to LanceDB's event-loop
    thread, which the keyword search keeps busy, and four reads per query took a quarter of a
    hybrid search's time in the server (py-spy, fig2)."""

    spaces: tuple[str, ...]
    words: str | None
    predicate: str | None
    fusion: Fusion
    k: int
    fetch_k: int
    version: int


def collection_rankings(collection: Collection) -> list[str]:
    """Every ranking a collection can have: its spaces, then ``keyword``."""
    return [*collection.spaces, KEYWORD_RANKING]


def _check_basics(query: SearchQuery, collection: Collection) -> list[str]:
    given = [x for x in (query.text, query.image, query.audio, query.item_id) if x is not None]
    if len(given) != 1:
        raise InvalidInputError("give exactly one query: text, image, audio or an item id")
    if query.text is not None and not query.text.strip():
        raise InvalidInputError("the text query is empty")
    if not 1 <= query.k <= MAX_K:
        raise InvalidInputError(f"k must be between 1 and {MAX_K}, got {query.k}")
    if query.mode is not None and query.mode not in SEARCH_MODES:
        raise InvalidInputError(
            f"unknown search mode {query.mode!r}; use {', '.join(SEARCH_MODES)}"
        )
    for modality in query.modalities:
        if modality not in MODALITIES:
            raise InvalidInputError(f"unknown modality {modality!r}; use image, text or audio")
    spaces = list(query.spaces) or collection.spaces
    for space in spaces:
        if space not in collection.specs:
            raise InvalidInputError(
                f"collection {collection.name!r} has no {space!r} space (it has: {', '.join(collection.spaces)})"
            )
    return spaces


def plan_search(
    collection: Collection, query: SearchQuery, *, words: str | None = None
) -> SearchPlan:
    """The checked plan of ``query``. ``words`` is what the keyword ranking searches: the text
    query, or an audio query's transcript once known (None: the text query)."""
    spaces = _check_basics(query, collection)
    mode = query.mode or DEFAULT_MODE
    words = words if words is not None else query.text
    if mode == "keyword":
        if query.spaces:
            raise InvalidInputError(
                "spaces apply to vector and hybrid search; a keyword search has none"
            )
        if query.text is None and query.audio is None:
            raise InvalidInputError(
                "keyword search needs words: give a text or audio query, or use mode vector "
                "or hybrid"
            )
        spaces = []
    if query.image is not None:
        if "clip" not in spaces:
            raise InvalidInputError("image queries need the clip space; this search has none")
        spaces = ["clip"]
    fusion = check_fusion(
        query.fusion or load_fusion(collection) or Fusion(), collection_rankings(collection)
    )
    # A ranking weighted 0 cannot change the order: it is not run at all.
    spaces = [s for s in spaces if fusion.weight(s) > 0 or mode == "keyword"]
    keyword = mode in ("keyword", "hybrid") and (
        mode == "keyword" or fusion.weight(KEYWORD_RANKING) > 0
    )
    has_words = query.text is not None or query.audio is not None
    clauses: list[str] = []
    if query.item_id is not None:
        clauses.append("item_id != '" + query.item_id.replace("'", "''") + "'")
    if query.where:
        clauses.append(translate_filter(query.where, extra_columns=collection.label_columns()))
    if query.modalities:
        clauses.append("modality IN (" + ", ".join(f"'{m}'" for m in query.modalities) + ")")
    predicate = " AND ".join(f"({c})" for c in clauses) if clauses else None
    return SearchPlan(
        spaces=tuple(spaces),
        words=words if keyword and has_words else None,
        predicate=predicate,
        fusion=fusion,
        k=query.k,
        fetch_k=min(query.k * FETCH_FACTOR, MAX_K * FETCH_FACTOR),
        version=collection.version,
    )


def _media_source(value: bytes | PathLike) -> MediaSource:
    return value if isinstance(value, bytes) else Path(os.fspath(value))


def _keyword_ranking(
    collection: Collection, plan: SearchPlan
) -> tuple[list[Candidate], SpaceTiming]:
    assert plan.words is not None
    started = time.perf_counter()
    rows = collection.keyword_search(plan.words, plan.fetch_k, plan.predicate)
    ranking = item_candidates(collection, rows, aggregate=False, version=plan.version)
    return ranking, SpaceTiming(KEYWORD_RANKING, 0.0, (time.perf_counter() - started) * 1e3)


def _space_depth(collection: Collection, plan: SearchPlan) -> int:
    """Rows to take from each space's ANN index."""
    rankings = len(plan.spaces) + (plan.words is not None)
    if rankings == 1 and not items_with_documents(collection, plan.version):
        # One ranking over items of one row each: its top k rows are the top k items, and no
        # other ranking can lift a lower one. The deeper walk is not free: HNSW widens its
        # search to twice the depth asked (ef 160 instead of 128 for k = 10).
        return plan.k
    # Twice the depth: document rows and chunks of one item share the list.
    return plan.fetch_k * 2


def gather_rankings(
    collection: Collection,
    plan: SearchPlan,
    vectors: Mapping[str, np.ndarray],
    embed_ms: Mapping[str, float] | None = None,
    keyword: Future[tuple[list[Candidate], SpaceTiming]] | None = None,
) -> tuple[Candidates, list[SpaceTiming]]:
    """Runs the plan's rankings for the query's vector in each space (and its keyword search,
    already started as ``keyword`` or run here): the candidates, and a timing per ranking."""
    lists: dict[str, list[Candidate]] = {}
    timings: list[SpaceTiming] = []
    depth = _space_depth(collection, plan)
    for space in plan.spaces:
        started = time.perf_counter()
        rows = collection.search(space, vectors[space], depth, plan.predicate)
        lists[space] = item_candidates(collection, rows, aggregate=True, version=plan.version)
        timings.append(SpaceTiming(
            space, (embed_ms or {}).get(space, 0.0), (time.perf_counter() - started) * 1e3
        ))
    if plan.words is not None:
        ranking, timing = keyword.result() if keyword is not None else _keyword_ranking(
            collection, plan
        )
        lists[KEYWORD_RANKING] = ranking
        timings.append(timing)
    return build_candidates(lists, modality_routes(collection.spaces)), timings


def run_search(collection: Collection, models: ModelHub, query: SearchQuery) -> SearchResult:
    plan = plan_search(collection, query)
    query_transcript: str | None = None
    text = query.text
    if query.audio is not None:
        transcript = models.speech().transcribe(_media_source(query.audio))
        if not transcript.text.strip():
            raise InvalidInputError("no speech was recognised in the audio query")
        text = query_transcript = transcript.text
        plan = plan_search(collection, query, words=text)
    keyword = (
        _KEYWORD_POOL.submit(_keyword_ranking, collection, plan)
        if plan.words is not None and plan.spaces
        else None
    )
    vectors: dict[str, np.ndarray] = {}
    embed_ms: dict[str, float] = {}
    stored = collection.item_vectors(query.item_id) if query.item_id is not None else {}
    spaces = tuple(s for s in plan.spaces if query.item_id is None or s in stored)
    if spaces != plan.spaces:
        plan = replace(plan, spaces=spaces)
    for space in plan.spaces:
        started = time.perf_counter()
        if query.item_id is not None:
            vectors[space] = stored[space]
        else:
            encoder = models.embedder(space)
            collection.check_encoder(space, encoder.spec)
            if query.image is not None:
                vectors[space] = models.clip().encode_images([_media_source(query.image)])[0]
            else:
                assert text is not None
                vectors[space] = encoder.encode_texts([text])[0]
        embed_ms[space] = (time.perf_counter() - started) * 1e3
    candidates, timings = gather_rankings(collection, plan, vectors, embed_ms, keyword)
    hits = fused_hits(collection, candidates, plan.fusion, plan.k, version=plan.version)
    return SearchResult(tuple(hits), tuple(timings), query_transcript)


# What a Hit shows (converting indexed_at's zoned timestamps alone cost ~0.3 ms per 10 rows).
HIT_COLUMNS = (
    "rowid", "item_id", "chunk", "modality", "source_uri", "text", "start_s", "end_s", "metadata",
)


def fused_hits(
    collection: Collection, candidates: Candidates, fusion: Fusion, k: int, *, version: int,
) -> list[Hit]:
    """The best ``k`` candidates under ``fusion`` as hits, each row fetched once (``version``:
    the search's table version, ``SearchPlan.version``)."""
    order, fused, best = fused_order(candidates, fusion, k)
    rowids = [int(candidates.rowids[i, j]) for i, j in zip(order, best)]
    rows = collection.fetch_rows(rowids, HIT_COLUMNS, version=version)
    # A document row (no text) is shown as its item's first chunk, the row written after it.
    documents = [r for r in rowids if r in rows and rows[r]["chunk"] == DOCUMENT_CHUNK]
    if documents:
        firsts = collection.fetch_rows([r + 1 for r in documents], HIT_COLUMNS, version=version)
        for r in documents:
            first = firsts.get(r + 1)
            if first is not None and first["item_id"] == rows[r]["item_id"] and first["chunk"] == 0:
                rows[r] = first
    hits: list[Hit] = []
    for i, j, rowid, score in zip(order, best, rowids, fused):
        row = rows.get(rowid)
        if row is None:  # deleted between the ranking and the row fetch
            continue
        matches = tuple(
            Match(name, int(candidates.ranks[i, r]), float(candidates.scores[i, r]))
            for r, name in enumerate(candidates.rankings)
            if candidates.ranks[i, r] > 0
        )
        hits.append(
            Hit(
                id=candidates.items[i], modality=row["modality"],
                source_uri=row["source_uri"] or "", metadata=row_metadata(row["metadata"]),
                span=_span(row), space=candidates.rankings[j],
                score=float(candidates.scores[i, j]), fused_score=float(score),
                rank=len(hits) + 1, chunk=row["chunk"], matches=matches,
            )
        )
    return hits


def _span(row: dict[str, Any]) -> Span | None:
    """The chunk's text, with its seconds for a transcript; None for an image."""
    if row["text"] is None:
        return None
    start, end = row["start_s"], row["end_s"]
    if start is None or end is None:
        return Span(row["text"])
    return Span(row["text"], float(start), float(end))


def row_metadata(value: Any) -> dict[str, Any]:
    """A row's stored metadata column as a dict (LanceDB gives JSON as bytes or text)."""
    if value is None:
        return {}
    if isinstance(value, (bytes, str)):
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return dict(value)
