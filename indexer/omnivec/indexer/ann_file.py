"""The on-disk format of a saved ANN index: one self-checking blob, replaced atomically.

::

    magic "OMNIANN\\0" | u32 format | u32 header length | sha256(header) | header JSON | payload
    payload = faiss.serialize_index bytes | stored ids (int64 LE) | tombstones (int64 LE)
              | the IVF-PQ's re-ranking copy (faiss.serialize_index bytes; absent otherwise)

The header records the LanceDB version the index reflects. :func:`read_index_file` accepts only
a complete, checksum-valid file whose parts agree with each other; anything else is
:class:`AnnIndexUnreadable`, and the caller rebuilds the index from LanceDB.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import faiss
import numpy as np
import numpy.typing as npt

from omnivec.indexer.ann_params import AnnKind, AnnParams, Layout, check_index_shape
from omnivec.indexer.errors import CorruptDataError, InvalidInputError
from omnivec.indexer.storage.objects import LocalObjects, Objects

__all__ = [
    "FORMAT_VERSION",
    "AnnIndexUnreadable",
    "StoredIndex",
    "read_index",
    "read_index_file",
    "serialize_index",
]

I64 = npt.NDArray[np.int64]

FORMAT_VERSION: Final = 1
_MAGIC: Final = b"OMNIANN\x00"
_PREFIX: Final = struct.Struct("<8sII32s")
# A header is a few hundred bytes; anything huge is a corrupt length field, not a real header.
_MAX_HEADER_BYTES: Final = 1 << 20


class AnnIndexUnreadable(CorruptDataError):
    """A saved ANN index is missing, truncated, corrupt or of an unknown format.

    The index is only an accelerator: the caller can rebuild it from LanceDB. ``path`` names the
    file that could not be read.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"ANN index {path}: {reason}; rebuild it from the store")


@dataclass(frozen=True)
class StoredIndex:
    """What a file holds of an AnnIndex: enough to bring it back without re-adding or training."""

    dim: int
    params: AnnParams
    layout: Layout
    index: faiss.Index
    ids: I64  # every id stored in ``index`` (live or tombstoned), sorted
    tombstones: I64  # removed-but-still-stored ids (HNSW only), sorted
    refine: faiss.IndexIDMap2 | None = None  # an IVF-PQ's 8-bit re-ranking copy, same ids as ``index``


def serialize_index(stored: StoredIndex, *, version: int) -> list[bytes | memoryview]:
    """The file's bytes, in parts. Call it while the index cannot change (FAISS serialises the
    live structure); writing them out (:func:`omnivec.indexer.durable_files.replace_file`) can
    happen afterwards, without holding anything."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise InvalidInputError(f"version must be an int >= 0, got {version!r}")
    index_bytes = faiss.serialize_index(stored.index)
    ids_bytes = stored.ids.astype("<i8").tobytes()
    tomb_bytes = stored.tombstones.astype("<i8").tobytes()
    refine_bytes = b"" if stored.refine is None else faiss.serialize_index(stored.refine).data
    payload: tuple[memoryview | bytes, ...] = (
        index_bytes.data, ids_bytes, tomb_bytes, refine_bytes,
    )
    digest = hashlib.sha256()
    for part in payload:
        digest.update(part)
    header = {
        "format": FORMAT_VERSION,
        "kind": stored.params.kind.value,
        "layout": stored.layout,
        "params": stored.params.to_dict(),
        "dim": stored.dim,
        "ntotal": int(stored.ids.size - stored.tombstones.size),
        "stored": int(stored.ids.size),
        "tombstones": int(stored.tombstones.size),
        "max_id": int(stored.ids[-1]) if stored.ids.size else None,
        "version": version,
        "sections": {
            "index": int(index_bytes.nbytes),
            "ids": len(ids_bytes),
            "tombstones": len(tomb_bytes),
            "refine": len(refine_bytes),
        },
        "payload_sha256": digest.hexdigest(),
        "faiss_version": faiss.__version__,
    }
    header_bytes = json.dumps(header, sort_keys=True).encode()
    prefix = _PREFIX.pack(
        _MAGIC, FORMAT_VERSION, len(header_bytes), hashlib.sha256(header_bytes).digest()
    )
    return [prefix, header_bytes, *payload]


def read_index_file(path: Path) -> tuple[StoredIndex, int]:
    """The index saved at ``path`` and the LanceDB version it reflects. Raises
    :class:`AnnIndexUnreadable` for anything but a complete, checksum-valid file."""
    return read_index(LocalObjects(Path(path).parent), Path(path).name)


def read_index(objects: Objects, key: str) -> tuple[StoredIndex, int]:
    """The index saved as object ``key`` (a file locally, streamed; one GET on an object store)
    and the LanceDB version it reflects; :class:`AnnIndexUnreadable` unless complete and valid.
    A missing object is unreadable too; a store that cannot be reached is not (its error goes
    up: the index is fine, the store is not)."""
    path = f"{objects.uri}/{key}"
    try:
        with objects.open_read(key) as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(0)
            return _read_from(f, path, size)
    except FileNotFoundError:
        raise AnnIndexUnreadable(path, "file does not exist") from None
    except AnnIndexUnreadable:
        raise
    except OSError as e:
        raise AnnIndexUnreadable(path, f"cannot read: {e.strerror or e}") from e


def _read_from(f: Any, path: str, size: int) -> tuple[StoredIndex, int]:
    def bad(reason: str) -> AnnIndexUnreadable:
        return AnnIndexUnreadable(path, reason)

    raw = f.read(_PREFIX.size)
    if len(raw) < _PREFIX.size:
        raise bad(f"truncated ({size} bytes, shorter than the file prefix)")
    magic, fmt, header_len, header_sha = _PREFIX.unpack(raw)
    if magic != _MAGIC:
        raise bad("not an omnivec ANN index (bad magic)")
    if fmt != FORMAT_VERSION:
        raise bad(f"unknown format version {fmt} (this build reads {FORMAT_VERSION})")
    if header_len > _MAX_HEADER_BYTES or _PREFIX.size + header_len > size:
        raise bad("truncated or corrupt header length")
    header_bytes = f.read(header_len)
    if len(header_bytes) != header_len or hashlib.sha256(header_bytes).digest() != header_sha:
        raise bad("header checksum mismatch")
    try:
        header = json.loads(header_bytes)
        params = AnnParams.from_dict(header["params"])
        dim = _json_int(header["dim"], 1)
        version = _json_int(header["version"], 0)
        sections = header["sections"]
        n_index = _json_int(sections["index"], 0)
        n_ids = _json_int(sections["ids"], 0)
        n_tomb = _json_int(sections["tombstones"], 0)
        n_refine = _json_int(sections.get("refine", 0), 0)  # files before re-ranking lack it
        layout = header["layout"]
        payload_sha = header["payload_sha256"]
        stored = _json_int(header["stored"], 0)
    except (ValueError, KeyError, TypeError, InvalidInputError) as e:
        raise bad(f"malformed header: {e}") from None
    if header.get("format") != FORMAT_VERSION or header.get("kind") != params.kind.value:
        raise bad("header does not agree with the file prefix")
    if layout not in ("flat", "hnsw", "ivfpq") or n_ids % 8 or n_tomb % 8:
        raise bad("malformed header: bad layout or section sizes")
    if _PREFIX.size + header_len + n_index + n_ids + n_tomb + n_refine != size:
        raise bad(f"truncated or padded: {size} bytes on disk, header describes more or fewer")
    index_arr = np.frombuffer(f.read(n_index), dtype=np.uint8)
    ids_raw = f.read(n_ids)
    tomb_raw = f.read(n_tomb)
    refine_arr = np.frombuffer(f.read(n_refine), dtype=np.uint8)
    if (index_arr.size != n_index or len(ids_raw) != n_ids or len(tomb_raw) != n_tomb
            or refine_arr.size != n_refine):
        raise bad("truncated payload")
    digest = hashlib.sha256()
    for part in (index_arr.data, ids_raw, tomb_raw, refine_arr.data):
        digest.update(part)
    if digest.hexdigest() != payload_sha:
        raise bad("payload checksum mismatch")
    try:
        faiss_index = faiss.deserialize_index(index_arr)
    except RuntimeError as e:
        raise bad(f"FAISS cannot deserialize it: {e}") from None
    ids = np.frombuffer(ids_raw, dtype="<i8").astype(np.int64)
    tombstones = np.frombuffer(tomb_raw, dtype="<i8").astype(np.int64)

    try:
        check_index_shape(dim, params)
    except InvalidInputError as e:
        raise bad(f"inconsistent header: {e}") from None
    expected = _expected_types(layout, params.kind)
    if expected is None or not _matches(faiss_index, expected):
        raise bad(f"FAISS index type {type(faiss_index).__name__} does not match {layout}")
    if faiss_index.d != dim or faiss_index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise bad("FAISS index dim/metric does not match the header")
    if faiss_index.ntotal != ids.size or ids.size != stored:
        raise bad("stored id count does not match the FAISS index")
    if ids.size > 1 and not bool((ids[1:] > ids[:-1]).all()):
        raise bad("stored ids are not strictly increasing")
    if isinstance(faiss_index, faiss.IndexIDMap2):
        if not np.array_equal(np.sort(faiss.vector_to_array(faiss_index.id_map)), ids):
            raise bad("stored ids do not match the FAISS id map")
    if tombstones.size and (layout != "hnsw" or not np.isin(tombstones, ids).all()):
        raise bad("tombstones are not a subset of the stored ids")
    refine = _read_refine(refine_arr, layout, params, dim, ids, bad)
    return StoredIndex(dim, params, layout, faiss_index, ids, tombstones, refine), version


def _read_refine(
    raw: npt.NDArray[np.uint8], layout: str, params: AnnParams, dim: int, ids: I64,
    bad: Callable[[str], AnnIndexUnreadable],
) -> faiss.IndexIDMap2 | None:
    """The re-ranking copy, present exactly when a trained IVF-PQ asks for one."""
    wanted = layout == "ivfpq" and params.refine_factor > 0
    if not raw.size:
        if wanted:
            raise bad("the IVF-PQ's re-ranking copy is missing")
        return None
    if not wanted:
        raise bad(f"a re-ranking copy is stored, but a {layout} index with refine_factor "
                  f"{params.refine_factor} has none")
    try:
        refine = faiss.deserialize_index(raw)
    except RuntimeError as e:
        raise bad(f"FAISS cannot deserialize the re-ranking copy: {e}") from None
    if not isinstance(refine, faiss.IndexIDMap2) or not _matches(
        refine, (faiss.IndexIDMap2, faiss.IndexScalarQuantizer)
    ):
        raise bad(f"re-ranking copy is a {type(refine).__name__}, not an 8-bit scalar quantiser")
    if refine.d != dim or refine.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise bad("re-ranking copy dim/metric does not match the header")
    if not np.array_equal(np.sort(faiss.vector_to_array(refine.id_map)), ids):
        raise bad("re-ranking copy ids do not match the stored ids")
    return refine


def _expected_types(layout: str, kind: AnnKind) -> tuple[type[Any], type[Any] | None] | None:
    if layout == "flat" and kind in (AnnKind.FLAT, AnnKind.IVFPQ):
        return faiss.IndexIDMap2, faiss.IndexFlatIP
    if layout == "hnsw" and kind is AnnKind.HNSW:
        return faiss.IndexIDMap2, faiss.IndexHNSWFlat
    if layout == "ivfpq" and kind is AnnKind.IVFPQ:
        return faiss.IndexIVFPQ, None
    return None


def _matches(index: faiss.Index, expected: tuple[type[Any], type[Any] | None]) -> bool:
    outer, inner = expected
    if not isinstance(index, outer):
        return False
    if inner is None:
        return True
    assert isinstance(index, faiss.IndexIDMap2)
    return isinstance(faiss.downcast_index(index.index), inner)


def _json_int(value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"expected an int >= {minimum}, got {value!r}")
    return value
