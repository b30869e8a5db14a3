"""Progress of training: the callback type, a per-stage counter, and a thread-safe wrapper.

Shared by the C selection (:mod:`.selection`), which reports each fit, and the orchestration
(:mod:`.training`), which reports the final fit and runs two searches on two threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["ProgressCallback", "StageProgress", "locked_progress"]

# progress(stage, done, total): stage is a short human-readable phase name.
ProgressCallback = Callable[[str, int, int], None]


class StageProgress:
    """Counts the units of one stage and reports each step to an optional callback."""

    def __init__(self, cb: ProgressCallback | None, stage: str, total: int) -> None:
        self.cb, self.stage, self.total, self.done = cb, stage, max(total, 1), 0

    def step(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.total)
        if self.cb is not None:
            self.cb(self.stage, self.done, self.total)

    def finish(self) -> None:
        self.done = self.total
        if self.cb is not None:
            self.cb(self.stage, self.total, self.total)


def locked_progress(progress: ProgressCallback | None) -> ProgressCallback | None:
    """The callback behind a lock: the two C searches report from two threads."""
    if progress is None:
        return None
    lock = threading.Lock()
    report = progress

    def call(stage: str, done: int, total: int) -> None:
        with lock:
            report(stage, done, total)

    return call
