"""Request limits and deadlines.

- Message size: gRPC itself refuses a message over ``max_message_bytes`` with RESOURCE_EXHAUSTED
  (the channel options below), before any handler runs.
- Concurrent RPCs: ``grpc.server(maximum_concurrent_rpcs=...)`` answers RESOURCE_EXHAUSTED once
  that many calls are in flight.
- Items per request: :func:`check_item_count` (unary lists) and the Upsert servicer (per stream).
- Deadlines and cancellation: each call's context is kept in a thread-local scope while its
  handler runs; :func:`check_call_active` raises when the client has gone or the deadline has
  passed. It is called between the stages of a request and by the batching encoder before and
  while a query waits for its batch, so a cancelled search stops instead of running to the end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from omnivec.indexer.config import ServerSettings
from omnivec.indexer.errors import ResourceExhaustedError

__all__ = [
    "MAX_QUERY_TEXT_BYTES",
    "MAX_UPLOAD_TEXT_BYTES",
    "CallCancelledError",
    "CallDeadlineError",
    "RequestTooLargeError",
    "ServerBusyError",
    "call_scope",
    "check_call_active",
    "check_item_count",
    "check_query_text",
    "current_context",
    "server_options",
    "text_size",
]

_scope = threading.local()

# Text sizes. A query text (Search, Embed, ZeroShotClassify, probe inputs) is read by encoders
# only up to their first few hundred tokens, but tokenising it costs time in proportion to its
# length (20 MB took ~50 s of CPU): over this size it is refused with RESOURCE_EXHAUSTED. An
# uploaded text item (Upsert) is chunked and embedded whole; over this size that item FAILS
# (its result says why) and the stream goes on.
MAX_QUERY_TEXT_BYTES = 1024 * 1024
MAX_UPLOAD_TEXT_BYTES = 8 * 1024 * 1024


class CallCancelledError(Exception):
    """The client cancelled the call (or the server is stopping it); the work is abandoned.

    Not an OmnivecError on purpose: code that reports a bad item and carries on catches those,
    and must not swallow a cancellation. The status still belongs to the class.
    """

    grpc_status: ClassVar[str] = "CANCELLED"


class CallDeadlineError(Exception):
    """The call's deadline passed before the work finished (not an OmnivecError: see above)."""

    grpc_status: ClassVar[str] = "DEADLINE_EXCEEDED"


class RequestTooLargeError(ResourceExhaustedError):
    """An HTTP request body over ``server.max_message_bytes`` (gRPC refuses such a message
    itself, before any handler runs)."""


class ServerBusyError(ResourceExhaustedError):
    """Too many HTTP requests in flight (``server.max_concurrent_rpcs``); retry later. gRPC
    answers the same RESOURCE_EXHAUSTED itself (``maximum_concurrent_rpcs``)."""


@contextmanager
def call_scope(context: Any) -> Iterator[None]:
    """Makes ``context`` the current call of this thread for the duration of the block."""
    previous = getattr(_scope, "context", None)
    _scope.context = context
    try:
        yield
    finally:
        _scope.context = previous


def current_context() -> Any:
    """The gRPC context of the call this thread is working for, or None outside a call."""
    return getattr(_scope, "context", None)


def check_call_active(context: Any = None) -> None:
    """Raises CallDeadlineError / CallCancelledError when the call should stop working."""
    context = context if context is not None else current_context()
    if context is None:
        return
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise CallDeadlineError("the call's deadline passed before the server finished")
    if not context.is_active():
        raise CallCancelledError("the call was cancelled")


def text_size(text: str, limit: int) -> int | None:
    """The UTF-8 size of ``text`` when it is over ``limit`` bytes, else None (cheaply)."""
    if len(text) * 4 <= limit:
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    return size if size > limit else None


def check_query_text(text: str, where: str) -> None:
    size = text_size(text, MAX_QUERY_TEXT_BYTES)
    if size is not None:
        raise ResourceExhaustedError(
            f"{where}: the text is {size} bytes, over the server's limit of "
            f"{MAX_QUERY_TEXT_BYTES} bytes for a query text (encoders read only its first few "
            "hundred tokens); send a shorter text"
        )


def check_item_count(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise ResourceExhaustedError(
            f"{what}: {count} items is over the server's limit of {limit} per request; "
            "split the request into smaller ones"
        )


def server_options(settings: ServerSettings) -> list[tuple[str, Any]]:
    """gRPC server options that enforce the message size limit both ways."""
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        # A restarted server must not share a port with a still-running one.
        ("grpc.so_reuseport", 0),
    ]
