"""Drive the real AsyncClient from synchronous test code, so one test body covers both clients.

``SyncFacade(AsyncClient(...))`` runs the client's coroutines on one background event loop
(lancedb's ``background_loop.py`` is the model) and turns its async iterators into plain
iterators. Nothing is faked: every call is the AsyncClient's own, on its own grpc.aio channel.
Breaking out of an iterator closes the async iterator on the loop, as ``async for`` followed by
``aclose()`` would, so early exit is exercised too.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from omnivec.client import AsyncClient

T = TypeVar("T")


class BackgroundLoop:
    """One event loop on a daemon thread; run() blocks the calling thread until a result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="async-client-loop")
        self._thread.daemon = True
        self._thread.start()

    def run(self, awaitable: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result()

    def iterate(self, stream: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self.run(stream.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                self.run(aclose())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class SyncFacade:
    """An AsyncClient seen through Client's synchronous surface (for tests only)."""

    def __init__(self, make_client: Callable[[], AsyncClient]) -> None:
        self._loop = BackgroundLoop()
        # grpc.aio binds a channel to the loop it is created on: create it there.
        self.client = self._loop.run(_on_loop(make_client))

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs a coroutine (e.g. a scenario using the AsyncClient directly) on the loop."""
        return self._loop.run(coroutine)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if inspect.isawaitable(result):
                return self._loop.run(result)
            if isinstance(result, AsyncIterator):
                return self._loop.iterate(result)
            return result

        return call

    def __enter__(self) -> SyncFacade:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._loop.run(self.client.close())
        finally:
            self._loop.stop()


async def _on_loop(make: Callable[[], T]) -> T:
    return make()
