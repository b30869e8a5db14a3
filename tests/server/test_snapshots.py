"""Snapshots reach gRPC clients: SnapshotCollection's answer and Collection.snapshots."""

from __future__ import annotations

import time
from datetime import timezone
from pathlib import Path
from typing import Any

from omnivec.client import Client, Media, UpsertItem
from tests.support.reliability import in_process_server


def test_snapshots_are_listed_oldest_first_with_their_versions_and_times(
    settings: Any, models: Any, tmp_path: Path
) -> None:
    with in_process_server(settings, models, tmp_path / "data") as (_server, target):
        with Client(target, timeout=120) as client:
            client.create_collection("notes", ["text"])
            client.upsert("notes", [UpsertItem(Media(text="the espresso machine makes crema"))])
            before = time.time()
            first = client.snapshot_collection("notes", "v1")
            client.upsert("notes", [UpsertItem(Media(text="the kettle is descaled"))])
            second = client.snapshot_collection("notes", "v2")
            described = client.get_collection("notes")

    assert (first.tag, second.tag) == ("v1", "v2")
    assert first.lance_version < second.lance_version == described.lance_version
    # created_at is when the tagged version was written: just now, not unset.
    for snap in (first, second):
        assert snap.collection == "notes"
        assert snap.created_at is not None and snap.created_at.tzinfo == timezone.utc
        assert before - 5 <= snap.created_at.timestamp() <= time.time() + 1
    assert first.created_at is not None and second.created_at is not None
    assert first.created_at <= second.created_at
    # The collection lists both, oldest first, exactly as SnapshotCollection answered them.
    assert described.snapshots == (first, second)
