"""What one search reads: the table version once, and no deeper an ANN walk than its rankings need.

Each ``Collection.version`` read is a round trip to LanceDB's event-loop thread, which a hybrid
search's keyword ranking keeps busy; a search used to read it four times (a quarter of its time in
the server, fig2). An ANN walk costs in proportion to its depth (HNSW widens ``ef`` to twice the
rows asked for), and one ranking over items of one row each needs only k rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from omnivec.bench.served import synth_table
from omnivec.client import SearchQuery
from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.search import FETCH_FACTOR, fused_hits, gather_rankings, plan_search
from omnivec.indexer.store import Collection, Store
from omnivec.indexer.table_schema import DOCUMENT_CHUNK

DIM = 8
SPEC = {"text": EncoderSpec("text", "fake", "none", DIM)}


def _collection(tmp_path: Path, *, documents: bool) -> Collection:
    collection = Store(tmp_path).create("docs", SPEC)
    rows = synth_table(0, 200, {"text": DIM}, seed=3)
    if documents:  # item 0 becomes a long text: a document row (no text), then its chunk row
        document = rows.slice(0, 1)
        document = document.set_column(document.schema.get_field_index("chunk"), "chunk",
                                       pa.array([DOCUMENT_CHUNK], pa.int32()))
        document = document.set_column(document.schema.get_field_index("text"), "text",
                                       pa.array([None], pa.string()))
        rows = pa.concat_tables([document, rows])
    collection.add_rows(rows)
    return collection


def _search(collection: Collection, mode: str, k: int) -> list[Any]:
    query = SearchQuery(text="synthetic row 7", k=k, mode=mode)  # type: ignore[arg-type]
    plan = plan_search(collection, query)
    vector = np.random.default_rng(0).standard_normal(DIM).astype(np.float32)
    candidates, _ = gather_rankings(collection, plan, {"text": vector / np.linalg.norm(vector)})
    return fused_hits(collection, candidates, plan.fusion, plan.k, version=plan.version)


@pytest.mark.parametrize("mode", ["vector", "hybrid", "keyword"])
def test_a_search_reads_the_table_version_once(tmp_path: Path, monkeypatch, mode: str) -> None:  # type: ignore[no-untyped-def]
    collection = _collection(tmp_path, documents=True)
    _search(collection, mode, 5)  # warm: the payload copy and the document set are built
    reads: list[int] = []
    original = Collection.version

    def counted(self: Collection) -> int:
        reads.append(1)
        return original.fget(self)  # type: ignore[attr-defined,no-any-return]

    monkeypatch.setattr(Collection, "version", property(counted))
    hits = _search(collection, mode, 5)
    assert hits and len(reads) == 1


def test_one_ranking_over_one_row_items_walks_only_k_deep(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    asked: list[int] = []
    original = Collection.search

    def recorded(self: Collection, space: str, query: np.ndarray, k: int, predicate: Any = None) -> Any:
        asked.append(k)
        return original(self, space, query, k, predicate)

    monkeypatch.setattr(Collection, "search", recorded)
    plain = _collection(tmp_path / "plain", documents=False)
    vector_hits = _search(plain, "vector", 5)
    assert asked == [5] and len(vector_hits) == 5
    _search(plain, "hybrid", 5)  # two rankings: fusion may lift a row from deeper down
    assert asked[-1] == 5 * FETCH_FACTOR * 2
    chunked = _collection(tmp_path / "chunked", documents=True)
    _search(chunked, "vector", 5)  # chunks of one item share the list
    assert asked[-1] == 5 * FETCH_FACTOR * 2
    # The shallow walk ranks exactly what the deep one does (the same vectors, an exact index).
    deep = _search(chunked, "vector", 5)
    assert [h.id for h in vector_hits] == [h.id for h in deep]
