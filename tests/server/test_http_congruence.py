"""One scenario through gRPC (the SDK) and through HTTP (plain JSON) on the same server: the same
items, hits, scores, labels and reports come back either way."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from omnivec.client import Client, Fusion, ItemRef, LabelledExample, Media, UpsertItem
from tests.server.http_support import running_server, server_settings
from tests.support.paths import SAMPLES, SPEECH
from tests.support.topics import TOPICS


@pytest.fixture(scope="module")
def both(settings: Any, models: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, httpx.Client]]:
    cfg = server_settings(settings, tmp_path_factory.mktemp("congruence"))
    with running_server(cfg, models) as server:
        with Client(f"127.0.0.1:{server.port}", timeout=120) as grpc_client, \
                httpx.Client(base_url=server.http_url, timeout=120) as http:
            yield grpc_client, http


def _items() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"text": text, "metadata": {"topic": topic, "n": i}}
        for topic, texts in list(TOPICS.items())[:3] for i, text in enumerate(texts[:3])
    ]
    out.append({"image": (SAMPLES / "images" / "cat.jpg").read_bytes(), "filename": "cat.jpg", "metadata": {"topic": "photo"}})
    out.append({"audio": (SPEECH / "weather.wav").read_bytes(), "filename": "weather.wav", "metadata": {"topic": "speech"}})
    return out


def _grpc_upsert(client: Client, name: str) -> list[tuple[str, str]]:
    items = []
    for entry in _items():
        if "text" in entry:
            media = Media(text=entry["text"])
        elif "image" in entry:
            media = Media(image=entry["image"], filename=entry["filename"])
        else:
            media = Media(audio=entry["audio"], filename=entry["filename"])
        items.append(UpsertItem(media, metadata=entry["metadata"]))
    return [(r.id, r.status) for r in client.upsert(name, items)]


def _http_upsert(http: httpx.Client, name: str) -> list[tuple[str, str]]:
    items = []
    for entry in _items():
        item: dict[str, Any] = {"metadata": entry["metadata"]}
        if "text" in entry:
            item["text"] = entry["text"]
        else:
            item["data_base64"] = base64.b64encode(entry.get("image") or entry["audio"]).decode()
            item["filename"] = entry["filename"]
        items.append(item)
    body = http.post(f"/api/collections/{name}/items/json", json={"items": items}).json()
    return [(r["id"], r["status"]) for r in body["results"]]


@pytest.fixture(scope="module")
def collections(both: tuple[Client, httpx.Client]) -> tuple[str, str]:
    grpc_client, http = both
    grpc_client.create_collection("by-grpc", ["clip", "text"])
    assert http.post("/api/collections", json={"name": "by-http", "spaces": ["clip", "text"]}).status_code == 201
    grpc_results = _grpc_upsert(grpc_client, "by-grpc")
    assert grpc_results == _http_upsert(http, "by-http")
    assert all(status == "ok" for _, status in grpc_results)
    return "by-grpc", "by-http"


def _grpc_hits(client: Client, name: str, **query: Any) -> list[tuple[Any, ...]]:
    return [
        (h.rank, h.id, h.modality, h.space, round(h.score, 5), round(h.fused_score, 6), h.chunk,
         h.span.text if h.span else None, dict(h.metadata))
        for h in client.search(name, **query)
    ]


def _http_hits(http: httpx.Client, name: str, media: dict[str, Any] | None = None, **query: Any) -> list[tuple[Any, ...]]:
    if media:
        data = {"k": str(query.get("k", 10)), "modalities": query.get("modalities", [])}
        body = http.post(f"/api/collections/{name}/search/media", files=media, data=data).json()
    else:
        body = http.post(f"/api/collections/{name}/search", json=query).json()
    return [
        (h["rank"], h["id"], h["modality"], h["space"], round(h["score"], 5), round(h["fused_score"], 6),
         h["chunk"], h["span"]["text"] if h["span"] else None, h["metadata"])
        for h in body["hits"]
    ]


def test_same_hits_through_grpc_and_http(both: tuple[Client, httpx.Client], collections: tuple[str, str]) -> None:
    grpc_client, http = both
    for name in collections:  # each collection, read through both edges
        text = _grpc_hits(grpc_client, name, text="how to bake bread", k=5)
        assert text == _http_hits(http, name, text="how to bake bread", k=5) and len(text) == 5
        topic = next(iter(TOPICS))
        filtered = _grpc_hits(grpc_client, name, text=topic, k=4, where=f"topic = '{topic}'", modalities=["text"])
        assert filtered == _http_hits(http, name, text=topic, k=4, where=f"topic = '{topic}'", modalities=["text"])
        assert filtered and all(h[8]["topic"] == topic for h in filtered)
        like = _grpc_hits(grpc_client, name, item_id=text[0][1], k=3)
        assert like == _http_hits(http, name, item_id=text[0][1], k=3)
        cat = (SAMPLES / "images" / "cat.jpg").read_bytes()
        assert _grpc_hits(grpc_client, name, image=cat, k=3) == _http_hits(
            http, name, media={"image": ("cat.jpg", cat, "image/jpeg")}, k=3)
        clip = (SPEECH / "weather.wav").read_bytes()
        assert _grpc_hits(grpc_client, name, audio=clip, k=3, modalities=["audio"]) == _http_hits(
            http, name, media={"audio": ("q.wav", clip, "audio/wav")}, k=3, modalities=["audio"])
    # And the two collections, written through different edges, hold the same things.
    assert _grpc_hits(grpc_client, collections[0], text="rivers", k=8) == \
        _grpc_hits(grpc_client, collections[1], text="rivers", k=8)


def test_modes_fusion_and_matches_alike_through_grpc_and_http(both: tuple[Client, httpx.Client], collections: tuple[str, str]) -> None:
    """Keyword, vector and hybrid searches and per-query fusion weights give the same hits either
    way, with every ranking that found each hit."""
    grpc_client, http = both
    name = collections[0]
    query = "bread dough"
    for mode in ("keyword", "vector", "hybrid"):
        grpc_hits = grpc_client.search(name, text=query, k=6, mode=mode)
        body = http.post(f"/api/collections/{name}/search", json={"text": query, "k": 6, "mode": mode}).json()
        assert [(h.id, round(h.fused_score, 6), h.space) for h in grpc_hits] == [
            (h["id"], round(h["fused_score"], 6), h["space"]) for h in body["hits"]]
        assert [[(m.ranking, m.rank) for m in h.matches] for h in grpc_hits] == [
            [(m["ranking"], m["rank"]) for m in h["matches"]] for h in body["hits"]]
        rankings = {m["ranking"] for h in body["hits"] for m in h["matches"]}
        if mode == "keyword":
            assert rankings == {"keyword"}
        elif mode == "vector":
            assert rankings and "keyword" not in rankings
    keyword_only = Fusion({"clip": 0.0, "text": 0.0})
    grpc_hits = grpc_client.search(name, text=query, k=6, fusion=keyword_only)
    body = http.post(f"/api/collections/{name}/search", json={
        "text": query, "k": 6, "fusion": {"weights": {"clip": 0.0, "text": 0.0}}}).json()
    assert [h.id for h in grpc_hits] == [h["id"] for h in body["hits"]]
    assert body["hits"] and all(h["space"] == "keyword" for h in body["hits"])
    bad = http.post(f"/api/collections/{name}/search", json={"text": query, "mode": "fuzzy"})
    assert bad.status_code == 400 and "mode" in bad.text


def test_same_labels_and_reports_through_grpc_and_http(both: tuple[Client, httpx.Client], collections: tuple[str, str]) -> None:
    grpc_client, http = both
    name = collections[0]
    hits = grpc_client.search(name, text="anything", k=50, modalities=["text"])
    examples = [(h.id, h.metadata["topic"]) for h in hits if h.metadata.get("n") in (0, 1)]
    grpc_report = grpc_client.train_probe(
        name, "by-grpc", [LabelledExample(ItemRef(i), label) for i, label in examples], seed=3,
        space="text",
    )
    http_report = http.post(f"/api/collections/{name}/probes/by-http/train", json={
        "examples": [{"item_id": i, "label": label} for i, label in examples], "seed": 3,
        "space": "text",
    }).json()
    assert list(grpc_report.classes) == http_report["classes"]
    assert grpc_report.heldout_accuracy == pytest.approx(http_report["heldout_accuracy"])
    assert grpc_report.regularization_c == pytest.approx(http_report["regularization_c"])
    assert [list(r) for r in grpc_report.confusion_matrix] == http_report["confusion_matrix"]
    held_out = [h.id for h in hits if h.metadata.get("n") == 2]
    grpc_labels = [(c.label, round(c.labels[0].probability, 5))
                   for c in grpc_client.classify(name, "by-grpc", [ItemRef(i) for i in held_out])]
    http_labels = [(r["label"], round(r["labels"][0]["probability"], 5)) for r in http.post(
        f"/api/collections/{name}/probes/by-http/classify", json={"item_ids": held_out}).json()["results"]]
    assert grpc_labels == http_labels and len(grpc_labels) == len(held_out)
    # Applied to the whole collection through each edge: the same label on every item.
    list(grpc_client.classify_collection(name, "by-grpc"))
    assert http.post(f"/api/collections/{name}/probes/by-http/apply", json={}).status_code == 200
    for label in grpc_report.classes:
        by_grpc = _http_hits(http, name, text="x", k=50, where=f"label_by_grpc = '{label}'")
        by_http = _grpc_hits(grpc_client, name, text="x", k=50, where=f"label_by_http = '{label}'")
        assert sorted(h[1] for h in by_grpc) == sorted(h[1] for h in by_http)
    labels = list(TOPICS)[:3]
    zero_grpc = grpc_client.zero_shot_classify(labels, text="a goal in the last minute", space="text")
    zero_http = http.post("/api/classify", json={"labels": labels, "text": "a goal in the last minute",
                                                 "space": "text"}).json()["labels"]
    assert [(x.label, round(x.probability, 5)) for x in zero_grpc] == [
        (x["label"], round(x["probability"], 5)) for x in zero_http]


def test_prompt_ensembles_and_unlabeled_choice_alike_through_grpc_and_http(both: tuple[Client, httpx.Client], collections: tuple[str, str]) -> None:
    """A prompt ensemble with a built-in set, trained without the unlabelled items: the same
    report (prompts, unlabelled-row figures, accuracy) through either edge."""
    grpc_client, http = both
    name = collections[0]
    hits = grpc_client.search(name, text="anything", k=50, modalities=["text"])
    examples = [(h.id, h.metadata["topic"]) for h in hits if h.metadata.get("n") == 0]
    prompts = ["a note about {}", "something on {}"]
    for use_unlabeled in (False, True):
        grpc_report = grpc_client.train_probe(
            name, "ens-grpc", [LabelledExample(ItemRef(i), label) for i, label in examples],
            seed=1, space="text", prompt_template=prompts, prompt_set="text",
            use_unlabeled=use_unlabeled,
        )
        http_report = http.post(f"/api/collections/{name}/probes/ens-http/train", json={
            "examples": [{"item_id": i, "label": label} for i, label in examples], "seed": 1,
            "space": "text", "prompt_template": prompts[0], "prompt_templates": prompts[1:],
            "prompt_set": "text", "use_unlabeled": use_unlabeled,
        }).json()
        assert http_report["prompt_set"] == "text"
        assert http_report["prompt_templates"][:2] == prompts and len(http_report["prompt_templates"]) > 2
        assert (grpc_report.unlabeled_available, grpc_report.unlabeled_rows, grpc_report.unlabeled_used) == (
            http_report["unlabeled_available"], http_report["unlabeled_rows"], http_report["unlabeled_used"])
        if not use_unlabeled:
            assert http_report["unlabeled_rows"] == 0 and not http_report["unlabeled_used"]
        assert grpc_report.accuracy == pytest.approx(http_report["accuracy"])
    shown = http.get(f"/api/collections/{name}/probes/ens-http").json()
    assert shown["prompt_templates"] == http_report["prompt_templates"]
    bad = http.post(f"/api/collections/{name}/probes/bad/train", json={
        "examples": [{"item_id": i, "label": label} for i, label in examples],
        "prompt_templates": ["no placeholder"]})
    assert bad.status_code == 400 and "{}" in bad.json()["error"]["message"]


def test_verify_reports_alike_through_grpc_and_http(both: tuple[Client, httpx.Client], collections: tuple[str, str]) -> None:
    grpc_client, http = both
    for name in collections:
        by_grpc = grpc_client.verify_collection(name)
        by_http = http.post(f"/api/collections/{name}/verify").json()
        assert by_http["ok"] is by_grpc.ok is True
        assert (by_http["collection"], by_http["rows_read"], by_http["data_files_checked"],
                by_http["probes_checked"], by_http["problems"], by_http["recovery"]) == (
            by_grpc.collection, by_grpc.rows_read, by_grpc.data_files_checked,
            by_grpc.probes_checked, [], by_grpc.recovery)
        assert by_http["rows_read"] > 0
    missing = http.post("/api/collections/no-such/verify")
    assert missing.status_code == 404
