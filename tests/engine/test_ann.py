"""Tests for omnivec.indexer.ann against real FAISS, on seeded synthetic unit vectors."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt
import pytest

from omnivec.indexer import ann
from omnivec.indexer.ann import (
    AnnIndex,
    AnnIndexUnreadable,
    AnnKind,
    AnnParams,
    choose_params,
    set_faiss_threads,
)
from omnivec.indexer.errors import CorruptDataError, InvalidInputError
from omnivec.indexer.lance_ann import faiss_memory_bytes

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


def unit(rng: np.random.Generator, n: int, d: int) -> F32:
    x = rng.standard_normal((n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def normalise(x: npt.NDArray[np.floating]) -> F32:
    y: F32 = np.asarray(x, dtype=np.float32)
    out: F32 = (y / np.linalg.norm(y, axis=1, keepdims=True)).astype(np.float32)
    return out


def exact_topk(q: F32, x: F32, ids: I64, k: int) -> tuple[F32, I64]:
    s = q @ x.T
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, order, axis=1), ids[order]


def recall(found: I64, truth: I64) -> float:
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


@pytest.fixture(scope="module", autouse=True)
def _one_faiss_thread() -> Iterator[None]:
    # The CI box has 2 cores shared with other jobs; OpenMP barriers spin badly when
    # oversubscribed, so one thread is both faster and steadier here.
    before = faiss.omp_get_max_threads()
    set_faiss_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="module")
def hnsw30k() -> tuple[AnnIndex, F32, I64]:
    """A 30k x 64 collection, big enough that choose_params picks HNSW. Read-only for tests."""
    rng = np.random.default_rng(1234)
    x = unit(rng, 30_000, 64)
    ids = (1_000 + 3 * np.arange(30_000)).astype(np.int64)  # not 0..n-1: ids must be mapped
    params = choose_params(30_000, 64)
    assert params.kind is AnnKind.HNSW
    return AnnIndex.build(x, ids, params), x, ids


@pytest.fixture
def fast_pq_training(monkeypatch: pytest.MonkeyPatch) -> None:
    # PQ codebook k-means dominates IVF-PQ build time (~1 s per iteration for 10k x 512 here);
    # 3 iterations keep these tests to seconds on a shared 2-core box, and the recall floor in
    # test_ivfpq_memory_and_recall still proves the codebooks work.
    monkeypatch.setattr(ann, "_PQ_TRAIN_ITERS", 3)


# ------------------------------------------------------------------------------ choose_params


def test_choose_params_picks_by_size_and_respects_kind() -> None:
    assert choose_params(19_999, 512).kind is AnnKind.FLAT
    hnsw = choose_params(20_000, 512)
    assert hnsw.kind is AnnKind.HNSW
    assert hnsw.ef_search >= 64 and hnsw.hnsw_m >= 16
    assert choose_params(1_000, 64, exact_threshold=500).kind is AnnKind.HNSW
    assert choose_params(10**7, 64, kind=AnnKind.FLAT).kind is AnnKind.FLAT
    assert choose_params(100, 64, kind=AnnKind.HNSW).kind is AnnKind.HNSW
    # More recall costs more search effort; more data needs more too.
    assert choose_params(10**6, 64, recall_target=0.99).ef_search > hnsw.ef_search
    assert choose_params(10**6, 512).ef_search > choose_params(30_000, 512).ef_search

    ivf = choose_params(1_000_000, 512, kind=AnnKind.IVFPQ)
    assert ivf.kind is AnnKind.IVFPQ
    assert ivf.refine_factor == 20  # re-ranks 20 * k candidates by default
    assert choose_params(1_000_000, 512, kind=AnnKind.IVFPQ, ivfpq_rerank=False).refine_factor == 0
    assert choose_params(1_000_000, 512).refine_factor == 0  # HNSW has nothing to re-rank
    assert ivf.nlist == 4_000  # ~4 * sqrt(n)
    assert 1 <= ivf.nprobe <= ivf.nlist
    assert ivf.pq_m == 64 and 512 % ivf.pq_m == 0
    odd = choose_params(100_000, 300, kind=AnnKind.IVFPQ)
    assert 300 % odd.pq_m == 0
    small = choose_params(10_000, 512, kind=AnnKind.IVFPQ)
    assert small.nlist * 39 <= 10_000  # every centroid trainable

    for n, dim, target in ((-1, 8, 0.9), (10, 0, 0.9), (10, 8, 1.0)):
        with pytest.raises(InvalidInputError):
            choose_params(n, dim, recall_target=target)


def test_params_round_trip_and_validation() -> None:
    p = choose_params(50_000, 128, kind=AnnKind.IVFPQ)
    assert AnnParams.from_dict(p.to_dict()) == p
    assert AnnParams.from_dict({"kind": "hnsw"}).kind is AnnKind.HNSW
    with pytest.raises(InvalidInputError, match="unknown ANN param"):
        AnnParams.from_dict({"kind": "flat", "ef": 3})
    with pytest.raises(InvalidInputError, match="unknown ANN kind"):
        AnnParams.from_dict({"kind": "annoy"})
    with pytest.raises(InvalidInputError, match="choose_params"):
        AnnParams(kind=AnnKind.IVFPQ)
    with pytest.raises(InvalidInputError, match="divide"):
        AnnIndex.empty(30, AnnParams(kind=AnnKind.IVFPQ, nlist=4, nprobe=1, pq_m=7))
    with pytest.raises(InvalidInputError, match="refine_factor must be >= 0"):
        AnnParams(kind=AnnKind.IVFPQ, nlist=4, nprobe=1, pq_m=4, refine_factor=-1)
    with pytest.raises(InvalidInputError, match="IVF-PQ only"):
        AnnParams(kind=AnnKind.HNSW, refine_factor=10)
    # A header saved before re-ranking existed has no refine_factor: it reads as 0.
    old = {k: v for k, v in p.to_dict().items() if k != "refine_factor"}
    assert AnnParams.from_dict(old).refine_factor == 0


# ------------------------------------------------------------------------------ search quality


def test_flat_equals_bruteforce() -> None:
    rng = np.random.default_rng(1)
    x, q = unit(rng, 2_000, 32), unit(rng, 50, 32)
    ids = rng.permutation(10_000)[:2_000].astype(np.int64)
    params = choose_params(2_000, 32)
    assert params.kind is AnnKind.FLAT
    index = AnnIndex.build(x, ids, params)
    scores, found = index.search(q, 10)
    want_s, want_i = exact_topk(q, x, ids, 10)
    assert scores.dtype == np.float32 and found.dtype == np.int64
    np.testing.assert_array_equal(found, want_i)
    np.testing.assert_allclose(scores, want_s, rtol=0, atol=1e-5)
    # Filtered flat search is exact over the allowed subset.
    sub = np.sort(rng.choice(2_000, size=37, replace=False))
    fs, fi = index.search(q, 10, allowed_ids=ids[sub])
    want_fs, want_fi = exact_topk(q, x[sub], ids[sub], 10)
    np.testing.assert_array_equal(fi, want_fi)
    np.testing.assert_allclose(fs, want_fs, atol=1e-5)
    # A single query vector is accepted as (dim,).
    s1, i1 = index.search(q[0], 10)
    assert s1.shape == (1, 10)
    np.testing.assert_array_equal(i1[0], want_i[0])


def test_padding_when_fewer_than_k() -> None:
    rng = np.random.default_rng(2)
    x = unit(rng, 5, 16)
    index = AnnIndex.build(x, np.arange(5, dtype=np.int64), AnnParams(kind=AnnKind.FLAT))
    scores, ids = index.search(x[:2], 8)
    assert ids.shape == (2, 8)
    assert (ids[:, :5] >= 0).all() and (ids[:, 5:] == -1).all()
    assert np.isneginf(scores[:, 5:]).all() and np.isfinite(scores[:, :5]).all()
    empty = AnnIndex.empty(16, choose_params(0, 16, kind=AnnKind.HNSW))
    s, i = empty.search(x, 3)
    assert (i == -1).all() and np.isneginf(s).all()
    _, none = index.search(x[:1], 3, allowed_ids=np.array([], dtype=np.int64))
    assert (none == -1).all()


def test_hnsw_recall_at_10(hnsw30k: tuple[AnnIndex, F32, I64]) -> None:
    index, x, ids = hnsw30k
    assert index.kind is AnnKind.HNSW and index.ntotal == 30_000
    q = unit(np.random.default_rng(99), 200, 64)
    _, found = index.search(q, 10)
    _, truth = exact_topk(q, x, ids, 10)
    r = recall(found, truth)
    print(f"HNSW recall@10 = {r:.3f} with {index.params}")
    assert r >= 0.95


def test_filtered_search_1_percent_is_exact(hnsw30k: tuple[AnnIndex, F32, I64]) -> None:
    index, x, ids = hnsw30k
    rng = np.random.default_rng(7)
    pick = rng.choice(ids.size, size=300, replace=False)  # 1% of the collection
    allowed = ids[pick]
    q = unit(rng, 20, 64)
    scores, found = index.search(q, 10, allowed_ids=allowed)
    assert (found >= 0).all(), "a 1% filter must still fill k=10"
    assert np.isin(found, allowed).all()
    want_s, want_i = exact_topk(q, x[pick], allowed, 10)
    np.testing.assert_array_equal(found, want_i)
    np.testing.assert_allclose(scores, want_s, atol=1e-5)
    # Unknown and negative ids in the filter are ignored, not errors.
    noisy = np.concatenate([allowed, [-5, 2, 10**12]])
    _, found2 = index.search(q, 10, allowed_ids=noisy)
    np.testing.assert_array_equal(found2, want_i)


def test_filtered_search_large_filter_uses_selector(hnsw30k: tuple[AnnIndex, F32, I64]) -> None:
    index, x, ids = hnsw30k
    rng = np.random.default_rng(8)
    pick = np.sort(rng.choice(ids.size, size=15_000, replace=False))  # 50%: selector path
    allowed = ids[pick]
    q = unit(rng, 50, 64)
    _, found = index.search(q, 10, allowed_ids=allowed)
    assert (found >= 0).all() and np.isin(found, allowed).all()
    _, truth = exact_topk(q, x[pick], allowed, 10)
    assert recall(found, truth) >= 0.95
    # Fewer allowed than k: all of them, then padding.
    few = ids[:3]
    _, f3 = index.search(q[:2], 10, allowed_ids=few)
    assert set(f3[0, :3].tolist()) == set(few.tolist()) and (f3[:, 3:] == -1).all()


# ------------------------------------------------------------------------------ IVF-PQ


def test_ivf_training_sample_caps_the_k_means_input_reproducibly() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((40_000, 8)).astype(np.float32)
    assert ann.ivf_training_sample(x, 1_000) is x  # 64 per list: 64,000 > 40,000 rows, all used
    sample = ann.ivf_training_sample(x, 300)  # 300 lists, but PQ's 256 codes need 64 x 300 too
    assert sample.shape == (64 * 300, 8) and sample.flags.c_contiguous
    rows = {r.tobytes() for r in x}
    assert all(r.tobytes() in rows for r in sample)  # rows of x, not new points
    assert len({r.tobytes() for r in sample}) == sample.shape[0]  # no row twice
    assert np.array_equal(sample, ann.ivf_training_sample(x, 300))  # seeded: same index again


@pytest.mark.usefixtures("fast_pq_training")
def test_ivfpq_memory_and_recall() -> None:
    rng = np.random.default_rng(3)
    d, groups, per = 512, 1_000, 10
    # Near-duplicate groups: each query's 10 true neighbours are its group, as with real
    # embeddings of related items. (PQ on isotropic noise has no neighbour structure to keep.)
    centers = unit(rng, groups, d)
    x = normalise(np.repeat(centers, per, axis=0) + 0.03 * rng.standard_normal((groups * per, d)))
    ids = np.arange(groups * per, dtype=np.int64) * 2
    params = choose_params(x.shape[0], d, kind=AnnKind.IVFPQ, ivfpq_rerank=False)
    assert params.pq_m == 64 and params.refine_factor == 0  # codes only: the memory option
    t0 = time.perf_counter()
    index = AnnIndex.build(x, ids, params)
    build_s = time.perf_counter() - t0
    assert index.trained and index.kind is AnnKind.IVFPQ
    bpv = index.bytes_per_vector()
    assert bpv < 100, bpv
    qi = rng.choice(groups, size=100, replace=False)
    q = normalise(centers[qi] + 0.03 * rng.standard_normal((100, d)))
    _, found = index.search(q, 10)
    _, truth = exact_topk(q, x, ids, 10)
    r = recall(found, truth)
    print(f"IVF-PQ {params}: {bpv:.0f} bytes/vector, recall@10 {r:.3f}, build {build_s:.1f}s")
    assert r >= 0.6

    # Filtered: exhaustive over the allowed codes, so a tiny filter still fills k.
    allowed = ids[rng.choice(ids.size, size=100, replace=False)]
    _, f = index.search(q[:5], 10, allowed_ids=allowed)
    assert (f >= 0).all() and np.isin(f, allowed).all()

    # Incremental add after training (no retrain) and real deletes.
    extra = unit(rng, 20, d)
    extra_ids = np.arange(10**6, 10**6 + 20, dtype=np.int64)
    index.add(extra, extra_ids)
    assert index.ntotal == x.shape[0] + 20
    _, f = index.search(extra, 1)
    assert (f[:, 0] == extra_ids).mean() >= 0.9  # PQ codes are approximate
    index.remove(extra_ids[:10])
    _, f = index.search(extra[:10], 10)
    assert not np.isin(f, extra_ids[:10]).any()
    assert index.tombstone_ratio == 0.0 and index.ntotal == x.shape[0] + 10


def test_the_memory_budget_plans_with_what_a_live_index_reports() -> None:
    rng = np.random.default_rng(5)
    n, d = 500, 32
    x, ids = unit(rng, n, d), np.arange(n, dtype=np.int64)
    for params in (AnnParams(kind=AnnKind.FLAT), AnnParams(kind=AnnKind.HNSW, hnsw_m=16)):
        index = AnnIndex.build(x, ids, params)
        assert faiss_memory_bytes(n, d, params) == int(n * index.bytes_per_vector())


def _tight_clusters(rng: np.random.Generator, n: int, d: int, nq: int) -> tuple[F32, F32]:
    """Points around n/250 unit centres with noise of norm 0.75 (intra-cluster cosine ~0.64),
    and queries from the same mixture: a query's neighbours differ in cosine by ~0.01, finer
    than what 8-bit PQ codes can separate (figure 4's data)."""
    centres = unit(rng, n // 250, d)

    def draw(m: int) -> F32:
        noise = rng.standard_normal((m, d)) * (0.75 / np.sqrt(d))
        return normalise(centres[rng.integers(0, centres.shape[0], size=m)] + noise)

    return draw(n), draw(nq)


@pytest.mark.usefixtures("fast_pq_training")
def test_ivfpq_rerank_restores_the_recall_pq_codes_lose(tmp_path: Path) -> None:
    rng = np.random.default_rng(31)
    n, d = 20_000, 64
    x, q = _tight_clusters(rng, n, d, 100)
    ids = np.arange(n, dtype=np.int64) * 3
    _, truth = exact_topk(q, x, ids, 10)
    codes_only = AnnIndex.build(x, ids, choose_params(n, d, kind=AnnKind.IVFPQ, ivfpq_rerank=False))
    reranked = AnnIndex.build(x, ids, choose_params(n, d, kind=AnnKind.IVFPQ))
    assert codes_only.trained and reranked.trained and reranked.params.refine_factor == 20
    r_codes = recall(codes_only.search(q, 10)[1], truth)
    scores, found = reranked.search(q, 10)
    r_rerank = recall(found, truth)
    print(f"recall@10: PQ codes {r_codes:.3f}, re-ranked {r_rerank:.3f}")
    assert r_codes < 0.8 and r_rerank >= 0.9 and r_rerank > r_codes + 0.2
    # Scores come from the 8-bit copy: cosines to within its rounding, best first.
    exact_scores = np.einsum("qd,qkd->qk", q, x[found // 3])
    assert np.abs(scores - exact_scores).max() < 5e-3
    assert (np.diff(scores, axis=1) <= 0).all()
    # The copy costs one byte a dimension (and its id map) on top of the codes.
    assert reranked.bytes_per_vector() == codes_only.bytes_per_vector() + d + 48
    # The memory budget plans with the figure a live index reports (one formula).
    for index in (codes_only, reranked):
        assert faiss_memory_bytes(n, d, index.params) == int(n * index.bytes_per_vector())

    # A small allowed set is scanned exactly over the copy: the exact answer up to rounding.
    allowed = ids[rng.choice(n, size=300, replace=False)]
    keep = np.isin(ids, allowed)
    _, f = reranked.search(q[:20], 10, allowed_ids=allowed)
    _, t = exact_topk(q[:20], x[keep], ids[keep], 10)
    assert np.isin(f, allowed).all() and recall(f, t) >= 0.95

    # Removed ids leave the copy too; new ones are re-ranked from it.
    reranked.remove(truth[:, 0])
    _, f = reranked.search(q, 10)
    assert not np.isin(f, truth[:, 0]).any()
    extra = x[:5] + 0.0
    extra_ids = np.arange(10**6, 10**6 + 5, dtype=np.int64)
    reranked.add(extra, extra_ids)
    s1, f1 = reranked.search(extra, 2)
    assert set(extra_ids) <= set(f1.ravel().tolist())  # each is its own (tied) nearest
    assert np.allclose(s1[:, 0], 1.0, atol=5e-3)

    # Saved and loaded with its copy: the same answers.
    reranked.save(tmp_path / "ivf.ann", version=5)
    loaded, _ = AnnIndex.load(tmp_path / "ivf.ann")
    assert loaded.params.refine_factor == 20
    for allowed_ids in (None, allowed):
        s0, i0 = reranked.search(q, 10, allowed_ids=allowed_ids)
        s2, i2 = loaded.search(q, 10, allowed_ids=allowed_ids)
        np.testing.assert_array_equal(i2, i0)
        np.testing.assert_array_equal(s2, s0)


@pytest.mark.usefixtures("fast_pq_training")
def test_a_saved_ivfpq_without_its_rerank_copy_is_unreadable(tmp_path: Path) -> None:
    from omnivec.indexer.ann_file import StoredIndex, serialize_index

    rng = np.random.default_rng(32)
    params = AnnParams(kind=AnnKind.IVFPQ, nlist=8, nprobe=2, pq_m=4, refine_factor=5)
    index = AnnIndex.build(unit(rng, 10_000, 8), np.arange(10_000, dtype=np.int64), params)
    assert index.trained
    # The codes and ids alone, without the copy the params ask for (a file cut by a bug).
    stored = StoredIndex(8, params, "ivfpq", index.faiss_index, index.ids(),
                         np.empty(0, dtype=np.int64))
    path = tmp_path / "ivf.ann"
    path.write_bytes(b"".join(bytes(part) for part in serialize_index(stored, version=1)))
    with pytest.raises(AnnIndexUnreadable, match="re-ranking copy is missing"):
        AnnIndex.load(path)


@pytest.mark.usefixtures("fast_pq_training")
def test_ivfpq_buffers_until_trainable() -> None:
    rng = np.random.default_rng(4)
    d = 16
    params = AnnParams(kind=AnnKind.IVFPQ, nlist=16, nprobe=4, pq_m=4)
    x = unit(rng, 600, d)
    index = AnnIndex.build(x, np.arange(600, dtype=np.int64), params)
    assert not index.trained  # 600 vectors cannot train 256-centroid PQ codebooks well
    _, f = index.search(x[:5], 1)
    np.testing.assert_array_equal(f[:, 0], np.arange(5))  # exact while buffered
    index.remove(np.array([0, 1]))
    assert index.ntotal == 598
    more = unit(rng, 10_000, d)
    index.add(more, np.arange(1_000, 11_000, dtype=np.int64))
    assert index.trained and index.ntotal == 10_598
    assert index.bytes_per_vector() == 4 + 8
    assert not index.contains(np.array([0, 1])).any()
    assert index.contains(np.array([2, 10_999])).all()


# ------------------------------------------------------------------------------ writes


def test_incremental_add_and_remove_hnsw() -> None:
    rng = np.random.default_rng(5)
    d = 32
    x = unit(rng, 3_000, d)
    params = choose_params(3_000, d, kind=AnnKind.HNSW)
    index = AnnIndex.build(x, np.arange(3_000, dtype=np.int64), params)
    new = unit(rng, 100, d)
    new_ids = np.arange(5_000, 5_100, dtype=np.int64)
    index.add(new, new_ids)
    assert index.ntotal == 3_100
    _, f = index.search(new, 5)
    np.testing.assert_array_equal(f[:, 0], new_ids)

    assert index.tombstone_ratio == 0.0
    gone = new_ids[:50]
    index.remove(gone)
    r1 = index.tombstone_ratio
    assert r1 == pytest.approx(50 / 3_100)
    assert index.ntotal == 3_050
    _, f = index.search(new[:50], 10)
    assert not np.isin(f, gone).any() and (f >= 0).all()
    index.remove(np.arange(100, 400))
    assert index.tombstone_ratio > r1
    index.remove(gone)  # replayed removes are no-ops
    index.remove(np.array([123_456]))
    assert index.ntotal == 2_750
    assert not index.contains(gone).any() and index.contains(new_ids[50:]).all()
    live = index.ids()
    assert live.size == 2_750 and not np.isin(gone, live).any()
    assert bool((np.diff(live) > 0).all())
    # A filter naming only removed ids finds nothing.
    _, f = index.search(new[:1], 3, allowed_ids=gone)
    assert (f == -1).all()
    with pytest.raises(InvalidInputError, match="already in the index"):
        index.add(new[:1], gone[:1])  # removed HNSW ids are not reusable
    with pytest.raises(InvalidInputError, match="already in the index"):
        index.add(new[60:61], new_ids[60:61])

    # With 95% of the graph tombstoned, searches still fill k from the live vectors.
    index.remove(np.arange(400, 2_950))
    assert index.tombstone_ratio > 0.9
    live = index.ids()
    s, f = index.search(unit(rng, 10, d), 10)
    assert (f >= 0).all() and np.isin(f, live).all()
    assert np.isfinite(s).all()


def test_flat_remove_is_physical() -> None:
    rng = np.random.default_rng(6)
    x = unit(rng, 100, 8)
    index = AnnIndex.build(x, np.arange(100, dtype=np.int64), AnnParams(kind=AnnKind.FLAT))
    index.remove(np.arange(0, 100, 2))
    assert index.ntotal == 50 and index.tombstone_ratio == 0.0
    _, f = index.search(x, 50)
    assert set(f.ravel().tolist()) == set(range(1, 100, 2))


def test_input_validation() -> None:
    rng = np.random.default_rng(7)
    x = unit(rng, 10, 8)
    ids = np.arange(10, dtype=np.int64)
    index = AnnIndex.build(x, ids, AnnParams(kind=AnnKind.FLAT))
    cases: list[Callable[[], object]] = [
        lambda: index.search(unit(rng, 2, 9), 3),  # dim mismatch
        lambda: index.search(x, 0),
        lambda: index.search(x, True),
        lambda: index.search(x.astype(np.int32), 3),
        lambda: index.search(x[None], 3),
        lambda: index.search(x, 3, allowed_ids=np.array([1.5, 2.0])),
        lambda: index.add(unit(rng, 2, 8), np.array([20])),  # length mismatch
        lambda: index.add(unit(rng, 2, 8), np.array([20, 20])),  # duplicate in batch
        lambda: index.add(unit(rng, 1, 8), np.array([-3])),
        lambda: index.add(unit(rng, 1, 8) * 3, np.array([30])),  # not normalised
        lambda: index.add(np.full((1, 8), np.nan, dtype=np.float32), np.array([31])),
        lambda: index.add(unit(rng, 1, 8), np.array([[32]])),
        lambda: AnnIndex.build(np.zeros(3, dtype=np.float32), ids[:3], index.params),
        lambda: AnnIndex.empty(0, AnnParams(kind=AnnKind.FLAT)),
        lambda: set_faiss_threads(0),
    ]
    for case in cases:
        with pytest.raises(InvalidInputError):
            case()
    assert index.ntotal == 10  # nothing half-applied
    # float64 input is accepted and converted.
    index.add(unit(rng, 1, 8).astype(np.float64), np.array([40]))
    assert index.ntotal == 11


# ------------------------------------------------------------------------------ persistence


def _small_hnsw(seed: int = 11) -> tuple[AnnIndex, F32]:
    rng = np.random.default_rng(seed)
    x = unit(rng, 2_000, 24)
    params = choose_params(2_000, 24, kind=AnnKind.HNSW)
    index = AnnIndex.build(x, np.arange(10, 2_010, dtype=np.int64), params)
    index.remove(np.arange(10, 60))
    return index, unit(rng, 20, 24)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_save_load_round_trip(tmp_path: Path, kind: str) -> None:
    if kind == "hnsw":
        index, q = _small_hnsw()
    else:
        rng = np.random.default_rng(12)
        ids = np.arange(500, dtype=np.int64)
        index = AnnIndex.build(unit(rng, 500, 24), ids, AnnParams(kind=AnnKind.FLAT))
        q = unit(rng, 20, 24)
    path = tmp_path / "space.ann"
    index.save(path, version=41)
    index.save(path, version=42)  # overwrite in place
    loaded, version = AnnIndex.load(path)
    assert version == 42
    assert loaded.params == index.params and loaded.dim == index.dim
    assert loaded.ntotal == index.ntotal
    assert loaded.tombstone_ratio == index.tombstone_ratio
    np.testing.assert_array_equal(loaded.ids(), index.ids())
    for allowed in (None, index.ids()[:40]):
        s0, i0 = index.search(q, 10, allowed_ids=allowed)
        s1, i1 = loaded.search(q, 10, allowed_ids=allowed)
        np.testing.assert_array_equal(i1, i0)
        np.testing.assert_array_equal(s1, s0)
    assert [p.name for p in tmp_path.iterdir()] == ["space.ann"]  # no temp files left behind


@pytest.mark.usefixtures("fast_pq_training")
def test_save_load_ivfpq_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    params = AnnParams(kind=AnnKind.IVFPQ, nlist=8, nprobe=2, pq_m=4)
    x = unit(rng, 10_000, 8)
    index = AnnIndex.build(x, np.arange(10_000, dtype=np.int64), params)
    assert index.trained
    index.remove(np.arange(100))
    index.save(tmp_path / "ivf.ann", version=7)
    loaded, version = AnnIndex.load(tmp_path / "ivf.ann")
    assert version == 7 and loaded.trained and loaded.ntotal == 9_900
    q = x[100:120]
    np.testing.assert_array_equal(loaded.search(q, 5)[1], index.search(q, 5)[1])


def test_load_rejects_damaged_files(tmp_path: Path) -> None:
    index, _ = _small_hnsw()
    good = tmp_path / "good.ann"
    index.save(good, version=3)
    blob = good.read_bytes()
    damaged: dict[str, bytes] = {
        "empty": b"",
        "truncated-prefix": blob[:20],
        "truncated-header": blob[:100],
        "truncated-payload": blob[: len(blob) // 2],
        "missing-last-byte": blob[:-1],
        "trailing-garbage": blob + b"\0",
        "garbage": os.urandom(len(blob)),
        "wrong-magic": b"X" + blob[1:],
    }
    for pos in (9, 20, 60, 200, len(blob) // 2, len(blob) - 1):  # format, lengths, header, payload
        flipped = bytearray(blob)
        flipped[pos] ^= 0x40
        damaged[f"flip@{pos}"] = bytes(flipped)
    for name, data in damaged.items():
        p = tmp_path / f"{name}.ann"
        p.write_bytes(data)
        with pytest.raises(AnnIndexUnreadable) as err:
            AnnIndex.load(p)
        assert isinstance(err.value, CorruptDataError), name
        assert str(p) in str(err.value)
    with pytest.raises(AnnIndexUnreadable, match="does not exist"):
        AnnIndex.load(tmp_path / "missing.ann")
    with pytest.raises(InvalidInputError):
        index.save(tmp_path / "x.ann", version=-1)
    AnnIndex.load(good)  # the original is still fine


# ------------------------------------------------------------------------------ concurrency


@pytest.mark.usefixtures("fast_pq_training")
@pytest.mark.parametrize("kind", [AnnKind.HNSW, AnnKind.FLAT, AnnKind.IVFPQ])
def test_concurrent_search_during_adds(kind: AnnKind) -> None:
    rng = np.random.default_rng(21)
    d, batches, per = 32, 15, 200
    # IVF-PQ starts trained (10k vectors), so readers re-rank by its 8-bit copy while it grows.
    n0 = 10_000 if kind is AnnKind.IVFPQ else 1_000
    x = unit(rng, n0 + batches * per, d)
    ids = np.arange(x.shape[0], dtype=np.int64) * 7 + 1
    params = (AnnParams(kind=kind, nlist=16, nprobe=4, pq_m=4, refine_factor=10)
              if kind is AnnKind.IVFPQ else choose_params(n0, d, kind=kind))
    index = AnnIndex.build(x[:n0], ids[:n0], params)
    assert index.trained
    valid = set(ids.tolist())
    errors: list[BaseException] = []
    bad: list[str] = []
    done = threading.Event()
    searches = [0]

    def reader(seed: int) -> None:
        r = np.random.default_rng(seed)
        try:
            while not done.is_set():
                q = unit(r, 4, d)
                allowed = ids[r.choice(n0, size=50, replace=False)] if r.random() < 0.3 else None
                s, f = index.search(q, 10, allowed_ids=allowed)
                searches[0] += 1
                if (f == -1).any() or not set(f.ravel().tolist()) <= valid:
                    bad.append(f"bad ids {f}")
                if not bool((np.diff(s, axis=1) <= 1e-6).all()):
                    bad.append("scores not sorted")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def writer() -> None:
        try:
            for b in range(batches):
                lo = n0 + b * per
                index.add(x[lo : lo + per], ids[lo : lo + per])
        except BaseException as e:  # pragma: no cover
            errors.append(e)
        finally:
            done.set()

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(4)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert not bad, bad[:3]
    assert searches[0] > 0
    assert index.ntotal == x.shape[0]
    _, f = index.search(x[-5:], 1)
    np.testing.assert_array_equal(f[:, 0], ids[-5:])


def test_tune_search_lowers_ef_and_keeps_recall_on_clustered_data() -> None:
    rng = np.random.default_rng(5)
    centres = unit(rng, 200, 64)
    x = normalise(centres[rng.integers(0, 200, 25_000)] + rng.normal(scale=0.08, size=(25_000, 64)))
    ids = np.arange(25_000, dtype=np.int64)
    index = AnnIndex.build(x, ids, choose_params(25_000, 64))
    before = index.params.ef_search
    ef, measured = index.tune_search(0.95)
    assert ef == index.params.ef_search and ef <= before and measured >= 0.97
    q = normalise(x[rng.choice(25_000, 200, replace=False)] + rng.normal(scale=0.05, size=(200, 64)))
    _, found = index.search(q, 10)
    _, truth = exact_topk(q, x, ids, 10)
    assert recall(found, truth) >= 0.95  # held-out queries meet the target at the tuned ef
