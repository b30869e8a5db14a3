"""Version retention: removing old table versions, so a collection fed by small upserts does not
fill its disk.

Every commit is a Lance version, and a version keeps every data file it uses. Compaction
(:mod:`omnivec.indexer.compaction`) rewrites small fragments into bigger ones, and the fragments
it replaced stay for the older versions that use them: with every version kept, 1,600 commits of
3 rows (4,800 rows of 384-d vectors, 7.4 MB of vectors) took 60.5 MB (101.8 MB before compaction
merged in tiers), most of it data files that only old versions used, the rest one manifest and
one transaction file per version and one checksum record per commit
(``scripts/measure_version_retention.py``). LanceDB leaves this to
its user too (``Table.optimize`` removes versions older than 7 days by default).

So after each compaction the collection removes the versions older than ``keep_versions_days``
(7 by default; 0 keeps every version), except the newest ``keep_versions_min`` and every tagged
snapshot, together with the files only they use (Lance's ``cleanup_old_versions``; files of a
commit still in flight are left alone, Lance's own guard), and then the checksum records whose
files are all gone. On the same 1,600 commits: 60.5 MB -> 9.9 MB.

What it costs, by design: ``restore --version N`` reaches back ``keep_versions_days`` (snapshots
and backups reach back for ever), and the open-time fallback to an older version after a damaged
newest manifest has the kept versions to fall back to (at least ``keep_versions_min``).
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["PrunedVersions", "describe_versions", "prune_versions", "versions_to_prune"]


@dataclass(frozen=True)
class PrunedVersions:
    """What one pruning removed."""

    versions_removed: int
    bytes_removed: int
    oldest_kept: int  # the oldest version that can still be restored by number


def versions_to_prune(
    versions: Sequence[tuple[int, datetime]],
    tagged: AbstractSet[int],
    *,
    now: datetime,
    keep_days: float,
    keep_min: int,
) -> list[int]:
    """The versions to remove: older than ``keep_days`` before ``now``, not among the newest
    ``keep_min``, not tagged. ``keep_days`` 0 removes none."""
    if keep_days <= 0:
        return []
    ordered = sorted(versions)
    newest = {number for number, _ in ordered[-max(1, keep_min):]}
    cutoff = now - timedelta(days=keep_days)
    return [
        number for number, stamp in ordered
        if number not in newest and number not in tagged and _comparable(stamp, now) < cutoff
    ]


def _comparable(stamp: datetime, now: datetime) -> datetime:
    """``stamp`` in ``now``'s convention: pylance gives naive local times."""
    if (stamp.tzinfo is None) == (now.tzinfo is None):
        return stamp
    if stamp.tzinfo is None:
        return stamp.astimezone(timezone.utc)  # naive: local time
    return stamp.astimezone().replace(tzinfo=None)


def prune_versions(dataset: Any, *, keep_days: float, keep_min: int) -> PrunedVersions | None:
    """Remove the versions :func:`versions_to_prune` names from the Lance ``dataset``, and the
    files only they use. None when there are none. The caller holds the collection's write
    lock."""
    versions = [(int(v["version"]), v["timestamp"]) for v in dataset.versions()]
    tagged = {int(info["version"]) for info in dataset.tags.list().values()}
    doomed = versions_to_prune(
        versions, tagged, now=datetime.now(), keep_days=keep_days, keep_min=keep_min
    )
    if not doomed:
        return None
    stats = dataset.cleanup_old_versions(
        versions=doomed,
        delete_unverified=False,  # another writer's commit in flight may own unreferenced files
        error_if_tagged_old_versions=False,  # tagged versions (snapshots) are kept, silently
    )
    kept = sorted(set(number for number, _ in versions) - set(doomed))
    return PrunedVersions(int(stats.old_versions), int(stats.bytes_removed), kept[0])


def describe_versions(versions: Sequence[int]) -> str:
    """Version numbers as runs, for messages: ``[3, 7, 8, 9]`` -> ``"3, 7-9"``."""
    runs: list[list[int]] = []
    for number in sorted(set(versions)):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
