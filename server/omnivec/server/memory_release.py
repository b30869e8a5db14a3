"""Hands memory that the server freed back to the operating system.

In the load soak (16 clients, ``tests/reliability/test_load_soak.py``) a server's resident memory
grew by about 1 MiB a second while the C heap it held (heaptrack) grew by a tenth of that. Most of
the rest was pyarrow's default memory pool, mimalloc: it keeps freed pages in a heap per thread,
and a server runs about a hundred threads (gRPC's, LanceDB's tokio workers). So:

- pyarrow's buffers come from the system allocator, unless ``ARROW_DEFAULT_MEMORY_POOL`` names a
  pool. pyarrow reads that variable once, when it is imported, so the command line sets it first
  (:func:`prefer_system_arrow_pool`, called by ``omnivec.cli``); a server started in process
  switches pyarrow's default pool when it starts (:func:`use_system_arrow_pool`), which covers
  fewer of pyarrow's allocations. The buffers omnivec builds are small (the rows of an upsert,
  the columns of a search hit); LanceDB's own scans and commits allocate in Rust.
- glibc keeps free chunks in the middle of its arenas, and raises its mmap threshold each time a
  large mmap'd block is freed (up to 32 MiB), after which large buffers fragment the arenas too.
  The server fixes the threshold (large blocks stay mmap'd and are unmapped on free) and calls
  ``malloc_trim(0)`` every ``[server] memory_trim_seconds``: since glibc 2.8 it walks every arena
  and returns each free page, in a few milliseconds for a heap of a few hundred MiB.

Figures (4-minute soak, second-half RSS growth): 13.6% with mimalloc, 5.1% with the system pool
(the variable), 7.4% with the pool switched in process only, 4.9% with the system pool and
trimming, whose peak RSS is also 100 MiB lower (README, Reliability). Without glibc (musl, macOS)
only the pool changes.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
from typing import Any

__all__ = ["MemoryRelease", "glibc", "prefer_system_arrow_pool", "use_system_arrow_pool"]

log = logging.getLogger("omnivec.server")

ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"
# mallopt parameter (malloc.h). Setting it turns off glibc's dynamic threshold.
M_MMAP_THRESHOLD = -3
# Blocks of this size or more are mmap'd and unmapped on free: glibc's own starting threshold.
MMAP_THRESHOLD_BYTES = 128 * 1024


def glibc() -> Any | None:
    """The C library when it is glibc with ``malloc_trim``, else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def prefer_system_arrow_pool() -> None:
    """Names the system pool in ``ARROW_DEFAULT_MEMORY_POOL`` unless it names one already; takes
    effect only if pyarrow is not imported yet."""
    os.environ.setdefault(ARROW_POOL_ENV, "system")


def use_system_arrow_pool() -> bool:
    """Makes the system allocator pyarrow's default pool, unless ``ARROW_DEFAULT_MEMORY_POOL``
    chose one; returns whether it did."""
    if os.environ.get(ARROW_POOL_ENV):
        return False
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    return True


class MemoryRelease:
    """The system pool for pyarrow, and a daemon thread that trims glibc's heaps every
    ``interval_s`` seconds until stopped (0: neither)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.trims = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._libc = glibc()

    @property
    def active(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self.interval_s <= 0 or self._thread is not None:
            return
        use_system_arrow_pool()
        if self._libc is None:
            return
        if not self._libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
            log.warning("mallopt(M_MMAP_THRESHOLD) refused; trimming only")
        self._thread = threading.Thread(target=self._run, name="omnivec-memory-trim", daemon=True)
        self._thread.start()

    def trim(self) -> float:
        """One ``malloc_trim(0)``; returns the seconds it took."""
        began = time.perf_counter()
        if self._libc is not None:
            self._libc.malloc_trim(0)
            self.trims += 1
        return time.perf_counter() - began

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            seconds = self.trim()
            if seconds > 0.1:
                log.info("malloc_trim took %.0f ms", seconds * 1000)
