"""Turning exceptions into gRPC statuses: every servicer method is wrapped by :func:`rpc_method`.

The status belongs to the error class (``grpc_status``; see :mod:`omnivec.indexer.errors`), so
this module keeps no table of engine errors: deliberate errors keep their message, which already
says what was wrong and what to do. Anything else is a bug: the client gets INTERNAL with a short
message and a reference, the traceback goes to the server log only. No call ever ends with
UNKNOWN, the code gRPC uses for an exception that escapes a handler.

    OmnivecError and its subclasses              -> their grpc_status
    CallCancelledError (client went away)        -> CANCELLED (its grpc_status)
    CallDeadlineError (deadline passed)          -> DEADLINE_EXCEEDED (its grpc_status)
    grpc.RpcError from a request stream          -> CANCELLED (the client ended the stream)
    NotImplementedError (engine lacks a feature) -> UNIMPLEMENTED
    an object-store failure (storage_fault)      -> UNAVAILABLE, UNAUTHENTICATED, PERMISSION_DENIED
                                                    or FAILED_PRECONDITION, naming the bucket
    anything else                                -> INTERNAL
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import grpc

from omnivec.indexer.errors import OmnivecError
from omnivec.indexer.storage import storage_fault
from omnivec.server.limits import CallCancelledError, CallDeadlineError, call_scope

__all__ = ["abort_with", "describe_error", "rpc_method", "status_for"]

log = logging.getLogger("omnivec.server")

F = TypeVar("F", bound=Callable[..., Any])

def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and client-facing message for an exception."""
    if isinstance(exc, (OmnivecError, CallCancelledError, CallDeadlineError)):
        return grpc.StatusCode[exc.grpc_status], str(exc) or type(exc).__name__
    if isinstance(exc, grpc.RpcError):
        return grpc.StatusCode.CANCELLED, "the request stream was cancelled by the client"
    if isinstance(exc, NotImplementedError):
        return grpc.StatusCode.UNIMPLEMENTED, str(exc) or type(exc).__name__
    fault = storage_fault(exc)  # one the engine did not translate itself
    if fault is not None:
        return grpc.StatusCode[fault.grpc_status], str(fault)
    return grpc.StatusCode.INTERNAL, ""


def describe_error(exc: BaseException, method: str) -> tuple[grpc.StatusCode, str]:
    """The status and message a client gets for ``exc`` (gRPC and HTTP alike); an INTERNAL one
    is logged here with its traceback and a reference the message repeats."""
    code, message = status_for(exc)
    if code is grpc.StatusCode.INTERNAL:
        reference = uuid.uuid4().hex[:12]
        log.error(
            "internal error in %s (ref %s): %s: %s",
            method, reference, type(exc).__name__, exc, exc_info=exc,
        )
        message = (
            f"internal server error ({type(exc).__name__}, ref {reference}); "
            "the server log has the details"
        )
    return code, message


def abort_with(context: grpc.ServicerContext, exc: BaseException, method: str) -> NoReturn:
    """Ends the call with the status for ``exc`` (context.abort raises)."""
    code, message = describe_error(exc, method)
    context.abort(code, message)
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


def _already_aborted(context: grpc.ServicerContext) -> bool:
    # context.abort() raises a bare Exception after recording the status: let it through.
    code = context.code() if hasattr(context, "code") else None
    return code is not None and code is not grpc.StatusCode.OK


def rpc_method(fn: F) -> F:
    """Wraps a servicer method: sets the call scope (for cancellation checks) and maps every
    exception to a precise status. Works for plain and generator (streaming) methods."""
    name = fn.__qualname__

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(self: Any, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            with call_scope(context):
                try:
                    yield from fn(self, request, context)
                except GeneratorExit:
                    raise
                except BaseException as exc:  # noqa: BLE001 - mapped to a status right here
                    if isinstance(exc, (KeyboardInterrupt, SystemExit)) or _already_aborted(context):
                        raise
                    abort_with(context, exc, name)

        return stream  # type: ignore[return-value]

    @functools.wraps(fn)
    def unary(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        with call_scope(context):
            try:
                return fn(self, request, context)
            except BaseException as exc:  # noqa: BLE001 - mapped to a status right here
                if isinstance(exc, (KeyboardInterrupt, SystemExit)) or _already_aborted(context):
                    raise
                abort_with(context, exc, name)

    return unary  # type: ignore[return-value]
