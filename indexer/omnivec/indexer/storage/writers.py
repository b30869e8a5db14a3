"""Who may write a collection, and which row ids each writer hands out.

Rows carry an int64 ``rowid`` (the ANN indexes' id), unique in the collection. How that stays
unique depends on where the collection lives:

* **Local folder: one writer process.** A ``flock`` on ``<collection>/.writer.lock`` admits one
  process (a server or an indexing run); another gets FAILED_PRECONDITION telling it to go
  through that server. The writer numbers rows from the table's highest rowid + 1.
* **Object store: many writers.** Server replicas on one ``s3://`` data directory all write.
  Lance makes their commits safe (each manifest is a conditional PUT, so concurrent appends are
  retried on top of each other, never overwritten); omnivec only has to keep their rowids apart.
  Each writer process claims a *writer slot* ``N`` the first time it writes a collection, by
  creating ``<collection>/writers/<N>`` with a conditional PUT (the store lets exactly one
  process create it), and then numbers its rows from ``N << SLOT_BITS``. Slots are never
  reused, so a restarted replica takes a new one.

Both rest on the store honouring ``If-None-Match: *``. :func:`check_conditional_put` proves it
once per process and store before the first write (it creates a probe object twice: the second
must be refused), and refuses to write otherwise: concurrent writers on such a store would lose
commits, and omnivec does not hope that they never overlap.

A bulk writer that adds rows without a :class:`~omnivec.indexer.store.Collection` (a Ray job)
claims a slot with :func:`claim_writer` too and takes its rowids from :func:`slot_rowids`.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import IO, Any

from omnivec.indexer.errors import FailedPreconditionError
from omnivec.indexer.storage.objects import Objects

__all__ = ["SLOT_BITS", "WriterClaim", "check_conditional_put", "claim_writer", "slot_rowids"]

# 2**40 rows per writer slot, 2**23 slots: neither runs out.
SLOT_BITS = 40
WRITERS_DIR = "writers"
LOCK_FILE = ".writer.lock"

_checked: set[str] = set()
_checked_lock = threading.Lock()


@dataclass
class WriterClaim:
    """A process's right to write one collection. ``slot`` is 0 for the local single writer."""

    slot: int
    _handle: IO[str] | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the flock
            self._handle = None


def slot_rowids(slot: int) -> tuple[int, int]:
    """The rowids ``[low, high)`` of a writer slot (slot 0: every rowid, the local writer)."""
    if slot == 0:
        return 0, 2**63 - 1
    return slot << SLOT_BITS, (slot + 1) << SLOT_BITS


def claim_writer(objects: Objects, collection: str) -> WriterClaim:
    """Claim the right to write ``collection`` (whose objects are ``objects``)."""
    folder = objects.local_path
    if folder is not None:
        return _lock_local(folder / LOCK_FILE, collection)
    check_conditional_put(objects)
    slots = [int(n) for n in objects.list(WRITERS_DIR) if n.isdigit()]
    slot = max(slots, default=0) + 1
    record = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "at": time.time()})
    while not objects.create(f"{WRITERS_DIR}/{slot:010d}", record.encode()):
        slot += 1  # another writer took it between our listing and our create
    return WriterClaim(slot)


def _lock_local(path: Any, collection: str) -> WriterClaim:
    handle = open(path, "a+")  # noqa: SIM115 - kept open: the lock lives as long as the file
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise FailedPreconditionError(
            f"collection {collection!r} is being written by another omnivec process (a server "
            "or an indexing run); write through that server with --server, or wait for it"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return WriterClaim(0, handle)


def check_conditional_put(objects: Objects) -> None:
    """Raise FailedPreconditionError unless the store refuses to create an existing object."""
    key = objects.uri.split("://", 1)[-1].split("/", 1)[0]  # once per bucket
    with _checked_lock:
        if key in _checked:
            return
    probe = f"{WRITERS_DIR}/.conditional-put-check-{uuid.uuid4().hex}"
    try:
        first = objects.create(probe, b"1")
        second = objects.create(probe, b"2")
    finally:
        objects.delete(probe)
    if not first or second:
        raise FailedPreconditionError(
            f"the object store holding {objects.uri} does not honour conditional puts "
            "(If-None-Match: *): concurrent writers would overwrite each other's commits. "
            "Use a store that supports them (AWS S3, SeaweedFS, MinIO, GCS, Azure)"
        )
    with _checked_lock:
        _checked.add(key)
