"""One servicer per gRPC service; each translates with :mod:`omnivec.server.conversions`, calls the
engine, and lets :func:`omnivec.server.status.rpc_method` map errors to status codes."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from omnivec.indexer.config import ServerSettings
from omnivec.indexer.engine import Engine
from omnivec.server.limits import call_scope
from omnivec.server.metrics import ServerMetrics

__all__ = ["ServerDeps", "relay", "run_in_thread"]


@dataclass(frozen=True)
class ServerDeps:
    """What every servicer needs: the engine, the server's settings and its metrics."""

    engine: Engine
    settings: ServerSettings
    metrics: ServerMetrics


_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def run_in_thread(
    work: Callable[[], Any], out: queue.Queue[Any], context: grpc.ServicerContext, name: str
) -> threading.Thread:
    """Runs ``work`` on a thread that puts a _Failed on error and _DONE at the end."""

    def target() -> None:
        with call_scope(context):
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - re-raised on the handler thread
                out.put(_Failed(exc))
            finally:
                out.put(_DONE)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def relay(out: queue.Queue[Any]) -> Iterator[Any]:
    """Yields messages until _DONE, then raises the worker's error, if any."""
    error: BaseException | None = None
    while True:
        message = out.get()
        if message is _DONE:
            break
        if isinstance(message, _Failed):
            error = message.error
            continue
        yield message
    if error is not None:
        raise error
