"""`omnivec demo` against a running server (what `make demo` does after `make serve`, whose index
root is samples/): it indexes the sample set through the server and ends with the web app's URL
for its results, a link that answers with hits whose audio plays and whose photos have
thumbnails; with no web app at the given URL it says how to start one instead."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from tests.server.http_support import running_server, server_settings
from tests.support.paths import SAMPLES
from tests.support.processes import invoke_cli

# Enough of samples/ for every step of the demo (photos, a note, the tickets it filters, speech).
SAMPLE_FILES = (
    "images/cat.jpg", "images/coffee.jpg", "texts/weather_forecast.txt", "texts/tickets.jsonl",
    "audio/rocket.wav", "audio/weather.wav",
)


def test_demo_prints_the_web_apps_url_and_the_link_answers(settings: Any, models: Any, tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    for name in SAMPLE_FILES:
        (samples / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / name, samples / name)
    cfg = server_settings(settings, tmp_path / "data", index_root=samples)
    with running_server(cfg, models) as server:
        url = server.http_url
        shown = invoke_cli("--server", server.address, "demo", "--samples", str(samples), "--web", url)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        words = shown.stdout.split()  # rich may wrap the line; the URL itself has no spaces
        links = [w for w in words if w.startswith(url + "?")]
        assert len(links) == 1, shown.stdout
        state = parse_qs(urlsplit(links[0]).query)
        assert state["c"] == ["omnivec-demo"] and state["q"] == ["sunny weather by the sea"]
        # The link's page loads, and the search it carries finds the weather clip first.
        assert httpx.get(links[0], timeout=30).status_code == 200
        found = httpx.post(
            f"{url}api/collections/omnivec-demo/search",
            json={"text": state["q"][0], "modalities": ["audio"], "k": 1}, timeout=120,
        )
        assert found.status_code == 200, found.text
        clip = found.json()["hits"][0]
        assert clip["source_uri"].endswith("weather.wav"), found.text
        sound = httpx.get(urljoin(url, clip["audio_url"]), timeout=30)
        assert sound.status_code == 200 and sound.headers["content-type"].startswith("audio/")
        assert sound.content == (samples / "audio" / "weather.wav").read_bytes()
        photos = httpx.post(
            f"{url}api/collections/omnivec-demo/search",
            json={"text": "a cat", "modalities": ["image"], "k": 2}, timeout=120,
        ).json()["hits"]
        assert len(photos) == 2, photos
        for photo in photos:
            thumbnail = httpx.get(urljoin(url, photo["thumbnail_url"]), timeout=30)
            assert thumbnail.status_code == 200 and thumbnail.headers["content-type"].startswith("image/")

        elsewhere = "http://127.0.0.1:1/"  # port 1: nothing listens there
        missing = invoke_cli("--server", server.address, "demo", "--samples", str(samples), "--web", elsewhere)
        assert missing.returncode == 0, missing.stdout + missing.stderr
        assert "no web app is running" in missing.stdout and elsewhere + "?" not in missing.stdout
