"""Checksums of a collection's Lance data files, recorded when each is committed.

Lance data files carry no page checksums: a byte flipped in the middle of a file, behind an
intact footer, reads back as a wrong vector or a wrong text without any error. So after every
commit that adds data files, the collection hashes the files that are new (SHA-256, read back
from the store) and records them in one small object per commit::

    <collection>/checksums/v000000000042.json   {"version": 42, "files": {"<name>.lance":
                                                  {"sha256": "...", "size": 3438}}}

One object per commit (never one growing file) keeps each record an atomic write of its own,
so concurrent writers on an object store never overwrite each other's records. Everything goes
through :class:`~omnivec.indexer.storage.Objects`, so local folders and ``s3://`` prefixes are
handled alike. ``omnivec collections verify`` (:mod:`omnivec.indexer.verify`) compares the files
against these records.

A crash between a commit and its record leaves the commit's files unrecorded: verify still reads
them in full, and says it could not compare them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from omnivec.indexer.storage import Objects, join_key

__all__ = ["ChecksumLedger", "FileChecksum", "file_sha256", "manifest_key"]

log = logging.getLogger("omnivec.store")

LEDGER_PREFIX = "checksums"
_RECORD = re.compile(r"^v(\d{12})\.json$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileChecksum:
    """A data file as it was committed: its digest, size and the version that added it."""

    name: str  # file name under <table>.lance/data/
    sha256: str
    size: int
    version: int


def file_sha256(objects: Objects, key: str) -> tuple[str, int]:
    """(hex SHA-256, size) of one object, read in chunks (a real file locally)."""
    digest = hashlib.sha256()
    size = 0
    with objects.open_read(key) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def manifest_key(objects: Objects, table_name: str, version: int) -> str | None:
    """Key (relative to the collection) of the manifest of ``version``, or None if absent.

    LanceDB's V2 manifest names count down from u64::MAX; V1 names are the version itself."""
    folder = join_key(f"{table_name}.lance", "_versions")
    for name in objects.list(folder):
        stem, dot, ext = name.partition(".")
        if ext != "manifest" or not stem.isdigit():
            continue
        number = int(stem)
        if (2**64 - 1 - number if number >= 2**63 else number) == version:
            return join_key(folder, name)
    return None


class ChecksumLedger:
    """The recorded checksums of one collection's data files (see the module docstring)."""

    def __init__(self, objects: Objects, table_name: str) -> None:
        self._objects = objects
        self.data_prefix = join_key(f"{table_name}.lance", "data")
        self._known: set[str] | None = None  # names recorded so far (loaded on first use)

    def data_files(self) -> dict[str, int]:
        """Every data file in the table's data folder: name -> size."""
        start = len(self.data_prefix) + 1
        return {
            key[start:]: size
            for key, size in self._objects.sizes(self.data_prefix).items()
            if key.endswith(".lance")
        }

    def _records(self) -> Iterator[tuple[str, Any]]:
        """Each record's name and its parsed JSON; one that cannot be read or parsed is logged
        and skipped."""
        for name in self._objects.list(LEDGER_PREFIX):
            if not _RECORD.match(name):
                continue
            try:
                record = json.loads(self._objects.read(join_key(LEDGER_PREFIX, name)))
            except (OSError, ValueError) as exc:
                log.warning("checksum record %s is unreadable (%s); ignoring it", name, exc)
                continue
            yield name, record

    def recorded(self) -> dict[str, FileChecksum]:
        """Every recorded checksum: file name -> checksum (the first record of a name wins)."""
        out: dict[str, FileChecksum] = {}
        for name, record in self._records():
            try:
                version = int(record["version"])
                for file, entry in record["files"].items():
                    out.setdefault(
                        file, FileChecksum(file, str(entry["sha256"]), int(entry["size"]), version)
                    )
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("checksum record %s is unreadable (%s); ignoring it", name, exc)
        return out

    def record_new(self, version: int) -> int:
        """Hash the data files not recorded yet and record them as committed at ``version``;
        returns how many were recorded. Called right after a commit, under the write lock."""
        if self._known is None:
            self._known = set(self.recorded())
        new = sorted(set(self.data_files()) - self._known)
        if not new:
            return 0
        files = {}
        for name in new:
            digest, size = file_sha256(self._objects, join_key(self.data_prefix, name))
            files[name] = {"sha256": digest, "size": size}
        body = json.dumps({"version": version, "files": files}, indent=1, sort_keys=True)
        self._objects.write(join_key(LEDGER_PREFIX, f"v{version:012d}.json"), [body.encode()])
        self._known.update(new)
        return len(new)

    def forget_removed(self) -> int:
        """Delete the records none of whose files exist any more (their versions were pruned:
        :mod:`omnivec.indexer.version_retention`); returns how many. A record with some of its
        files left stays whole: verify skips the missing ones that no version uses."""
        present = set(self.data_files())
        removed = 0
        for name, record in self._records():
            files = record.get("files") if isinstance(record, dict) else None
            if not isinstance(files, dict) or not files:
                continue  # malformed: nothing is deleted on a guess
            if not present.intersection(files):
                self._objects.delete(join_key(LEDGER_PREFIX, name))
                removed += 1
        return removed

    def record_after_commit(self, version: int, collection: str) -> None:
        """:meth:`record_new`, but a failure only logs: the commit is made and acknowledged
        either way, and verify reports the files it finds unrecorded."""
        try:
            self.record_new(version)
        except Exception as exc:  # noqa: BLE001 - a missing record is reported by verify
            self._known = None
            log.warning(
                "collection %r: recording the checksums of version %d failed (%s); verify will "
                "read those files but cannot compare them", collection, version, exc,
            )
