"""The FAISS index never loses a commit to a concurrent rebuild (omnivec.indexer.ann_lifecycle).

Found by the long soak (tests/reliability/test_load_soak.py, 16 clients for 10 minutes): after
upserts racing deletes, FAISS held 1,605 vectors for 1,608 rows. A delete flushes the indexes,
and a flush may rebuild one (it outgrew its kind, or carries too many tombstones). The rebuild
scanned the table while an upsert committed; the upsert's vectors went into the index being
replaced, and the new one never got them (until a restart caught it up from the saved version).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from omnivec.bench.served import synth_table
from omnivec.indexer import ann_lifecycle
from omnivec.indexer.ann import AnnIndex
from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.store import Store

DIM = 8
SPEC = {"text": EncoderSpec("text", "fake", "none", DIM)}


def test_a_rebuild_never_loses_a_commit_that_landed_while_it_scanned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ann_lifecycle, "MAX_TOMBSTONE_RATIO", -1.0)  # every flush rebuilds
    store = Store(tmp_path)
    collection = store.create("docs", SPEC)
    collection.add_rows(synth_table(0, 40, {"text": DIM}, seed=1))
    assert collection.ann("text").ntotal == 40
    indexes = collection._indexes  # white box: widen the window between scan and replace
    build = indexes._build
    scanned = threading.Event()

    def slow_build(space: str) -> AnnIndex:
        index = build(space)
        scanned.set()
        time.sleep(0.5)  # the old code let a commit land here, into the index being replaced
        return index

    monkeypatch.setattr(indexes, "_build", slow_build)
    flusher = threading.Thread(target=collection.flush_ann)
    flusher.start()
    assert scanned.wait(30)
    collection.add_rows(synth_table(40, 10, {"text": DIM}, seed=2))
    flusher.join(30)
    assert not flusher.is_alive()
    assert collection.count_rows() == 50
    assert collection.ann("text").ntotal == 50
    store.close()
    assert Store(tmp_path).open("docs").ann("text").ntotal == 50
