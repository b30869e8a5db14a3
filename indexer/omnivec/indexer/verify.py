"""``omnivec collections verify``: a full check of one collection, beyond what opening it does.

Opening a collection reads the cheap columns of every data file (see
:mod:`omnivec.indexer.table_recovery`); that finds a missing or truncated file, but a byte
flipped in the middle of a file, behind an intact footer, reads back as a wrong value. Verify:

1. compares every data file with the checksum recorded when it was committed
   (:mod:`omnivec.indexer.data_checksums`), and tells whether the current version uses it (its
   name is in the current manifest);
2. reads every column of every row of the current version, and checks the row count against the
   manifest's, and that every stored vector is finite with unit norm;
3. checks that each space's ANN index holds exactly the rows that have a vector there;
4. loads every version of every probe.

The report names each damaged data file and the command that recovers it: restoring the
version before the damaged file was committed (the newest one that does not use it).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from omnivec.client.types import VerifyProblem, VerifyReport
from omnivec.indexer.data_checksums import file_sha256, manifest_key
from omnivec.indexer.probes.storage import ProbeStorage
from omnivec.indexer.storage import join_key, storage_fault
from omnivec.indexer.store import Collection
from omnivec.indexer.table_recovery import first_line
from omnivec.indexer.table_schema import column_to_matrix, vector_column

__all__ = ["damaged_data_files", "verify_collection"]

# A stored vector is L2-normalised by its encoder; float32 rounding stays far below this.
NORM_TOLERANCE = 1e-3
_BATCH_ROWS = 8192


def verify_collection(collection: Collection) -> VerifyReport:
    """Check ``collection`` in full (see the module docstring); never raises for damage."""
    problems: list[VerifyProblem] = []
    version = collection.version
    checked, unrecorded, oldest_bad = _check_files(collection, version, problems)
    rows = _read_every_row(collection, problems)
    if not any(p.kind in ("unreadable", "missing_file") for p in problems):
        _check_ann(collection, problems)
    probes = _check_probes(collection, problems)
    return VerifyReport(
        collection=collection.name,
        lance_version=version,
        rows_read=rows,
        data_files_checked=checked,
        data_files_unrecorded=unrecorded,
        probes_checked=probes,
        problems=tuple(problems),
        recovery=_recovery(collection, problems, oldest_bad),
    )


def damaged_data_files(collection: Collection, version: int) -> list[VerifyProblem]:
    """The data files that ``version`` uses and that are missing or differ from their recorded
    checksums (step 1 of verify alone): what must not be copied into a backup."""
    problems: list[VerifyProblem] = []
    _check_files(collection, version, problems)
    return [p for p in problems if p.damages_current]


def _check_files(
    collection: Collection, version: int, problems: list[VerifyProblem]
) -> tuple[int, int, int | None]:
    """Checksums of the data files. Returns (files compared, files without a record, the
    oldest version that committed a damaged file the current version uses)."""
    ledger = collection.checksums
    objects = collection.root.objects
    present = ledger.data_files()
    recorded = ledger.recorded()
    key = manifest_key(objects, collection.table_name, version)
    manifest = objects.read(key) if key is not None else b""
    oldest_bad: int | None = None
    for name, expected in sorted(recorded.items()):
        used = name.encode() in manifest
        if name not in present:
            if used:
                problems.append(VerifyProblem(
                    "missing_file", f"data file {name} (committed at version {expected.version}) "
                    "is missing", name,
                ))
                oldest_bad = min(oldest_bad or expected.version, expected.version)
            continue  # an unused file may have been cleaned up with its old versions
        digest, size = file_sha256(objects, join_key(ledger.data_prefix, name))
        if (digest, size) == (expected.sha256, expected.size):
            continue
        what = (
            f"size {size} bytes, committed {expected.size}" if size != expected.size
            else "same size, different bytes"
        )
        where = "used by the current version" if used else "used only by older versions"
        problems.append(VerifyProblem(
            "checksum", f"data file {name} (committed at version {expected.version}) does not "
            f"match its checksum ({what}; {where})", name, used,
        ))
        if used:
            oldest_bad = min(oldest_bad or expected.version, expected.version)
    unrecorded = len(set(present) - set(recorded))
    return len(set(present) & set(recorded)), unrecorded, oldest_bad


def _batches(collection: Collection) -> Iterator[pa.RecordBatch]:
    yield from collection.lance_table.search().limit(None).to_batches(_BATCH_ROWS)


def _read_every_row(collection: Collection, problems: list[VerifyProblem]) -> int:
    """Read every column of every row; check the count and the vectors' norms."""
    rows = 0
    bad_norms = {space: 0 for space in collection.spaces}
    try:
        for batch in _batches(collection):
            rows += batch.num_rows
            for space in collection.spaces:
                column = batch.column(vector_column(space))
                valid = np.asarray(column.is_valid(), dtype=bool)
                if not valid.any():
                    continue
                matrix = column_to_matrix(column.filter(pa.array(valid)), collection.specs[space].dim)
                with np.errstate(all="ignore"):
                    norms = np.linalg.norm(matrix, axis=1)
                bad_norms[space] += int((~(np.abs(norms - 1.0) <= NORM_TOLERANCE)).sum())
        expected = collection.count_rows()
    except Exception as exc:  # noqa: BLE001 - any read failure but the store's is damage
        fault = storage_fault(exc, collection.location)
        if fault is not None:
            raise fault from exc
        problems.append(VerifyProblem(
            "unreadable", f"reading every row of version {collection.version} failed "
            f"after {rows} rows: {first_line(exc)}",
        ))
        return rows
    if rows != expected:
        problems.append(VerifyProblem(
            "row_count", f"{rows} rows read but the manifest lists {expected}"
        ))
    for space, count in bad_norms.items():
        if count:
            problems.append(VerifyProblem(
                "vector_norm", f"{count} vector(s) of space {space!r} are not finite unit vectors",
            ))
    return rows


def _check_ann(collection: Collection, problems: list[VerifyProblem]) -> None:
    for space in collection.spaces:
        stored = np.sort(collection.column("rowid", where=f"{vector_column(space)} IS NOT NULL"))
        indexed = np.sort(np.asarray(collection.ann(space).ids(), dtype=np.int64))
        if np.array_equal(stored.astype(np.int64), indexed):
            continue
        extra = np.setdiff1d(indexed, stored).size
        absent = np.setdiff1d(stored, indexed).size
        problems.append(VerifyProblem(
            "ann_ids", f"the {space!r} ANN index holds {extra} row id(s) the table does not and "
            f"lacks {absent} it has; it is rebuilt from the table when its file is removed "
            f"(ann/{space}.faiss)",
        ))


def _check_probes(collection: Collection, problems: list[VerifyProblem]) -> int:
    storage = ProbeStorage(collection.root.objects, collection.name)
    checked = 0
    for name in storage.names():
        for number in storage.versions(name):
            checked += 1
            try:
                storage.load(name, number)
            except Exception as exc:  # noqa: BLE001 - any load failure is damage to report
                problems.append(VerifyProblem(
                    "probe", f"probe {name!r} version {number} cannot be loaded: {first_line(exc)}; "
                    f"retrain it or delete it with `omnivec probes delete {name} --collection "
                    f"{collection.name} --version {number}`",
                ))
    return checked


def _recovery(
    collection: Collection, problems: list[VerifyProblem], oldest_bad: int | None
) -> str:
    name = collection.name
    if not problems:
        return ""
    damaged_table = any(
        p.damages_current and p.kind in ("checksum", "missing_file", "unreadable", "row_count",
                                         "vector_norm")
        for p in problems
    )
    if not damaged_table:
        if any(p.kind == "checksum" for p in problems):
            return (
                "the current version is intact; do not restore versions or snapshots that use "
                "the damaged file(s)"
            )
        return ""
    # The newest version before the damaged file was committed that still exists: retention
    # (omnivec.indexer.version_retention) may have removed the one just before it.
    kept = [] if oldest_bad is None else sorted(
        (v for v in collection.versions() if v < oldest_bad), reverse=True
    )
    if kept:
        good = kept[0]
        return (
            f"omnivec collections restore {name} --version {good} (writes made after version "
            f"{good} are lost), or delete it with `omnivec collections delete {name}` and "
            "re-index it"
        )
    if collection.damage is not None:
        return str(collection.damage)
    return f"omnivec collections delete {name}, then re-index it"
