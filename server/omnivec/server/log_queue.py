"""Log records written by a thread of their own, not by the request threads.

The server logs a line per RPC (method, status, duration, peer). Written by the handler on the
request's own thread, that write sat between the answer and the reply: a syscall that releases
and re-takes the GIL, on a machine where other threads want it (profile of figure 2). Here the
request thread only formats and enqueues the record; a :class:`logging.handlers.QueueListener`
thread hands it to the handlers configured before (the same format, filters and stream).

The queue is bounded: if stderr stops being read (a full pipe), records beyond
:data:`MAX_QUEUED` are dropped and counted instead of blocking requests or growing memory
without end, and the count is logged once the writer catches up. :meth:`QueuedLogging.stop`
(called when the server stops) writes what is queued.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import threading

__all__ = ["MAX_QUEUED", "QueuedLogging", "log_off_the_request_path"]

MAX_QUEUED = 10_000


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    def __init__(self, records: queue.Queue[logging.LogRecord]) -> None:
        super().__init__(records)
        self.dropped = 0
        self._lock = threading.Lock()

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            with self._lock:
                self.dropped += 1
            return
        if self.dropped:  # the writer caught up: say what was lost
            with self._lock:
                dropped, self.dropped = self.dropped, 0
            if dropped:
                note = logging.LogRecord(
                    "omnivec.server", logging.WARNING, __file__, 0,
                    "%d log records dropped: stderr was not being read", (dropped,), None,
                )
                try:
                    self.queue.put_nowait(self.prepare(note))
                except queue.Full:
                    with self._lock:
                        self.dropped += dropped


class QueuedLogging:
    """The root logger's handlers moved behind a queue; :meth:`stop` puts them back."""

    def __init__(self, root: logging.Logger) -> None:
        self._root = root
        self._handlers = list(root.handlers)
        records: queue.Queue[logging.LogRecord] = queue.Queue(MAX_QUEUED)
        self.handler = _DroppingQueueHandler(records)
        self._listener = logging.handlers.QueueListener(
            records, *self._handlers, respect_handler_level=True
        )
        for handler in self._handlers:
            root.removeHandler(handler)
        root.addHandler(self.handler)
        self._listener.start()

    def stop(self) -> None:
        """Writes what is queued, then the handlers are the root logger's again."""
        self._root.removeHandler(self.handler)
        self._listener.stop()
        for handler in self._handlers:
            self._root.addHandler(handler)


def log_off_the_request_path(root: logging.Logger | None = None) -> QueuedLogging | None:
    """Moves ``root``'s handlers (the root logger's by default) behind a queue; None when it
    has none (nothing is written anyway) or they already are."""
    root = root or logging.getLogger()
    if not root.handlers or any(isinstance(h, logging.handlers.QueueHandler) for h in root.handlers):
        return None
    return QueuedLogging(root)
