"""The pipeline's Ray Data stages: tasks that identify and decode items, the encoder actor, the
tasks that write Lance fragments, and the actor that hands out row ids.

Every function of an item is :mod:`omnivec.indexer.item_rows`'s, as in the in-process indexer; a
bad item becomes a row with an ``error`` (reported by the driver), never a failed task, so one bad
file cannot stop a run. The actor loads each encoder once and checks that it is the encoder the
collection was built with (a node with other weights would otherwise write foreign vectors).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from omnivec.indexer.chunking import Chunk
from omnivec.indexer.config import IndexSettings, Settings
from omnivec.indexer.discovery import IngestItem
from omnivec.indexer.distributed.records import (
    EncodedBatch,
    item_from_record,
    table_from_ipc,
    table_to_ipc,
)
from omnivec.indexer.errors import EncoderMismatchError, MediaError
from omnivec.indexer.item_rows import (
    PreparedItem,
    audio_source,
    embed_items,
    failure_reason,
    identify,
    require_clip_space,
    text_chunks,
    transcript_chunks,
)
from omnivec.indexer.media import MediaKind, decode_audio, decode_image
from omnivec.indexer.table_schema import complete_rows
from omnivec.indexer.thumbnails import thumbnail_of

__all__ = [
    "DECODED_SCHEMA",
    "IDENTITY_SCHEMA",
    "EncodeActor",
    "RowIdAllocator",
    "decode_batch",
    "identify_batch",
    "write_batch",
]

IDENTITY_SCHEMA = pa.schema([
    ("seq", pa.int64()), ("item_id", pa.string()), ("content_hash", pa.string()),
    ("modality", pa.string()), ("error", pa.string()),
])

DECODED_SCHEMA = pa.schema([
    ("seq", pa.int64()), ("label", pa.string()), ("item_id", pa.string()),
    ("content_hash", pa.string()), ("modality", pa.string()), ("source_uri", pa.string()),
    ("metadata", pa.string()),
    # text: its chunks; audio: its samples (transcribed by the actor); image: its CLIP tensor
    ("texts", pa.list_(pa.string())), ("starts", pa.list_(pa.float64())),
    ("ends", pa.list_(pa.float64())),
    ("tensor", pa.large_binary()), ("tensor_shape", pa.list_(pa.int64())),
    ("thumbnail", pa.large_binary()),  # an image's WebP preview, stored with its row
    ("samples", pa.large_binary()), ("error", pa.string()),
    ("document", pa.large_string()),  # a text cut into several chunks: its whole text
])


def identify_batch(batch: pa.Table) -> pa.Table:
    """Items -> their ids and content hashes (the driver decides from these what to index)."""
    out = []
    for row in batch.to_pylist():
        record: dict[str, Any] = {"seq": row["seq"], "item_id": None, "content_hash": None,
                                  "modality": None, "error": None}
        try:
            found = identify(item_from_record(row))
        except Exception as exc:  # noqa: BLE001 - one bad item is reported, never fatal
            record["error"] = failure_reason(exc)
        else:
            record.update(item_id=found.item_id, content_hash=found.content_hash,
                          modality=found.modality.value)
        out.append(record)
    return pa.Table.from_pylist(out, schema=IDENTITY_SCHEMA)


def decode_batch(
    batch: pa.Table,
    *,
    spaces: Sequence[str],
    collection: str,
    index_settings: IndexSettings,
    preprocess: Callable[[Any], Any] | None,
) -> pa.Table:
    """Items chosen for indexing -> decoded: text chunks, CLIP image tensors (``preprocess`` is
    the collection's CLIP transform), or audio samples for the actors' Whisper."""
    out = []
    for row in batch.to_pylist():
        item = item_from_record(row)
        record: dict[str, Any] = {
            key: row[key] for key in ("seq", "label", "content_hash", "source_uri", "metadata")
        } | {"item_id": None, "modality": None, "texts": [], "starts": [], "ends": [], "tensor": None, "tensor_shape": [],
             "thumbnail": None, "samples": None, "document": None, "error": None}
        try:
            found = identify(item)
            if found.content_hash != row["content_hash"]:
                raise MediaError(item.label, "changed while it was being indexed; index it again")
            raw, modality = found.raw, found.modality
            record.update(item_id=found.item_id, modality=modality.value)
            if modality is MediaKind.IMAGE:
                require_clip_space(spaces, collection, item.label)
                if preprocess is None:
                    raise MediaError(item.label, "no CLIP preprocessing available")
                # Decoded once, as in process: the CLIP input and the stored preview.
                image = decode_image(raw, name=item.label)
                tensor = np.ascontiguousarray(preprocess(image).numpy(), dtype=np.float32)
                record.update(tensor=tensor.tobytes(), tensor_shape=list(tensor.shape),
                              thumbnail=thumbnail_of(image))
            elif modality is MediaKind.AUDIO:
                samples = decode_audio(audio_source(item, raw), name=item.label)
                record["samples"] = np.ascontiguousarray(samples, dtype=np.float32).tobytes()
            else:
                chunks, document = text_chunks(item, raw, index_settings)
                record.update(texts=[c.text for c in chunks], starts=[c.start_s for c in chunks],
                              ends=[c.end_s for c in chunks], document=document)
        except Exception as exc:  # noqa: BLE001 - one bad item is reported, never fatal
            record["error"] = failure_reason(exc)
        out.append(record)
    return pa.Table.from_pylist(out, schema=DECODED_SCHEMA)


class EncodeActor:
    """One encoder actor: its own ModelHub (each encoder loaded once, on first use), fed
    batches of decoded items; returns one :class:`EncodedBatch` row per batch."""

    def __init__(
        self, *, settings: Mapping[str, Any], specs: Mapping[str, Mapping[str, Any]], collection: str
    ) -> None:
        from omnivec.indexer.encoders.base import EncoderSpec
        from omnivec.indexer.models import ModelHub

        self.settings = Settings(**settings)
        self.models = ModelHub(self.settings)
        self.specs = {space: EncoderSpec.from_dict(dict(spec)) for space, spec in specs.items()}
        for space, spec in self.specs.items():
            here = self.models.embedder(space).spec
            if here.fingerprint != spec.fingerprint:
                raise EncoderMismatchError(
                    f"an encoder actor has {here.describe()} for space {space!r}, but collection "
                    f"{collection!r} was built with {spec.describe()}; give every Ray node the "
                    "same weights and configuration"
                )

    def __call__(self, batch: pa.Table) -> pa.Table:
        prepared: list[tuple[int, PreparedItem]] = []
        failed: list[tuple[int, str]] = []
        for row in batch.to_pylist():
            if row["error"] is not None:
                failed.append((row["seq"], row["error"]))
                continue
            try:
                prepared.append((row["seq"], self._prepare(row)))
            except Exception as exc:  # noqa: BLE001 - one bad item is reported, never fatal
                failed.append((row["seq"], failure_reason(exc)))
        payload: list[bytes] = []
        if prepared:
            rows = embed_items([p for _, p in prepared], self.models, self.specs)
            payload.append(table_to_ipc(rows))
        return EncodedBatch(
            seqs=[seq for seq, _ in prepared],
            chunks=[len(p.chunks) for _, p in prepared],
            failed_seqs=[seq for seq, _ in failed],
            failed_reasons=[reason for _, reason in failed],
            payload=payload,
        ).to_table()

    def _prepare(self, row: Mapping[str, Any]) -> PreparedItem:
        item = IngestItem(label=row["label"], modality=MediaKind(row["modality"]),
                          source_uri=row["source_uri"] or "", metadata=json.loads(row["metadata"]))
        prepared = PreparedItem(item, row["item_id"], row["content_hash"], MediaKind(row["modality"]))
        if row["samples"] is not None:
            samples = np.frombuffer(row["samples"], dtype=np.float32)
            transcript = self.models.speech().transcribe(samples, name=item.label)
            prepared.chunks, prepared.document = transcript_chunks(
                transcript, item.label, self.settings.index
            )
        elif row["tensor"] is not None:
            import torch

            array = np.frombuffer(row["tensor"], dtype=np.float32).reshape(row["tensor_shape"])
            prepared.image_tensor = torch.from_numpy(array.copy())
            prepared.thumbnail = row["thumbnail"]
            prepared.chunks = [Chunk("")]
        else:
            prepared.chunks = [
                Chunk(text, start_s=start, end_s=end)
                for text, start, end in zip(row["texts"], row["starts"], row["ends"])
            ]
            prepared.document = row["document"]
        return prepared


class RowIdAllocator:
    """Hands out ranges of row ids, so that fragments written in parallel never share one."""

    def __init__(self, start: int) -> None:
        self._next = start

    def reserve(self, count: int) -> int:
        start = self._next
        self._next += count
        return start


def write_batch(
    batch: pa.Table,
    *,
    uri: str,
    schema: pa.Schema,
    allocator: Any,
    data_storage_version: str | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> pa.Table:
    """Encoded batches -> Lance fragments (written with lance-ray, committed by the driver)."""
    import ray
    from lance_ray import LanceFragmentWriter

    writer = LanceFragmentWriter(
        uri, schema=schema, data_storage_version=data_storage_version,
        storage_options=dict(storage_options) if storage_options else None,
    )
    out = []
    for encoded in EncodedBatch.from_tables([batch]):
        fragments: list[bytes] = []
        for payload in encoded.payload:
            rows = table_from_ipc(payload)
            start = int(ray.get(allocator.reserve.remote(rows.num_rows)))
            rowids = np.arange(start, start + rows.num_rows, dtype=np.int64)
            table = complete_rows(rows, schema, rowids, int(time.time() * 1000))
            written = writer(table)
            fragments.extend(written.column("fragment").to_pylist())
        out.append(EncodedBatch(encoded.seqs, encoded.chunks, encoded.failed_seqs,
                                encoded.failed_reasons, fragments).to_table())
    return pa.concat_tables(out) if out else EncodedBatch.SCHEMA.empty_table()
