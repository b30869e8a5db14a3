"""The pure parts of retrieval: weighted reciprocal rank fusion, routing, the retrieval figures,
bootstrap intervals, the tuning grid and its cross-validation, and the labelled-queries file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from omnivec.client.types import METRICS, EvalQuery, Fusion
from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.evaluation.metrics import estimate, query_metrics
from omnivec.indexer.evaluation.queries import check_queries, load_queries
from omnivec.indexer.evaluation.tuning import candidate_fusions, cross_validate
from omnivec.indexer.fusion import (
    RRF_K,
    Candidate,
    build_candidates,
    check_fusion,
    fused_order,
    modality_routes,
)

ROUTES = modality_routes(["clip", "text"])


def _table(lists: dict[str, list[tuple[str, str]]]):  # type: ignore[no-untyped-def]
    """Rankings of (item, modality), best first; scores fall with rank, rowids are positions."""
    return build_candidates(
        {
            name: [Candidate(item, modality, 1.0 - 0.1 * rank, rank) for rank, (item, modality) in enumerate(items)]
            for name, items in lists.items()
        },
        ROUTES,
    )


def _order(table, fusion: Fusion, k: int = 10) -> list[str]:  # type: ignore[no-untyped-def]
    order, _, _ = fused_order(table, fusion, k)
    return [table.items[i] for i in order]


def test_equal_weights_sum_reciprocal_ranks_and_weights_scale_each_ranking() -> None:
    table = _table({
        "text": [("a", "text"), ("b", "text"), ("c", "text")],
        "keyword": [("c", "text"), ("a", "text")],
    })
    order, fused, _ = fused_order(table, Fusion(), 3)
    got = dict(zip((table.items[i] for i in order), fused))
    assert got["a"] == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + 2))
    assert got["c"] == pytest.approx(1 / (RRF_K + 3) + 1 / (RRF_K + 1))
    assert got["b"] == pytest.approx(1 / (RRF_K + 2))
    assert _order(table, Fusion()) == ["a", "c", "b"]
    # Keyword weighted up, c (first by keyword) overtakes a; keyword weighted 0 is vector alone.
    assert _order(table, Fusion({"keyword": 3.0}))[0] == "c"
    assert _order(table, Fusion({"keyword": 0.0})) == ["a", "b", "c"]
    # Items only a zero-weighted ranking found are left out.
    assert _order(table, Fusion({"text": 0.0})) == ["c", "a"]


def test_the_hit_reports_the_ranking_that_weighs_most() -> None:
    table = _table({"text": [("a", "text"), ("b", "text")], "keyword": [("b", "text"), ("a", "text")]})
    order, _, best = fused_order(table, Fusion({"keyword": 2.0}), 2)
    assert [table.items[i] for i in order] == ["b", "a"]
    assert [table.rankings[j] for j in best] == ["keyword", "keyword"]


def test_routing_ranks_each_modality_among_its_own_items_by_its_own_rankings() -> None:
    # A weak clip ranking puts a wrong text first; routed, texts are ranked by the text space
    # alone and the image by clip among images only.
    table = _table({
        "clip": [("wrong", "text"), ("photo", "image"), ("right", "text")],
        "text": [("right", "text"), ("wrong", "text")],
    })
    assert table.routed_ranks[table.items.index("photo"), 0] == 1  # first among images
    assert table.routed_ranks[table.items.index("wrong"), 0] == 0  # texts do not count in clip
    routed = _order(table, Fusion(route_by_modality=True))
    assert routed.index("right") < routed.index("wrong")
    assert _order(table, Fusion())[0] == "wrong"  # unrouted, the weak space's vote tips it


def test_fusion_weights_are_checked_against_the_collection_rankings() -> None:
    rankings = ["clip", "text", "keyword"]
    check_fusion(Fusion({"text": 1.0, "keyword": 0.0}), rankings)
    with pytest.raises(InvalidInputError, match="unknown ranking 'bm25'.*clip, keyword, text"):
        check_fusion(Fusion({"bm25": 1.0}), rankings)
    for bad in (-1.0, math.inf, math.nan):
        with pytest.raises(InvalidInputError, match="between 0 and"):
            check_fusion(Fusion({"text": bad}), rankings)
    with pytest.raises(InvalidInputError, match="must be a number"):
        check_fusion(Fusion({"text": "1"}), rankings)  # type: ignore[dict-item]


def test_figures_follow_their_definitions() -> None:
    ranked = ["x", "a", "y", "b"] + [f"z{i}" for i in range(10)]
    figures = dict(zip(METRICS, query_metrics(ranked, {"a": 1.0, "b": 1.0, "c": 1.0})))
    assert figures["recall@1"] == 0.0
    assert figures["recall@5"] == pytest.approx(2 / 3)
    assert figures["recall@10"] == pytest.approx(2 / 3)
    assert figures["mrr@10"] == pytest.approx(1 / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert figures["ndcg@10"] == pytest.approx(dcg / ideal)
    # Graded: the best item in second place, the lesser first.
    graded = dict(zip(METRICS, query_metrics(["b", "a"], {"a": 3.0, "b": 1.0})))
    assert graded["ndcg@10"] == pytest.approx((1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3)))
    # A relevant item past 10 counts for nothing; grade 0 is not relevant.
    late = dict(zip(METRICS, query_metrics([f"z{i}" for i in range(10)] + ["a"], {"a": 1.0, "z0": 0.0})))
    assert late["recall@10"] == late["mrr@10"] == late["ndcg@10"] == 0.0


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_queries() -> None:
    rng = np.random.default_rng(1)
    small = (rng.random((50, 1)) < 0.6).astype(float)
    large = (rng.random((2000, 1)) < 0.6).astype(float)
    e_small, e_large = estimate(small, 500, 0)[0], estimate(large, 500, 0)[0]
    for e, values in ((e_small, small), (e_large, large)):
        assert e.value == pytest.approx(values.mean())
        assert e.low <= e.value <= e.high
    assert (e_large.high - e_large.low) < (e_small.high - e_small.low) / 3
    assert estimate(large, 0, 0)[0].low == estimate(large, 0, 0)[0].value  # no resamples


def test_tuning_grid_tries_each_ordering_once_current_first() -> None:
    current = Fusion({"text": 2.0, "keyword": 1.0})
    grid = candidate_fusions(["text", "keyword"], current)
    assert grid[0].weights == {"text": 2.0, "keyword": 1.0}
    assert grid[1].weights == {"text": 1.0, "keyword": 1.0}
    keys = set()
    for f in grid:
        w = np.array([f.weight("text"), f.weight("keyword")])
        keys.add((*np.round(w / w.max(), 6), f.route_by_modality))
        assert w.max() > 0
    assert len(keys) == len(grid)
    # Ratios 0, 1/4, 1/2, 1, 2, 4 and infinity, each routed and not.
    assert len(grid) == 14


def test_cross_validation_scores_each_query_with_weights_chosen_without_it() -> None:
    # Candidate 1 is best on queries 0-5, candidate 0 on queries 6-9; on all, candidate 1 wins.
    figures = np.zeros((2, 10, len(METRICS)))
    figures[1, :6, :] = 1.0
    figures[0, 6:, :] = 0.5
    cv = cross_validate(figures, METRICS.index("ndcg@10"), folds=5, seed=0)
    assert cv.best == 1
    for fold_choice in cv.chosen_per_fold:
        assert fold_choice == 1  # the other folds always favour candidate 1
    assert np.array_equal(cv.out_of_fold, figures[1])


def test_queries_file_reads_text_media_and_graded_relevance(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        json.dumps({"query": "a cat", "relevant": ["c1", "c2"]}) + "\n\n"
        + json.dumps({"image": "img/cat.jpg", "relevant": {"c1": 2, "c2": 0}, "id": "photo"}) + "\n"
    )
    first, second = load_queries(path)
    assert first.text == "a cat" and first.relevant == {"c1": 1.0, "c2": 1.0} and first.id == "line 1"
    assert second.image == tmp_path / "img" / "cat.jpg" and second.relevant == {"c1": 2.0, "c2": 0.0}
    assert second.id == "photo"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not JSON"),
        ('["a"]', "line 1: expected a JSON object"),
        ('{"query": "x"}', "no 'relevant' ids"),
        ('{"query": "x", "relevant": ["a"], "k": 3}', "unknown key\\(s\\) k"),
        ('{"query": "x", "relevant": "a"}', "'relevant' must be a list"),
        ('{"query": "x", "relevant": {"a": "high"}}', "grade of 'a' must be a number"),
        ('{"query": "x", "relevant": {"a": 0}}', "no relevant item"),
        ('{"query": "x", "relevant": {"a": -1}}', "must be >= 0"),
        ('{"query": "x", "image": "a.jpg", "relevant": ["a"]}', "exactly one of"),
        ('{"query": "  ", "relevant": ["a"]}', "the text query is empty"),
    ],
)
def test_bad_queries_files_name_the_line_and_the_problem(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(InvalidInputError, match=message):
        load_queries(path)


def test_missing_or_empty_queries_file_is_a_precise_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_queries(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InvalidInputError, match="holds no queries"):
        load_queries(tmp_path / "empty.jsonl")
    with pytest.raises(InvalidInputError, match="at least one labelled query"):
        check_queries([])
    with pytest.raises(InvalidInputError, match="q7: give exactly one"):
        check_queries([EvalQuery(relevant={"a": 1.0}, id="q7")])
