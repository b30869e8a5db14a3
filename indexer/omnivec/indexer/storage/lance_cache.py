"""Bounded LanceDB caches, one per opened data directory, shared by its collections.

LanceDB keeps the metadata of each table version it reads (manifest, fragment list, deletion
files, file footers) and the indices it loads in a cache per connection, by default up to 1 GiB
of metadata and 6 GiB of indices. Every upsert and delete is a new version whose manifest lists
every fragment so far, so a server that writes all day caches ever bigger manifests for ever more
versions (about 150 KB per version with a few hundred fragments): a plain LanceDB table with
1,600 small commits grows from 270 to 770 MiB; with the metadata cache bounded it stays near
330 MiB (``tests/engine/test_lance_cache.py`` checks the bound). It is one of the sources of a
busy server's memory growth, not the only one (README, Reliability).

The sizes are ``[storage] metadata_cache_mb`` and ``index_cache_mb``. A :class:`LanceCache`
belongs to one :func:`~omnivec.indexer.storage.open_data_root` (a server opens its data
directory once, so the bound is the server's); its collections share it. It is not shared further
on purpose: a cache outlives the files it read, so a data directory opened anew (after damage, a
restore, another process's repair) must read the files as they are now.
"""

from __future__ import annotations

import threading
from typing import Any

from omnivec.indexer.config import DEFAULT_INDEX_CACHE_MB, DEFAULT_METADATA_CACHE_MB

__all__ = ["LanceCache"]


class LanceCache:
    """A ``lancedb.Session`` with bounded caches, made on first use (importing lancedb costs a
    second; opening a data directory must not)."""

    def __init__(
        self,
        metadata_cache_mb: int = DEFAULT_METADATA_CACHE_MB,
        index_cache_mb: int = DEFAULT_INDEX_CACHE_MB,
    ) -> None:
        self.metadata_cache_mb = metadata_cache_mb
        self.index_cache_mb = index_cache_mb
        self._lock = threading.Lock()
        self._session: Any = None

    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                from omnivec.indexer.storage.lancedb_import import import_lancedb

                self._session = import_lancedb().Session(
                    index_cache_size_bytes=self.index_cache_mb << 20,
                    metadata_cache_size_bytes=self.metadata_cache_mb << 20,
                )
            return self._session

    @property
    def size_bytes(self) -> int:
        """What the caches hold now (0 before first use)."""
        session = self._session
        return 0 if session is None else int(session.size_bytes)

    # A session is this process's memory: a copy sent to another process (a Ray worker) keeps
    # the sizes and makes its own.
    def __getstate__(self) -> dict[str, int]:
        return {"metadata_cache_mb": self.metadata_cache_mb, "index_cache_mb": self.index_cache_mb}

    def __setstate__(self, state: dict[str, int]) -> None:
        self.__init__(state["metadata_cache_mb"], state["index_cache_mb"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return (f"LanceCache(metadata_cache_mb={self.metadata_cache_mb}, "
                f"index_cache_mb={self.index_cache_mb})")
