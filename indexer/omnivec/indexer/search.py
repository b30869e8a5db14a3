"""Cross-modal search: embed the query in each space, search, fuse the ranked lists.

The query and result types are the SDK's (``omnivec.client.SearchQuery``, ``SearchResult``,
``Hit``): the engine in process and a server over gRPC answer with the same values, as Qdrant's
local mode does, so no layer converts a hit from one shape into another.

A text query reaches images through CLIP's text tower and texts/transcripts through both spaces;
an image query reaches images and texts through CLIP; an audio query is transcribed and searched as
text; an item id searches with that item's stored vectors. Per-space lists are deduplicated to the
best chunk per item, then fused with reciprocal rank fusion (RRF), which needs no score
calibration between spaces whose cosine scales differ.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.client.types import Hit, PathLike, SearchQuery, SearchResult, SpaceTiming, Span
from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.filters import translate_filter
from omnivec.indexer.media import MediaSource
from omnivec.indexer.models import ModelHub
from omnivec.indexer.store import Collection

__all__ = ["row_metadata", "run_search"]

RRF_K = 60
MAX_K = 1000
MODALITIES = ("image", "text", "audio")


def _validate(query: SearchQuery, collection: Collection) -> list[str]:
    given = [x for x in (query.text, query.image, query.audio, query.item_id) if x is not None]
    if len(given) != 1:
        raise InvalidInputError("give exactly one query: text, image, audio or an item id")
    if query.text is not None and not query.text.strip():
        raise InvalidInputError("the text query is empty")
    if not 1 <= query.k <= MAX_K:
        raise InvalidInputError(f"k must be between 1 and {MAX_K}, got {query.k}")
    for modality in query.modalities:
        if modality not in MODALITIES:
            raise InvalidInputError(f"unknown modality {modality!r}; use image, text or audio")
    spaces = list(query.spaces) or collection.spaces
    for space in spaces:
        if space not in collection.specs:
            raise InvalidInputError(
                f"collection {collection.name!r} has no {space!r} space (it has: {', '.join(collection.spaces)})"
            )
    if query.image is not None:
        if "clip" not in spaces:
            raise InvalidInputError("image queries need the clip space; this search has none")
        spaces = ["clip"]
    return spaces


def _predicate(query: SearchQuery, extra: list[str], label_columns: frozenset[str]) -> str | None:
    clauses = list(extra)
    if query.where:
        clauses.append(translate_filter(query.where, extra_columns=label_columns))
    if query.modalities:
        clauses.append("modality IN (" + ", ".join(f"'{m}'" for m in query.modalities) + ")")
    return " AND ".join(f"({c})" for c in clauses) if clauses else None


def _media_source(value: bytes | PathLike) -> MediaSource:
    return value if isinstance(value, bytes) else Path(os.fspath(value))


def run_search(collection: Collection, models: ModelHub, query: SearchQuery) -> SearchResult:
    spaces = _validate(query, collection)
    timings: list[SpaceTiming] = []
    text = query.text
    query_transcript: str | None = None
    if query.audio is not None:
        transcript = models.speech().transcribe(_media_source(query.audio))
        if not transcript.text.strip():
            raise InvalidInputError("no speech was recognised in the audio query")
        text = query_transcript = transcript.text
    extra: list[str] = []
    stored: dict[str, np.ndarray] = {}
    if query.item_id is not None:
        stored = collection.item_vectors(query.item_id)
        extra.append("item_id != '" + query.item_id.replace("'", "''") + "'")
        spaces = [s for s in spaces if s in stored]
    predicate = _predicate(query, extra, collection.label_columns())
    per_space: dict[str, list[tuple[int, float]]] = {}
    fetch_k = min(query.k * 4, MAX_K * 4)
    for space in spaces:
        started = time.perf_counter()
        if query.item_id is not None:
            vector = stored[space]
        else:
            encoder = models.embedder(space)
            collection.check_encoder(space, encoder.spec)
            if query.image is not None:
                vector = models.clip().encode_images([_media_source(query.image)])[0]
            else:
                assert text is not None
                vector = encoder.encode_texts([text])[0]
        embedded = time.perf_counter()
        per_space[space] = collection.search(space, vector, fetch_k, predicate)
        timings.append(SpaceTiming(
            space, (embedded - started) * 1e3, (time.perf_counter() - embedded) * 1e3
        ))
    hits = _fuse(collection, per_space, query.k)
    return SearchResult(tuple(hits), tuple(timings), query_transcript)


# What a Hit shows (converting indexed_at's zoned timestamps alone cost ~0.3 ms per 10 rows).
HIT_COLUMNS = (
    "rowid", "item_id", "chunk", "modality", "source_uri", "text", "start_s", "end_s", "metadata",
)


def _fuse(collection: Collection, per_space: dict[str, list[tuple[int, float]]], k: int) -> list[Hit]:
    rowids = {rowid for hits in per_space.values() for rowid, _ in hits}
    # Ranking needs only each candidate's item id; whole rows are needed for the k winners. With
    # the payload copy that is two cheap lookups (k*4 candidates' rows cost ~1 ms to convert);
    # without it, one LanceDB query for everything beats two.
    items = collection.item_ids(rowids)
    rows: dict[int, dict[str, Any]] = {}
    if items is None:
        rows = collection.fetch_rows(rowids, HIT_COLUMNS)
        items = {rowid: row["item_id"] for rowid, row in rows.items()}
    fused: dict[str, float] = {}
    best: dict[str, tuple[int, str, float, int]] = {}  # item -> (rank, space, score, rowid)
    for space, hits in per_space.items():
        rank = 0
        seen: set[str] = set()
        for rowid, score in hits:
            item = items.get(rowid)
            if item is None:  # deleted between the ANN search and the fetch
                continue
            if item in seen:
                continue
            seen.add(item)
            rank += 1
            fused[item] = fused.get(item, 0.0) + 1.0 / (RRF_K + rank)
            if item not in best or rank < best[item][0] or (rank == best[item][0] and score > best[item][2]):
                best[item] = (rank, space, score, rowid)
    ordered = sorted(fused, key=lambda i: (-fused[i], best[i][0], -best[i][2]))[:k]
    missing = [best[i][3] for i in ordered if best[i][3] not in rows]
    if missing:
        rows.update(collection.fetch_rows(missing, HIT_COLUMNS))
    fused_hits: list[Hit] = []
    for item in ordered:
        _, space, score, rowid = best[item]
        row = rows.get(rowid)
        if row is None:  # deleted between the ranking and the row fetch
            continue
        position = len(fused_hits) + 1
        fused_hits.append(
            Hit(
                id=item, modality=row["modality"], source_uri=row["source_uri"] or "",
                metadata=row_metadata(row["metadata"]), span=_span(row), space=space, score=score,
                fused_score=fused[item], rank=position, chunk=row["chunk"],
            )
        )
    return fused_hits


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
