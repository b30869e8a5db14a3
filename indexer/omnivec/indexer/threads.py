"""Intra-op threads per forward pass, chosen by the kind of work (``torch_threads = 0``, auto).

Measured on a 2-core machine (bench ``fig1.threads`` and ``fig1.threads_by_work``): a large
MiniLM batch on an idle machine runs ~1.8x faster on 2 threads than on 1, but a single query on a
busy machine runs several times *slower* on 2 threads, because an OpenMP parallel region waits
for its slowest thread and a preempted thread stalls it. So:

- a batch of at least ``BULK_BATCH`` inputs (indexing, a merged batch of queries) gets every core
  this process may use, unless the machine is already busy (the 1-minute load average is above
  the core count: something else holds cores), then half of them;
- a smaller batch (a query) gets half the cores (at least 1): under concurrent load, queries
  leave cores to each other and to the rest of the server.

An explicit ``torch_threads`` is used for everything, as before. torch's intra-op pool is one per
process: the count is set right before each forward pass, under the encoder's own lock, and only
when it changes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from omnivec.indexer.config import Settings

__all__ = ["BULK_BATCH", "ThreadPolicy", "machine_busy", "usable_cores"]

BULK_BATCH = 16
"""Inputs in one forward pass from which the pass counts as bulk work."""

_set_lock = threading.Lock()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def machine_busy(cores: int) -> bool:
    """Whether other work already holds the cores: the 1-minute load average exceeds them."""
    try:
        return os.getloadavg()[0] > cores
    except OSError:  # no load average on this platform: assume idle
        return False


class ThreadPolicy:
    """The intra-op thread count for a forward pass over ``batch`` inputs (see module doc)."""

    def __init__(self, settings: Settings) -> None:
        self.fixed = settings.torch_threads  # 0: auto
        self.cores = usable_cores()

    @property
    def query_threads(self) -> int:
        return self.fixed or max(1, self.cores // 2)

    def threads_for(self, batch: int) -> int:
        if self.fixed:
            return self.fixed
        if batch >= BULK_BATCH:
            return self.query_threads if machine_busy(self.cores) else self.cores
        return self.query_threads

    @contextmanager
    def torch_threads(self, batch: int) -> Iterator[int]:
        """Sets torch's intra-op threads for one forward pass over ``batch`` inputs."""
        import torch

        wanted = self.threads_for(batch)
        if torch.get_num_threads() != wanted:
            with _set_lock:
                torch.set_num_threads(wanted)
        yield wanted
