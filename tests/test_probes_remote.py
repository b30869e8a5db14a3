"""Probes through `--server` (RemoteBackend.probes) print what the embedded engine prints.

One server for the module. The commands that need the models (index, train, classify) run as
real `omnivec` subprocesses both ways; the rest run in this process through typer's CliRunner
(list/show/delete/unknown probe need no model, and the --server path needs none here at all).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import invoke_cli, serve_process

pytestmark = pytest.mark.slow  # a server and six model-loading CLI runs

TOPICS = {
    "astronomy": [
        "The telescope revealed a distant spiral galaxy.",
        "Astronomers measured the orbit of the comet around the sun.",
        "The planet Mars has two small moons.",
        "A supernova exploded in a neighbouring galaxy.",
        "The night sky was full of bright stars and glowing nebulae.",
    ],
    "cooking": [
        "Whisk the eggs with sugar until the mixture is fluffy.",
        "Simmer the tomato sauce for twenty minutes.",
        "Bake the bread in a hot oven until the crust is golden.",
        "Chop the onions and fry them slowly in butter.",
        "Season the soup with salt, pepper and fresh herbs.",
    ],
    "football": [
        "The striker scored a goal in the final minute of the match.",
        "The goalkeeper dived and saved the penalty kick.",
        "The team won the league championship this season.",
        "The referee showed the defender a red card.",
        "Fans cheered as the midfielder dribbled past two players.",
    ],
}
TRAIN = range(4)  # the first four of each topic train; the fifth is classified by item id
COLLECTION = "docs"
PROMPT = "a sentence about {}"


@pytest.fixture(scope="module")
def server_target(settings_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_process(settings_env, tmp_path_factory.mktemp("server-data")) as target:
        yield target


@pytest.fixture(scope="module")
def local_env(settings_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {**settings_env, "OMNIVEC_DATA_DIR": str(tmp_path_factory.mktemp("local-data"))}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/<topic><i>.txt, labels.csv (relative paths) and an unindexed new.txt."""
    root = tmp_path_factory.mktemp("probe-remote")
    docs = root / "docs"
    docs.mkdir()
    for topic, sentences in TOPICS.items():
        for i, sentence in enumerate(sentences):
            (docs / f"{topic}{i}.txt").write_text(sentence, encoding="utf-8")
    (root / "labels.csv").write_text(
        "path,label\n" + "".join(f"docs/{t}{i}.txt,{t}\n" for t in TOPICS for i in TRAIN),
        encoding="utf-8",
    )
    (root / "new.txt").write_text("Stir the risotto and add the broth one ladle at a time.", encoding="utf-8")
    return root


def _both(target: str, env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    return invoke_cli(*args, env=env), invoke_cli("--server", target, *args, env=env)


@pytest.fixture(scope="module")
def trained(server_target: str, local_env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """Index the folder and train probe "topic" both ways; the parsed `--json` outputs."""
    local, remote = _both(server_target, local_env, "index", str(workdir / "docs"), "-c", COLLECTION,
                          "--space", "text", "--json")
    assert local.returncode == remote.returncode == 0, (local.stderr, remote.stderr)
    assert json.loads(local.stdout)["indexed"] == json.loads(remote.stdout)["indexed"] == 15
    local, remote = _both(server_target, local_env, "probe", "train", "topic", "--collection", COLLECTION,
                          "--labels", str(workdir / "labels.csv"), "--prompt", PROMPT, "--json")
    assert local.returncode == remote.returncode == 0, (local.stderr, remote.stderr)
    return {"local": json.loads(local.stdout), "remote": json.loads(remote.stdout)}


class _Cli:
    """The `omnivec` app in this process, both ways (no model loading for these commands)."""

    def __init__(self, target: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
        from typer.testing import CliRunner

        from omnivec.cli.main import app

        for key, value in env.items():
            monkeypatch.setenv(key, value)
        self.app, self.runner, self.target = app, CliRunner(), target

    def both(self, *args: str) -> tuple[Any, Any]:
        local = self.runner.invoke(self.app, list(args))
        remote = self.runner.invoke(self.app, ["--server", self.target, *args])
        return local, remote


def test_training_reports_are_congruent(trained: dict[str, Any]) -> None:
    a, b = trained["local"], trained["remote"]
    for key in ("collection", "name", "version", "space", "classes", "encoder_fingerprint",
                "temperature", "abstain_threshold", "prompt_template", "class_names", "seed", "pooling"):
        assert a[key] == b[key], key
    assert a["encoder"]["model"] == b["encoder"]["model"] and a["encoder"]["dim"] == b["encoder"]["dim"]
    ra, rb = a["report"], b["report"]
    assert ra["classes"] == rb["classes"] == sorted(TOPICS)
    assert ra["chosen_c"] == pytest.approx(rb["chosen_c"])
    assert ra["heldout_accuracy"] == pytest.approx(rb["heldout_accuracy"])
    for key in ("selection_method", "estimate_method", "n_train", "n_heldout", "per_class",
                "confusion_matrix", "zero_shot_accuracy", "plain_probe_accuracy", "zero_shot_prior_used"):
        assert ra[key] == rb[key], key  # the same numbers: doubles travel exactly
    assert rb["temperature"] == pytest.approx(ra["temperature"])


def test_classify_is_congruent(server_target: str, local_env: dict[str, str], workdir: Path,
                               trained: dict[str, Any]) -> None:
    from omnivec.indexer.ingest import content_id

    item_id = content_id(TOPICS["football"][4].encode())  # a stored, untrained sentence's id
    args = ("classify", "--probe", "topic", "--collection", COLLECTION, str(workdir / "new.txt"),
            str(workdir / "missing.txt"), "--id", item_id, "--text", TOPICS["astronomy"][4],
            "--top-k", "0", "--json")
    local, remote = _both(server_target, local_env, *args)
    assert local.returncode == remote.returncode == 1, (local.stderr, remote.stderr)  # missing.txt
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    assert a["version"] == b["version"] == 1
    assert [r["input"] for r in a["results"]] == [r["input"] for r in b["results"]]
    assert [r["label"] for r in a["results"]] == [r["label"] for r in b["results"]] == [
        "cooking", None, "football", "astronomy"
    ]
    assert [r["error"] for r in a["results"]] == [r["error"] for r in b["results"]]
    assert "does not exist" in a["results"][1]["error"]
    for ra, rb in zip(a["results"], b["results"]):
        assert [x["label"] for x in ra["labels"]] == [x["label"] for x in rb["labels"]]
        assert [x["probability"] for x in ra["labels"]] == pytest.approx(
            [x["probability"] for x in rb["labels"]], abs=1e-5
        )


def test_list_show_delete_and_errors_are_congruent(
    server_target: str, local_env: dict[str, str], trained: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = _Cli(server_target, local_env, monkeypatch)

    local, remote = cli.both("probe", "list", "--collection", COLLECTION, "--all", "--json")
    assert local.exit_code == remote.exit_code == 0, (local.output, remote.output)
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    strip = lambda infos: [{k: v for k, v in i.items() if k != "created_at"} for i in infos]  # noqa: E731
    assert strip(a) == strip(b) and len(a) == 1
    assert a[0]["heldout_accuracy"] == pytest.approx(trained["local"]["report"]["heldout_accuracy"])

    local, remote = cli.both("probe", "show", "topic", "--collection", COLLECTION, "--version", "1", "--json")
    assert local.exit_code == remote.exit_code == 0, (local.output, remote.output)
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    for key in ("name", "version", "space", "classes", "encoder_fingerprint", "temperature", "abstain_threshold"):
        assert a[key] == b[key], key
    assert a["report"]["chosen_c"] == pytest.approx(b["report"]["chosen_c"])
    assert a["report"]["confusion_matrix"] == b["report"]["confusion_matrix"]
    assert b["created_at"] == pytest.approx(trained["remote"]["created_at"], abs=1e-3)

    # The text report prints either way (the same tables).
    local, remote = cli.both("probe", "show", "topic", "--collection", COLLECTION)
    assert local.exit_code == remote.exit_code == 0, (local.output, remote.output)
    for needle in ("chosen C", "held-out accuracy", "per class", "confusion matrix"):
        assert needle in local.stdout and needle in remote.stdout, needle

    # An unknown probe: the same message both ways (exit 2, no traceback).
    local, remote = cli.both("classify", "--probe", "nope", "--collection", COLLECTION, "--text", "x")
    assert local.exit_code == remote.exit_code == 2
    assert "probe 'nope' does not exist" in local.output
    assert local.output == remote.output
    local, remote = cli.both("probe", "show", "topic", "--collection", COLLECTION, "--version", "7")
    assert local.exit_code == remote.exit_code == 2 and local.output == remote.output

    local, remote = cli.both("probe", "delete", "topic", "--collection", COLLECTION, "--version", "1", "--json")
    assert local.exit_code == remote.exit_code == 0, (local.output, remote.output)
    assert json.loads(local.stdout) == json.loads(remote.stdout) == {"name": "topic", "deleted_versions": 1}
    local, remote = cli.both("probe", "list", "--collection", COLLECTION, "--json")
    assert json.loads(local.stdout) == json.loads(remote.stdout) == []
