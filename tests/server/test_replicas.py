"""Stateless replicas: two `omnivec serve` processes on one s3:// data directory (SeaweedFS).

- a write through either replica is visible to searches on the other (read-after-write, within
  the read-consistency interval plus the ANN catch-up; the delay is recorded, and measured in
  scripts/bench_storage.py);
- concurrent writes through both replicas lose nothing: every acknowledged item is stored once,
  with distinct rowids, and both replicas' ANN indexes hold every vector;
- health stays SERVING on both while they are busy writing;
- SIGTERM on one replica does not disturb searches on the other.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omnivec.client import Client, Media, UpsertItem
from omnivec.indexer.storage import open_data_root
from tests.support.processes import ServerProcess
from tests.support.reliability import record, server_env
from tests.support.seaweedfs import SeaweedFS
from tests.support.storage import StorageTarget

COLLECTION = "shared"
CONSISTENCY_SECONDS = 0.5


@pytest.fixture(scope="module")
def replicas(
    settings_env: dict[str, str], seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess, str]]:
    folder = tmp_path_factory.mktemp("replicas")
    uri = seaweedfs.uri("replicas")
    env = server_env(
        settings_env, uri, **seaweedfs.env(),
        OMNIVEC_STORAGE__READ_CONSISTENCY_SECONDS=str(CONSISTENCY_SECONDS),
    )
    servers = (ServerProcess(env, folder / "a.log"), ServerProcess(env, folder / "b.log"))
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_serving()
        yield servers[0], servers[1], uri
    finally:
        for server in servers:
            server.kill()


def _item(n: int, who: str) -> UpsertItem:
    return UpsertItem(Media(text=f"note {n} from replica {who} about harbour cranes"), id=f"{who}-{n:04d}")


def _visible_after(writer: Client, reader: Client, item: UpsertItem, deadline: float = 30.0) -> float:
    """Seconds from the writer's acknowledgement until the reader's search returns the item."""
    [result] = writer.upsert(COLLECTION, [item])
    assert result.status == "ok", result
    acked = time.monotonic()
    assert item.media.text is not None
    while time.monotonic() - acked < deadline:
        hits = reader.search(COLLECTION, text=item.media.text, k=3)
        if item.id in [h.id for h in hits]:
            return time.monotonic() - acked
        time.sleep(0.02)
    raise AssertionError(f"{item.id} written through one replica never showed on the other")


def test_each_replica_sees_the_others_writes(replicas: tuple[ServerProcess, ServerProcess, str]) -> None:
    a, b, _uri = replicas
    with Client(a.target, timeout=120) as ca, Client(b.target, timeout=120) as cb:
        ca.create_collection(COLLECTION, ["text"], if_not_exists=True)
        assert COLLECTION in [c.name for c in cb.list_collections()]
        delays = [_visible_after(ca, cb, _item(n, "a")) for n in range(3)]
        delays += [_visible_after(cb, ca, _item(n, "b")) for n in range(3)]
    record("replica_read_after_write", consistency_seconds=CONSISTENCY_SECONDS,
           delays_s=[round(d, 3) for d in delays])


def test_concurrent_writes_through_two_replicas_lose_nothing(
    replicas: tuple[ServerProcess, ServerProcess, str], settings: Any, storage_s3: StorageTarget
) -> None:
    a, b, uri = replicas
    per_replica, batch = 40, 4
    acked: dict[str, set[str]] = {"a": set(), "b": set()}
    errors: list[str] = []
    health: list[str] = []
    done = threading.Event()

    def write(server: ServerProcess, who: str) -> None:
        with Client(server.target, timeout=120) as client:
            for start in range(0, per_replica, batch):
                items = [_item(1000 + n, who) for n in range(start, start + batch)]
                try:
                    for result in client.upsert_stream(COLLECTION, items):
                        if result.status in ("ok", "unchanged"):
                            acked[who].add(result.id)
                        else:
                            errors.append(f"{result.id}: {result.status} {result.error}")
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(repr(exc))

    def watch_health() -> None:
        with Client(a.target, timeout=10) as ca, Client(b.target, timeout=10) as cb:
            while not done.is_set():
                health.extend([ca.health(), cb.health()])
                time.sleep(0.05)

    with Client(a.target, timeout=120) as ca:
        ca.create_collection(COLLECTION, ["text"], if_not_exists=True)
    watcher = threading.Thread(target=watch_health)
    writers = [threading.Thread(target=write, args=(s, w)) for s, w in ((a, "a"), (b, "b"))]
    watcher.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join(600)
    done.set()
    watcher.join(30)
    assert not errors, errors[:5]
    assert len(acked["a"]) == len(acked["b"]) == per_replica

    root = open_data_root(uri, storage_s3.settings(settings, uri).storage).child(COLLECTION)
    meta = json.loads(root.objects.read("collection.json"))
    rows = root.connect().open_table(meta["table"]).search().select(["rowid", "item_id"]).limit(None).to_arrow()
    ids, rowids = rows.column("item_id").to_pylist(), rows.column("rowid").to_pylist()
    wanted = acked["a"] | acked["b"]
    assert wanted <= set(ids), f"lost: {sorted(wanted - set(ids))[:10]}"
    assert len(ids) == len(set(ids)), "an item stored twice"
    assert len(rowids) == len(set(rowids)), "two rows share a rowid"
    assert health and set(health) == {"SERVING"}, set(health)
    time.sleep(CONSISTENCY_SECONDS * 2)
    for server in (a, b):
        with Client(server.target, timeout=120) as client:
            info = client.get_collection(COLLECTION)
            assert info.item_count == len(ids)
            assert info.spaces[0].vector_count == len(ids), "the ANN index missed the other's rows"
    record("replica_concurrent_writes", acknowledged=len(wanted), stored=len(ids),
           duplicates=len(ids) - len(set(ids)), health_checks=len(health))


def test_sigterm_on_one_replica_does_not_disturb_the_other(
    replicas: tuple[ServerProcess, ServerProcess, str],
) -> None:
    a, b, _uri = replicas
    answered: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def search() -> None:
        with Client(b.target, timeout=60, retries=0) as client:
            while not stop.is_set():
                try:
                    answered.append(len(client.search(COLLECTION, text="harbour cranes", k=5)))
                except Exception as exc:  # noqa: BLE001 - reported below
                    failures.append(repr(exc))

    with Client(a.target, timeout=120) as ca:
        ca.create_collection(COLLECTION, ["text"], if_not_exists=True)
        ca.upsert(COLLECTION, [_item(9000, "a")])
    searcher = threading.Thread(target=search)
    searcher.start()
    time.sleep(0.5)
    assert a.terminate() == 0, a.log_tail()
    time.sleep(1.0)
    stop.set()
    searcher.join(60)
    assert not failures, failures[:3]
    assert answered and all(n > 0 for n in answered)
    with Client(b.target, timeout=10) as cb:
        assert cb.health() == "SERVING"


@pytest.fixture(scope="module")
def storage_s3(seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> StorageTarget:
    return StorageTarget("s3", Path(tmp_path_factory.mktemp("s3")), seaweedfs)
