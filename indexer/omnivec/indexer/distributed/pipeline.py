"""The driver of a distributed indexing run: what the in-process Ingestor does, on Ray Data.

1. Identify (tasks): every item's bytes are read and hashed where they are, and only ids and
   hashes come back. The driver then decides as the in-process indexer does: an item stored with
   the same hash is unchanged, a second item with an id already in the run is a duplicate (it
   follows the fate of the first: unchanged when that is indexed, failed with the same reason
   when that fails), everything else is indexed. A re-run of an indexed folder stops here.
2. Decode (tasks), encode (the actor pool), write Lance fragments (tasks), streaming.
3. Commit (driver): written fragments are committed to the collection's table once
   ``ray.commit_rows`` rows or ``ray.commit_seconds`` have gathered, and their items are reported
   only then. A killed driver loses only fragments never committed (files no version refers to),
   and a re-run skips everything committed. A fragment reported twice (a retried task) is
   committed once.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from omnivec.indexer.config import Settings
from omnivec.indexer.discovery import IngestItem
from omnivec.indexer.distributed.cluster import (
    encoder_actor_count,
    ray_connection,
    require_ray,
    stage_task_limit,
)
from omnivec.indexer.distributed.job import RayJob
from omnivec.indexer.distributed.records import EncodedBatch, item_record
from omnivec.indexer.distributed.stages import (
    EncodeActor,
    RowIdAllocator,
    decode_batch,
    identify_batch,
    write_batch,
)
from omnivec.indexer.ingest import IndexEvent, IndexReport
from omnivec.indexer.item_rows import StaleSources
from omnivec.indexer.models import ModelHub
from omnivec.indexer.store import Collection

__all__ = ["index_with_ray"]

log = logging.getLogger("omnivec.distributed")


def index_with_ray(
    collection: Collection,
    items: Sequence[IngestItem],
    *,
    models: ModelHub,
    settings: Settings,
    job: RayJob,
    on_event: Callable[[IndexEvent], None] | None = None,
    total: int = 0,
) -> IndexReport:
    """Index ``items`` into ``collection`` on Ray; same events and report as the Ingestor."""
    require_ray()
    for space in collection.spaces:  # the Ingestor's check, before any work starts
        collection.check_encoder(space, models.embedder(space).spec, writing=True)
    first_rowid = collection.next_rowid()  # holds the writer lock from now on, or fails now
    collection.ensure_blob_columns()  # the fragments are written with the table's schema
    run = _Run(collection, list(items), on_event, IndexReport(total=total))
    ray_settings = job.resolve(settings.ray)
    started = time.perf_counter()
    try:
        with ray_connection(job, ray_settings):
            log.info("connected to Ray in %.1f s", time.perf_counter() - started)
            chosen = run.decide(
                _identities(run.records, ray_settings.task_cpus, ray_settings.batch_items)
            )
            log.info("identified %d items in %.1f s: %d to index", len(run.records),
                     time.perf_counter() - started, len(chosen))
            if chosen:
                for batch in _index_stream(collection, chosen, first_rowid, models, settings, job):
                    run.received(batch)
                    if run.commit_due(ray_settings.commit_rows, ray_settings.commit_seconds):
                        run.commit()
    except BaseException:
        # Whole items already written are kept (a re-run then skips them), whatever stopped
        # the run; the error that stopped it is the one reported.
        try:
            run.commit()
        except Exception:  # noqa: BLE001
            log.exception("could not commit the items written before the run stopped")
        raise
    run.commit()
    run.finish()
    run.report.seconds = time.perf_counter() - started
    return run.report


def _identities(records: list[dict[str, Any]], task_cpus: float, batch: int) -> list[dict[str, Any]]:
    import ray.data

    if not records:
        return []
    ds: Any = ray.data.from_items(records, override_num_blocks=_blocks(len(records), batch * 4))
    ds = ds.map_batches(identify_batch, batch_format="pyarrow", batch_size=None, num_cpus=task_cpus)
    found: list[dict[str, Any]] = []
    for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        found.extend(table.to_pylist())
    return sorted(found, key=lambda r: int(r["seq"]))


def _index_stream(
    collection: Collection,
    chosen: list[dict[str, Any]],
    first_rowid: int,
    models: ModelHub,
    settings: Settings,
    job: RayJob,
) -> Any:
    """Decode, encode and write the chosen items; yields the written batches as they come."""
    import lance
    import ray
    import ray.data

    ray_settings = job.resolve(settings.ray)
    actors = min(encoder_actor_count(ray_settings), _blocks(len(chosen), ray_settings.batch_items))
    tasks: dict[str, Any] = {
        "num_cpus": ray_settings.task_cpus,
        "compute": ray.data.TaskPoolStrategy(size=stage_task_limit(ray_settings, actors)),
    }
    allocator = ray.remote(num_cpus=0)(RowIdAllocator).remote(first_rowid)
    actor_settings = settings.model_copy(update={
        "device": "cuda" if ray_settings.actor_gpus > 0 else settings.device,
        "torch_threads": max(1, math.floor(ray_settings.actor_cpus)),
    })
    preprocess = models.clip().preprocess if "clip" in collection.spaces else None
    ds: Any = ray.data.from_items(
        chosen, override_num_blocks=_blocks(len(chosen), 2 * ray_settings.batch_items)
    )
    ds = ds.map_batches(
        decode_batch, batch_format="pyarrow", batch_size=None, **tasks,
        fn_kwargs={
            "spaces": collection.spaces, "collection": collection.name,
            "index_settings": settings.index, "preprocess": preprocess,
        },
    )
    ds = ds.map_batches(
        EncodeActor, batch_format="pyarrow", batch_size=ray_settings.batch_items,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=ray_settings.actor_cpus, num_gpus=ray_settings.actor_gpus or None,
        # Ray gives a 1-CPU actor OMP_NUM_THREADS=1, and Whisper's int8 kernels transcribe
        # differently with one OpenMP thread than with more ("cut loaf of" became "katlofa" on
        # samples/audio/cooking.wav): actors get this process's count, so their transcripts are
        # the in-process indexer's. torch and CTranslate2 threads are set apart (torch_threads).
        runtime_env={"env_vars": {"OMP_NUM_THREADS": _openmp_threads()}},
        fn_constructor_kwargs={
            "settings": actor_settings.model_dump(),
            "specs": {space: spec.to_dict() for space, spec in collection.specs.items()},
            "collection": collection.name,
        },
    )
    storage_options = collection.root.storage_options or None
    ds = ds.map_batches(
        write_batch, batch_format="pyarrow", batch_size=None, **tasks,
        fn_kwargs={
            "uri": collection.table_uri, "schema": collection.write_schema(),
            "allocator": allocator, "storage_options": storage_options,
            "data_storage_version": lance.dataset(
                collection.table_uri, storage_options=storage_options
            ).data_storage_version,
        },
    )
    table: pa.Table
    for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        yield from EncodedBatch.from_tables([table])


def _openmp_threads() -> str:
    return os.environ.get("OMP_NUM_THREADS") or str(os.cpu_count() or 1)


def _blocks(count: int, per_block: int) -> int:
    return max(1, math.ceil(count / max(per_block, 1)))


@dataclass
class _Run:
    """The driver's bookkeeping: decisions, pending fragments, events and the report."""

    collection: Collection
    items: list[IngestItem]
    on_event: Callable[[IndexEvent], None] | None
    report: IndexReport
    records: list[dict[str, Any]] = field(init=False)
    existing: dict[str, tuple[str, str]] = field(init=False)
    stale: StaleSources = field(init=False)
    ids: dict[int, str] = field(default_factory=dict)  # seq -> item id, of items to index
    replaces: set[int] = field(default_factory=set)  # seqs whose id is stored with other content
    duplicates: dict[int, list[int]] = field(default_factory=dict)  # first seq -> later seqs
    seen: set[int] = field(default_factory=set)  # seqs received from the writers
    pending: list[Any] = field(default_factory=list)  # fragments not committed yet
    pending_items: list[tuple[int, int]] = field(default_factory=list)  # (seq, rows)
    last_commit: float = field(default_factory=time.monotonic)
    # Wall clock at the start of the run: every fragment was written after it, and each commit
    # flushes the table's files newer than this (Collection.commit_fragments; a file already
    # flushed costs an fsync with nothing to write). A worker may finish a file before the
    # previous commit yet deliver it after, so "since the previous commit" would miss some.
    written_since: float = field(default_factory=time.time)
    failures: dict[int, tuple[str, str]] = field(default_factory=dict)  # seq -> (label, reason)

    def __post_init__(self) -> None:
        self.records = [item_record(seq, item) for seq, item in enumerate(self.items)]
        self.existing = self.collection.item_index()
        self.stale = StaleSources(self.existing)

    # -- events ---------------------------------------------------------------------------------
    def _emit(self, event: IndexEvent, seq: int) -> None:
        if event.status == "indexed":
            self.report.indexed += 1
            self.report.rows += event.chunks
        elif event.status == "unchanged":
            self.report.unchanged += 1
        else:
            self.failures[seq] = (event.item.label, event.reason)
        if self.on_event is not None:
            self.on_event(event)

    def _fail(self, seq: int, reason: str) -> None:
        self._emit(IndexEvent("failed", self.items[seq], reason=reason), seq)
        for dup in self.duplicates.pop(seq, []):
            self._emit(IndexEvent("failed", self.items[dup], reason=reason), dup)

    # -- 1. decide ------------------------------------------------------------------------------
    def decide(self, identities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Report failed and unchanged items; the records of the items to index."""
        first: dict[str, int] = {}
        chosen: list[dict[str, Any]] = []
        for found in identities:
            seq = int(found["seq"])
            item = self.items[seq]
            if found["error"] is not None:
                self._fail(seq, found["error"])
                continue
            item_id, digest = found["item_id"], found["content_hash"]
            stored = self.existing.get(item_id)
            if stored is not None and stored[0] == digest:
                self._emit(IndexEvent("unchanged", item, item_id=item_id), seq)
                self.stale.keep(item.source_uri, item_id)
                continue
            if item_id in first:
                self.duplicates.setdefault(first[item_id], []).append(seq)
                continue
            first[item_id] = seq
            self.ids[seq] = item_id
            if stored is not None:
                self.replaces.add(seq)
            chosen.append(self.records[seq] | {"content_hash": digest})
        return chosen

    # -- 2. receive -----------------------------------------------------------------------------
    def received(self, batch: EncodedBatch) -> None:
        seqs = set(batch.seqs) | set(batch.failed_seqs)
        if seqs and seqs <= self.seen:
            log.info("ignoring a batch received twice (a retried task): items %s", sorted(seqs))
            return
        if seqs & self.seen:
            raise RuntimeError(f"items {sorted(seqs & self.seen)} were written twice")
        self.seen |= seqs
        for seq, reason in zip(batch.failed_seqs, batch.failed_reasons):
            self._fail(seq, reason)
        self.pending.extend(pickle.loads(f) for f in batch.payload)
        self.pending_items.extend(zip(batch.seqs, batch.chunks))

    def commit_due(self, rows: int, seconds: float) -> bool:
        waiting = sum(n for _, n in self.pending_items)
        return waiting >= rows or (waiting > 0 and time.monotonic() - self.last_commit >= seconds)

    # -- 3. commit ------------------------------------------------------------------------------
    def commit(self) -> None:
        self.last_commit = time.monotonic()
        if not self.pending_items:
            return
        replaced = [self.ids[seq] for seq, _ in self.pending_items if seq in self.replaces]
        if replaced:
            # A user-given id whose content changed: its old rows go before the new ones land.
            self.collection.delete_items(ids=replaced)
        self.collection.commit_fragments(self.pending, written_since=self.written_since)
        for seq, rows in self.pending_items:
            item, item_id = self.items[seq], self.ids[seq]
            self.stale.keep(item.source_uri, item_id)
            self._emit(IndexEvent("indexed", item, item_id, rows), seq)
            for dup in self.duplicates.pop(seq, []):
                self._emit(IndexEvent("unchanged", self.items[dup], item_id=item_id), dup)
        self.pending, self.pending_items = [], []

    def finish(self) -> None:
        """Remove old versions of changed files; failures in discovery order, as in process."""
        lost = sorted(set(self.ids) - self.seen)
        if lost:
            raise RuntimeError(
                f"{len(lost)} item(s) never came back from the Ray workers (first: "
                f"{self.items[lost[0]].label}); run the same command again to index them"
            )
        stale = self.stale.stale_ids()
        if stale:
            self.collection.delete_items(ids=stale)
        self.report.failed = [self.failures[seq] for seq in sorted(self.failures)]
