"""A collection's stored rows, keyed by (item id, chunk), and the comparison of two collections
that must hold the same items (the in-process indexer against the Ray pipeline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# Differ by construction between two runs: the row id is the order of commits, the time is when.
RUN_COLUMNS = frozenset({"rowid", "indexed_at"})


def stored_rows(
    data_dir: Path | str, name: str, storage: Any = None
) -> dict[tuple[str, int], dict[str, Any]]:
    """Every row of a collection by (item id, chunk); a duplicate row fails the call.
    ``data_dir`` may be an object-store URI, with ``storage`` (StorageSettings) to reach it."""
    from omnivec.indexer.store import Store

    store = Store(data_dir, storage=storage)
    try:
        rows = store.open(name).lance_table.to_arrow().to_pylist()
    finally:
        store.close()
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        key = (row["item_id"], row["chunk"])
        assert key not in out, f"duplicate row {key} in {name}"
        out[key] = row
    return out


def assert_same_rows(
    expected: dict[tuple[str, int], dict[str, Any]],
    actual: dict[tuple[str, int], dict[str, Any]],
    *,
    atol: float = 1e-5,
) -> None:
    """Same rows (every column but RUN_COLUMNS), vectors equal to ``atol``."""
    assert sorted(actual) == sorted(expected)
    for key, want in expected.items():
        got = actual[key]
        assert set(got) == set(want), key
        for column, value in want.items():
            if column in RUN_COLUMNS:
                continue
            if column.startswith("vec_"):
                assert (value is None) == (got[column] is None), (key, column)
                if value is not None:
                    gap = float(np.abs(np.asarray(value) - np.asarray(got[column])).max())
                    assert gap <= atol, f"{key} {column} differs by {gap}"
            else:
                assert got[column] == value, (key, column, value, got[column])
