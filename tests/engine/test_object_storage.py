"""Collections on a real S3 server (SeaweedFS): what only an object store can get wrong.

The collection suites run on S3 too (parametrised); here are the store's own failures and
guarantees: an unreachable store, wrong credentials and a missing bucket answer with the status
a client can act on, naming the bucket and never a secret; the store's conditional PUT (which
Lance commits and omnivec's writer slots rely on) refuses a second create; two processes writing
one collection hand out disjoint rowids.
"""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path
from typing import Any

import grpc
import pytest

from omnivec.client import Client, OmnivecClientError
from omnivec.indexer.config import StorageSettings
from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.errors import (
    FailedPreconditionError,
    PermissionDeniedError,
    UnauthenticatedError,
    UnavailableError,
)
from omnivec.indexer.storage import SLOT_BITS, check_conditional_put, open_data_root
from omnivec.indexer.store import Store
from tests.support.reliability import in_process_server
from tests.support.seaweedfs import SeaweedFS

SPEC = {"text": EncoderSpec("text", "fake", "none", 8)}


def _storage(s3: SeaweedFS, **changes: Any) -> StorageSettings:
    fields = {
        "endpoint": s3.endpoint, "access_key_id": s3.access_key,
        "secret_access_key": s3.secret_key, "allow_http": True, "max_retries": 0,
        "retry_timeout_seconds": 1.0,
    }
    return StorageSettings.model_validate({**fields, **changes})


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@pytest.fixture
def secret_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_unreachable_store_is_unavailable_naming_the_bucket(seaweedfs: SeaweedFS) -> None:
    storage = _storage(seaweedfs, endpoint=f"http://127.0.0.1:{_closed_port()}")
    store = Store(seaweedfs.uri("down"), storage=storage)
    with pytest.raises(UnavailableError, match=f"bucket '{seaweedfs.bucket}'.*unavailable"):
        store.create("notes", SPEC)


def test_wrong_secret_is_unauthenticated_and_never_printed(
    seaweedfs: SeaweedFS, secret_log: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-secret-must-not-leak-4711"
    store = Store(seaweedfs.uri("creds"), storage=_storage(seaweedfs, secret_access_key=wrong))
    # UNAUTHENTICATED when the store says why (SignatureDoesNotMatch); a HEAD's bare 403 says
    # only PERMISSION_DENIED. Either names the bucket.
    with pytest.raises((UnauthenticatedError, PermissionDeniedError), match=f"bucket '{seaweedfs.bucket}'") as caught:
        store.create("notes", SPEC)
    with pytest.raises(UnauthenticatedError, match="SignatureDoesNotMatch"):
        store.list()
    assert wrong not in str(caught.value) and wrong not in secret_log.text
    assert wrong not in repr(store.root) and wrong not in repr(_storage(seaweedfs, secret_access_key=wrong))


def test_missing_bucket_is_a_failed_precondition_naming_it(seaweedfs: SeaweedFS) -> None:
    store = Store("s3://no-such-bucket-omnivec/x", storage=_storage(seaweedfs))
    with pytest.raises(FailedPreconditionError, match="'no-such-bucket-omnivec' does not exist"):
        store.create("notes", SPEC)


def test_faults_reach_grpc_and_http_clients_with_their_status(
    seaweedfs: SeaweedFS, settings: Any, models: Any, secret_log: pytest.LogCaptureFixture
) -> None:
    """Over the wire: UNAUTHENTICATED for wrong keys, FAILED_PRECONDITION for a missing bucket,
    UNAVAILABLE (after the SDK's retries of an idempotent call) for a store that is down; the
    HTTP edge of the same server answers 401, 400 and 503 with the same status names; the secret
    appears in no answer and no server log line."""
    import httpx

    wrong = "wrong-secret-over-grpc-0815"
    cases = [
        ("s3://" + seaweedfs.bucket + "/grpc", _storage(seaweedfs, secret_access_key=wrong),
         grpc.StatusCode.UNAUTHENTICATED, 401),  # a LIST: the store says SignatureDoesNotMatch
        ("s3://no-such-bucket-omnivec/grpc", _storage(seaweedfs), grpc.StatusCode.FAILED_PRECONDITION, 400),
        ("s3://" + seaweedfs.bucket + "/grpc",
         _storage(seaweedfs, endpoint=f"http://127.0.0.1:{_closed_port()}"), grpc.StatusCode.UNAVAILABLE, 503),
    ]
    for uri, storage, code, http_code in cases:
        cfg = settings.model_copy(update={"storage": storage})
        with in_process_server(cfg, models, uri, http_port=0) as (server, target):  # type: ignore[arg-type]
            with Client(target, timeout=60, retries=2) as client:
                with pytest.raises(OmnivecClientError) as caught:
                    client.list_collections()
                assert caught.value.code == code, caught.value
                assert "bucket" in str(caught.value) and wrong not in str(caught.value)
            answer = httpx.get(server.http_url + "api/collections", timeout=60)
            assert answer.status_code == http_code, answer.text
            assert answer.json()["error"]["status"] == code.name, answer.text
            assert "bucket" in answer.json()["error"]["message"] and wrong not in answer.text
    assert wrong not in secret_log.text


def test_seaweedfs_honours_conditional_puts(seaweedfs: SeaweedFS) -> None:
    """Lance commits and writer slots rely on If-None-Match: *; SeaweedFS refuses the second
    create even when several are in flight at once (exactly one winner per key)."""
    root = open_data_root(seaweedfs.uri("cond"), _storage(seaweedfs, max_retries=3))
    check_conditional_put(root.objects)  # raises if a second create succeeds
    def create(i: int, key: str, barrier: threading.Barrier, winners: list[int]) -> None:
        barrier.wait()
        if root.objects.create(key, str(i).encode()):
            winners.append(i)

    for round_ in range(2):
        winners: list[int] = []
        barrier = threading.Barrier(4)
        threads = [
            threading.Thread(target=create, args=(i, f"race-{round_}", barrier, winners))
            for i in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(winners) == 1, winners
        assert root.objects.read(f"race-{round_}") == str(winners[0]).encode()


def test_two_writers_take_disjoint_rowid_slots(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    from omnivec.bench.served import synth_table

    uri, storage = seaweedfs.uri("slots"), _storage(seaweedfs, max_retries=3)
    first, second = Store(uri, storage=storage), Store(uri, storage=storage)
    a = first.create("notes", SPEC)
    b = second.open("notes")
    a.add_rows(synth_table(0, 5, {"text": 8}, seed=1))
    b.add_rows(synth_table(0, 5, {"text": 8}, seed=2))
    a.add_rows(synth_table(0, 5, {"text": 8}, seed=3))
    rowids = Store(uri, storage=storage).open("notes").column("rowid").tolist()
    assert len(rowids) == 15 and len(set(rowids)) == 15
    assert sorted({r >> SLOT_BITS for r in rowids}) == [1, 2]
    assert sorted(first.root.objects.list("notes/writers")) == ["0000000001", "0000000002"]
    first.close()
    second.close()


def test_two_writers_compacting_and_pruning_lose_nothing(seaweedfs: SeaweedFS) -> None:
    """Two replicas write one collection at once, each compacting every 8 of its commits and
    removing old versions at any age (omnivec.indexer.version_retention, the newest 2 kept):
    every acknowledged row is stored and verify is clean. Their compactions may conflict with
    each other (logged, retried at the next one); no write fails."""
    from omnivec.bench.served import synth_table
    from omnivec.indexer.config import IndexSettings
    from omnivec.indexer.verify import verify_collection

    uri, storage = seaweedfs.uri("retention"), _storage(seaweedfs, max_retries=3)
    index = IndexSettings(compact_every_commits=8, keep_versions_days=1e-9, keep_versions_min=2)
    first, second = Store(uri, index, storage), Store(uri, index, storage)
    writers = [first.create("notes", SPEC), second.open("notes")]
    acknowledged: list[str] = []
    errors: list[BaseException] = []

    def write(collection: Any, who: int) -> None:
        for i in range(60):
            texts = [f"writer {who} commit {i} row {j}" for j in range(3)]
            try:
                collection.add_rows(synth_table(0, 3, {"text": 8}, seed=100 * who + i, texts=texts))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
                return
            acknowledged.extend(texts)

    threads = [threading.Thread(target=write, args=(c, who)) for who, c in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    for collection in writers:
        collection._compaction.wait(60)  # white box: a background compaction still running
    assert not errors, errors
    reader = Store(uri, index, storage)
    stored = reader.open("notes")
    assert sorted(stored.column("text").tolist()) == sorted(acknowledged) and len(acknowledged) == 360
    assert len(stored.lance_table.list_versions()) < 60, "old versions were removed"
    report = verify_collection(stored)
    assert report.ok, report.problems
    for store in (first, second, reader):
        store.close()


def test_probe_versions_live_on_the_store(seaweedfs: SeaweedFS) -> None:
    """Probes are saved, listed, loaded and deleted through the store: a version claims its
    number with a conditional create, so two savers never share one."""
    import numpy as np

    from omnivec.indexer.probes.model import ProbeModel
    from omnivec.indexer.probes.storage import ProbeStorage

    root = open_data_root(seaweedfs.uri("probes"), _storage(seaweedfs, max_retries=3))
    storage = ProbeStorage(root.objects.child("pets"), "pets")
    other = ProbeStorage(root.objects.child("pets"), "pets")  # a second replica's view
    model = ProbeModel.from_arrays(
        {"weights": np.eye(2, 8, dtype=np.float32), "bias": np.zeros(2, np.float32)},
        {"format": 1, "classes": ["cat", "dog"], "temperature": 1.0, "abstain_threshold": None},
    )
    record = {
        "space": "text", "encoder": SPEC["text"].to_dict(),
        "encoder_fingerprint": SPEC["text"].fingerprint, "report": {}, "examples": [],
        "created_at": 0.0, "prompt_template": None, "class_names": {}, "pooling": "mean", "seed": 0,
    }
    first = storage.save("kind", model, record)
    second = other.save("kind", model, record)
    assert (first.version, second.version) == (1, 2)
    assert storage.versions("kind") == [1, 2] and other.names() == ["kind"]
    loaded_record, loaded = other.load("kind", 1)
    assert loaded_record.classes == ("cat", "dog")
    assert np.array_equal(loaded.to_arrays()[0]["weights"], np.eye(2, 8, dtype=np.float32))
    assert storage.delete("kind", 1) == 1 and other.versions("kind") == [2]
    assert storage.save("kind", model, record).version == 3  # a deleted number is not reused
