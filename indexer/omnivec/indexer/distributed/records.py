"""Items and embedded batches as the Arrow rows that travel between the pipeline's stages.

Ray Data may split a block between any two rows, so a row is always a unit that must stay whole:
an item on its way to the encoders, and after them a whole encoder batch (its rows serialised as
one Arrow IPC value), so that every chunk of an item lands in the same fragment and commit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from omnivec.indexer.discovery import IngestItem
from omnivec.indexer.media import MediaKind

__all__ = [
    "EncodedBatch",
    "item_from_record",
    "item_record",
    "table_from_ipc",
    "table_to_ipc",
]


def item_record(seq: int, item: IngestItem) -> dict[str, Any]:
    """An item as a row: ``seq`` is its place in discovery order. Paths are made absolute
    because tasks run in other working directories (and on other machines)."""
    if item.data is not None:
        raise ValueError(f"{item.label}: uploaded bytes are indexed in process, not on Ray")
    return {
        "seq": seq,
        "label": item.label,
        "path": os.path.abspath(item.path) if item.path is not None else None,
        "text": item.text,
        "item_id": item.item_id,
        "modality": item.modality.value if item.modality is not None else None,
        "source_uri": item.source_uri,
        "metadata": json.dumps(dict(item.metadata), ensure_ascii=False),
    }


def item_from_record(row: dict[str, Any]) -> IngestItem:
    return IngestItem(
        label=row["label"],
        modality=MediaKind(row["modality"]) if row["modality"] else None,
        path=Path(row["path"]) if row["path"] else None,
        text=row["text"],
        item_id=row["item_id"],
        source_uri=row["source_uri"] or "",
        metadata=json.loads(row["metadata"]),
    )


def table_to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def table_from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


@dataclass(frozen=True)
class EncodedBatch:
    """One encoder call's outcome: the items embedded (by ``seq``, with their row counts), the
    items that failed with their reasons, and either the rows (encoder -> writer) or the
    pickled Lance fragments that hold them (writer -> driver)."""

    seqs: Sequence[int]
    chunks: Sequence[int]
    failed_seqs: Sequence[int]
    failed_reasons: Sequence[str]
    payload: Sequence[bytes]  # [rows as Arrow IPC] or [pickled FragmentMetadata, ...]

    SCHEMA = pa.schema([
        ("seqs", pa.list_(pa.int64())),
        ("chunks", pa.list_(pa.int32())),
        ("failed_seqs", pa.list_(pa.int64())),
        ("failed_reasons", pa.list_(pa.string())),
        ("payload", pa.list_(pa.large_binary())),
    ])

    def to_table(self) -> pa.Table:
        return pa.Table.from_pylist(
            [{
                "seqs": list(self.seqs), "chunks": list(self.chunks),
                "failed_seqs": list(self.failed_seqs), "failed_reasons": list(self.failed_reasons),
                "payload": list(self.payload),
            }],
            schema=self.SCHEMA,
        )

    @classmethod
    def from_tables(cls, tables: Sequence[pa.Table]) -> list[EncodedBatch]:
        return [cls(**row) for table in tables for row in table.to_pylist()]
