"""The LanceDB table of a collection: its name, its columns and how vectors are stored in it.

One row per chunk (and one document row per item of several chunks, see DOCUMENT_CHUNK). Each embedding space is a nullable fixed-size-list column ``vec_<space>``,
null where a row has no vector in that space (an image has none in the text space).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from omnivec.indexer.filters import LABEL_COLUMN_PREFIX

if TYPE_CHECKING:  # a type only: importing the encoders costs a torch import (Ray tasks write rows)
    from omnivec.indexer.encoders.base import EncoderSpec

__all__ = [
    "BLOB_COLUMNS",
    "DOCUMENT_CHUNK",
    "ROW_COLUMNS",
    "TABLE_NAME",
    "blob_fields",
    "column_to_matrix",
    "complete_rows",
    "json_type",
    "table_schema",
    "vector_column",
    "write_schema",
]

TABLE_NAME = "rows"

ROW_COLUMNS = (
    "rowid", "item_id", "chunk", "modality", "source_uri", "content_hash", "text",
    "start_s", "end_s", "metadata", "indexed_at",
)
"""The display columns of a row (everything but the vectors, the media blobs and the probes'
label columns)."""

BLOB_COLUMNS = ("thumbnail", "media")
"""Bytes kept with an item's first row (chunk 0), read one item at a time, never with hits:
``thumbnail`` is the WebP preview of an image (:mod:`omnivec.indexer.thumbnails`), ``media`` the
original bytes of an upload whose sender asked to store them (so the server can play them back).
Collections made before these columns existed get them, empty, at their next write."""


def blob_fields() -> list[pa.Field]:
    return [pa.field(name, pa.large_binary()) for name in BLOB_COLUMNS]


DOCUMENT_CHUNK = -1
"""The ``chunk`` of an item's document row: an item cut into several chunks also has one row
whose vectors embed its whole text (as far as each encoder reads) and whose text is null, so
keyword search and hits see only the chunks."""


def vector_column(space: str) -> str:
    return f"vec_{space}"


def json_type() -> pa.DataType:
    return pa.json_(pa.utf8())


def table_schema(specs: dict[str, EncoderSpec]) -> pa.Schema:
    fields = [
        pa.field("rowid", pa.int64(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("chunk", pa.int32(), nullable=False),
        pa.field("modality", pa.string(), nullable=False),
        pa.field("source_uri", pa.string()),
        pa.field("content_hash", pa.string()),
        pa.field("text", pa.string()),
        pa.field("start_s", pa.float64()),
        pa.field("end_s", pa.float64()),
        pa.field("metadata", json_type()),
        pa.field("indexed_at", pa.timestamp("ms", tz="UTC")),
        *blob_fields(),
    ]
    for space, spec in sorted(specs.items()):
        fields.append(pa.field(vector_column(space), pa.list_(pa.float32(), spec.dim)))
    return pa.schema(fields)


def write_schema(schema: pa.Schema) -> pa.Schema:
    """The schema rows are written with, from the one LanceDB reports for the table.

    LanceDB reports the JSON column as large_binary; casting text into that would store raw
    bytes that its json_* filter functions cannot read, so it is written as arrow JSON."""
    index = schema.get_field_index("metadata")
    return schema.set(index, pa.field("metadata", json_type()))


def complete_rows(
    rows: pa.Table, schema: pa.Schema, rowids: np.ndarray, indexed_at_ms: int
) -> pa.Table:
    """Indexed rows (every column but ``rowid`` and ``indexed_at``) as the table stores them:
    with their row ids, the time of the write, nulls in the columns the rows do not carry (the
    probes' label columns, set when a probe is applied again, and blobs an item has none of),
    and the columns in the order and types of ``schema`` (a :func:`write_schema`)."""
    for column in schema:
        if column.name not in rows.column_names and (
            column.name.startswith(LABEL_COLUMN_PREFIX) or column.name in BLOB_COLUMNS
        ):
            rows = rows.append_column(column, pa.nulls(rows.num_rows, column.type))
    now = pa.array([indexed_at_ms] * rows.num_rows, pa.timestamp("ms", tz="UTC"))
    table = rows.append_column("rowid", pa.array(rowids, pa.int64())).append_column("indexed_at", now)
    return table.select(schema.names).cast(schema)


def column_to_matrix(column: Any, dim: int) -> np.ndarray:
    """A LanceDB fixed-size-list vector column as a contiguous (n, dim) float32 matrix."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if len(column) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    values = column.flatten().to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(values.reshape(len(column), dim), dtype=np.float32)
