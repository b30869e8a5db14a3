"""The collection's items as one vector each, minus the ones a probe was trained on.

What a probe learns from beyond its labels (the unlabelled rows, :mod:`.unlabeled`) and what
``suggest`` ranks (:mod:`.suggestion`) are the same thing: every item of the collection in the
probe's space, mean-pooled like every other item a probe reads (:mod:`.vectors`), except its
labelled examples. Read through the public :meth:`Collection.row_vectors`.
"""

from __future__ import annotations

from collections.abc import Collection as Container
from dataclasses import dataclass

import numpy as np

from omnivec.indexer.probes.vectors import mean_pool
from omnivec.indexer.store import Collection

__all__ = ["ItemPool", "unlabeled_items"]


@dataclass(frozen=True)
class ItemPool:
    """Items of one space: ids, each item's first row id (to show it), pooled unit vectors."""

    item_ids: np.ndarray  # (n,) object
    first_rowids: np.ndarray  # (n,) int64: the lowest row id of each item
    vectors: np.ndarray  # (n, dim) float32
    total: int  # items there were before sampling


def unlabeled_items(
    collection: Collection,
    space: str,
    labelled: Container[str],
    *,
    cap: int | None = None,
    seed: int = 0,
) -> ItemPool:
    """The items of ``collection`` with a vector in ``space`` that are not in ``labelled``; at
    most ``cap`` of them (a sample seeded by ``seed``) when ``cap`` is given."""
    rows = collection.row_vectors(space)
    keep = np.ones(len(rows.item_ids), dtype=bool)
    if len(labelled):
        keep = ~np.isin(rows.item_ids, np.asarray(list(labelled), dtype=object))
    items = np.unique(rows.item_ids[keep])
    total = int(len(items))
    if cap is not None and total > cap:
        chosen = np.random.default_rng(seed).choice(items, cap, replace=False)
        keep &= np.isin(rows.item_ids, chosen)
    dim = collection.specs[space].dim
    if not keep.any():
        return ItemPool(
            np.zeros(0, dtype=object), np.zeros(0, np.int64), np.zeros((0, dim), np.float32), total
        )
    ids, inverse, pooled = mean_pool(rows.item_ids[keep], rows.vectors[keep])
    first = np.full(len(ids), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, inverse, rows.rowids[keep])
    return ItemPool(ids, first, pooled.astype(np.float32), total)
