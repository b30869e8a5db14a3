"""The HTTP/JSON edge end to end: a real server (gRPC + HTTP on port 0) over the real engine and
models, called with a real HTTP client. Auth, TLS and limits are in test_http_edge.py; the same
scenario over gRPC and HTTP in test_http_congruence.py."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.server.http_support import running_server, server_settings
from tests.support import media_factory as mf
from tests.support.paths import SAMPLES, SPEECH

COLLECTION = "web"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("http-root")
    shutil.copy(SPEECH / "weather.wav", folder / "weather.wav")
    return folder


@pytest.fixture(scope="module")
def server(settings: Any, models: Any, root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    cfg = server_settings(settings, tmp_path_factory.mktemp("http-data"), index_root=root)
    with running_server(cfg, models) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.http_url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def loaded(http: httpx.Client, server: Any, root: Path) -> dict[str, Any]:
    """A clip+text collection: two photos, a note, a speech clip stored at upload, and the
    clip under the root indexed by path."""
    created = http.post("/api/collections", json={"name": COLLECTION, "spaces": ["clip", "text"]})
    assert created.status_code == 201, created.text
    files = [
        ("file", ("cat.jpg", (SAMPLES / "images" / "cat.jpg").read_bytes(), "image/jpeg")),
        ("file", ("rocket.jpg", (SAMPLES / "images" / "rocket.jpg").read_bytes(), "image/jpeg")),
        ("file", ("cooking.wav", (SPEECH / "cooking.wav").read_bytes(), "audio/wav")),
        ("file", ("broken.png", b"this is not a png at all", "image/png")),
    ]
    data = {"text": ["The espresso machine is broken again <script>alert(1)</script>"],
            "metadata": '{"batch": "first"}', "store_media": "true"}
    first = http.post(f"/api/collections/{COLLECTION}/items", files=files, data=data)
    assert first.status_code == 200, first.text
    # The clip under the index root, by path, as `omnivec index` would store it.
    server.engine.index_paths(COLLECTION, [root / "weather.wav"])
    return first.json()


def test_upsert_answers_one_result_per_item_in_order(loaded: dict[str, Any], http: httpx.Client) -> None:
    results = loaded["results"]
    assert [r["status"] for r in results] == ["ok", "ok", "ok", "failed", "ok"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert "image" in results[3]["error"] and results[3]["id"] == ""
    assert loaded["indexed"] == 4 and loaded["failed"] == 1
    again = http.post(f"/api/collections/{COLLECTION}/items", files=[
        ("file", ("cat.jpg", (SAMPLES / "images" / "cat.jpg").read_bytes(), "image/jpeg"))])
    assert again.json()["results"][0]["status"] == "unchanged"
    by_json = http.post(f"/api/collections/{COLLECTION}/items/json", json={"items": [
        {"text": "Knead the dough for ten minutes.", "id": "bread", "metadata": {"topic": "baking"}},
        {"data_base64": "!!!", "filename": "x.png"},
        {"text": "both", "data_base64": "AAAA"},
    ]}).json()
    assert [r["status"] for r in by_json["results"]] == ["ok", "failed", "failed"]
    assert by_json["results"][0]["id"] == "bread" and "base64" in by_json["results"][1]["error"]


def test_collections_list_and_describe_with_counts(loaded: dict[str, Any], http: httpx.Client) -> None:
    listed = {c["name"]: c for c in http.get("/api/collections").json()}
    info = listed[COLLECTION]
    assert info == http.get(f"/api/collections/{COLLECTION}").json()
    assert info["modality_counts"]["image"] == 2 and info["modality_counts"]["audio"] == 2
    assert {s["space"] for s in info["spaces"]} == {"clip", "text"}
    assert all(s["encoder"]["dim"] > 0 for s in info["spaces"]) and info["size_bytes"] > 0


def test_search_by_text_image_audio_and_item(loaded: dict[str, Any], http: httpx.Client) -> None:
    url = f"/api/collections/{COLLECTION}/search"
    text = http.post(url, json={"text": "will it be sunny tomorrow", "k": 3}).json()
    top = text["hits"][0]
    assert top["modality"] == "audio" and "sunny" in top["span"]["text"].lower()
    assert top["span"]["start_s"] is not None and top["audio_url"].startswith("/api/")
    assert {"score", "fused_score", "space", "rank"} <= set(top)
    cat = (SAMPLES / "images" / "cat.jpg").read_bytes()
    image = http.post(url + "/media", files={"image": ("q.jpg", cat, "image/jpeg")},
                      data={"k": "2", "modalities": ["image"]}).json()
    assert image["hits"][0]["source_uri"] == "cat.jpg" and image["hits"][0]["thumbnail_url"]
    audio = http.post(url + "/media", files={"audio": ("q.wav", (SPEECH / "weather.wav").read_bytes(), "audio/wav")},
                      data={"k": "2", "modalities": ["audio"]}).json()
    assert "sunny" in (audio["query_transcript"] or "").lower()
    like = http.post(url, json={"item_id": image["hits"][0]["id"], "k": 3}).json()
    assert image["hits"][0]["id"] not in [h["id"] for h in like["hits"]]
    filtered = http.post(url, json={"text": "machine", "where": "batch = 'first'", "modalities": ["text"]}).json()
    assert [h["metadata"]["batch"] for h in filtered["hits"]] == ["first"]


def test_thumbnails_and_audio_are_served_with_ranges(loaded: dict[str, Any], http: httpx.Client) -> None:
    hits = http.post(f"/api/collections/{COLLECTION}/search",
                     json={"text": "a photo", "modalities": ["image"], "k": 2}).json()["hits"]
    thumb = http.get(hits[0]["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 256
    audio_hits = http.post(f"/api/collections/{COLLECTION}/search",
                           json={"text": "speech", "modalities": ["audio"], "k": 5}).json()["hits"]
    assert len(audio_hits) == 2
    for hit in audio_hits:  # one stored at upload, one a file under the root
        whole = http.get(hit["audio_url"])
        assert whole.status_code == 200 and whole.content[:4] == b"RIFF"
        part = http.get(hit["audio_url"], headers={"range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == whole.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    item = http.get(f"/api/collections/{COLLECTION}/item", params={"id": audio_hits[0]["id"]}).json()
    assert item["modality"] == "audio" and item["chunks"][0]["start_s"] is not None


def error(response: httpx.Response, code: int, status: str) -> str:
    """Asserts an HTTP error with its gRPC status name; its message."""
    assert response.status_code == code, response.text
    body = response.json()["error"]
    assert body["code"] == code and body["status"] == status
    return str(body["message"])


def test_errors_have_the_grpc_meaning_and_a_json_body(loaded: dict[str, Any], http: httpx.Client, tmp_path: Path) -> None:
    assert "nope" in error(http.get("/api/collections/nope"), 404, "NOT_FOUND")
    error(http.post("/api/collections/nope/search", json={"text": "x"}), 404, "NOT_FOUND")
    error(http.post("/api/collections/nope/items", data={"text": ["x"]}), 404, "NOT_FOUND")
    assert "filter" in error(http.post(f"/api/collections/{COLLECTION}/search",
                                       json={"text": "x", "where": "priority = = 1"}), 400, "INVALID_ARGUMENT")
    reason = error(http.post(f"/api/collections/{COLLECTION}/search/media",
                             files={"image": ("q.jpg", mf.truncated_jpeg(tmp_path).read_bytes(), "image/jpeg")}),
                   400, "INVALID_ARGUMENT")
    assert "truncated" in reason or "damaged" in reason
    error(http.post(f"/api/collections/{COLLECTION}/search/media",
                    files={"audio": ("q.wav", b"RIFF0000WAVEjunk", "audio/wav")}), 400, "INVALID_ARGUMENT")
    assert "k" in error(http.post(f"/api/collections/{COLLECTION}/search", json={"text": "x", "k": 0}),
                        400, "INVALID_ARGUMENT")
    error(http.post(f"/api/collections/{COLLECTION}/search", json={"text": "x", "item_id": "y"}),
          400, "INVALID_ARGUMENT")
    error(http.post("/api/collections", json={"name": COLLECTION}), 409, "ALREADY_EXISTS")
    error(http.post("/api/collections", json={"name": "../etc"}), 400, "INVALID_ARGUMENT")
    error(http.get(f"/api/collections/{COLLECTION}/thumbnail", params={"id": "missing"}), 404, "NOT_FOUND")
    error(http.get("/api/no/such/route"), 404, "NOT_FOUND")
    error(http.post("/api/collections", content=b"{not json", headers={"content-type": "application/json"}),
          400, "INVALID_ARGUMENT")


def test_probe_train_show_classify_apply_filter_delete(
    loaded: dict[str, Any], http: httpx.Client, server: Any
) -> None:
    from omnivec.client import Client

    base = f"/api/collections/{COLLECTION}/probes/kind"
    texts = {"photo": ["a photo of a cat", "a photo of a rocket"],
             "talk": ["someone talking about cooking", "a weather forecast read aloud"]}
    examples = [{"text": t, "label": label} for label, ts in texts.items() for t in ts]
    report = http.post(base + "/train", json={"examples": examples, "space": "text"}).json()
    assert report["version"] == 1 and report["classes"] == ["photo", "talk"]
    assert len(report["confusion_matrix"]) == 2 and len(report["class_metrics"]) == 2
    assert report["label_column"] == "label_kind"
    if report["heldout_accuracy"] is not None:
        low, high = report["heldout_accuracy_interval"]
        assert 0 <= low <= report["heldout_accuracy"] <= high <= 1
    # The accuracy is named by how it was estimated (4 examples: out of fold), with the engine's
    # interval and paired comparisons, as over gRPC.
    estimates = [report[key] for key in ("heldout_accuracy", "cv_accuracy", "loo_accuracy")]
    assert report["accuracy"] is not None and report["accuracy"] in estimates
    assert report["accuracy_title"].endswith("accuracy")
    interval = report["accuracy_interval"]
    assert interval["low"] <= report["accuracy"] <= interval["high"] and 0 < interval["level"] < 1
    assert {c["baseline"] for c in report["comparisons"]} <= {"zero-shot", "plain probe", "without unlabeled rows"}
    assert http.get(base).json()["version"] == 1
    assert [p["name"] for p in http.get(f"/api/collections/{COLLECTION}/probes").json()] == ["kind"]
    answer = http.post(base + "/classify", json={"texts": ["a photo of a dog"], "item_ids": ["missing"]}).json()
    assert answer["results"][0]["error"] and answer["results"][1]["label"] in ("photo", "talk")
    applied = http.post(base + "/apply", json={}).json()
    assert applied["column"] == "label_kind" and sum(applied["counts"].values()) == applied["items"]
    label = next(iter(applied["counts"]))
    hits = http.post(f"/api/collections/{COLLECTION}/search",
                     json={"text": "anything", "where": f"label_kind = '{label}'", "k": 20}).json()["hits"]
    assert len(hits) == applied["counts"][label]
    # What to label next: the same items as gRPC's SuggestLabels, never a training example.
    suggested = http.post(base + "/suggest", json={"n": 3}).json()
    assert suggested["version"] == 1 and 1 <= len(suggested["suggestions"]) <= 3
    assert [x["rank"] for x in suggested["suggestions"]] == list(range(1, len(suggested["suggestions"]) + 1))
    with Client(f"127.0.0.1:{server.port}", timeout=120) as client:
        over_grpc = client.suggest_labels(COLLECTION, "kind", count=3)
    assert [x["item_id"] for x in suggested["suggestions"]] == [x.item_id for x in over_grpc.suggestions]
    assert suggested["unlabeled_items"] == over_grpc.unlabeled_items
    assert "n must be" in error(http.post(base + "/suggest", json={"n": 0}), 400, "INVALID_ARGUMENT")
    assert "guess" in error(http.post(base + "/suggest", json={"strategy": "guess"}), 400, "INVALID_ARGUMENT")
    assert http.delete(base, params={"all_versions": "true"}).json() == {"deleted_versions": 1}
    assert http.get(base).status_code == 404


def test_openapi_and_offline_docs(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    for path in ("/api/collections", "/api/collections/{name}/search", "/api/collections/{name}/items",
                 "/api/collections/{collection}/probes/{name}/train",
                 "/api/collections/{collection}/probes/{name}/suggest", "/api/classify"):
        assert path in spec["paths"]
    docs = http.get("/docs").text
    assert "/openapi.json" in docs and "/docs-static/swagger-ui-bundle.js" in docs
    assert "cdn" not in docs.lower() and "https://" not in docs.replace("https://fastapi", "")
    assert http.get("/docs-static/swagger-ui-bundle.js").status_code == 200


def test_audio_stored_through_grpc_upsert_plays_over_http(server: Any, http: httpx.Client) -> None:
    from omnivec.client import Client, Media, UpsertItem

    clip = (SPEECH / "rocket.wav").read_bytes()
    with Client(f"127.0.0.1:{server.port}", timeout=120) as client:
        client.create_collection("grpc-stored", ["text"])
        results = client.upsert("grpc-stored", [
            UpsertItem(Media(audio=clip, filename="rocket.wav"), store_media=True,
                       source_uri="/nowhere/rocket.wav"),
            UpsertItem(Media(audio=clip + b"\0", filename="copy.wav"), source_uri="/nowhere/copy.wav"),
        ])
    kept, not_kept = (r.id for r in results)
    response = http.get("/api/collections/grpc-stored/audio", params={"id": kept})
    assert response.status_code == 200 and response.content == clip
    assert response.headers["content-type"] == "audio/wav"
    assert http.get("/api/collections/grpc-stored/audio", params={"id": not_kept}).status_code == 404
