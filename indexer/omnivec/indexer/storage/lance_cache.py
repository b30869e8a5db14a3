"""One bounded LanceDB cache per process, shared by every table it opens.

LanceDB keeps the metadata of each table version it reads (manifest, fragment list, deletion
files) and the indices it loads in a cache per connection, by default up to 1 GiB of metadata
and 6 GiB of indices. Every upsert and delete is a new version whose manifest lists every
fragment so far, so a server that writes all day caches ever bigger manifests for ever more
versions: in a 10-minute soak (600 commits) the server's memory grew by 6% in the second half,
and a plain LanceDB table with 1,600 small commits grows from 270 to 770 MiB. With the
metadata cache bounded it stays near 330 MiB (``tests/engine/test_lance_cache.py``).

The sizes are ``[storage] metadata_cache_mb`` and ``index_cache_mb``; every connection made with
the same sizes shares one cache, so the bound is the process's, not each collection's.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["shared_session"]

_lock = threading.Lock()
_sessions: dict[tuple[int, int], Any] = {}


def shared_session(metadata_cache_mb: int, index_cache_mb: int) -> Any:
    """The process's ``lancedb.Session`` with these cache sizes (made on first use)."""
    key = (metadata_cache_mb, index_cache_mb)
    with _lock:
        session = _sessions.get(key)
        if session is None:
            from omnivec.indexer.storage.lancedb_import import import_lancedb

            session = import_lancedb().Session(
                index_cache_size_bytes=index_cache_mb << 20,
                metadata_cache_size_bytes=metadata_cache_mb << 20,
            )
            _sessions[key] = session
        return session
