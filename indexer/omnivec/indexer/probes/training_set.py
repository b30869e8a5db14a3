"""A probe's labelled examples as the matrix it is trained on: one vector per distinct example.

Each example is read by the rules of :mod:`.vectors` (stored items mean-pooled, media embedded or
matched to a stored item by content hash). Repeats of one example count once and one example under
two labels is an error; every example that cannot be read is listed in one precise error. What
``probe.json`` keeps about each example (:attr:`TrainingSet.refs`) is made here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from omnivec.indexer.errors import InvalidInputError, NotFoundError, OmnivecError
from omnivec.indexer.models import ModelHub
from omnivec.indexer.probes.examples import LabelledExample
from omnivec.indexer.probes.progress import ProgressCallback
from omnivec.indexer.probes.vectors import content_hash, input_vectors
from omnivec.indexer.store import Collection

__all__ = ["TrainingSet", "listed", "training_set"]

_MAX_LISTED = 20


def listed(values: Sequence[str]) -> str:
    """At most 20 values, quoted, then how many more."""
    shown = ", ".join(repr(v) for v in values[:_MAX_LISTED])
    more = len(values) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class TrainingSet:
    """The distinct examples: their vectors, labels, the stored items among them, and what the
    probe's record keeps about each."""

    X: np.ndarray  # (n, dim) float32
    labels: list[str]
    item_ids: frozenset[str]  # stored items among the examples (never "unlabelled")
    refs: list[dict[str, Any]]  # {"item_id"|"source"|"text"|"content_hash": ..., "label": ...}


def training_set(
    models: ModelHub,
    collection: Collection,
    space: str,
    examples: Sequence[LabelledExample],
    progress: ProgressCallback | None,
) -> TrainingSet:
    """Read ``examples`` in ``space``: one vector per distinct example."""
    vectors, resolved = input_vectors(models, collection, space, [ex.input for ex in examples], progress)
    unknown = [ex.input.item_id for ex, v in zip(examples, vectors)
               if isinstance(v, NotFoundError) and ex.input.item_id is not None]
    if unknown:
        raise NotFoundError(
            f"{len(unknown)} training item id(s) are not in collection {collection.name!r}: "
            f"{listed(list(dict.fromkeys(unknown)))}"
        )
    bad = [(ex, v) for ex, v in zip(examples, vectors) if isinstance(v, OmnivecError)]
    if bad:
        details = "; ".join(str(v) for _, v in bad[:_MAX_LISTED])
        more = f" (and {len(bad) - _MAX_LISTED} more)" if len(bad) > _MAX_LISTED else ""
        raise InvalidInputError(f"{len(bad)} training example(s) cannot be used: {details}{more}")

    # One vector per distinct example: duplicates are dropped, contradictions are errors.
    keys: dict[str, int] = {}
    rows: list[int] = []
    for i, ex in enumerate(examples):
        key = f"item:{resolved[i]}" if resolved[i] is not None else f"media:{ex.input.describe()}:{i}"
        if ex.input.media is not None and resolved[i] is None:
            digest = content_hash(ex.input.media)
            key = f"sha:{digest}" if digest else key
        if key in keys:
            first = keys[key]
            if examples[first].label != ex.label:
                raise InvalidInputError(
                    f"{ex.input.describe()} is labelled both {examples[first].label!r} and "
                    f"{ex.label!r}; give each example one label"
                )
            continue
        keys[key] = i
        rows.append(i)
    X = np.stack([vectors[i] for i in rows]).astype(np.float32)  # type: ignore[misc]
    y = [examples[i].label for i in rows]
    if len(set(y)) < 2:  # duplicates removed can only shrink classes, never empty one
        raise InvalidInputError("a probe needs at least 2 classes")

    example_refs: list[dict[str, Any]] = []
    for i in rows:
        ex = examples[i]
        ref: dict[str, Any] = {"label": ex.label}
        if resolved[i] is not None:
            ref["item_id"] = resolved[i]
        media = ex.input.media
        if media is not None:
            if media.path is not None:
                ref["source"] = str(media.path)
            elif media.text is not None:
                ref["text"] = media.text[:500]
            else:
                ref["source"] = media.name or "<bytes>"
            if "item_id" not in ref:
                ref["content_hash"] = content_hash(media)
        example_refs.append(ref)
    item_ids = frozenset(r for r in (resolved[i] for i in rows) if r is not None)
    return TrainingSet(X, y, item_ids, example_refs)
