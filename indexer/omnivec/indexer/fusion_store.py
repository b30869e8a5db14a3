"""The fusion weights stored with a collection: the object ``fusion.json`` in its folder or URI.

``omnivec eval --tune`` writes them; every search without weights of its own reads them. The
file holds the weights, the routing flag and how they were chosen::

    {"format": 1, "weights": {"clip": 0.0, "text": 1.0, "keyword": 0.5},
     "route_by_modality": false,
     "tuned": {"objective": "ndcg@10", "folds": 5, "queries": 2800, "at": 1764500000.0}}

It is replaced atomically (a reader sees the old or the new object). On a local disk it is
cached by modification time and size, so a search pays a ``stat`` for it and a server sees
weights tuned by another process at its next search. On an object store a read is a request, so
the cached weights are re-read at most every ``read_consistency_seconds`` (the staleness a
replica already accepts for rows; 1 s by default), never on every search.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

from omnivec.client.types import Fusion
from omnivec.indexer.errors import CorruptDataError
from omnivec.indexer.storage import DataRoot

__all__ = ["FUSION_FILE", "load_fusion", "save_fusion"]

FUSION_FILE = "fusion.json"
FORMAT = 1

# uri -> (freshness key, weights or None). The key is (mtime_ns, size) locally, and the
# monotonic time of the read on an object store.
_cache: dict[str, tuple[tuple[float, ...], Fusion | None]] = {}
_cache_lock = threading.Lock()
DEFAULT_OBJECT_STORE_SECONDS = 1.0


class _HasRoot(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def root(self) -> DataRoot: ...


def load_fusion(collection: _HasRoot) -> Fusion | None:
    """The collection's stored fusion, or None when none was stored."""
    root = collection.root
    uri = f"{root.uri.rstrip('/')}/{FUSION_FILE}"
    local = root.local_path
    if local is not None:
        try:
            stat = os.stat(local / FUSION_FILE)
        except FileNotFoundError:
            return None
        key: tuple[float, ...] = (stat.st_mtime_ns, stat.st_size)
        with _cache_lock:
            cached = _cache.get(uri)
            if cached is not None and cached[0] == key:
                return cached[1]
    else:
        now = time.monotonic()
        seconds = root.read_consistency_seconds
        ttl = DEFAULT_OBJECT_STORE_SECONDS if seconds is None else seconds
        with _cache_lock:
            cached = _cache.get(uri)
            if cached is not None and now - cached[0][0] < ttl:
                return cached[1]
        key = (now,)
    try:
        data = json.loads(root.objects.read(FUSION_FILE))
        fusion: Fusion | None = _fusion_from_json(data)
    except FileNotFoundError:
        fusion = None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise CorruptDataError(
            f"the stored fusion weights of collection {collection.name!r} ({uri}) cannot be "
            f"read ({exc}); delete that object to search with equal weights, or run "
            "`omnivec eval --tune` again"
        ) from exc
    with _cache_lock:
        _cache[uri] = (key, fusion)
    return fusion


def _fusion_from_json(data: Any) -> Fusion:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a format-{FORMAT} fusion file")
    weights = data["weights"]
    if not isinstance(weights, dict):
        raise ValueError("weights is not an object")
    checked: dict[str, float] = {}
    for name, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ValueError(f"weight of {name!r} is not a number")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight of {name!r} is {weight}")
        checked[str(name)] = float(weight)
    return Fusion(checked, bool(data.get("route_by_modality", False)))


def save_fusion(
    collection: _HasRoot, fusion: Fusion, provenance: Mapping[str, Any] | None = None
) -> None:
    """Store ``fusion`` with the collection (atomically), with how it was chosen."""
    data = {
        "format": FORMAT,
        "weights": {name: float(w) for name, w in sorted(fusion.weights.items())},
        "route_by_modality": fusion.route_by_modality,
        "tuned": {**(provenance or {}), "at": time.time()},
    }
    root = collection.root
    root.objects.write(FUSION_FILE, [json.dumps(data, indent=2).encode()])
    with _cache_lock:  # this process sees its own write at once, on any store
        _cache.pop(f"{root.uri.rstrip('/')}/{FUSION_FILE}", None)
