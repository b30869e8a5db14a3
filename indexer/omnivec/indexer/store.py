"""Collections: LanceDB is the source of truth, FAISS the in-memory accelerator.

Layout of a data directory, a local folder or an object-store URI (``s3://bucket/prefix``; see
:mod:`omnivec.indexer.storage`, through which every object here is read and written)::

    DATA_DIR/
      <collection>/
        collection.json        spaces, the encoder spec of each, and the table's name; written
                               last, it is what makes the collection exist (the pointer)
        rows.lance/            LanceDB table, one row per chunk (vectors, text, metadata, spans);
                               rows-<id>.lance when created on an object store (see Store.create)
        ann/<space>.faiss      FAISS index per space + the LanceDB version it reflects
        probes/                trained probes (see omnivec.indexer.probes)
        checksums/             SHA-256 of each commit's new data files (omnivec.indexer.data_checksums)
        .writer.lock           local folder: held by the one process that writes this collection
        writers/<slot>         object store: one per writer process (see storage.writers)

Every write is one LanceDB commit that holds whole items (all chunks of an item or none), made
before anything is acknowledged; the FAISS index is updated after the commit and re-derived from
LanceDB whenever its saved file is missing, stale or unreadable.

Here: :class:`Store` (the collections of a data directory) and :class:`Collection` (writes, reads,
search, snapshots of one). Elsewhere: the table's columns (:mod:`omnivec.indexer.table_schema`),
the ANN indexes' life (:mod:`omnivec.indexer.ann_lifecycle`), opening a damaged table
(:mod:`omnivec.indexer.table_recovery`), the hits' in-memory copy (:mod:`omnivec.indexer.payload`).
What stays is over 500 lines on purpose: a Collection's writes, reads (the probes' lookups
included) and snapshots share one table handle, one write lock and the version its derived state
(ANN indexes, payload copy, next row id) is checked against, and Store is the only place that
opens and closes Collections, so neither splits without exposing that shared state.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from omnivec.client.types import Fusion
from omnivec.indexer import version_retention
from omnivec.indexer.ann import AnnIndex
from omnivec.indexer.ann_lifecycle import SpaceIndexes
from omnivec.indexer.compaction import (
    CompactionResult,
    CompactionSchedule,
    compaction_target,
    rows_unchanged_between,
)
from omnivec.indexer.config import IndexSettings, StorageSettings
from omnivec.indexer.data_checksums import ChecksumLedger
from omnivec.indexer.durable_files import fsync_dir, fsync_table_commit
from omnivec.indexer.encoders.base import EncoderSpec, precision_mismatch
from omnivec.indexer.errors import (
    AlreadyExistsError,
    CorruptDataError,
    EncoderMismatchError,
    InvalidInputError,
    NotFoundError,
    StorageFullError,
)
from omnivec.indexer.filters import LABEL_COLUMN_PREFIX
from omnivec.indexer.fusion_store import load_fusion
from omnivec.indexer.keyword_index import KeywordIndex
from omnivec.indexer.payload import PayloadCache
from omnivec.indexer.storage import (
    DataRoot,
    WriterClaim,
    claim_writer,
    open_data_root,
    slot_rowids,
    storage_fault,
)
from omnivec.indexer.table_recovery import find_damage, first_line, open_table
from omnivec.indexer.table_schema import (
    BLOB_COLUMNS,
    ROW_COLUMNS,
    TABLE_NAME,
    blob_fields,
    column_to_matrix,
    complete_rows,
    table_schema,
    vector_column,
    write_schema,
)
from omnivec.indexer.version_retention import PrunedVersions

__all__ = [
    "Collection",
    "CollectionInfo",
    "ROW_COLUMNS",
    "RowVectors",
    "SnapshotInfo",
    "Store",
    "column_to_matrix",
    "is_valid_name",
    "validate_collection_name",
    "validate_name",
    "vector_column",
]

log = logging.getLogger("omnivec.store")

FORMAT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
# Values per SQL IN list of the lookups by item id or content hash.
_IN_BATCH = 500


def is_valid_name(name: object) -> bool:
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def validate_name(name: str, what: str) -> str:
    """Names of collections, probes and snapshots are plain identifiers, so a name can never be
    a path that escapes its directory."""
    if not is_valid_name(name):
        raise InvalidInputError(
            f"invalid {what} {name!r}: use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def validate_collection_name(name: str) -> str:
    return validate_name(name, "collection name")


def _disk_full(exc: BaseException) -> bool:
    text = str(exc)
    return (isinstance(exc, OSError) and exc.errno == 28) or "No space left" in text


@dataclass(frozen=True)
class SpaceStatus:
    space: str
    spec: EncoderSpec
    index_kind: str
    vectors: int
    index_version: int | None


@dataclass(frozen=True)
class SnapshotInfo:
    """A tagged LanceDB version. ``created_at`` (seconds since the epoch) is when that version
    was written: the snapshot holds the collection as it was then. LanceDB tags carry no time of
    their own, and the version's is the one that tells what a restore brings back."""

    tag: str
    version: int
    created_at: float


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    created_at: float
    spaces: dict[str, SpaceStatus]
    item_count: int
    row_count: int
    modality_counts: dict[str, int]
    size_bytes: int
    lance_version: int
    location: str = ""  # the collection's folder or URI (never with credentials)
    snapshots: tuple[SnapshotInfo, ...] = ()  # oldest first
    fusion: Fusion | None = None  # stored fusion weights (omnivec eval --tune); None: equal


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no single truth value
class RowVectors:
    """Rows' vectors in one space (see :meth:`Collection.row_vectors`), in table order."""

    rowids: np.ndarray  # int64, the rows that have a vector in the space
    item_ids: np.ndarray  # object (str), the item of each of those rows
    vectors: np.ndarray  # (rows, dim) float32
    items_without_vector: frozenset[str]  # items read none of whose rows has a vector there


class Collection:
    """One open collection. Thread-safe: searches run concurrently with one writer."""

    def __init__(self, root: DataRoot, table: Any, meta: dict[str, Any], settings: IndexSettings) -> None:
        self.root = root
        self.name: str = meta["name"]
        self.created_at: float = meta["created_at"]
        self.specs = {s: EncoderSpec.from_dict(d) for s, d in meta["spaces"].items()}
        self._allow_precision_mismatch = settings.allow_precision_mismatch
        self.table_name: str = meta.get("table", TABLE_NAME)
        self._table = table
        # Re-entrant: close() flushes under it, and a flush commits the keyword index under it.
        self._write_lock = threading.RLock()
        self._indexes = SpaceIndexes(
            self, self.name, root.objects.child("ann"),
            {s: spec.dim for s, spec in self.specs.items()}, settings,
            write_lock=self._write_lock, follow=root.follows_other_writers,
        )
        self._writer: WriterClaim | None = None
        self._next_rowid: int | None = None
        self._payload = PayloadCache(
            ROW_COLUMNS, settings.payload_cache_mb << 20, self._scan_rows, self.name
        )
        self._keyword = KeywordIndex(table, self.name, self._as_writer)
        # Set at open when a data file of the current version cannot be read (see find_damage).
        self.damage: CorruptDataError | None = None
        # Each commit's new data files are hashed and recorded (omnivec.indexer.data_checksums).
        self.checksums = ChecksumLedger(root.objects, self.table_name)
        self._compact_target_rows = settings.compact_target_rows
        self._keep_versions = (settings.keep_versions_days, settings.keep_versions_min)
        self._compaction = CompactionSchedule(settings.compact_every_commits, self.compact, self.name)
        self._closed = False

    @property
    def location(self) -> str:
        """The collection's folder or URI (for messages: never holds credentials)."""
        return self.root.uri

    @property
    def table_uri(self) -> str:
        """The LanceDB table's own URI, for tools that write Lance fragments directly (with
        ``self.root.storage_options``); their rows must take rowids from a writer slot
        (:func:`omnivec.indexer.storage.claim_writer`)."""
        return f"{self.root.uri.rstrip('/')}/{self.table_name}.lance"

    @property
    def spaces(self) -> list[str]:
        return sorted(self.specs)

    @property
    def version(self) -> int:
        return int(self._table.version)

    @property
    def lance_table(self) -> Any:
        """The LanceDB table itself, for white-box tests and tools that inspect (or damage) it on
        purpose. Writes made through it bypass this collection's bookkeeping: the ANN indexes and
        the payload copy only notice them through the version check of their next use."""
        return self._table

    @property
    def payload_cache_version(self) -> int | None:
        """The table version the in-memory payload copy reflects; None when none is held
        (disabled, over budget, or not built yet). For tests and diagnostics."""
        return self._payload.cached_version

    def label_columns(self) -> frozenset[str]:
        """Columns written by probes (``label_<probe>``), usable in filters like built-ins."""
        return frozenset(
            n for n in self._table.schema.names if n.startswith(LABEL_COLUMN_PREFIX)
        )

    # -- encoder checks ---------------------------------------------------------------------
    def check_encoder(self, space: str, current: EncoderSpec, *, writing: bool = False) -> None:
        """Refuse to mix vectors of two different encoders in one space.

        The same encoder at another precision (int8 vs fp32) is refused too, unless the user opted
        in (``index.allow_precision_mismatch``) and nothing is ``writing``: queries may be a little
        off, but stored vectors of two precisions would stay mixed for good."""
        stored = self.specs.get(space)
        if stored is None:
            raise InvalidInputError(
                f"collection {self.name!r} has no {space!r} space (it has: "
                f"{', '.join(self.spaces)})"
            )
        if stored.fingerprint == current.fingerprint:
            return
        if replace(stored, precision=current.precision).fingerprint == current.fingerprint:
            if self._allow_precision_mismatch and not writing:
                return
            raise precision_mismatch(self.name, space, stored, current, writing=writing)
        if stored.fingerprint != current.fingerprint:
            raise EncoderMismatchError(
                f"collection {self.name!r} space {space!r} was built with {stored.describe()} "
                f"but the configured encoder is {current.describe()}; configure the original "
                "encoder or re-index into a new collection"
            )

    # -- writing ----------------------------------------------------------------------------
    def _acquire_writer(self) -> None:
        """Claim the right to write (see omnivec.indexer.storage.writers) on first write."""
        if self._writer is None:
            self._writer = claim_writer(self.root.objects, self.name)

    def _rowid_start(self, count: int) -> int:
        if self._next_rowid is None:
            assert self._writer is not None
            low, high = slot_rowids(self._writer.slot)
            where = None if self._writer.slot == 0 else f"rowid >= {low} AND rowid < {high}"
            ids = self.column("rowid", where=where)
            self._next_rowid = int(ids.max()) + 1 if len(ids) else low
        start = self._next_rowid
        self._next_rowid += count
        return start

    def _failed_write(self, exc: Exception, disk_full_message: str) -> Exception | None:
        """What a failed LanceDB write raises: disk full, or a store fault naming the bucket;
        None when it is neither (then the original error is re-raised)."""
        if _disk_full(exc):
            return StorageFullError(disk_full_message)
        return storage_fault(exc, self.location)

    def add_rows(self, rows: pa.Table) -> int:
        """Append rows (whole items) in one LanceDB commit, then index them. Returns the version.

        ``rows`` has the columns of the schema except ``rowid`` and ``indexed_at``.
        """
        if rows.num_rows == 0:
            return self.version
        with self._write_lock:
            self._acquire_writer()
            start = self._rowid_start(rows.num_rows)
            rowids = np.arange(start, start + rows.num_rows, dtype=np.int64)
            # Columns written by probes (label_*) are not produced by the indexer: new rows get
            # nulls there until the probe is applied again.
            table = complete_rows(rows, self.write_schema(), rowids, int(time.time() * 1000))
            before = self.version
            started = time.time()
            try:
                self._table.add(table)
            except Exception as exc:
                self._next_rowid = None  # re-derive from disk: the commit may not have happened
                failure = self._failed_write(
                    exc,
                    f"disk full while writing collection {self.name!r}; free space under "
                    f"{self.location} and retry (nothing from this batch was stored)",
                )
                if failure is not None:
                    raise failure from exc
                raise
            after = self.version
            self._committed(started, after)
            self._indexes.added(table, rowids, before, after)
            self._payload.appended(start, before, after)  # dropped if other commits came between
            self._refresh_keyword_index()
            return after

    def _committed(self, started: float, version: int) -> None:
        """After a commit, before it is acknowledged: flush it to disk (a local table: LanceDB
        does not fsync) and record its new data files' checksums."""
        if self.root.local_path is not None:
            fsync_table_commit(self.root.local_path / f"{self.table_name}.lance", started - 2.0)
        self.checksums.record_after_commit(version, self.name)
        self._compaction.committed()

    def compact(self) -> CompactionResult | None:
        """Merge small fragments now (see :mod:`omnivec.indexer.compaction`, which also runs
        this in the background); None once the collection is closed. Searches go on meanwhile:
        each reads the version it started on."""
        with self._write_lock:
            if self._closed:
                return None
            self._acquire_writer()
            before = self.version
            started = time.time()
            dataset = self._table.to_lance()
            target = compaction_target(
                [f.metadata.physical_rows for f in dataset.get_fragments()], self._compact_target_rows
            )
            metrics = dataset.optimize.compact_files(
                target_rows_per_fragment=target,
                materialize_deletions=True,
                num_threads=1,  # a background chore: leave the other core to queries
            )
            self._table.checkout_latest()
            after = self.version
            result = CompactionResult(
                int(metrics.fragments_removed), int(metrics.fragments_added), before, after
            )
            if not result.changed:
                return result
            self._committed(started, after)
            self._rows_unchanged(before, after)
            log.info("%s: compacted %d fragments into %d (version %d)", self.name,
                     result.fragments_removed, result.fragments_added, after)
            self.prune_versions()
            return result

    def prune_versions(self) -> PrunedVersions | None:
        """Remove the versions the retention settings let go (see
        :mod:`omnivec.indexer.version_retention`; run after each compaction); None when none
        went. A failure only logs: the data is committed either way, and the next compaction
        tries again."""
        keep_days, keep_min = self._keep_versions
        with self._write_lock:
            if self._closed or keep_days <= 0:
                return None
            try:
                pruned = version_retention.prune_versions(
                    self._table.to_lance(), keep_days=keep_days, keep_min=keep_min
                )
                if pruned is not None:
                    records = self.checksums.forget_removed()
                    log.info("%s: removed %d versions older than %g days (%.1f MB; %d checksum "
                             "records); the oldest kept is %d", self.name, pruned.versions_removed,
                             keep_days, pruned.bytes_removed / 1e6, records, pruned.oldest_kept)
                return pruned
            except Exception as exc:  # noqa: BLE001 - housekeeping; the data is committed
                log.warning("%s: removing old versions failed (%s); the next compaction retries",
                            self.name, exc)
                return None


    def write_schema(self) -> pa.Schema:
        """The schema new rows are written with (see :func:`table_schema.write_schema`)."""
        return write_schema(self._table.schema)

    def next_rowid(self) -> int:
        """The first row id of the rows this process writes next. Claims the collection's writer
        lock, so a run that writes Lance fragments itself (the Ray indexer, whose rows take ids
        from here up) fails before any work when another process writes the collection."""
        with self._write_lock:
            self._acquire_writer()
            return self._rowid_start(0)

    def commit_fragments(self, fragments: Sequence[Any], *, written_since: float) -> int:
        """Commit Lance fragments written elsewhere as one append; returns the new version.

        The fragments' rows must be :func:`table_schema.complete_rows` rows of whole items, with
        row ids from :meth:`next_rowid` up that no stored row has. The ANN indexes and the
        payload copy did not see these rows, so they are re-derived from the table on their next
        use. ``written_since`` (wall clock) is when the fragments' writers started: their files
        are flushed with the commit's own before it returns (a local table; see _committed).
        """
        import lance

        with self._write_lock:
            self._acquire_writer()
            if not fragments:
                return self.version
            started = min(written_since, time.time())
            try:
                lance.LanceDataset.commit(
                    self.table_uri, lance.LanceOperation.Append(list(fragments)),
                    read_version=self.version,
                    storage_options=self.root.storage_options or None,
                )
            except Exception as exc:
                failure = self._failed_write(
                    exc,
                    f"disk full while committing to collection {self.name!r}; free space "
                    f"under {self.location} and retry (nothing from this commit was stored)",
                )
                if failure is not None:
                    raise failure from exc
                raise
            finally:
                self._table.checkout_latest()
                self._next_rowid = None
                self._indexes.forget()
                self._payload.clear()
            self._committed(started, self.version)
            self._refresh_keyword_index()
            return self.version

    def delete_where(self, predicate: str) -> int:
        """Delete rows matching a LanceDB predicate (internal callers only). Returns rows removed."""
        with self._write_lock:
            self._acquire_writer()
            doomed = self.column("rowid", where=predicate)
            if len(doomed) == 0:
                return 0
            before = self.version
            started = time.time()
            try:
                self._table.delete(predicate)
            except Exception as exc:
                failure = self._failed_write(
                    exc,
                    f"disk full while deleting from {self.name!r}; free space and retry",
                )
                if failure is not None:
                    raise failure from exc
                raise
            after = self.version
            self._committed(started, after)
            self._indexes.removed(doomed, before, after)
            self._payload.removed(doomed, before, after)  # dropped if other commits came between
            self._refresh_keyword_index()
            return len(doomed)

    def delete_items(
        self, ids: Sequence[str] = (), source_uris: Sequence[str] = ()
    ) -> int:
        """Delete whole items by id and/or by source path; returns the number of items removed."""
        clauses = []
        if ids:
            clauses.append(f"item_id IN ({_sql_list(ids)})")
        if source_uris:
            clauses.append(f"source_uri IN ({_sql_list(source_uris)})")
        if not clauses:
            raise InvalidInputError("give item ids or source paths to delete")
        predicate = " OR ".join(clauses)
        items = set(self.column("item_id", where=predicate).tolist())
        self.delete_where(predicate)
        return len(items)

    def write_label_columns(
        self,
        label_column: str,
        confidence_column: str,
        rowids: np.ndarray,
        labels: Sequence[str | None],
        confidences: np.ndarray,
    ) -> int:
        """Set a probe's label (NULL: none) and its confidence on the given rows; returns the
        new version. Both columns must be ``label_*`` columns; other rows keep their values.

        LanceDB 0.40 has no single "add a column with these values" commit without pylance, so
        the first write adds the two (nullable, empty) columns with ``add_columns`` and then fills
        them with one ``merge_insert(on=rowid).when_matched_update_all()`` commit; later writes
        are the second commit only. Both steps are idempotent, so an interrupted write is repaired
        by writing again (until then the columns are NULL, which no equality filter matches).
        """
        wanted = {label_column: pa.string(), confidence_column: pa.float32()}
        for col in wanted:
            if not col.startswith(LABEL_COLUMN_PREFIX):
                raise InvalidInputError(f"{col!r} is not a label column ({LABEL_COLUMN_PREFIX}*)")
        update = pa.table(
            {
                "rowid": pa.array(rowids, pa.int64()),
                label_column: pa.array(labels, pa.string()),
                confidence_column: pa.array(np.asarray(confidences, np.float32), pa.float32()),
            }
        )
        with self._write_lock:
            self._acquire_writer()
            table = self._table
            schema = table.schema
            started = time.time()
            for col, kind in wanted.items():
                if col in schema.names and not schema.field(col).type.equals(kind):
                    raise InvalidInputError(
                        f"column {col!r} of collection {self.name!r} holds "
                        f"{schema.field(col).type}, not {kind}; choose another column name"
                    )
            missing = [pa.field(col, kind, nullable=True) for col, kind in wanted.items() if col not in schema.names]
            if missing:
                table.add_columns(missing)
            if update.num_rows:
                table.merge_insert("rowid").when_matched_update_all().execute(update)
            self._committed(started, int(table.version))
            return int(table.version)

    def ensure_blob_columns(self) -> None:
        """Add the media blob columns (empty) to a table made before they existed."""
        missing = [f for f in blob_fields() if f.name not in self._table.schema.names]
        if missing:
            with self._write_lock:
                self._acquire_writer()
                self._table.add_columns(missing)

    def set_item_blob(self, item_id: str, column: str, data: bytes) -> None:
        """Store ``data`` in a blob column of an item's first row (a thumbnail made lazily)."""
        if column not in BLOB_COLUMNS:
            raise InvalidInputError(f"{column!r} is not a blob column ({', '.join(BLOB_COLUMNS)})")
        self.ensure_blob_columns()
        rowid = self.column("rowid", where=f"item_id = {_sql_str(item_id)} AND chunk = 0")
        if len(rowid) == 0:
            raise NotFoundError(f"item {item_id!r} is not in collection {self.name!r}")
        update = pa.table({"rowid": pa.array(rowid[:1], pa.int64()),
                           column: pa.array([data], pa.large_binary())})
        with self._write_lock:
            self._acquire_writer()
            self._table.merge_insert("rowid").when_matched_update_all().execute(update)

    # -- reading ----------------------------------------------------------------------------
    def item_row(self, item_id: str, blob: str | None = None) -> dict[str, Any]:
        """The first row (chunk 0) of an item: its display columns and, when asked, one blob
        column (None where the row has none, or the table predates the column)."""
        has_blob = blob is not None and blob in self._table.schema.names
        columns = [*ROW_COLUMNS, blob] if has_blob and blob else list(ROW_COLUMNS)
        data = (
            self._table.search()
            .where(f"item_id = {_sql_str(item_id)} AND chunk = 0")
            .select(columns)
            .limit(1)
            .to_arrow()
        )
        if data.num_rows == 0:
            raise NotFoundError(f"item {item_id!r} is not in collection {self.name!r}")
        row: dict[str, Any] = data.to_pylist()[0]
        if blob is not None and not has_blob:
            row[blob] = None
        return row

    def item_chunks(self, item_id: str) -> list[dict[str, Any]]:
        """Every chunk row of an item (display and label columns), in chunk order; not its
        document row (an internal vector row without text, see ``DOCUMENT_CHUNK``)."""
        data = (
            self._table.search()
            .where(f"item_id = {_sql_str(item_id)} AND chunk >= 0")
            .select([*ROW_COLUMNS, *sorted(self.label_columns())])
            .limit(None)
            .to_arrow()
        )
        if data.num_rows == 0:
            raise NotFoundError(f"item {item_id!r} is not in collection {self.name!r}")
        return sorted(data.to_pylist(), key=lambda row: int(row["chunk"]))

    def column(self, name: str, where: str | None = None) -> np.ndarray:
        """One column of every row, or of the rows matching the LanceDB predicate ``where``."""
        query = self._table.search()
        if where:
            query = query.where(where)
        result = query.select([name]).limit(None).to_arrow()
        return np.asarray(result.column(name).to_numpy(zero_copy_only=False))

    def vectors(self, space: str, where: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The stored vectors of ``space`` as an (n, dim) float32 matrix and their int64 row ids,
        for every row that has one (optionally only those matching ``where``)."""
        clause = f"{vector_column(space)} IS NOT NULL"
        if where:
            clause = f"({clause}) AND ({where})"
        data = (
            self._table.search()
            .where(clause)
            .select(["rowid", vector_column(space)])
            .limit(None)
            .to_arrow()
        )
        ids = data.column("rowid").to_numpy().astype(np.int64)
        return column_to_matrix(data.column(vector_column(space)), self.specs[space].dim), ids

    def _scan_rows(self, where: str | None) -> pa.Table:
        """The display columns (ROW_COLUMNS) of every row, or of those matching ``where``."""
        query = self._table.search()
        if where:
            query = query.where(where)
        return query.select(list(ROW_COLUMNS)).limit(None).to_arrow()

    def count_rows(self, where: str | None = None) -> int:
        return int(self._table.count_rows(where) if where else self._table.count_rows())

    def item_index(self) -> dict[str, tuple[str, str]]:
        """item_id -> (content_hash, source_uri), for idempotent re-indexing."""
        data = (
            self._table.search()
            .select(["item_id", "content_hash", "source_uri"])
            .where("chunk = 0")
            .limit(None)
            .to_arrow()
        )
        return {
            i: (h or "", s or "")
            for i, h, s in zip(
                data.column("item_id").to_pylist(),
                data.column("content_hash").to_pylist(),
                data.column("source_uri").to_pylist(),
            )
        }

    def fetch_rows(
        self, rowids: Iterable[int], columns: Sequence[str] = ROW_COLUMNS, *,
        version: int | None = None,
    ) -> dict[int, dict[str, Any]]:
        """The rows present among ``rowids``. ``version``: the table version the caller already
        read (a search reads it once), else it is read here."""
        ids = [int(r) for r in rowids]
        if not ids:
            return {}
        cached = self._payload.rows(ids, self.version if version is None else version, columns)
        if cached is not None:
            return cached
        cols = list(dict.fromkeys(["rowid", *columns]))
        data = (
            self._table.search()
            .where(f"rowid IN ({', '.join(map(str, ids))})")
            .select(cols)
            .limit(None)
            .to_arrow()
        )
        return {row["rowid"]: row for row in data.to_pylist()}

    def item_keys(
        self, rowids: Iterable[int], *, version: int | None = None
    ) -> dict[int, tuple[str, str, int]]:
        """rowid -> (item id, modality, chunk) of the rows present among ``rowids``: what
        ranking needs of a candidate row (from the payload copy when it is held). ``version``:
        as for :meth:`fetch_rows`."""
        ids = [int(r) for r in rowids]
        columns = ("item_id", "modality", "chunk")
        if version is None:
            version = self.version  # read once: each read is a round trip to LanceDB's event loop
        held = self._payload.row_values(ids, columns, version)
        if held is not None:
            return held
        rows = self.fetch_rows(ids, columns, version=version)
        return {r: (row["item_id"], row["modality"], row["chunk"]) for r, row in rows.items()}

    def item_vectors(self, item_id: str) -> dict[str, np.ndarray]:
        """The stored vectors of an item's first chunk, per space (for query-by-example)."""
        cols = [vector_column(s) for s in self.spaces]
        data = (
            self._table.search()
            .where(f"item_id = {_sql_str(item_id)}")
            .select(["chunk", *cols])
            .limit(None)
            .to_arrow()
        )
        if data.num_rows == 0:
            raise NotFoundError(f"item {item_id!r} is not in collection {self.name!r}")
        first = data.to_pylist()
        first.sort(key=lambda r: r["chunk"])
        row = first[0]
        return {
            s: np.asarray(row[vector_column(s)], dtype=np.float32)
            for s in self.spaces
            if row[vector_column(s)] is not None
        }

    def row_vectors(self, space: str, item_ids: Sequence[str] | None = None) -> RowVectors:
        """The vector in ``space`` of every row of ``item_ids`` (None: of every item), for
        callers that pool an item's chunk vectors (probes). Ids not stored are left out."""
        column = vector_column(space)
        dim = self.specs[space].dim
        cols = ["rowid", "item_id", column]
        if item_ids is None:
            parts = [self._table.search().select(cols).limit(None).to_arrow()]
        else:
            wanted = list(dict.fromkeys(item_ids))
            parts = [
                self._table.search()
                .where(f"item_id IN ({_sql_list(wanted[start : start + _IN_BATCH])})")
                .select(cols)
                .limit(None)
                .to_arrow()
                for start in range(0, len(wanted), _IN_BATCH)
            ]
        rowids: list[np.ndarray] = []
        ids: list[str] = []
        mats: list[np.ndarray] = []
        seen: set[str] = set()
        for data in parts:
            vec = data.column(column)
            mask = np.asarray(vec.is_valid(), dtype=bool)
            row_ids = data.column("item_id").to_pylist()
            seen.update(row_ids)
            rowids.append(data.column("rowid").to_numpy().astype(np.int64)[mask])
            ids.extend(i for i, ok in zip(row_ids, mask) if ok)
            if mask.any():
                mats.append(column_to_matrix(vec.filter(pa.array(mask)), dim))
        return RowVectors(
            rowids=np.concatenate(rowids) if rowids else np.zeros(0, np.int64),
            item_ids=np.asarray(ids, dtype=object),
            vectors=np.concatenate(mats) if mats else np.zeros((0, dim), np.float32),
            items_without_vector=frozenset(seen - set(ids)),
        )

    def items_by_content_hash(self, hashes: Sequence[str], space: str) -> dict[str, str]:
        """content hash -> id of a stored item with those exact bytes and a vector in ``space``."""
        wanted = list(dict.fromkeys(h for h in hashes if h))
        out: dict[str, str] = {}
        for start in range(0, len(wanted), _IN_BATCH):
            data = (
                self._table.search()
                .where(
                    f"content_hash IN ({_sql_list(wanted[start : start + _IN_BATCH])}) "
                    f"AND {vector_column(space)} IS NOT NULL"
                )
                .select(["item_id", "content_hash"])
                .limit(None)
                .to_arrow()
            )
            for item_id, digest in zip(data.column("item_id").to_pylist(), data.column("content_hash").to_pylist()):
                out.setdefault(digest, item_id)
        return out

    def any_image(self, item_ids: Sequence[str]) -> bool:
        """Whether any of ``item_ids`` is a stored image."""
        for start in range(0, len(item_ids), _IN_BATCH):
            data = (
                self._table.search()
                .where(f"item_id IN ({_sql_list(item_ids[start : start + _IN_BATCH])}) AND modality = 'image'")
                .select(["item_id"])
                .limit(1)
                .to_arrow()
            )
            if data.num_rows:
                return True
        return False

    def allowed_rowids(self, predicate: str | None, space: str) -> np.ndarray | None:
        """Row ids passing a predicate that have a vector in ``space``; None means all rows."""
        if not predicate:
            return None
        clause = f"({predicate}) AND ({vector_column(space)} IS NOT NULL)"
        try:
            return self.column("rowid", where=clause).astype(np.int64)
        except Exception as exc:
            fault = storage_fault(exc, self.location)
            if fault is not None:
                raise fault from exc
            raise InvalidInputError(f"filter cannot be applied: {exc}") from exc

    def search(
        self, space: str, query: np.ndarray, k: int, predicate: str | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (rowid, raw cosine score) in one space, pre-filtered by ``predicate``."""
        lance = self._indexes.lance_index(space)
        if lance is not None:  # a space over the memory budget (omnivec.indexer.lance_ann)
            return lance.search(query, k, predicate)
        index = self.ann(space)
        allowed = self.allowed_rowids(predicate, space)
        if allowed is not None and len(allowed) == 0:
            return []
        scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k, allowed_ids=allowed)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    # -- keyword search (see omnivec.indexer.keyword_index) --------------------------------------
    def keyword_search(
        self, words: str, k: int, predicate: str | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (rowid, BM25 score) of the rows whose text matches ``words``, pre-filtered by
        ``predicate``: LanceDB's full-text index over texts and transcripts."""
        return self._keyword.search(words, k, predicate)

    def keyword_uncovered_rows(self) -> int:
        """Rows the keyword index does not cover yet (added or deleted since it was built),
        which LanceDB scans flat; for tests and diagnostics."""
        return self._keyword.uncovered_rows()

    def _as_writer(self, write: Callable[[], None]) -> None:
        with self._write_lock:
            self._acquire_writer()
            before = self.version
            write()
            self._rows_unchanged(before, self.version)

    def _refresh_keyword_index(self, *, force: bool = False) -> None:
        """Bring the keyword index up to date after a write (the caller holds the write lock).
        A failure only logs: LanceDB still answers from a flat scan of what the index misses."""
        before = self.version
        started = time.time()
        try:
            built = self._keyword.refresh(force=force)
        except Exception as exc:  # the index is an accelerator; the write is already committed
            log.warning("%s: keyword index not updated: %s", self.name, exc)
            return
        if built:
            # The index files and the version that names them are flushed like any commit: a
            # manifest pointing at index files lost in a power cut would not open.
            self._committed(started, self.version)
            self._rows_unchanged(before, self.version)

    def _rows_unchanged(self, before: int, after: int) -> None:
        """Commits that changed no row (an index build, a compaction), made by the caller under
        the write lock since it read ``before``: the ANN indexes and the payload copy move to
        the new version without a catch-up scan. One version is the caller's own commit. More
        (a compaction is two) are checked against Lance's transaction records: another writer's
        rows may have landed in between (a replica on shared storage), and then they catch up
        from the table instead."""
        if after == before:
            return
        if after > before + 1 and not rows_unchanged_between(self._table.to_lance(), before, after):
            return
        self._indexes.unchanged(before, after)
        self._payload.unchanged(before, after)

    # -- ANN (see omnivec.indexer.ann_lifecycle) ----------------------------------------------
    def ann(self, space: str) -> AnnIndex:
        """The live FAISS index of ``space``, never stale with respect to the table (a space
        over ``index.ann_memory_budget_mb`` is searched through LanceDB's index instead; asked
        for here, its FAISS index is built anyway)."""
        return self._indexes.get(space)

    def ann_loaded_spaces(self) -> list[str]:
        """The spaces whose FAISS index is already in memory (for diagnostics and tests)."""
        return self._indexes.loaded()

    def flush_ann(self) -> None:
        """Bring the keyword index up to date, then persist every space's index at the current
        version (rebuilding any that outgrew its kind), so the next open starts warm."""
        if self._writer is not None:  # only the writer commits an index
            with self._write_lock:
                self._refresh_keyword_index()
        self._indexes.flush()

    def ann_status(self) -> dict[str, SpaceStatus]:
        """Per space: the live index (loaded, caught up or rebuilt as needed) and its version."""
        out = {}
        for space, spec in self.specs.items():
            lance = self._indexes.lance_index(space)
            if lance is not None:
                out[space] = SpaceStatus(space, spec, lance.kind, lance.ntotal, self.version)
                continue
            index = self.ann(space)
            out[space] = SpaceStatus(space, spec, index.kind.value, index.ntotal, self.version)
        return out

    # -- snapshots ----------------------------------------------------------------------------
    def snapshot(self, tag: str) -> SnapshotInfo:
        """Tag the current LanceDB version; a tagged version survives old-version cleanup."""
        validate_name(tag, "snapshot tag")
        with self._write_lock:
            if tag in self._tagged_versions():
                raise AlreadyExistsError(f"snapshot {tag!r} already exists in {self.name!r}")
            self._table.tags.create(tag, self.version)
        return next(s for s in self.snapshots() if s.tag == tag)

    def versions(self) -> list[int]:
        """The table versions that still exist, oldest first (retention removes old ones:
        :mod:`omnivec.indexer.version_retention`)."""
        return sorted(int(v["version"]) for v in self._table.list_versions())

    def _tagged_versions(self) -> dict[str, int]:
        return {tag: int(info["version"]) for tag, info in self._table.tags.list().items()}

    def snapshots(self) -> list[SnapshotInfo]:
        """Every snapshot, oldest first (by version, then tag)."""
        tagged = self._tagged_versions()
        if not tagged:
            return []
        written = {
            int(v["version"]): v["timestamp"].timestamp()  # naive local time, as LanceDB gives it
            for v in self._table.list_versions()
        }
        return sorted(
            (SnapshotInfo(tag, version, written.get(version, 0.0)) for tag, version in tagged.items()),
            key=lambda s: (s.version, s.tag),
        )

    def restore(self, *, tag: str | None = None, version: int | None = None) -> int:
        """Make a tagged (or numbered) version the latest again; returns the new version."""
        if (tag is None) == (version is None):
            raise InvalidInputError("give exactly one of a snapshot tag or a version to restore")
        if tag is not None:
            known = self._tagged_versions()
            if tag not in known:
                raise NotFoundError(
                    f"snapshot {tag!r} not found in {self.name!r} (snapshots: "
                    f"{', '.join(sorted(known)) or 'none'})"
                )
            version = known[tag]
        assert version is not None
        with self._write_lock:
            self._acquire_writer()
            versions = self.versions()
            if version not in versions:
                if version > max(versions):
                    raise NotFoundError(
                        f"version {version} of {self.name!r} does not exist (the latest is "
                        f"{max(versions)})"
                    )
                keep_days, _ = self._keep_versions
                raise NotFoundError(
                    f"version {version} of {self.name!r} no longer exists (versions kept: "
                    f"{version_retention.describe_versions(versions)}"
                    + (f"; versions older than {keep_days:g} days are removed after compactions, "
                       "tagged snapshots never" if keep_days > 0 else "")
                    + ")"
                )
            started = time.time()
            self._table.restore(version)
            self._committed(started, self.version)
            # Row ids and vectors changed under the in-memory indexes: re-derive them.
            self._next_rowid = None
            self._payload.clear()
            self._indexes.forget()
            self._keyword.forget()
            self.damage = find_damage(self.name, self.root, self.table_name, self._table)
            if self.damage is not None:
                raise self.damage
            return self.version

    # -- description ------------------------------------------------------------------------
    def info(self) -> CollectionInfo:
        data = self._table.search().select(["item_id", "modality"]).where("chunk = 0").limit(None).to_arrow()
        modalities = data.column("modality").to_pylist()
        counts: dict[str, int] = {}
        for modality in modalities:
            counts[modality] = counts.get(modality, 0) + 1
        return CollectionInfo(
            name=self.name,
            created_at=self.created_at,
            spaces=self.ann_status(),
            item_count=len(modalities),
            row_count=self.count_rows(),
            modality_counts=counts,
            size_bytes=sum(self.root.objects.sizes().values()),
            lance_version=self.version,
            location=self.location,
            snapshots=tuple(self.snapshots()),
            fusion=load_fusion(self),
        )

    def close(self) -> None:
        with self._write_lock:
            self._closed = True  # a compaction waiting for the lock gives up
            if self._writer is not None:
                try:
                    self.flush_ann()
                finally:
                    self._writer.release()
                    self._writer = None


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join(_sql_str(v) for v in values)


class Store:
    """All collections under one data directory (a local folder or an object-store URI)."""

    def __init__(
        self,
        data_dir: Path | str | DataRoot,
        settings: IndexSettings | None = None,
        storage: StorageSettings | None = None,
    ) -> None:
        self.root = data_dir if isinstance(data_dir, DataRoot) else open_data_root(data_dir, storage)
        self.settings = settings or IndexSettings()
        self._open: dict[str, Collection] = {}
        self._checked_at: dict[str, float] = {}  # name -> when its collection.json was last seen
        self._lock = threading.Lock()

    @property
    def data_dir(self) -> Path | str:
        """The data directory: a local Path, or the URI string of an object store."""
        return self.root.local_path or self.root.uri

    def _meta_key(self, name: str) -> str:
        return f"{validate_collection_name(name)}/collection.json"

    def exists(self, name: str) -> bool:
        return self.root.objects.exists(self._meta_key(name))

    def list(self) -> list[str]:
        objects = self.root.objects
        return [
            name for name in objects.list()
            if is_valid_name(name) and objects.exists(f"{name}/collection.json")
        ]

    def create(
        self, name: str, specs: dict[str, EncoderSpec], *, exist_ok: bool = False
    ) -> Collection:
        if not specs:
            raise InvalidInputError("a collection needs at least one space (clip and/or text)")
        with self._lock:
            try:
                return self._create_locked(name, specs, exist_ok)
            except Exception as exc:
                fault = storage_fault(exc, self.root.uri)
                if fault is not None:
                    raise fault from exc
                raise

    def _create_locked(
        self, name: str, specs: dict[str, EncoderSpec], exist_ok: bool
    ) -> Collection:
        """Store.create under self._lock."""
        objects = self.root.objects
        meta_key = self._meta_key(name)
        if objects.exists(meta_key):
            return self._existing(name, specs, exist_ok)
        root = self.root.child(name)
        meta = {
            "format_version": FORMAT_VERSION,
            "name": name,
            "created_at": time.time(),
            "spaces": {s: spec.to_dict() for s, spec in specs.items()},
        }
        db = root.connect()
        if self.root.is_local:
            assert root.local_path is not None
            root.local_path.mkdir(parents=True, exist_ok=True)
            if TABLE_NAME in db.list_tables().tables:
                db.drop_table(TABLE_NAME)  # leftover of a create interrupted before its json
            db.create_table(TABLE_NAME, schema=table_schema(specs))
            fsync_table_commit(root.local_path / f"{TABLE_NAME}.lance", 0.0)
            fsync_dir(root.local_path.parent)  # the collection's own folder entry
            # collection.json last: its presence is what makes the collection exist.
            objects.write(meta_key, [json.dumps(meta, indent=2).encode()])
            return self._open_locked(name)
        # On an object store several replicas may create the same name at once: each makes
        # a table of its own, then publishes it by creating collection.json, which only one
        # of them can do; the others drop their table and open the winner's.
        table = f"{TABLE_NAME}-{uuid.uuid4().hex[:12]}"
        meta["table"] = table
        db.create_table(table, schema=table_schema(specs))
        if not objects.create(meta_key, json.dumps(meta, indent=2).encode()):
            db.drop_table(table)
            return self._existing(name, specs, exist_ok)
        return self._open_locked(name)

    def _existing(self, name: str, specs: dict[str, EncoderSpec], exist_ok: bool) -> Collection:
        if not exist_ok:
            raise AlreadyExistsError(f"collection {name!r} already exists")
        collection = self._open_locked(name)
        if collection.damage is not None:
            raise collection.damage
        for space, spec in specs.items():
            collection.check_encoder(space, spec, writing=True)
        return collection

    def open(self, name: str, *, verify: bool = True) -> Collection:
        """The open collection. A damaged one raises CorruptDataError naming the recovery
        command, unless ``verify`` is False (restore, which is that recovery, passes False)."""
        with self._lock:
            collection = self._open_locked(name)
        if verify and collection.damage is not None:
            raise collection.damage
        return collection

    def _still_published(self, name: str, collection: Collection) -> bool:
        """With other processes writing the store, a collection this one holds open may have
        been deleted (or deleted and created anew) by them: look at its collection.json again,
        at most once per read-consistency interval."""
        interval = self.root.read_consistency_seconds
        if interval is None:
            return True
        now = time.monotonic()
        if now - self._checked_at.get(name, 0.0) < max(interval, 0.05):
            return True
        try:
            meta = json.loads(self.root.objects.read(self._meta_key(name)))
        except FileNotFoundError:
            return False
        self._checked_at[name] = now
        return bool(meta.get("table", TABLE_NAME) == collection.table_name)

    def _open_locked(self, name: str) -> Collection:
        cached = self._open.get(name)
        if cached is not None:
            if self._still_published(name, cached):
                return cached
            del self._open[name]
        meta_key = self._meta_key(name)
        root = self.root.child(name)
        try:
            raw = self.root.objects.read(meta_key)
        except FileNotFoundError:
            known = ", ".join(self.list()) or "none"
            raise NotFoundError(
                f"collection {name!r} does not exist in {self.root.uri} (collections: {known}); "
                f"create it with `omnivec collections create {name}` or index into it"
            ) from None
        try:
            meta = json.loads(raw)
            table = open_table(name, root, meta.get("table", TABLE_NAME))
        except Exception as exc:
            fault = storage_fault(exc, self.root.uri)
            if fault is not None:
                raise fault from exc
            raise CorruptDataError(
                f"collection {name!r} cannot be opened ({first_line(exc)}) and no older version "
                f"opens either; delete it with `omnivec collections delete {name}` and re-index it"
            ) from exc
        collection = Collection(root, table, meta, self.settings)
        collection.damage = find_damage(name, root, collection.table_name, table)
        self._open[name] = collection
        self._checked_at[name] = time.monotonic()
        return collection

    def delete(self, name: str) -> None:
        meta_key = self._meta_key(name)
        objects = self.root.objects
        with self._lock:
            if not objects.exists(meta_key):
                raise NotFoundError(f"collection {name!r} does not exist")
            collection = self._open.pop(name, None)
            if collection is not None:
                collection.close()
            # Remove the marker first so a crash mid-delete leaves no half-visible collection.
            objects.delete(meta_key)
            local = self.root.child(name).local_path
            if local is not None:
                shutil.rmtree(local, ignore_errors=True)
            else:
                objects.delete_tree(name)

    def close(self) -> None:
        with self._lock:
            for collection in self._open.values():
                collection.close()
            self._open.clear()
