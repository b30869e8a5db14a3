"""Congruence: the same CLI scenarios against the embedded engine (--data) and a server
(--server) print the same results (qdrant-client's congruence tests are the model)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import SAMPLES, SPEECH
from tests.support.processes import invoke_cli


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for name in ("espresso.txt", "cats.md", "space_launches.txt", "tickets.jsonl"):
        shutil.copy(SAMPLES / "texts" / name, root / name)
    for name in ("cat.jpg", "rocket.jpg"):
        shutil.copy(SAMPLES / "images" / name, root / name)
    shutil.copy(SPEECH / "weather.wav", root / "weather.wav")
    (root / "empty.txt").write_bytes(b"")
    return root


def _both(server_target: str, cli_env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    local = invoke_cli(*args, env=cli_env)
    remote = invoke_cli("--server", server_target, *args, env=cli_env)
    return local, remote


def _normalise_hits(payload: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (h["item_id"], h["modality"], h["source_uri"], h["text"], h["space"], round(h["score"], 4), h["metadata"])
        for h in payload["hits"]
    ]


def test_index_search_embed_transcribe_are_congruent(
    server_target: str, local_env: dict[str, str], corpus: Path
) -> None:
    local, remote = _both(server_target, local_env, "index", str(corpus), "-c", "same", "--json")
    assert local.returncode == remote.returncode == 1  # empty.txt fails in both
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    assert (a["indexed"], a["unchanged"], a["rows"]) == (b["indexed"], b["unchanged"], b["rows"])
    assert sorted(f["source"] for f in a["failed"]) == sorted(f["source"] for f in b["failed"])
    assert [f["reason"] for f in sorted(a["failed"], key=str)] == [f["reason"] for f in sorted(b["failed"], key=str)]

    again_local, again_remote = _both(server_target, local_env, "index", str(corpus), "-c", "same", "--json")
    assert json.loads(again_local.stdout)["unchanged"] == json.loads(again_remote.stdout)["unchanged"] == a["indexed"]

    local, remote = _both(server_target, local_env, "collections", "describe", "same", "--json")
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    for key in ("items", "rows", "modalities"):
        assert a[key] == b[key], key
    assert {s: v["encoder"] for s, v in a["spaces"].items()} == {s: v["encoder"] for s, v in b["spaces"].items()}

    queries = [
        ("search", "a cat sleeping on a sofa", "-c", "same", "-k", "4", "--json"),
        ("search", "broken machine", "-c", "same", "--where", "priority = 'high'", "--json"),
        ("search", "--image", str(corpus / "rocket.jpg"), "-c", "same", "-k", "3", "--json"),
        ("search", "--audio", str(SPEECH / "weather.flac"), "-c", "same", "-k", "3", "--space", "text", "--json"),
    ]
    for query in queries:
        local, remote = _both(server_target, local_env, *query)
        assert local.returncode == remote.returncode == 0, (local.stderr, remote.stderr)
        a, b = json.loads(local.stdout), json.loads(remote.stdout)
        assert _normalise_hits(a) == _normalise_hits(b), query
        assert a["query_transcript"] == b["query_transcript"]

    local, remote = _both(server_target, local_env, "embed", "--text", "hello there", "--json")
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    assert a["encoder"] == b["encoder"]
    assert a["embeddings"][0]["vector"] == pytest.approx(b["embeddings"][0]["vector"], abs=1e-5)

    local, remote = _both(server_target, local_env, "transcribe", str(SPEECH / "weather.wav"), "--json")
    assert json.loads(local.stdout)["text"] == json.loads(remote.stdout)["text"]

    local, remote = _both(server_target, local_env, "collections", "list", "--json")
    assert json.loads(local.stdout) == json.loads(remote.stdout)

    local, remote = _both(server_target, local_env, "collections", "verify", "same", "--json")
    assert local.returncode == remote.returncode == 0, (local.stdout, remote.stdout)
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    for key in ("ok", "rows_read", "problems", "data_files_unrecorded", "probes_checked"):
        assert a[key] == b[key], key


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("search", "x", "-c", "missing-collection"), "does not exist"),
        (("search", "x", "-c", "same", "--where", "priority ="), "filter"),
        (("embed", "--image", "/nonexistent/photo.jpg"), "does not exist"),
    ],
)
def test_errors_are_congruent(server_target: str, local_env: dict[str, str], args: tuple[str, ...], reason: str) -> None:
    local, remote = _both(server_target, local_env, *args)
    assert local.returncode == remote.returncode == 2
    assert reason in local.stderr and reason in remote.stderr
    assert "Traceback" not in local.stderr + remote.stderr
