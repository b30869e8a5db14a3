"""Compaction: merge the small fragments that a stream of small commits leaves behind.

Every commit adds a Lance fragment (an upsert of three items is a fragment of three rows), and a
delete adds a deletion file to one. A collection fed by small upserts ends up with thousands of
tiny fragments, and everything gets worse with the count: each scan (a filter, a catch-up, the
keyword index's tail) opens every fragment, each commit's manifest lists them all, and a server's
resident memory grew by about 0.7 MiB per commit in the 10-minute soak (each fragment's file
metadata and statistics stay cached in LanceDB's session). LanceDB leaves compaction to its user
(``Table.optimize``); a service has to do it itself, as Qdrant's optimizers and LanceDB Cloud do.

So the process that writes a collection compacts it after every ``index.compact_every_commits``
of its own commits, in a background thread (the write that crossed the mark is acknowledged
first), under the collection's write lock. A compaction is a commit like any other: flushed to
disk and its new data files' checksums recorded before anything relies on it. It changes no row
(``rowid`` is a column of ours, not Lance's row address), so the FAISS indexes and the payload
copy move to the new version without a rescan; Lance remaps its own indexes (keyword, and the
vector index of a space over the memory budget) in the same commit.

Work per compaction is bounded: only fragments under ``index.compact_target_rows`` rows (or with
over 10% of their rows deleted) are rewritten, into fragments of up to that size, so a large
collection never rewrites its big fragments. Below that size the rows are merged in tiers
(:func:`compaction_target`): asking Lance for the full size every time rewrote the one growing
fragment whole at each compaction, until it reached 16,384 rows; tiers of 1,024, 4,096 and 16,384
rows rewrite each row a few times (once per tier, and while the smallest tier fills). On 1,600
commits of 3 rows with every version kept, the bytes the disk was written fell from 101.8 MB to
60.5 MB (``scripts/measure_version_retention.py``). The versions before it keep the files it
replaced, until :mod:`omnivec.indexer.version_retention`, run after each compaction, removes the
versions past ``index.keep_versions_days``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CompactionResult", "CompactionSchedule", "compaction_target", "rows_unchanged_between"]

# The smallest tier of compaction_target, and the factor between tiers.
SMALLEST_TIER_ROWS = 1024
TIER_GROWTH = 4

log = logging.getLogger("omnivec.store")


@dataclass(frozen=True)
class CompactionResult:
    """What one compaction did: fragments rewritten and made, and the versions around it."""

    fragments_removed: int
    fragments_added: int
    version_before: int
    version_after: int

    @property
    def changed(self) -> bool:
        return self.version_after != self.version_before


# Lance operations that change no row: a compaction commits ReserveFragments (which pylance shows
# as a bare BaseOperation) and then Rewrite; index builds commit CreateIndex; UpdateConfig and
# UpdateMap touch settings only. Everything else (Append, Delete, Update, Merge, Overwrite,
# Restore, DataReplacement...) may change what rows hold.
_ROW_NEUTRAL = frozenset({"Rewrite", "BaseOperation", "CreateIndex", "UpdateConfig", "UpdateMap"})


def rows_unchanged_between(dataset: Any, before: int, after: int) -> bool:
    """Whether every commit after version ``before`` up to ``after`` of the Lance ``dataset``
    left the rows as they were (read from each version's transaction record)."""
    for version in range(before + 1, after + 1):
        try:
            transaction = dataset.read_transaction(version)
        except Exception:  # noqa: BLE001 - no record: assume the worst
            return False
        if transaction is None or type(transaction.operation).__name__ not in _ROW_NEUTRAL:
            return False
    return True


def compaction_target(fragment_rows: list[int], largest: int) -> int:
    """The rows per fragment to ask Lance's compaction for, given the rows of each fragment:
    the biggest tier (1,024 rows, x4 each, up to ``largest``) whose fragments under it hold rows
    enough to fill one of its own, else the smallest. Lance rewrites every fragment under the
    target, so a target no bigger than needed leaves the fragments of the tiers above alone."""
    tiers = []
    tier = min(SMALLEST_TIER_ROWS, largest)
    while tier < largest:
        tiers.append(tier)
        tier *= TIER_GROWTH
    tiers.append(largest)
    target = tiers[0]
    for tier in tiers[1:]:
        if sum(rows for rows in fragment_rows if rows < tier) >= tier:
            target = tier
    return target


class CompactionSchedule:
    """Counts one collection's commits and runs ``compact`` in the background every ``every``
    of them (0: never). At most one compaction runs at a time; commits that land meanwhile count
    towards the next one."""

    def __init__(self, every: int, compact: Callable[[], CompactionResult | None], name: str):
        self._every = every
        self._compact = compact
        self._name = name
        self._commits = 0
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None

    def committed(self) -> None:
        """One commit of this process landed (called by the collection after each)."""
        if self._every <= 0:
            return
        with self._lock:
            self._commits += 1
            if self._commits < self._every or self._running is not None:
                return
            self._commits = 0
            self._running = threading.Thread(
                target=self._run, name=f"omnivec-compact-{self._name}", daemon=True
            )
            self._running.start()

    def _run(self) -> None:
        try:
            self._compact()
        except Exception as exc:  # noqa: BLE001 - compaction only tidies; the data is committed
            log.warning("%s: compaction failed (%s); the next one retries", self._name, exc)
        finally:
            with self._lock:
                self._running = None

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the compaction in progress, if any (for tests: ``close`` needs no wait, the
        collection's write lock it takes is held by a running compaction)."""
        with self._lock:
            running = self._running
        if running is not None:
            running.join(timeout)
