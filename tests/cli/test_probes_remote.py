"""Probes through `--server` (RemoteBackend.probes) print what the embedded engine prints.

One server for the module. The commands that need the models (index, train, classify) run as
real `omnivec` subprocesses both ways; the rest run in this process through typer's CliRunner
(list/show/delete/unknown probe need no model, and the --server path needs none here at all).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import invoke_cli
from tests.support.storage import StorageTarget
from tests.support.topics import TOPICS as SENTENCES

pytestmark = pytest.mark.slow  # a server and six model-loading CLI runs

# The first five sentences of three topics: four train, the fifth is classified by item id.
TOPICS = {t: SENTENCES[t][:5] for t in ("astronomy", "cooking", "football")}
TRAIN = range(4)  # the first four of each topic train; the fifth is classified by item id
COLLECTION = "docs"
PROMPT = "a sentence about {}"
PROMPT2 = "a text about {}"  # the probe trains on the ensemble of both


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> StorageTarget:
    """Local disk only: probe congruence does not depend on where the store is (probes on S3 are
    tested in tests/engine/test_object_storage.py), and this module is slow."""
    return StorageTarget("local", tmp_path_factory.mktemp("storage-local"))


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
                          "--labels", str(workdir / "labels.csv"), "--prompt", PROMPT, "--prompt", PROMPT2,
                          "--json")
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
                "temperature", "abstain_threshold", "prompt_template", "prompt_templates", "class_names", "seed",
                "pooling"):
        assert a[key] == b[key], key
    assert a["prompt_templates"] == [PROMPT, PROMPT2]
    assert a["encoder"]["model"] == b["encoder"]["model"] and a["encoder"]["dim"] == b["encoder"]["dim"]
    ra, rb = a["report"], b["report"]
    assert ra["classes"] == rb["classes"] == sorted(TOPICS)
    assert ra["regularization_c"] == pytest.approx(rb["regularization_c"])
    assert ra["heldout_accuracy"] == pytest.approx(rb["heldout_accuracy"])
    for key in ("selection_method", "estimate_method", "n_train", "n_heldout", "class_metrics",
                "confusion_matrix", "zero_shot_accuracy", "plain_probe_accuracy", "zero_shot_prior_used",
                "accuracy_interval", "comparisons", "c_rule", "unlabeled_available", "unlabeled_rows",
                "unlabeled_used"):
        assert ra[key] == rb[key], key  # the same numbers: doubles travel exactly
    # The collection's 3 untrained items were offered but are too few to learn from (3 classes
    # need 50): the report says so, both ways.
    assert ra["unlabeled_available"] == 3 and ra["unlabeled_rows"] == 0 and not ra["unlabeled_used"]
    assert any("unlabeled rows" in note for note in ra["notes"])
    interval = ra["accuracy_interval"]
    assert interval["level"] == 0.9 and interval["low"] <= ra["heldout_accuracy"] <= interval["high"]
    assert {c["baseline"] for c in ra["comparisons"]} >= {"zero-shot"}
    assert rb["temperature"] == pytest.approx(ra["temperature"])


def _same(a: Any, b: Any, where: str = "") -> None:
    """Equal, floats to 1e-9 relative (two trainings, two processes); None only matches None."""
    if a is None or b is None:
        assert a is None and b is None, (where, a, b)
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), (where, a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (where, a, b)
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), (where, a, b)
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def _plain(value: Any) -> Any:
    """The SDK's and the engine's report parts (same field names, different classes) as tuples."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(getattr(value, f.name) for f in dataclasses.fields(value))
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def _assert_report_travels(local: Any, wire: Any, remote: Any) -> None:
    """The engine's ``local`` record, the SDK's ``wire`` report and the CLI's ``remote`` record
    (both read from the server) agree on everything the wire carries."""
    lr = local.report
    assert wire.selection_method == wire.cv_method == lr.selection_method
    assert (wire.estimate_method, wire.cv_folds, wire.cv_repetitions) == (
        lr.estimate_method, lr.cv_folds, lr.cv_repetitions
    )
    assert (wire.n_train, wire.n_heldout) == (lr.n_train, lr.n_heldout)
    _same([(s.c, s.accuracy, s.log_loss) for s in wire.cv_scores],
          [(s.c, s.accuracy, s.log_loss) for s in lr.cv_scores], "cv_scores")
    assert wire.zero_shot_prior_used is lr.zero_shot_prior_used
    assert wire.prompt_template == local.prompt_template
    assert tuple(wire.prompt_templates) == tuple(local.prompt_templates)
    assert dict(wire.class_names) == local.class_names
    assert wire.seed == local.seed
    assert list(wire.notes) == list(lr.notes)
    # The wire's report has the engine's field names: every one of them travels but the engine-only
    # two (module docstring of omnivec.cli.remote_probes) and the training time of the other
    # training.
    skip = {"train_seconds", "evaluated_rows", "evaluated_predictions"}
    for f in dataclasses.fields(lr):
        if f.name not in skip:
            _same(_plain(getattr(wire, f.name)), _plain(getattr(lr, f.name)), f.name)
    # The CLI's record: the whole report but those.
    a, b = remote.report.to_dict(), lr.to_dict()
    assert list(a) == list(b)  # the same keys in the same order: the same --json
    _same({k: v for k, v in a.items() if k not in skip}, {k: v for k, v in b.items() if k not in skip}, "report")
    assert remote.report.evaluated_rows == remote.report.evaluated_predictions == ()
    for key in ("prompt_template", "class_names", "seed", "classes", "encoder_fingerprint",
                "abstain_threshold", "pooling", "prompt_set"):
        assert getattr(remote, key) == getattr(local, key), key
    assert tuple(remote.prompt_templates) == tuple(local.prompt_templates)
    _same(remote.temperature, local.temperature, "temperature")


def test_report_travels_in_full(server_target: str, local_env: dict[str, str], trained: dict[str, Any],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """GetProbe from a fresh client (nothing from this process's memory of training) reports what
    the engine stored locally: with prompts and a held-out split, and with nothing estimated."""
    from omnivec.cli.remote_probes import RemoteProbes
    from omnivec.client import Client, ItemRef
    from omnivec.client import LabelledExample as WireExample
    from omnivec.indexer.config import load_settings
    from omnivec.indexer.engine import Engine
    from omnivec.indexer.ingest import content_id
    from omnivec.indexer.probes.examples import LabelledExample, ProbeInput

    for key, value in local_env.items():
        monkeypatch.setenv(key, value)
    engine = Engine(load_settings())
    try:
        local = engine.probes.get(COLLECTION, "topic", 1)
        assert local.prompt_template == PROMPT and local.report.zero_shot_prior_used
        assert tuple(local.prompt_templates) == (PROMPT, PROMPT2)
        with Client(server_target) as client:
            _assert_report_travels(local, client.get_probe(COLLECTION, "topic", 1),
                                   RemoteProbes(client).get(COLLECTION, "topic", 1))

        # One stored item per class, no prompts: C fixed, no estimate, every optional field None.
        ids = {topic: content_id(TOPICS[topic][0].encode()) for topic in TOPICS}
        engine.probes.train(COLLECTION, "bare", examples=[
            LabelledExample(ProbeInput.item(i), t) for t, i in ids.items()
        ], seed=3)
        with Client(server_target) as client:
            client.train_probe(COLLECTION, "bare", [WireExample(ItemRef(i), t) for t, i in ids.items()],
                               space="text", seed=3)
        local = engine.probes.get(COLLECTION, "bare", 1)
        assert local.report.estimate_method == "none" and local.prompt_template is None
        assert local.report.heldout_accuracy is local.report.zero_shot_accuracy is None
        with Client(server_target) as client:
            wire = client.get_probe(COLLECTION, "bare", 1)
            _assert_report_travels(local, wire, RemoteProbes(client).get(COLLECTION, "bare", 1))
        assert wire.heldout_accuracy is wire.zero_shot_accuracy is wire.plain_probe_accuracy is None
    finally:  # the later tests list the collection's probes: leave only "topic"
        with contextlib.suppress(Exception):
            engine.probes.delete(COLLECTION, "bare", all_versions=True)
        with contextlib.suppress(Exception), Client(server_target) as client:
            client.delete_probe(COLLECTION, "bare", all_versions=True)
        engine.close()

    # And the text report prints the same both ways but for the other training's time.
    cli = _Cli(server_target, local_env, monkeypatch)
    out = cli.both("probe", "show", "topic", "--collection", COLLECTION, "--version", "1")
    assert out[0].exit_code == out[1].exit_code == 0, (out[0].output, out[1].output)
    text = [re.sub(r"training time: [0-9.]+ s", "training time: T s", r.stdout) for r in out]
    assert text[0] == text[1]
    shown = " ".join(text[1].split())  # the console wraps long lines
    assert "2 prompts 'a sentence about {}', 'a text about {}'" in shown and "folds" in shown
    assert "90%" in shown and "unlabeled" in shown
    # Three held-out rows cannot decide between the probe and zero-shot: the report says so.
    assert "vs zero-shot" in shown and "cannot tell apart on 3 rows" in shown, shown


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


def test_suggest_is_congruent(server_target: str, local_env: dict[str, str], trained: dict[str, Any],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`probe suggest` lists the same unlabelled items both ways: only the three fifth sentences
    (the twelve training items are never suggested), as JSON and as text."""
    from omnivec.indexer.ingest import content_id

    cli = _Cli(server_target, local_env, monkeypatch)
    local, remote = cli.both("probe", "suggest", "topic", "-c", COLLECTION, "-n", "2", "--json")
    assert local.exit_code == remote.exit_code == 0, (local.output, remote.output)
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    _same(a, b, "suggest")
    assert (a["probe"], a["version"], a["strategy"], a["unlabeled_items"]) == ("topic", 1, "margin", 3)
    unlabelled = {content_id(TOPICS[t][4].encode()) for t in TOPICS}
    picked = [s["item_id"] for s in a["suggestions"]]
    assert [s["rank"] for s in a["suggestions"]] == [1, 2] and len(set(picked)) == 2
    assert set(picked) <= unlabelled
    assert all(s["predicted"] in TOPICS and 0 < s["probability"] <= 1 for s in a["suggestions"])

    local, remote = cli.both("probe", "suggest", "topic", "-c", COLLECTION, "-n", "5", "--strategy", "entropy")
    assert local.exit_code == remote.exit_code == 0, (local.output, remote.output)
    assert local.stdout == remote.stdout and "3 of 3 unlabelled items" in local.stdout

    # Bad input: the same precise message both ways.
    for args, needle in ((("-n", "0"), "1-1000"), (("--strategy", "random"), "unknown strategy 'random'")):
        local, remote = cli.both("probe", "suggest", "topic", "-c", COLLECTION, *args)
        assert local.exit_code == remote.exit_code == 2 and local.output == remote.output
        assert needle in local.output, local.output


def test_suggest_writes_a_labels_file_to_fill_in_and_train_with(
    server_target: str, local_env: dict[str, str], workdir: Path, trained: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The active-learning round from the command line: `probe suggest --csv FILE` writes the
    items as a labels file with an empty label column (the same file both ways), never over an
    existing file; filled in, it trains as a second `--labels` next to the first."""
    from omnivec.indexer.errors import InvalidInputError
    from omnivec.indexer.ingest import content_id
    from omnivec.indexer.probes.examples import load_labels_file

    cli = _Cli(server_target, local_env, monkeypatch)
    files = {way: workdir / f"next-{way}.csv" for way in ("local", "remote")}
    for way, prefix in (("local", []), ("remote", ["--server", server_target])):
        files[way].unlink(missing_ok=True)
        out = cli.runner.invoke(cli.app, [*prefix, "probe", "suggest", "topic", "-c", COLLECTION, "-n", "3",
                                          "--csv", str(files[way])])
        assert out.exit_code == 0, out.output
        assert "fill in its label column" in " ".join(out.output.split())
    text = files["local"].read_text(encoding="utf-8")
    assert text == files["remote"].read_text(encoding="utf-8")
    rows = [line.split(",") for line in text.splitlines()]
    assert rows[0] == ["id", "label", "guess", "probability", "source", "text"]
    truth = {content_id(TOPICS[t][4].encode()): t for t in TOPICS}
    assert {r[0] for r in rows[1:]} == set(truth) and all(r[1] == "" for r in rows[1:])
    assert all(r[2] in TOPICS for r in rows[1:])
    with pytest.raises(InvalidInputError, match=r"next-local.csv:2: missing or empty label"):
        load_labels_file(files["local"])  # unfilled rows are named, not skipped

    # Never over a file that may hold labels already: the same refusal both ways, nothing written.
    local, remote = cli.both("probe", "suggest", "topic", "-c", COLLECTION, "--csv", str(files["local"]))
    assert local.exit_code == remote.exit_code == 2 and "already exists" in local.output
    assert files["local"].read_text(encoding="utf-8") == text

    filled = workdir / "next-filled.csv"
    filled.write_text(text.splitlines()[0] + "\n" + "".join(
        f"{r[0]},{truth[r[0]]},{','.join(r[2:])}\n" for r in rows[1:]
    ), encoding="utf-8")
    try:
        local, remote = _both(server_target, local_env, "probe", "train", "rounds", "-c", COLLECTION,
                              "-l", str(workdir / "labels.csv"), "-l", str(filled), "--prompt", PROMPT, "--json")
        assert local.returncode == remote.returncode == 0, (local.stderr, remote.stderr)
        for out in (local, remote):
            report = json.loads(out.stdout)["report"]
            assert report["n_train"] + report["n_heldout"] == 15  # 12 from labels.csv, 3 filled in
        assert json.loads(local.stdout)["report"]["classes"] == sorted(TOPICS)
    finally:  # the other tests list the collection's probes: leave only "topic"
        cli.both("probe", "delete", "rounds", "-c", COLLECTION, "--all", "--yes")


def test_no_unlabeled_and_zero_shot_class_names_are_congruent(
    server_target: str, local_env: dict[str, str], workdir: Path, trained: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--no-unlabeled` reaches the training both ways (nothing offered), and zero-shot with
    several prompts and `--class-name` answers with the label, in input order, like a probe."""
    try:
        local, remote = _both(server_target, local_env, "probe", "train", "bare-rows", "--collection",
                              COLLECTION, "--labels", str(workdir / "labels.csv"), "--prompt", PROMPT,
                              "--no-unlabeled", "--json")
        assert local.returncode == remote.returncode == 0, (local.stderr, remote.stderr)
        for record in (json.loads(local.stdout), json.loads(remote.stdout)):
            report = record["report"]
            assert (report["unlabeled_available"], report["unlabeled_rows"], report["unlabeled_used"]) == (0, 0, False)
    finally:
        cli = _Cli(server_target, local_env, monkeypatch)
        cli.both("probe", "delete", "bare-rows", "--collection", COLLECTION, "--all", "--yes")

    args = ("classify", "--labels", "astro,cook", "--class-name", "astro=astronomy", "--class-name",
            "cook=cooking", "--prompt", PROMPT, "--prompt", PROMPT2, "--space", "text", "--top-k", "0",
            "--text", TOPICS["cooking"][4], str(workdir / "new.txt"), "--text", TOPICS["astronomy"][4],
            "--json")
    local, remote = _both(server_target, local_env, *args)
    assert local.returncode == remote.returncode == 0, (local.stderr, remote.stderr)
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    assert a["prompts"] == b["prompts"] == [PROMPT, PROMPT2]
    for out in (a, b):
        # Files first, then the texts, each in the order given; the answer names the label.
        assert [r["index"] for r in out["results"]] == [0, 1, 2]
        assert [r["kind"] for r in out["results"]] == ["file", "text", "text"]
        assert [r["label"] for r in out["results"]] == ["cook", "cook", "astro"]
        assert all({x["label"] for x in r["labels"]} == {"astro", "cook"} for r in out["results"])
    for ra, rb in zip(a["results"], b["results"]):
        assert ra["input"] == rb["input"]
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
    assert a["report"]["regularization_c"] == pytest.approx(b["report"]["regularization_c"])
    assert a["report"]["confusion_matrix"] == b["report"]["confusion_matrix"]
    assert b["created_at"] == pytest.approx(trained["remote"]["created_at"], abs=1e-3)

    # The text report prints either way (the same tables).
    local, remote = cli.both("probe", "show", "topic", "--collection", COLLECTION)
    assert local.exit_code == remote.exit_code == 0, (local.output, remote.output)
    for needle in ("C: ", "held-out accuracy", "per class", "confusion matrix"):
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
