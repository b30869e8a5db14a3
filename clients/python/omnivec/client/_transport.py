"""The gRPC plumbing under the clients: the only code that differs between Client and AsyncClient.

``Client`` (sync_client.py) is written once, against ``SyncTransport``; async_client.py is
generated from it by ``scripts/generate_async_client.py``, which swaps in ``AsyncTransport`` and
awaits exactly the methods that are coroutines here. So the two classes below keep the same
method names and parameters, and everything that can be shared lives in ``_Transport`` or in the
module-level helpers rather than in either class:

    method          SyncTransport                       AsyncTransport
    unary           blocking call -> response           coroutine -> response
    stream          Iterator over a server stream       AsyncIterator over a server stream
    upsert_results  Iterator over the Upsert stream     AsyncIterator; items sync or async
    to_list         list(stream)                        coroutine draining an async stream
    final_event     the report ending a progress stream coroutine, the same from an async stream
    close           closes the channel                  coroutine closing the channel

Every failed call raises an ``omnivec.client.errors`` class chained from the ``grpc.RpcError``.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
)
from typing import Any, Generic, TypeVar

import grpc
import grpc.aio

from omnivec.client import _conversions as conv
from omnivec.client._channel import Stubs, channel_options
from omnivec.client.auth import TlsOptions, bearer_metadata
from omnivec.client.errors import OmnivecClientError, error_from_rpc
from omnivec.client.types import UpsertItem, UpsertResult
from omnivec.v1 import indexing_pb2

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_STREAM_TIMEOUT_SECONDS = 3600.0

T = TypeVar("T")
ChannelT = TypeVar("ChannelT")


@contextlib.contextmanager
def _rpc_errors_translated() -> Iterator[None]:
    """Raises the client's error for a failed call, with the grpc.RpcError as its cause."""
    try:
        yield
    except grpc.RpcError as e:
        raise error_from_rpc(e) from e


class _Transport(ABC, Generic[ChannelT]):
    """Channel options, deadlines, metadata and stubs: the parts both flavours share."""

    def __init__(
        self,
        target: str,
        *,
        token: str | None,
        tls: TlsOptions | None,
        timeout: float,
        stream_timeout: float,
        retries: int,
        max_message_bytes: int,
    ) -> None:
        options = channel_options(retries, max_message_bytes)
        if tls is not None and tls.server_name_override:
            options.append(("grpc.ssl_target_name_override", tls.server_name_override))
        self._metadata = bearer_metadata(token)
        self._timeout = timeout
        self._stream_timeout = stream_timeout
        credentials = tls.channel_credentials() if tls is not None else None
        self._channel = self._open_channel(target, credentials, options)
        self.stubs = Stubs(self._channel)

    @staticmethod
    @abstractmethod
    def _open_channel(
        target: str, credentials: grpc.ChannelCredentials | None, options: list[tuple[str, Any]]
    ) -> ChannelT:
        """A secure channel when credentials are given, else an insecure one."""

    def _call_options(self, timeout: float | None, default: float) -> dict[str, Any]:
        return {"timeout": default if timeout is None else timeout, "metadata": self._metadata}

    @contextlib.contextmanager
    def _server_stream(self, method: Any, request: Any, timeout: float | None) -> Iterator[Any]:
        """A started streaming call (sync or aio alike), cancelled when the block is left."""
        call = method(request, **self._call_options(timeout, self._stream_timeout))
        try:
            with _rpc_errors_translated():
                yield call
        finally:
            # A caller that stops iterating early must not leave the server working.
            call.cancel()


class SyncTransport(_Transport[grpc.Channel]):
    """Blocking calls on a grpc channel."""

    @staticmethod
    def _open_channel(
        target: str, credentials: grpc.ChannelCredentials | None, options: list[tuple[str, Any]]
    ) -> grpc.Channel:
        if credentials is None:
            return grpc.insecure_channel(target, options=options)
        return grpc.secure_channel(target, credentials, options=options)

    def close(self) -> None:
        self._channel.close()

    def unary(self, method: Any, request: Any, timeout: float | None) -> Any:
        with _rpc_errors_translated():
            return method(request, **self._call_options(timeout, self._timeout))

    def stream(
        self, method: Any, request: Any, timeout: float | None, convert: Callable[[Any], T]
    ) -> Iterator[T]:
        with self._server_stream(method, request, timeout) as call:
            for message in call:
                yield convert(message)

    def upsert_results(
        self, method: Any, collection: str, items: Iterable[UpsertItem], timeout: float | None
    ) -> Iterator[UpsertResult]:
        pump = _RequestPump(items)
        # grpc consumes the request iterator on a thread of its own.
        requests = pump.capture_failure(conv.upsert_requests(collection, items))
        yield from self.stream(method, requests, timeout, conv.upsert_result_from_proto)
        pump.raise_if_failed()

    def to_list(self, stream: Iterable[T]) -> list[T]:
        return list(stream)

    def final_event(
        self, events: Iterable[Any], final: type[T], on_progress: Callable[[Any], None] | None
    ) -> T:
        for event in events:
            report = _report_or_progress(event, final, on_progress)
            if report is not None:
                return report
        raise _no_report(final)


class AsyncTransport(_Transport[grpc.aio.Channel]):
    """Coroutines and async iterators on a grpc.aio channel."""

    @staticmethod
    def _open_channel(
        target: str, credentials: grpc.ChannelCredentials | None, options: list[tuple[str, Any]]
    ) -> grpc.aio.Channel:
        if credentials is None:
            return grpc.aio.insecure_channel(target, options=options)
        return grpc.aio.secure_channel(target, credentials, options=options)

    async def close(self) -> None:
        await self._channel.close()

    async def unary(self, method: Any, request: Any, timeout: float | None) -> Any:
        with _rpc_errors_translated():
            return await method(request, **self._call_options(timeout, self._timeout))

    async def stream(
        self, method: Any, request: Any, timeout: float | None, convert: Callable[[Any], T]
    ) -> AsyncGenerator[T, None]:
        with self._server_stream(method, request, timeout) as call:
            async for message in call:
                yield convert(message)

    async def upsert_results(
        self,
        method: Any,
        collection: str,
        items: Iterable[UpsertItem] | AsyncIterable[UpsertItem],
        timeout: float | None,
    ) -> AsyncGenerator[UpsertResult, None]:
        pump = _RequestPump(items)
        # grpc.aio consumes the request iterator in a task of its own.
        requests = pump.capture_failure_async(_async_upsert_requests(collection, items))
        results = self.stream(method, requests, timeout, conv.upsert_result_from_proto)
        # Closed at once when the caller stops early (as `yield from` does for the sync one),
        # so the call is cancelled now rather than whenever the generator is collected.
        async with contextlib.aclosing(results):
            async for result in results:
                yield result
        pump.raise_if_failed()

    async def to_list(self, stream: AsyncIterable[T]) -> list[T]:
        return [x async for x in stream]

    async def final_event(
        self, events: AsyncIterable[Any], final: type[T], on_progress: Callable[[Any], None] | None
    ) -> T:
        async for event in events:
            report = _report_or_progress(event, final, on_progress)
            if report is not None:
                return report
        raise _no_report(final)


# --- upsert request streams ------------------------------------------------------------------


class _RequestPump:
    """Holds back the exception raised while producing upsert requests (a bad item).

    gRPC consumes the request stream on its own thread (or task) and turns an exception there
    into a bare CANCELLED status. Instead the stream just ends, the results already acknowledged
    still reach the caller, and raise_if_failed() then re-raises the item's own exception on the
    caller's side.
    """

    def __init__(self, items: Iterable[UpsertItem] | AsyncIterable[UpsertItem]) -> None:
        # Iterating a str or a lone item would fail less helpfully, at "position 0".
        if isinstance(items, (UpsertItem, str, bytes)):
            raise TypeError("items must be an iterable of UpsertItem; did you mean [item]?")
        self._error: Exception | None = None

    def capture_failure(self, requests: Iterable[T]) -> Iterator[T]:
        try:
            yield from requests
        except Exception as e:  # noqa: BLE001 - re-raised by raise_if_failed on the caller's side
            self._error = e

    async def capture_failure_async(self, requests: AsyncIterable[T]) -> AsyncIterator[T]:
        try:
            async for request in requests:
                yield request
        except Exception as e:  # noqa: BLE001 - re-raised by raise_if_failed on the caller's side
            self._error = e

    def raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error


async def _async_upsert_requests(
    collection: str, items: Iterable[UpsertItem] | AsyncIterable[UpsertItem]
) -> AsyncIterator[indexing_pb2.UpsertRequest]:
    """The async counterpart of conv.upsert_requests, over a sync or an async iterable."""
    if not isinstance(items, AsyncIterable):
        for request in conv.upsert_requests(collection, items):
            yield request
        return
    sequence = 0
    async for item in items:
        yield conv.upsert_request(collection, sequence, item)
        sequence += 1


# --- draining a progress stream (TrainProbe, Evaluate) ---------------------------------------


def _report_or_progress(
    event: Any, final: type[T], on_progress: Callable[[Any], None] | None
) -> T | None:
    """The report if ``event`` is the one ending the stream; else passes it to on_progress."""
    if isinstance(event, final):
        return event
    if on_progress is not None:
        on_progress(event)
    return None


def _no_report(final: type[Any]) -> OmnivecClientError:
    return OmnivecClientError(
        f"the server ended the stream without a {final.__name__}", code=grpc.StatusCode.UNKNOWN
    )
