"""Opening a collection's LanceDB table despite damage, and naming the damage that remains.

Two failures are handled at open time, both without losing anything that still reads:

* The newest manifest is unreadable (truncated or garbage): :func:`open_table` falls back to the
  newest version that opens, moving the damaged manifests to ``quarantine/`` (never deleting
  them) and putting them back if no older version opens either. That repair moves files, so it
  is made in a local folder only; on an object store the open fails with the error, and
  ``omnivec collections restore NAME --version N`` is the recovery.
* A data file of the current version is unreadable: :func:`find_damage` scans the cheap columns
  to find out, and returns a :class:`CorruptDataError` naming the newest readable version and the
  command that restores it. The collection still opens (restore is the recovery), but serves
  nothing until restored.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from omnivec.indexer.errors import CorruptDataError
from omnivec.indexer.filters import LABEL_COLUMN_PREFIX
from omnivec.indexer.storage import DataRoot, storage_fault
from omnivec.indexer.table_schema import TABLE_NAME

__all__ = ["find_damage", "first_line", "open_table"]

log = logging.getLogger("omnivec.store")


def _manifest_version(path: Path) -> int:
    number = int(path.stem)
    # LanceDB's V2 manifest names count down from u64::MAX, so the newest sorts first.
    return (2**64 - 1 - number) if number >= 2**63 else number


def open_table(name: str, root: DataRoot, table_name: str = TABLE_NAME) -> Any:
    """Open the LanceDB table. When the newest manifest is unreadable (truncated or garbage), fall
    back to the newest version that opens: the damaged manifests are moved to ``quarantine/``
    (never deleted), and put back if no older version opens either (local folders only). A
    store that cannot be reached is not damage: its error goes up as it is."""
    error: Exception | None = None
    for _ in range(2):  # a second try rules out a transient failure
        try:
            table = root.connect().open_table(table_name)
        except Exception as exc:  # noqa: BLE001 - judged below
            error = exc
            if storage_fault(exc, root.uri) is not None:
                raise
            continue
        if root.local_path is not None:
            _warn_if_newest_manifest_missing(name, root.local_path, table)
        return table
    assert error is not None
    path = root.local_path
    if path is None:
        raise error
    versions = path / f"{table_name}.lance" / "_versions"
    manifests = sorted(
        (p for p in versions.glob("*.manifest") if p.stem.isdigit()),
        key=_manifest_version, reverse=True,
    )
    moved: list[tuple[Path, Path]] = []
    quarantine = path / "quarantine"
    for manifest in manifests[:-1][:10]:
        quarantine.mkdir(exist_ok=True)
        dest = quarantine / f"{manifest.name}.{int(time.time())}"
        os.replace(manifest, dest)
        moved.append((manifest, dest))
        try:
            table = root.connect().open_table(table_name)
        except Exception:  # noqa: BLE001 - try the next older version
            continue
        log.warning(
            "collection %r: newest version(s) %s unreadable (%s); opened version %d instead and "
            "moved the damaged manifest(s) to %s", name,
            ", ".join(str(_manifest_version(m)) for m, _ in moved), first_line(error),
            table.version, quarantine,
        )
        return table
    for manifest, dest in reversed(moved):  # nothing older opens either: change nothing
        os.replace(dest, manifest)
    raise error


def _warn_if_newest_manifest_missing(name: str, path: Path, table: Any) -> None:
    hint = path / f"{TABLE_NAME}.lance" / "_versions" / "latest_version_hint.json"
    try:
        hinted = int(json.loads(hint.read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    if hinted > int(table.version):
        log.warning(
            "collection %r: the newest manifest (version %d) is missing; opened version %d "
            "(writes of the missing version are lost)", name, hinted, table.version,
        )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


def _scan_problem(table: Any, location: str) -> str | None:
    """Cheap open-time check that every data file of the current version can be read: scan the
    small columns (row ids and probe labels), which reads each file's footer, and compare the
    row count with the manifest's. None when all is well."""
    columns = ["rowid", *(n for n in table.schema.names if n.startswith(LABEL_COLUMN_PREFIX))]
    try:
        scanned = table.search().select(columns).limit(None).to_arrow().num_rows
        expected = int(table.count_rows())
    except Exception as exc:  # noqa: BLE001 - any read failure but the store's is damage
        fault = storage_fault(exc, location)
        if fault is not None:
            raise fault from exc
        return first_line(exc)
    if scanned != expected:
        return f"{scanned} rows readable but the manifest lists {expected}"
    return None


def find_damage(
    name: str, root: DataRoot, table_name: str, table: Any
) -> CorruptDataError | None:
    """A CorruptDataError naming the damage and the recovery command, or None if readable."""
    problem = _scan_problem(table, root.uri)
    if problem is None:
        return None
    good: int | None = None
    try:
        probe = root.connect().open_table(table_name)
        older = sorted(
            (int(v["version"]) for v in probe.list_versions() if int(v["version"]) < table.version),
            reverse=True,
        )
        for version in older[:20]:
            probe.checkout(version)
            if _scan_problem(probe, root.uri) is None:
                good = version
                break
    except Exception as exc:  # noqa: BLE001 - only the advice gets less precise
        log.warning("collection %r: looking for a readable version failed: %s", name, exc)
    if good is not None:
        how = (
            f"restore the newest readable version with `omnivec collections restore {name} "
            f"--version {good}` (writes made after version {good} are lost) or delete it with "
            f"`omnivec collections delete {name}` and re-index it"
        )
    else:
        how = (
            f"no readable version is left: delete it with `omnivec collections delete {name}` "
            "and re-index it"
        )
    log.error("collection %r is damaged (version %d): %s", name, table.version, problem)
    return CorruptDataError(
        f"collection {name!r} is damaged at version {table.version} ({problem}); {how}"
    )
