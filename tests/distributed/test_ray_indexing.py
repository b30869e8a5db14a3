"""`omnivec index --ray`: the same ids, rows and vectors as the in-process indexer, on a real Ray.

Proven on one folder indexed both ways (every input kind, a duplicate and two bad files), then
under faults: an encoder actor killed mid-run (the job still finishes), and the driver killed
mid-run (a re-run completes the collection with no duplicates). Kill tests assert that the kill
landed while work remained, so they cannot pass without testing anything.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omnivec.indexer.config import RaySettings, Settings
from omnivec.indexer.distributed import RayJob
from omnivec.indexer.engine import Engine
from omnivec.indexer.ingest import IndexEvent
from tests.distributed.conftest import write_notes
from tests.support.paths import OMNIVEC_BIN, SPEECH
from tests.support.processes import run_cli
from tests.support.rows import assert_same_rows, stored_rows
from tests.support.seaweedfs import SeaweedFS
from tests.support.storage import StorageTarget

# Every Ray run starts processes that import torch and load encoders: on a busy 2-core machine
# that alone takes minutes, so these tests get more than the suite's default 10 minutes.
pytestmark = [pytest.mark.distributed, pytest.mark.slow, pytest.mark.timeout(1800)]

NOTES = 120
# Last in the folder (names sort after the notes): a minute of speech, which the encoder actor
# transcribes for seconds after the notes, so a kill once the first notes are committed lands
# while the actor still has work.
LECTURE = "zz_lecture.ogg"
ITEMS = NOTES + 1
# Small commits and batches, so that a kill lands between commits with work left.
# One encoder actor: killed, the job waits for Ray to restart it (and to retry its batch).
KILL_TEST_RAY = RaySettings(actors=1, batch_items=4, commit_rows=8, commit_seconds=2.0)


def _summary(stdout: str) -> dict[str, Any]:
    summary = json.loads(stdout)
    summary.pop("seconds")
    return summary


@pytest.fixture(scope="module")
def mixed_in_process(
    mixed_folder: Path, settings, models, tmp_path_factory: pytest.TempPathFactory  # type: ignore[no-untyped-def]
) -> tuple[dict[str, Any], dict[tuple[str, int], dict[str, Any]]]:
    """The mixed folder indexed by the in-process indexer: its summary and its stored rows."""
    data = tmp_path_factory.mktemp("mixed_in_process")
    engine = Engine(settings.model_copy(update={"data_dir": data}), models)
    want = engine.index_paths("demo", [mixed_folder]).to_dict()
    engine.store.close()
    want.pop("seconds")
    # 3 images, 3 texts, 8 manifest lines, 1 clip; the copied espresso note is a duplicate
    assert want["indexed"] == 15 and want["unchanged"] == 1
    assert [f["source"] for f in want["failed"]] == [
        str(mixed_folder / "empty.txt"), str(mixed_folder / "not_an_image.jpg")
    ]
    return want, stored_rows(data, "demo")


def test_cli_ray_local_equals_in_process(
    mixed_folder: Path, mixed_in_process: tuple[dict[str, Any], dict[tuple[str, int], dict[str, Any]]],
    cli_env: dict[str, str], tmp_path: Path,
) -> None:
    """`--ray local` starts its own Ray; summary, exit code and every row match in process."""
    want, reference = mixed_in_process
    on_ray = {**cli_env, "OMNIVEC_DATA_DIR": str(tmp_path / "on_ray")}
    ray_run = run_cli("index", str(mixed_folder), "-c", "demo", "--json", "--ray", "local",
                      env=on_ray, timeout=1200)

    assert ray_run.returncode == 1, ray_run.stderr  # two bad files, as in process
    assert _summary(ray_run.stdout) == want
    assert_same_rows(reference, stored_rows(tmp_path / "on_ray", "demo"))

    described = json.loads(run_cli("collections", "describe", "demo", "--json", env=on_ray).stdout)
    assert described["items"] == 15
    for space in described["spaces"].values():
        assert space["vectors"] > 0  # the ANN indexes caught up with the committed fragments


def test_cli_ray_cluster_on_s3_equals_in_process(
    mixed_folder: Path, mixed_in_process: tuple[dict[str, Any], dict[tuple[str, int], dict[str, Any]]],
    ray_cluster: str, cli_env: dict[str, str], seaweedfs: SeaweedFS, settings, models,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """`omnivec --data s3://BUCKET/x index ... -c demo2 --ray ADDRESS` on SeaweedFS: the
    cluster's workers write their Lance fragments into the bucket (the options travel with the
    tasks), the driver commits them there, and the collection equals the in-process one on local
    disk. A re-run over the bucket then finds everything stored."""
    want, reference = mixed_in_process
    uri = seaweedfs.uri("ray")
    env = {**cli_env, **seaweedfs.env()}
    ray_run = run_cli("--data", uri, "index", str(mixed_folder), "-c", "demo2", "--json",
                      "--ray", ray_cluster, env=env, timeout=1200)

    assert ray_run.returncode == 1, ray_run.stderr
    assert _summary(ray_run.stdout) == want
    target = StorageTarget("s3", tmp_path, seaweedfs)
    storage = target.settings(Settings(), uri).storage
    assert_same_rows(reference, stored_rows(uri, "demo2", storage))
    assert not (tmp_path / "data").exists(), "nothing went to the local data directory"

    # A second run over the bucket (from this process, on the same cluster) finds everything
    # stored: nothing indexed, nothing committed.
    engine = Engine(target.settings(settings, uri), models)
    version = engine.collection("demo2").version
    again = engine.index_paths("demo2", [mixed_folder], ray=RayJob(ray_cluster))
    assert (again.indexed, again.unchanged, len(again.failed)) == (0, 16, 2)
    assert engine.collection("demo2").version == version
    engine.store.close()
    assert_same_rows(reference, stored_rows(uri, "demo2", storage))


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory, settings, models) -> Iterator[tuple[Path, dict]]:  # type: ignore[no-untyped-def]
    """A folder of one-chunk notes and a recorded lecture, and its rows as the in-process indexer
    stores them."""
    folder = tmp_path_factory.mktemp("notes")
    write_notes(folder, NOTES)
    shutil.copy(SPEECH / "long_lecture.ogg", folder / LECTURE)
    data = tmp_path_factory.mktemp("notes_in_process")
    engine = Engine(settings.model_copy(update={"data_dir": data}), models)
    report = engine.index_paths("notes", [folder], spaces=["text"])
    assert report.indexed == ITEMS
    engine.store.close()
    yield folder, stored_rows(data, "notes")


def _encoder_actor_pids() -> list[int]:
    """Processes of live encoder actors (Ray titles them after the actor's class)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"EncodeActor" in title and b"ray::" in title:
            pids.append(int(entry.name))
    return pids


def test_driver_then_encoder_actor_killed_a_rerun_completes_the_collection(
    ray_cluster: str, notes: tuple[Path, dict], cli_env: dict[str, str], settings, models,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """Both faults in one collection (each Ray run starts its encoders, the slow part here):
    the driver is killed after its first commits; the re-run loses its encoder actor part-way
    through encoding what is left, and still finishes; the result equals the in-process run, and
    a third run commits nothing."""
    folder, reference = notes
    data = tmp_path / "data"

    # 1. kill -9 of the driver (the CLI, joined to the cluster) once it reported 8 items
    env = {**os.environ, **cli_env, "OMNIVEC_DATA_DIR": str(data),
           "OMNIVEC_RAY__BATCH_ITEMS": "4", "OMNIVEC_RAY__COMMIT_ROWS": "8"}
    driver = subprocess.Popen(
        [str(OMNIVEC_BIN), "index", str(folder), "-c", "notes", "--space", "text", "-q",
         "--ray", ray_cluster, "--ray-actors", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    acknowledged: list[str] = []
    assert driver.stdout is not None
    for line in driver.stdout:  # one line per item, printed once its commit is made
        if line.startswith("indexed "):
            acknowledged.append(line.split()[1])
        if len(acknowledged) >= 8:
            break
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=60)
    assert len(acknowledged) >= 8, driver.stderr.read() if driver.stderr else ""
    partial = stored_rows(data, "notes")
    stored = {item for item, _ in partial}
    assert set(acknowledged) <= stored, "acknowledged items survive"
    assert len(stored) < ITEMS, "the driver must die mid-run"
    deadline = time.monotonic() + 120
    while _encoder_actor_pids():  # Ray ends a dead driver's actors; the next kill is the re-run's
        assert time.monotonic() < deadline, "the killed driver's actors outlived it"
        time.sleep(0.2)

    # 2. re-run from this process; kill -9 of its encoder actor mid-encoding: once the actor's
    # first notes are committed (it has encoded and returned work), while the lecture, last in
    # the folder, is still to come back from it
    engine = Engine(settings.model_copy(update={"data_dir": data, "ray": KILL_TEST_RAY}), models)
    events: list[IndexEvent] = []
    at_kill: list[list[str]] = []  # the items committed when the actor was killed

    def on_event(event: IndexEvent) -> None:
        events.append(event)
        if event.status == "indexed" and not at_kill:
            victims = _encoder_actor_pids()
            assert len(victims) == 1, victims
            os.kill(victims[0], signal.SIGKILL)
            at_kill.append([e.item_id or "" for e in events if e.status == "indexed"])

    report = engine.index_paths("notes", [folder], ray=RayJob(ray_cluster), on_event=on_event)
    assert at_kill, "no commit before the run ended: nothing was killed"
    lecture_id = next(e.item_id for e in events if e.item.label.endswith(LECTURE))
    assert 1 <= len(at_kill[0]) < ITEMS - len(stored) and lecture_id not in at_kill[0], (
        "the actor must die after encoding some items and before returning all of them"
    )
    assert (report.unchanged, report.indexed, report.failed) == (
        len(stored), ITEMS - len(stored), []
    )
    assert_same_rows(reference, stored_rows(data, "notes"))

    # 3. idempotent: nothing to do, nothing committed
    version = engine.collection("notes").version
    again = engine.index_paths("notes", [folder], ray=RayJob(ray_cluster))
    assert (again.indexed, again.unchanged) == (0, ITEMS)
    assert engine.collection("notes").version == version
    engine.store.close()
