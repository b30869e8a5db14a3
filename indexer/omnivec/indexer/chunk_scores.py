"""From ranked rows to ranked items: one candidate per item, scored by document and by chunk.

A long text or transcript is stored as chunks plus one document row (the whole text as the
encoder reads it; see ``table_schema.DOCUMENT_CHUNK``). Ranking items by their best chunk alone
is biased: an item of many chunks has many chances at a high maximum. On the Debian retrieval
set (README, "Retrieval quality") it raised long documents' recall@1 (0.641 -> 0.675) but pushed
short ones down (0.780 -> 0.766). Penalising the maximum by the chunk count, a Šidák correction,
the chunks' mean or centroid, and max(document, chunk - margin) all traded one side for the
other. What kept both is reciprocal rank fusion of two rankings inside the space: items by their
document vector (the only row of a one-chunk item, the document row of a longer one), and items
by their best chunk, weighted ``CHUNK_WEIGHT`` (chosen on half of the queries, confirmed on the
other half). A one-chunk item ranks alike in both; a long one gains when a chunk matches better
than its opening, as in a long transcript whose answer is minutes in.

Keyword rankings are cut to the best chunk (document rows have no text), without the document
ranking.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from omnivec.indexer.fusion import RRF_K, Candidate
from omnivec.indexer.store import Collection
from omnivec.indexer.table_schema import DOCUMENT_CHUNK

__all__ = ["CHUNK_WEIGHT", "item_candidates"]

CHUNK_WEIGHT = 0.75

# Per collection folder or URI: (table version, the items that have a document row).
_documents: dict[str, tuple[int, frozenset[str]]] = {}
_documents_lock = threading.Lock()


def items_with_documents(collection: Collection, version: int) -> frozenset[str]:
    """Items cut into several chunks (they have a document row), as of ``version``."""
    with _documents_lock:
        cached = _documents.get(collection.location)
    # A set read at a later version serves too: versions only move forward, and a search that
    # began just before a commit may rank with what that commit left.
    if cached is not None and cached[0] >= version:
        return cached[1]
    items = frozenset(collection.column("item_id", where=f"chunk = {DOCUMENT_CHUNK}").tolist())
    with _documents_lock:
        held = _documents.get(collection.location)
        if held is None or held[0] < version:
            _documents[collection.location] = (version, items)
    return items


def item_candidates(
    collection: Collection, rows: Sequence[tuple[int, float]], *, aggregate: bool, version: int,
) -> list[Candidate]:
    """``rows`` (rowid, score), best first, as items best first. Each candidate carries the row
    to show (its best chunk, else its document row) and that row's score. With ``aggregate``,
    items are ordered by the fusion of their document and best-chunk ranks; else by best row.
    ``version``: the table version the search reads (``SearchPlan.version``)."""
    keys = collection.item_keys((r for r, _ in rows), version=version)
    chunk_rank: dict[str, int] = {}
    document_rank: dict[str, int] = {}
    shown: dict[str, Candidate] = {}
    documents = items_with_documents(collection, version) if aggregate else frozenset()
    for rowid, score in rows:
        key = keys.get(rowid)
        if key is None:  # deleted between the ranking and the lookup
            continue
        item, modality, chunk = key
        if chunk == DOCUMENT_CHUNK:
            document_rank.setdefault(item, len(document_rank) + 1)
            shown.setdefault(item, Candidate(item, modality, score, rowid))
            continue
        if item not in chunk_rank:
            chunk_rank[item] = len(chunk_rank) + 1
            if item not in documents:  # its only chunk is the whole item
                document_rank.setdefault(item, len(document_rank) + 1)
            if item not in shown or _is_document(keys, shown[item]):
                shown[item] = Candidate(item, modality, score, rowid)
    if not aggregate:
        return sorted(shown.values(), key=lambda c: chunk_rank[c.item_id])

    def fused(item: str) -> float:
        total = 0.0
        if item in document_rank:
            total += 1.0 / (RRF_K + document_rank[item])
        if item in chunk_rank:
            total += CHUNK_WEIGHT / (RRF_K + chunk_rank[item])
        return total

    order = sorted(shown, key=lambda i: (-fused(i), -shown[i].score))
    return [shown[i] for i in order]


def _is_document(keys: dict[int, tuple[str, str, int]], candidate: Candidate) -> bool:
    key = keys.get(candidate.rowid)
    return key is not None and key[2] == DOCUMENT_CHUNK
