"""Small concurrency helpers shared by encoders and the ingest pipeline."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["Outcome", "prefetch_map"]

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
