"""A space over the ANN memory budget is served by LanceDB's own vector index (never by FAISS in
RAM): chosen automatically, reported by describe, searched with exact scores and high recall,
filtered before ranking, never stale after appends or deletes, and chosen again on reopen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from omnivec.bench.common import random_unit_vectors
from omnivec.bench.served import synth_table
from omnivec.indexer.ann_params import AnnKind, AnnParams
from omnivec.indexer.config import IndexSettings
from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.lance_ann import faiss_memory_bytes
from omnivec.indexer.store import Store
from omnivec.indexer.table_schema import vector_column

DIM = 32
SPEC = {"text": EncoderSpec("text", "fake", "none", DIM)}
ROWS = 600
# An exact FAISS index holds 4 * 32 + 48 = 176 bytes a vector: 600 vectors need ~0.1 MiB.
BUDGET_MB = 0.05


def test_memory_estimate_grows_with_the_index_kind() -> None:
    flat = faiss_memory_bytes(1000, 512, AnnParams(kind=AnnKind.FLAT))
    hnsw = faiss_memory_bytes(1000, 512, AnnParams(kind=AnnKind.HNSW, hnsw_m=32))
    pq = faiss_memory_bytes(1000, 512, AnnParams(kind=AnnKind.IVFPQ, nlist=10, nprobe=2, pq_m=64))
    assert pq < flat < hnsw
    assert flat == 1000 * (4 * 512 + 48)
    reranked = faiss_memory_bytes(
        1000, 512, AnnParams(kind=AnnKind.IVFPQ, nlist=10, nprobe=2, pq_m=64, refine_factor=20)
    )
    assert reranked == pq + 1000 * (512 + 48)  # the 8-bit copy and its id map


def _without_vectors(rows: pa.Table, space: str) -> pa.Table:
    column = vector_column(space)
    blank = pa.nulls(rows.num_rows, rows.schema.field(column).type)
    return rows.set_column(rows.schema.get_field_index(column), column, blank)


def _exact(vectors: np.ndarray, rowids: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return [int(rowids[i]) for i in np.argsort(-(vectors @ query), kind="stable")[:k]]


@pytest.mark.parametrize("index_type", ["ivf_hnsw_sq", "ivf_pq"])
def test_space_over_the_memory_budget_is_served_by_lancedb(tmp_path: Path, index_type: str) -> None:
    settings = IndexSettings(ann_memory_budget_mb=BUDGET_MB, lance_index_type=index_type)  # type: ignore[arg-type]
    store = Store(tmp_path, settings)
    collection = store.create("big", SPEC)
    collection.add_rows(synth_table(0, ROWS, {"text": DIM}, seed=1))
    collection.flush_ann()  # where FAISS indexes are saved, LanceDB's is built
    status = collection.ann_status()["text"]
    assert status.index_kind == f"lance-{index_type.replace('_', '-')}"
    assert status.vectors == ROWS
    assert not (tmp_path / "big" / "ann" / "text.faiss").exists(), "no FAISS index was built"
    assert collection.info().spaces["text"].index_kind == status.index_kind  # describe says so

    vectors, rowids = collection.vectors("text")
    queries = random_unit_vectors(20, DIM, seed=5)
    hits = 0
    for query in queries:
        found = collection.search("text", query, 10)
        truth = _exact(vectors, rowids, query, 10)
        hits += len({r for r, _ in found} & set(truth))
        for rowid, score in found:  # re-ranked with the stored vectors: exact cosines
            exact = float(vectors[np.searchsorted(rowids, rowid)] @ query)
            assert abs(score - exact) < 1e-5
    # LanceDB trains its partitions and PQ codebooks unseeded, and isotropic random vectors are
    # PQ's worst case: over 30 builds of this table recall@10 ranged 0.95-0.995 (ivf_pq), and a
    # CI run drew 0.94. A search gone wrong (too few probes, no re-ranking) scores far lower.
    assert hits / (10 * len(queries)) >= 0.9

    # Filtered before ranking: k hits from the allowed rows, the exact top-k among them.
    allowed = rowids < 60
    filtered = collection.search("text", queries[0], 10, predicate="rowid < 60")
    assert [r for r, _ in filtered] == _exact(vectors[allowed], rowids[allowed], queries[0], 10)

    # Rows committed after the index was built (not in it yet) are found; deleted ones are not.
    collection.add_rows(synth_table(ROWS, 5, {"text": DIM}, seed=2))
    new_vectors, new_rowids = collection.vectors("text", where="rowid >= 600")
    assert collection.search("text", new_vectors[0], 1)[0][0] == int(new_rowids[0])
    collection.delete_items(ids=[f"item{ROWS:08d}"])
    assert int(new_rowids[0]) not in {r for r, _ in collection.search("text", new_vectors[0], 10)}
    # Rows with no vector in the space (an image's rows, in a text space) are never hits.
    collection.add_rows(_without_vectors(synth_table(20_000, 30, {"text": DIM}, seed=6), "text"))
    blank = set(collection.column("rowid", where="vec_text IS NULL").tolist())
    found = [r for r, _ in collection.search("text", queries[1], ROWS + 100)]
    assert len(blank) == 30 and not blank & set(found)
    assert len(found) == ROWS + 4  # every row with a vector: 600 + 5 new - 1 deleted
    store.close()

    # Another process opening the collection decides the same way, from the size alone ...
    reopened = Store(tmp_path, settings)
    assert reopened.open("big").ann_status()["text"].index_kind == status.index_kind
    reopened.close()
    # ... and with room in memory, FAISS serves the very same space.
    roomy = Store(tmp_path, IndexSettings())
    assert roomy.open("big").ann_status()["text"].index_kind == "flat"
    roomy.close()


def test_a_space_too_small_to_train_is_scanned_exactly(tmp_path: Path) -> None:
    store = Store(tmp_path, IndexSettings(ann_memory_budget_mb=0.001))
    collection = store.create("small", SPEC)
    collection.add_rows(synth_table(0, 40, {"text": DIM}, seed=3))
    collection.flush_ann()
    assert collection.ann_status()["text"].index_kind == "lance-exact"
    vectors, rowids = collection.vectors("text")
    query = random_unit_vectors(1, DIM, seed=4)[0]
    assert [r for r, _ in collection.search("text", query, 5)] == _exact(vectors, rowids, query, 5)
    store.close()


def test_an_ivfpq_space_keeps_its_rerank_copy_as_configured(tmp_path: Path) -> None:
    """``index.ann_ivfpq_rerank`` reaches the collection's IVF-PQ, survives a reopen, and a flush
    under the other setting rebuilds the index to match it."""
    rows = 10_500  # enough to train 269 lists and 256-centroid codebooks (39 points each)
    store = Store(tmp_path, IndexSettings(ann_kind="ivfpq"))
    collection = store.create("pq", SPEC)
    collection.add_rows(synth_table(0, rows, {"text": DIM}, seed=7))
    collection.flush_ann()
    index = collection.ann("text")
    assert index.trained and index.params.refine_factor == 20
    vectors, rowids = collection.vectors("text")
    found = collection.search("text", vectors[17], 1)
    assert found[0][0] == int(rowids[17]) and abs(found[0][1] - 1.0) < 5e-3
    store.close()

    codes_only = Store(tmp_path, IndexSettings(ann_kind="ivfpq", ann_ivfpq_rerank=False))
    collection = codes_only.open("pq")
    assert collection.ann("text").params.refine_factor == 20  # the saved index, as it was
    collection.flush_ann()
    assert collection.ann("text").params.refine_factor == 0
    assert collection.ann("text").ntotal == rows
    codes_only.close()
