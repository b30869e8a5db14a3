"""The Node.js example (clients/node) searches a real server, where Node.js and npm exist."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import REPO
from tests.support.processes import serve_process

NODE_DIR = REPO / "clients" / "node"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="Node.js/npm not installed"
)


@pytest.fixture(scope="module")
def node_modules() -> Path:
    if not (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir():
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.skip(f"npm ci failed (no registry access?): {done.stderr[-300:]}")
    return NODE_DIR / "node_modules"


@pytest.fixture(scope="module")
def server(settings_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_process(settings_env, tmp_path_factory.mktemp("node-data")) as target:
        yield target


def test_node_example_searches_a_collection(node_modules: Path, server: str) -> None:
    from omnivec.client import Client, Media, UpsertItem

    with Client(server, timeout=120) as client:  # the first call loads the text encoder
        client.create_collection("node-demo", ["text"])
        results = client.upsert("node-demo", [
            UpsertItem(media=Media(text="Tomorrow will be sunny with a breeze from the ocean."), source_uri="mem://weather"),
            UpsertItem(media=Media(text="Knead the bread dough for ten minutes."), source_uri="mem://bread"),
        ])
        assert [r.status for r in results] == ["ok", "ok"]
    run = subprocess.run(
        ["node", "search.js", "--target", server, "--collection", "node-demo", "-k", "2", "sunny weather at the beach"],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    first = run.stdout.splitlines()[0]
    assert first.startswith("1. text mem://weather"), run.stdout

    missing = subprocess.run(
        ["node", "search.js", "--target", server, "--collection", "nope", "x"],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=120,
    )
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
