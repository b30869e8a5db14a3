"""The vectors a probe reads, one per input, and the space a training set is read in.

- **Stored items** (by id) use their stored vectors, **mean-pooled** (:data:`ITEM_POOLING`): an
  item's chunk vectors in the space are averaged and renormalised, so a long document or
  transcript is represented by all of it rather than by its first chunk.
- **Inline media** are embedded on the fly in the space (:func:`omnivec.indexer.classify.embed_media`,
  chunked and pooled the same way); media whose exact bytes are stored in the collection (same
  content hash, :func:`content_hash`) reuse the stored vectors and resolve to that item's id.

Training, Classify and ClassifyCollection all read vectors by these rules; the collection is read
through public :class:`~omnivec.indexer.store.Collection` methods.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from omnivec.indexer.classify import MediaInput, embed_media
from omnivec.indexer.errors import InvalidInputError, NotFoundError, OmnivecError
from omnivec.indexer.ingest import content_id
from omnivec.indexer.media import MediaKind
from omnivec.indexer.models import EMBEDDING_SPACES, ModelHub
from omnivec.indexer.probes.examples import LabelledExample, ProbeInput
from omnivec.indexer.probes.progress import ProgressCallback
from omnivec.indexer.store import Collection

__all__ = ["ITEM_POOLING", "content_hash", "input_vectors", "mean_pool", "training_space"]

ITEM_POOLING = "mean"
# Both spaces and no media among the examples: the space is picked from this many item ids.
_SPACE_SAMPLE = 500


def mean_pool(keys: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique keys, each row's index into them, and the renormalised mean of each key's rows
    (:data:`ITEM_POOLING`), float64."""
    uniq, inverse = np.unique(keys, return_inverse=True)
    sums = np.zeros((len(uniq), matrix.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, matrix.astype(np.float64))
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    norms[norms <= 1e-12] = 1.0
    return uniq, inverse, sums / norms


def content_hash(media: MediaInput) -> str | None:
    """The indexer's content id of media (sha256 of the bytes, first 32 hex digits)."""
    try:
        if media.text is not None:
            raw = media.text.encode("utf-8")
        elif media.data is not None:
            raw = media.data
        else:
            assert media.path is not None
            raw = media.path.read_bytes()
    except OSError:
        return None  # the embedding step reports the unreadable file precisely
    return content_id(raw) if raw else None


def _stored_item_vectors(
    collection: Collection, space: str, item_ids: Sequence[str]
) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    """Mean-pooled stored vectors of ``item_ids`` -> (found, unknown ids, ids with no vector
    in ``space``)."""
    wanted = list(dict.fromkeys(item_ids))
    if not wanted:
        return {}, [], []
    rows = collection.row_vectors(space, wanted)
    with_vec = set(rows.item_ids.tolist())
    unknown = [i for i in wanted if i not in with_vec and i not in rows.items_without_vector]
    found: dict[str, np.ndarray] = {}
    if len(rows.item_ids):
        uniq, _, pooled = mean_pool(rows.item_ids, rows.vectors)
        found = {str(k): v for k, v in zip(uniq, pooled.astype(np.float32))}
    return found, unknown, sorted(rows.items_without_vector)


def input_vectors(
    models: ModelHub,
    collection: Collection,
    space: str,
    inputs: Sequence[ProbeInput],
    progress: ProgressCallback | None = None,
) -> tuple[list[np.ndarray | OmnivecError], list[str | None]]:
    """One vector (or error) per input, and the item id each input resolved to."""
    total = len(inputs)
    out: list[np.ndarray | OmnivecError] = [InvalidInputError("not resolved")] * total
    resolved: list[str | None] = [None] * total
    hashes: dict[int, str | None] = {}
    for i, inp in enumerate(inputs):
        if inp.item_id is not None:
            resolved[i] = inp.item_id
        else:
            assert inp.media is not None
            hashes[i] = content_hash(inp.media)
    by_hash = collection.items_by_content_hash([h for h in hashes.values() if h], space)
    for i, digest in hashes.items():
        if digest is not None and digest in by_hash:
            resolved[i] = by_hash[digest]
    found, unknown, no_vector = _stored_item_vectors(
        collection, space, [r for r in resolved if r is not None]
    )
    done = 0
    for i, item_id in enumerate(resolved):
        if item_id is None:
            continue
        if item_id in found:
            out[i] = found[item_id]
        elif item_id in no_vector:
            out[i] = InvalidInputError(
                f"item {item_id!r} has no vector in the {space!r} space (images are only "
                "embedded in clip)"
            )
        else:
            out[i] = NotFoundError(f"item {item_id!r} is not in collection {collection.name!r}")
        done += 1
    if progress is not None:
        progress("embed", done, total)
    pending = [i for i in range(total) if resolved[i] is None]
    step = max(1, int(getattr(models.embedder(space), "batch_size", 32))) if pending else 1
    for start in range(0, len(pending), step):
        batch = pending[start : start + step]
        results = embed_media(models, space, [inputs[i].media for i in batch])  # type: ignore[misc]
        for i, result in zip(batch, results):
            out[i] = result
        done += len(batch)
        if progress is not None:
            progress("embed", done, total)
    return out, resolved


def training_space(collection: Collection, space: str | None, examples: Sequence[LabelledExample]) -> str:
    """The space a training set is read in: ``space`` when given (checked), else the collection's
    only space, else ``clip`` when an example is an image, else ``text``."""
    if space:
        if space not in EMBEDDING_SPACES:
            raise InvalidInputError(f"unknown space {space!r}; use one of: {', '.join(EMBEDDING_SPACES)}")
        if space not in collection.specs:
            raise InvalidInputError(
                f"collection {collection.name!r} has no {space!r} space (it has: "
                f"{', '.join(collection.spaces)})"
            )
        return space
    if len(collection.spaces) == 1:
        return collection.spaces[0]
    # Both spaces: images force clip; otherwise texts/transcripts are best in the text space.
    for ex in examples:
        media = ex.input.media
        if media is not None:
            try:
                if media.kind() is MediaKind.IMAGE:
                    return "clip"
            except OmnivecError:
                pass
    item_ids = [ex.input.item_id for ex in examples if ex.input.item_id is not None]
    if item_ids and collection.any_image(item_ids[:_SPACE_SAMPLE]):
        return "clip"
    return "text" if "text" in collection.specs else "clip"
