"""`omnivec eval`, hybrid search and fusion weights through `--server` (gRPC Evaluate, the SDK's
RemoteBackend) print what the embedded engine prints, on real MiniLM embeddings.

One server for the module, local disk only (where the store lives does not change ranking; the
storage-parametrised congruence suite covers that). The commands run as real `omnivec`
subprocesses both ways.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO
from tests.support.processes import invoke_cli
from tests.support.storage import StorageTarget

pytestmark = pytest.mark.slow  # a server and a dozen model-loading CLI runs

DATA = REPO / "benchmarks" / "data"
N_DOCS = 40
COLLECTION = "debian"


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> StorageTarget:
    return StorageTarget("local", tmp_path_factory.mktemp("storage-local"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs.jsonl (the first Debian retrieval documents) and queries.jsonl (their synopses)."""
    root = tmp_path_factory.mktemp("retrieval-remote")
    docs = (DATA / "debian_retrieval_docs.jsonl").read_text(encoding="utf-8").splitlines()[:N_DOCS]
    (root / "docs.jsonl").write_text("\n".join(docs) + "\n", encoding="utf-8")
    ids = {json.loads(d)["id"] for d in docs}
    queries = [
        line
        for line in (DATA / "debian_retrieval_queries.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["relevant"][0] in ids
    ]
    assert len(queries) == N_DOCS
    (root / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    return root


def _both(server_target: str, env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    return invoke_cli(*args, env=env), invoke_cli("--server", server_target, *args, env=env)


@pytest.fixture(scope="module")
def indexed(server_target: str, local_env: dict[str, str], workdir: Path) -> None:
    # Created by index (a stream: the server's first model load does not race a unary deadline).
    for run in _both(server_target, local_env, "index", str(workdir / "docs.jsonl"), "-c", COLLECTION, "--space", "text", "--json"):
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["indexed"] == N_DOCS


def _hits(run: subprocess.CompletedProcess[str]) -> list[tuple[Any, ...]]:
    assert run.returncode == 0, run.stderr
    return [
        (h["item_id"], h["space"], round(h["score"], 4), tuple(m["ranking"] for m in h["found_by"]))
        for h in json.loads(run.stdout)["hits"]
    ]


def test_modes_and_weights_search_alike_both_ways(server_target: str, local_env: dict[str, str], indexed: None) -> None:
    query = "convert an address book"
    seen: dict[str, list[tuple[Any, ...]]] = {}
    for mode in ("vector", "keyword", "hybrid"):
        local, remote = _both(server_target, local_env, "search", query, "-c", COLLECTION, "-k", "5", "--mode", mode, "--json")
        seen[mode] = _hits(local)
        assert seen[mode] == _hits(remote), mode
    assert all(h[3] == ("keyword",) for h in seen["keyword"])
    assert all(h[3] == ("text",) for h in seen["vector"])
    assert {r for h in seen["hybrid"] for r in h[3]} <= {"text", "keyword"}
    # A keyword-only weighting is the keyword ranking, both ways.
    local, remote = _both(server_target, local_env, "search", query, "-c", COLLECTION, "-k", "5", "--weights", "text=0,keyword=1", "--json")
    assert [h[0] for h in _hits(local)] == [h[0] for h in _hits(remote)] == [h[0] for h in seen["keyword"]]
    # Bad input gets the same precise error both ways.
    local, remote = _both(server_target, local_env, "search", query, "-c", COLLECTION, "--mode", "fuzzy")
    assert local.returncode == remote.returncode != 0
    assert "fuzzy" in local.stderr and "fuzzy" in remote.stderr
    local, remote = _both(server_target, local_env, "search", query, "-c", COLLECTION, "--weights", "bm25=1")
    assert local.returncode == remote.returncode != 0
    assert "bm25" in local.stderr and "bm25" in remote.stderr


def test_eval_reports_the_same_figures_both_ways_and_tune_stores_weights(
    server_target: str, local_env: dict[str, str], workdir: Path, indexed: None
) -> None:
    queries = str(workdir / "queries.jsonl")
    local, remote = _both(server_target, local_env, "eval", queries, "-c", COLLECTION, "--bootstrap", "200", "--json")
    assert local.returncode == remote.returncode == 0, (local.stderr, remote.stderr)
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    assert a == {**b, "collection": a["collection"]}
    names = [c["name"] for c in a["configurations"]]
    assert names[:3] == ["vector:text", "keyword", "vector"] and "hybrid" in names
    hybrid = next(c for c in a["configurations"] if c["name"] == "hybrid")["metrics"]
    assert 0.0 < hybrid["recall@10"]["value"] <= 1.0
    assert hybrid["recall@10"]["low"] <= hybrid["recall@10"]["value"] <= hybrid["recall@10"]["high"]

    local, remote = _both(server_target, local_env, "eval", queries, "-c", COLLECTION, "--bootstrap", "50", "-q")
    assert local.returncode == remote.returncode == 0, (local.stderr, remote.stderr)
    assert local.stdout == remote.stdout  # the table, printed alike both ways
    assert "40 queries" in local.stdout and "queries that got better/worse" in local.stdout

    local, remote = _both(server_target, local_env, "eval", queries, "-c", COLLECTION, "--tune", "--folds", "2", "--bootstrap", "0", "--json")
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    assert a["tuning"] == b["tuning"] and a["tuning"]["stored"] is True
    local, remote = _both(server_target, local_env, "collections", "describe", COLLECTION, "--json")
    stored_local, stored_remote = json.loads(local.stdout)["fusion"], json.loads(remote.stdout)["fusion"]
    assert stored_local == stored_remote == a["tuning"]["fusion"]

    bad = workdir / "bad.jsonl"
    bad.write_text('{"query": "x"}\n', encoding="utf-8")
    local, remote = _both(server_target, local_env, "eval", str(bad), "-c", COLLECTION)
    assert local.returncode == remote.returncode != 0
    assert "relevant" in local.stderr and "relevant" in remote.stderr
