"""``omnivec collections verify``: damage behind an intact footer is found, named and recoverable.

A byte flipped in the middle of a Lance data file reads back without any error (Lance pages carry
no checksums): the collection opens, searches, and answers with a wrong vector or a wrong text.
Verify compares every data file with the checksum recorded when it was committed, reads every row,
and checks vector norms, the ANN index's ids and the probe store.

=========================================  ========================================================
damage                                     verify reports
=========================================  ========================================================
byte flip in a vector, mid-file            ``checksum`` naming the file; restore command; exit 1
byte flip in a text, mid-file              the same (the read returns "itel 35" for "item 35")
data file truncated / deleted              ``checksum`` / ``missing_file`` and ``unreadable``
probe file garbage                         ``probe`` naming the probe and version
after ``restore`` to the advised version   ok (the damaged file is listed as used only by
                                           older versions)
=========================================  ========================================================
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from omnivec.cli.main import app
from omnivec.client import Client
from omnivec.indexer.store import Store
from omnivec.indexer.verify import verify_collection
from tests.reliability.test_corruption import NAME, _assert_consistent, _build, _newest_fragment
from tests.support.reliability import in_process_server, record

pytestmark = pytest.mark.reliability


def _flip_byte(path: Path, needle: bytes) -> int:
    """Flip the lowest bit of the byte in the middle of ``needle``'s first occurrence."""
    data = bytearray(path.read_bytes())
    at = data.find(needle)
    assert at > 0, f"{needle!r} is not stored verbatim in {path.name}"
    offset = at + len(needle) // 2
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    return offset


def _verify(root: Path) -> Any:
    store = Store(root)
    try:
        return verify_collection(store.open(NAME, verify=False))
    finally:
        store.close()


def test_intact_collection_verifies_clean(tmp_path: Path) -> None:
    ids_at = _build(tmp_path)
    report = _verify(tmp_path)
    assert report.ok and report.problems == ()
    assert report.rows_read == len(ids_at[max(ids_at)])
    assert report.data_files_checked == 4 and report.data_files_unrecorded == 0
    assert report.recovery == ""


@pytest.mark.parametrize("column", ["vector", "text"])
def test_mid_file_byte_flip_is_found_named_and_recovered(
    tmp_path: Path, column: str, settings_env: dict[str, str]
) -> None:
    ids_at = _build(tmp_path)
    newest = max(ids_at)
    fragment = _newest_fragment(tmp_path)  # holds items 30..39, committed at the newest version
    store = Store(tmp_path)
    collection = store.open(NAME)
    if column == "vector":
        vector = collection.item_vectors("n-000035")["text"]
        needle = np.asarray(vector, np.float32).tobytes()
    else:
        needle = b"item 35"
    store.close()
    offset = _flip_byte(fragment, needle)
    size = fragment.stat().st_size
    assert 0.1 * size < offset < 0.9 * size, "the flip is in the middle, the footer intact"

    # Opening does not notice: the footer is intact and every page decodes.
    store = Store(tmp_path)
    collection = store.open(NAME)
    if column == "text":
        texts = dict(zip(collection.column("item_id").tolist(), collection.column("text").tolist()))
        assert texts["n-000035"] == "itel 35", "the flip reads back silently as a wrong text"
    report = verify_collection(collection)
    assert not report.ok
    [problem] = [p for p in report.problems if p.kind == "checksum"]
    assert problem.fragment == fragment.name and problem.damages_current
    assert f"committed at version {newest}" in problem.message
    assert report.recovery.startswith(f"omnivec collections restore {NAME} --version {newest - 1}")

    # The CLI prints the same and exits 1.
    result = CliRunner().invoke(
        app, ["--data", str(tmp_path), "collections", "verify", NAME], env=settings_env,
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.output
    assert fragment.name in result.output and f"--version {newest - 1}" in result.output

    collection.restore(version=newest - 1)  # the advised recovery
    after = verify_collection(collection)
    assert after.ok, after
    assert [p.damages_current for p in after.problems] == [False], "history damage stays listed"
    _assert_consistent(collection, ids_at[newest - 1])
    store.close()
    record("verify", case=f"byte flip in a {column} mid-file", detected=True)


def test_truncated_and_deleted_data_files_are_reported(tmp_path: Path) -> None:
    _build(tmp_path)
    fragment = _newest_fragment(tmp_path)
    fragment.write_bytes(fragment.read_bytes()[: fragment.stat().st_size // 2])
    kinds = {p.kind for p in _verify(tmp_path).problems}
    assert {"checksum", "unreadable"} <= kinds, kinds
    fragment.unlink()
    report = _verify(tmp_path)
    assert {"missing_file", "unreadable"} <= {p.kind for p in report.problems}
    assert not report.ok and f"restore {NAME} --version" in report.recovery


def test_server_verify_and_remote_cli(settings: Any, models: Any, tmp_path: Path) -> None:
    """Over gRPC: a clean report, then a damaged probe file named with its remedy; the CLI run
    with --server prints it and exits 1."""
    from omnivec.client import ItemRef, LabelledExample, Media, UpsertItem

    data_dir = tmp_path / "data"
    with in_process_server(settings, models, data_dir) as (_srv, target):
        with Client(target, retries=0, timeout=120) as client:
            client.create_collection("v", ["text"])
            texts = ["a red apple", "a green pear", "a fast car", "a slow truck"]
            client.upsert("v", [UpsertItem(Media(text=t), id=f"i{n}") for n, t in enumerate(texts)])
            report = client.verify_collection("v")
            assert report.ok and report.rows_read == 4 and report.data_files_checked >= 1
            examples = [LabelledExample(ItemRef(f"i{n}"), label) for n, label in
                        enumerate(["fruit", "fruit", "vehicle", "vehicle"])]
            client.train_probe("v", "kind", examples, space="text")
            probe_files = sorted((data_dir / "v" / "probes").rglob("*.npz")) or sorted(
                p for p in (data_dir / "v" / "probes").rglob("*") if p.is_file()
            )
            victim = probe_files[0]
            victim.write_bytes(b"\0garbage" * 8)
            report = client.verify_collection("v")
            assert not report.ok
            [problem] = report.problems
            assert problem.kind == "probe" and "'kind' version 1" in problem.message, problem
            result = CliRunner().invoke(
                app, ["--server", target, "collections", "verify", "v", "--json"],
                catch_exceptions=False,
            )
            assert result.exit_code == 1, result.output
            printed = json.loads(result.output)
            assert printed["ok"] is False and printed["problems"][0]["kind"] == "probe"


def test_server_verify_schedule_logs_damage(
    settings: Any, models: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """server.verify_interval: each round verifies every collection; damage is logged as an error
    naming the file and the recovery command."""
    import logging
    import time

    data_dir = tmp_path / "data"
    ids_at = _build(data_dir)
    newest = max(ids_at)

    def next_round(schedule: Any, after: int) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while schedule.rounds <= after and time.monotonic() < deadline:
            time.sleep(0.05)
        assert schedule.rounds > after, "no verify round ran"
        return dict(schedule.last_reports)

    with caplog.at_level(logging.INFO, logger="omnivec.server"):
        with in_process_server(settings, models, data_dir, verify_interval=0.2) as (srv, _target):
            schedule = srv.verify_schedule
            assert schedule is not None
            assert next_round(schedule, 0)[NAME].ok
            fragment = _newest_fragment(data_dir)
            _flip_byte(fragment, b"item 35")
            reports = next_round(schedule, schedule.rounds)
            assert not reports[NAME].ok
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(
        f"scheduled verify of {NAME!r}: DAMAGED" in m and fragment.name in m
        and f"restore {NAME} --version {newest - 1}" in m for m in errors
    ), errors


def test_verify_interval_is_off_by_default() -> None:
    from omnivec.indexer.config import ServerSettings

    assert ServerSettings().verify_interval is None


def test_verify_and_export_on_an_object_store(
    seaweedfs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same checks through the storage layer on S3 (SeaweedFS): checksums are recorded as
    objects, a mid-file byte flip in a data object is found and named; an export of an S3
    collection restores into a local folder."""
    from omnivec.indexer.backup import export_collection, import_collection
    from omnivec.indexer.storage import join_key

    for key, value in seaweedfs.env().items():
        monkeypatch.setenv(key, value)
    uri = seaweedfs.uri("verify")
    ids_at = _build(uri)  # type: ignore[arg-type]
    newest = max(ids_at)
    store = Store(uri)
    collection = store.open(NAME)
    assert verify_collection(collection).ok
    info = export_collection(store, NAME, tmp_path / "backup")
    local = Store(tmp_path / "restored")
    import_collection(local, tmp_path / "backup")
    assert set(local.open(NAME).column("item_id").tolist()) == ids_at[newest]
    assert verify_collection(local.open(NAME)).ok and info.lance_version == newest
    local.close()

    ledger = collection.checksums
    newest_file = max(ledger.recorded().values(), key=lambda c: c.version).name
    objects = collection.root.objects
    key = join_key(ledger.data_prefix, newest_file)
    data = bytearray(objects.read(key))
    at = data.find(b"item 35")
    assert at > 0
    data[at + 3] ^= 0x01
    objects.write(key, [bytes(data)])
    report = verify_collection(collection)
    assert not report.ok
    assert [p.fragment for p in report.problems if p.kind == "checksum"] == [newest_file]
    assert report.recovery.startswith(f"omnivec collections restore {NAME} --version {newest - 1}")
    store.close()
