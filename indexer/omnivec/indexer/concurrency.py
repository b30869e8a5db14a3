"""Small concurrency helpers shared by encoders, the ingest pipeline and the ANN index."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["Outcome", "ReadWriteLock", "prefetch_map"]

T = TypeVar("T")
R = TypeVar("R")

Outcome = tuple[T, "R | BaseException"]


def prefetch_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    executor: ThreadPoolExecutor,
    window: int,
) -> Iterator[tuple[T, R | BaseException]]:
    """Apply ``fn`` to items on worker threads, yielding ``(item, result_or_error)`` in input order.

    At most ``window`` items are in flight, so a consumer (the model thread) always finds work
    ready without the producer racing ahead and holding a whole folder of decoded images in
    memory. Errors are yielded, not raised, so one bad input never stops the stream.
    """
    pending: deque[tuple[T, Future[R]]] = deque()
    iterator = iter(items)
    exhausted = False
    while True:
        while not exhausted and len(pending) < window:
            try:
                item = next(iterator)
            except StopIteration:
                exhausted = True
                break
            pending.append((item, executor.submit(fn, item)))
        if not pending:
            return
        item, future = pending.popleft()
        try:
            yield item, future.result()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller per item
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            yield item, exc


class ReadWriteLock:
    """Many readers or one writer; writers are preferred so a stream of searches cannot starve
    an add. Not re-entrant: take it once per public call and do the work in helpers."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
