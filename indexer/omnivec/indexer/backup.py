"""Backups that restore elsewhere: ``omnivec collections export NAME DEST`` and ``import``.

An export is a consistent copy of a collection at one LanceDB version, self-contained, written
through the storage layer (so DEST is a folder or an ``s3://`` prefix)::

    DEST/
      collection.json     the collection's spaces and encoders, as recorded at creation
      rows.lance/         a fresh LanceDB table with every row of that version (one version)
      probes/...          the trained probes, byte for byte
      fusion.json         the stored fusion weights (``omnivec eval --tune``), when there are any
      export.json         written last (the pointer): version, row count, and the SHA-256 and
                          size of every file above

Consistency: the rows are read from a second table handle checked out at the version current
when the export starts, so writes that land meanwhile are not in it, and nothing is locked.
Row ids (a column) are copied, so a restored collection ranks ties exactly as the original.

Import checks every file against ``export.json`` before it writes anything, creates the table
under the data directory, copies the probes, records the data files' checksums (see
:mod:`omnivec.indexer.data_checksums`) and publishes ``collection.json`` last, exclusively, as
:meth:`omnivec.indexer.store.Store.create` does. The ANN indexes are rebuilt from the vectors at
first use, so the restored collection answers the same queries with the same hits and scores.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnivec.indexer.config import StorageSettings
from omnivec.indexer.data_checksums import ChecksumLedger, file_sha256
from omnivec.indexer.durable_files import fsync_table_commit
from omnivec.indexer.errors import AlreadyExistsError, CorruptDataError, NotFoundError
from omnivec.indexer.fusion_store import FUSION_FILE
from omnivec.indexer.storage import DataRoot, open_data_root
from omnivec.indexer.store import Store, validate_collection_name
from omnivec.indexer.table_schema import TABLE_NAME
from omnivec.indexer.verify import damaged_data_files

__all__ = ["EXPORT_FORMAT", "ExportInfo", "export_collection", "import_collection"]

EXPORT_FORMAT = 1
POINTER = "export.json"
_BATCH_ROWS = 8192


@dataclass(frozen=True)
class ExportInfo:
    """What an export holds (the content of its ``export.json``, less the file list)."""

    collection: str
    lance_version: int
    rows: int
    files: int
    location: str  # DEST, never with credentials


def _destination(dest: Path | str, storage: StorageSettings | None) -> DataRoot:
    root = open_data_root(dest, storage)
    if root.local_path is not None:
        root.local_path.mkdir(parents=True, exist_ok=True)
    return root


def export_collection(
    store: Store, name: str, dest: Path | str, storage: StorageSettings | None = None
) -> ExportInfo:
    """Copy collection ``name`` at its current version to ``dest`` (see the module docstring).
    A damaged collection (a data file of this version missing or unlike its commit-time
    checksum) is refused with CorruptDataError before anything is written: restore it first."""
    collection = store.open(name)
    target = _destination(dest, storage)
    if target.objects.exists(POINTER) or target.objects.list(f"{TABLE_NAME}.lance"):
        raise AlreadyExistsError(
            f"{target.uri} already holds an export; choose an empty destination"
        )
    version = collection.version
    # A byte flipped inside a data file reads back as a wrong value, not an error: compare the
    # files this version uses with their commit-time checksums before copying a single row.
    damaged = damaged_data_files(collection, version)
    if damaged:
        raise CorruptDataError(
            f"collection {name!r} is damaged ({damaged[0].message}"
            f"{f' and {len(damaged) - 1} more' if len(damaged) > 1 else ''}); nothing was "
            f"exported. `omnivec collections verify {name}` names the version to restore"
        )
    pinned = collection.root.connect().open_table(collection.table_name)
    pinned.checkout(version)
    reader = pinned.search().limit(None).to_batches(_BATCH_ROWS)
    copied = target.connect().create_table(TABLE_NAME, data=reader, schema=reader.schema)
    if target.local_path is not None:  # LanceDB does not fsync (see durable_files)
        fsync_table_commit(target.local_path / f"{TABLE_NAME}.lance", 0.0)
    rows = int(copied.count_rows())
    if rows != int(pinned.count_rows()):
        raise CorruptDataError(
            f"export of {name!r} wrote {rows} rows but version {version} has "
            f"{pinned.count_rows()}; the export in {target.uri} is incomplete, delete it"
        )
    meta = json.loads(store.root.objects.read(f"{name}/collection.json"))
    meta.pop("table", None)  # the export's table is always rows.lance
    target.objects.write("collection.json", [json.dumps(meta, indent=2).encode()])
    source = collection.root.objects
    for key in sorted(source.sizes("probes")):
        target.objects.write(key, [source.read(key)])
    if source.exists(FUSION_FILE):  # tuned weights: without them the copy would rank otherwise
        target.objects.write(FUSION_FILE, [source.read(FUSION_FILE)])
    files = {
        key: {"sha256": digest, "size": size}
        for key in sorted(target.objects.sizes())
        if key != POINTER
        for digest, size in [file_sha256(target.objects, key)]
    }
    pointer = {
        "format": EXPORT_FORMAT,
        "collection": name,
        "lance_version": version,
        "rows": rows,
        "exported_at": time.time(),
        "files": files,
    }
    target.objects.write(POINTER, [json.dumps(pointer, indent=1, sort_keys=True).encode()])
    return ExportInfo(name, version, rows, len(files), target.uri)


def _read_pointer(source: DataRoot) -> dict[str, Any]:
    try:
        pointer: dict[str, Any] = json.loads(source.objects.read(POINTER))
    except FileNotFoundError:
        raise NotFoundError(
            f"{source.uri} holds no export ({POINTER} is missing); give the DEST of an "
            "`omnivec collections export`"
        ) from None
    if pointer.get("format") != EXPORT_FORMAT:
        raise CorruptDataError(
            f"{source.uri}/{POINTER} has format {pointer.get('format')!r}; this omnivec reads "
            f"format {EXPORT_FORMAT}"
        )
    return pointer


def _check_files(source: DataRoot, pointer: dict[str, Any]) -> None:
    """Every file listed in the pointer, byte for byte, before anything is written."""
    for key, expected in sorted(pointer["files"].items()):
        try:
            digest, size = file_sha256(source.objects, key)
        except FileNotFoundError:
            raise CorruptDataError(
                f"export {source.uri} is incomplete: {key} is missing; export again"
            ) from None
        if (digest, size) != (expected["sha256"], expected["size"]):
            raise CorruptDataError(
                f"export {source.uri} is damaged: {key} does not match its checksum "
                f"(size {size}, exported {expected['size']}); export again"
            )


def import_collection(
    store: Store, source_uri: Path | str, name: str | None = None,
    storage: StorageSettings | None = None,
) -> str:
    """Restore an export as collection ``name`` (default: the exported name); returns the name.
    Refuses an existing name (AlreadyExistsError) and a damaged export (CorruptDataError)."""
    source = open_data_root(source_uri, storage)
    pointer = _read_pointer(source)
    name = validate_collection_name(name or str(pointer["collection"]))
    if store.exists(name):
        raise AlreadyExistsError(
            f"collection {name!r} already exists; import under another name with --as NEW_NAME"
        )
    _check_files(source, pointer)
    meta = json.loads(source.objects.read("collection.json"))
    meta["name"] = name
    root = store.root.child(name)
    if root.local_path is not None:
        root.local_path.mkdir(parents=True, exist_ok=True)
        table_name = TABLE_NAME
    else:
        table_name = f"{TABLE_NAME}-{uuid.uuid4().hex[:12]}"  # see Store.create
        meta["table"] = table_name
    db = root.connect()
    if table_name in db.list_tables().tables:
        db.drop_table(table_name)  # leftover of an import interrupted before its json
    reader = source.connect().open_table(TABLE_NAME).search().limit(None).to_batches(_BATCH_ROWS)
    table = db.create_table(table_name, data=reader, schema=reader.schema)
    if root.local_path is not None:  # LanceDB does not fsync (see durable_files)
        fsync_table_commit(root.local_path / f"{table_name}.lance", 0.0)
    if int(table.count_rows()) != int(pointer["rows"]):
        db.drop_table(table_name)
        raise CorruptDataError(
            f"export {source.uri} lists {pointer['rows']} rows but {table.count_rows()} were read"
        )
    for key in sorted(pointer["files"]):
        if key.startswith("probes/") or key == FUSION_FILE:
            root.objects.write(key, [source.objects.read(key)])
    ChecksumLedger(root.objects, table_name).record_new(int(table.version))
    if not store.root.objects.create(f"{name}/collection.json", json.dumps(meta, indent=2).encode()):
        db.drop_table(table_name)
        raise AlreadyExistsError(f"collection {name!r} was created meanwhile; import under another name")
    return name
