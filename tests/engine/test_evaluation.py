"""``Engine.evaluate`` on real MiniLM embeddings: the figures are those of real searches, tuning
with a weak space (the seeded tiny CLIP) never loses to the better single space, and tuned
weights are stored with the collection and used by later searches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from omnivec.client import METRICS, EvalOptions, EvalQuery, Fusion, SearchQuery
from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.evaluation.metrics import query_metrics
from tests.support.paths import REPO

DATA = REPO / "benchmarks" / "data"
N_DOCS = 80


@pytest.fixture(scope="module")
def debian(engine, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[EvalQuery]]:  # type: ignore[no-untyped-def]
    """The first Debian retrieval documents in a clip (weak, seeded) + text collection, and
    their synopses as labelled text-to-text queries."""
    docs = (DATA / "debian_retrieval_docs.jsonl").read_text().splitlines()[:N_DOCS]
    manifest = tmp_path_factory.mktemp("debian") / "docs.jsonl"
    manifest.write_text("\n".join(docs) + "\n")
    engine.create_collection("debian-eval", ["clip", "text"])
    report = engine.index_paths("debian-eval", [manifest])
    assert report.indexed == N_DOCS
    ids = {json.loads(d)["id"] for d in docs}
    queries = [
        EvalQuery(text=row["query"], relevant={row["relevant"][0]: 1.0}, id=row["relevant"][0])
        for row in map(json.loads, (DATA / "debian_retrieval_queries.jsonl").read_text().splitlines())
        if row["relevant"][0] in ids
    ]
    assert len(queries) == N_DOCS
    return "debian-eval", queries


def _searched(engine, collection: str, queries: list[EvalQuery], **query: object) -> np.ndarray:  # type: ignore[no-untyped-def]
    figures = [
        query_metrics(
            [h.id for h in engine.search(collection, SearchQuery(text=q.text, k=10, **query)).hits],  # type: ignore[arg-type]
            q.relevant,
        )
        for q in queries
    ]
    return np.mean(figures, axis=0)


def test_figures_are_those_of_real_searches(engine, debian) -> None:  # type: ignore[no-untyped-def]
    collection, queries = debian
    sample = queries[:12]
    report = engine.evaluate(collection, sample, EvalOptions(bootstrap_samples=200))
    searches = {
        "vector:clip": {"mode": "vector", "spaces": ("clip",)},  # spaces in name order
        "vector:text": {"mode": "vector", "spaces": ("text",)},
        "keyword": {"mode": "keyword"},
        "vector": {"mode": "vector"},
        "hybrid": {},
        "routed": {"fusion": Fusion(route_by_modality=True)},
    }
    assert [c.name for c in report.configurations] == list(searches)
    for name, query in searches.items():
        expected = _searched(engine, collection, sample, **query)
        got = report.configuration(name).metrics
        for m, metric in enumerate(METRICS):
            assert got[metric].value == pytest.approx(expected[m]), (name, metric)
            assert got[metric].low <= got[metric].value <= got[metric].high
    # Paired differences against the baseline, one per configuration and figure.
    assert report.baseline == "vector"
    assert len(report.differences) == (len(searches) - 1) * len(METRICS)
    hybrid = [d for d in report.differences if d.configuration == "hybrid" and d.metric == "mrr@10"][0]
    assert hybrid.difference.value == pytest.approx(
        report.configuration("hybrid").metrics["mrr@10"].value - report.configuration("vector").metrics["mrr@10"].value
    )
    assert hybrid.better + hybrid.worse <= len(sample)


def test_tuning_with_a_weak_space_never_loses_to_the_better_single_space(engine, debian) -> None:  # type: ignore[no-untyped-def]
    collection, queries = debian
    report = engine.evaluate(collection, queries, EvalOptions(tune=True, bootstrap_samples=200))
    figures = {c.name: {m: e.value for m, e in c.metrics.items()} for c in report.configurations}
    # The seeded CLIP is weak: fusing it with equal weight costs against MiniLM alone.
    assert figures["vector:clip"]["ndcg@10"] < figures["vector:text"]["ndcg@10"]
    assert figures["vector"]["ndcg@10"] < figures["vector:text"]["ndcg@10"]
    better_single = max(figures["vector:clip"]["ndcg@10"], figures["vector:text"]["ndcg@10"])
    # Cross-validated: each query is scored with weights chosen without it.
    assert figures["tuned"]["ndcg@10"] >= better_single
    assert report.tuning is not None and report.tuning.stored, report.tuning
    assert report.tuning.fusion.weight("clip") < report.tuning.fusion.weight("text")
    # Stored with the collection, shown by describe, used by searches without weights.
    assert engine.describe_collection(collection).fusion == report.tuning.fusion
    text = queries[0].text
    stored = [h.id for h in engine.search(collection, SearchQuery(text=text, k=10)).hits]
    explicit = [h.id for h in engine.search(collection, SearchQuery(text=text, k=10, fusion=report.tuning.fusion)).hits]
    assert stored == explicit
    # A later evaluation uses the stored weights as the current ones.
    again = engine.evaluate(collection, queries[:5], EvalOptions(bootstrap_samples=0))
    assert again.fusion == report.tuning.fusion


def test_a_dry_run_reports_weights_without_storing_them(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from omnivec.indexer.fusion_store import FUSION_FILE

    engine.create_collection("dry", ["text"])
    manifest = tmp_path / "docs.jsonl"
    manifest.write_text("".join(
        json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(
            ["Bake the bread until golden.", "The striker scored a goal.", "Compile the code first."]
        )
    ))
    engine.index_paths("dry", [manifest])
    queries = [EvalQuery(text="football match", relevant={"d1": 1.0}), EvalQuery(text="bakery", relevant={"d0": 1.0})]
    report = engine.evaluate("dry", queries, EvalOptions(tune=True, dry_run=True, folds=2, bootstrap_samples=0))
    assert report.tuning is not None and not report.tuning.stored
    assert not engine.collection("dry").root.objects.exists(FUSION_FILE)
    assert engine.describe_collection("dry").fusion is None


def test_bad_options_and_unknown_ids_are_reported(engine, debian) -> None:  # type: ignore[no-untyped-def]
    collection, queries = debian
    for options, message in [
        (EvalOptions(objective="precision@3"), "unknown objective 'precision@3'"),
        (EvalOptions(folds=1), "folds must be between 2 and 20"),
        (EvalOptions(bootstrap_samples=-1), "bootstrap samples must be between"),
        (EvalOptions(baseline="tuned"), "unknown baseline 'tuned'"),
        (EvalOptions(fusion=Fusion({"bm25": 1.0})), "unknown ranking 'bm25'"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            engine.evaluate(collection, queries[:2], options)
    with pytest.raises(InvalidInputError, match="image queries need the clip space"):
        engine.create_collection("textonly", ["text"])
        engine.evaluate("textonly", [EvalQuery(image=REPO / "samples" / "images" / "cat.jpg", relevant={"x": 1.0})])
    missing = engine.evaluate(collection, [EvalQuery(text="a web browser", relevant={"no-such-item": 1.0})], EvalOptions(bootstrap_samples=0))
    assert "1 of 1 relevant ids are not in collection" in missing.notes[0]
    assert missing.configuration("hybrid").metrics["recall@10"].value == 0.0
