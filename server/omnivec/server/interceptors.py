"""Server interceptors that observe every call: one structured log line per request and the
request metrics. Authentication lives in :mod:`omnivec.server.auth`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from omnivec.server.metrics import ServerMetrics

__all__ = ["MalformedRequestInterceptor", "RequestLogInterceptor", "rebuild_handler"]

log = logging.getLogger("omnivec.server.requests")

Behavior = Callable[[Any, grpc.ServicerContext], Any]


def rebuild_handler(
    handler: grpc.RpcMethodHandler,
    wrap: Callable[[Behavior, bool], Behavior],
    request_deserializer: Callable[[bytes], Any] | None = None,
) -> grpc.RpcMethodHandler:
    """A handler of the same kind as ``handler`` whose behaviour is ``wrap(behaviour,
    response_streaming)`` (and, if given, whose requests are read by ``request_deserializer``)."""
    if handler.request_streaming and handler.response_streaming:
        factory: Any = grpc.stream_stream_rpc_method_handler
        behavior = handler.stream_stream
    elif handler.request_streaming:
        factory, behavior = grpc.stream_unary_rpc_method_handler, handler.stream_unary
    elif handler.response_streaming:
        factory, behavior = grpc.unary_stream_rpc_method_handler, handler.unary_stream
    else:
        factory, behavior = grpc.unary_unary_rpc_method_handler, handler.unary_unary
    new_handler: grpc.RpcMethodHandler = factory(
        wrap(behavior, handler.response_streaming),
        request_deserializer=request_deserializer or handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
    return new_handler


def _code_name(context: grpc.ServicerContext, failed: bool) -> str:
    code = context.code()
    if code is None:
        # No status set: the handler returned normally (OK) or raised past every mapping,
        # which gRPC reports as UNKNOWN.
        return "UNKNOWN" if failed else "OK"
    return str(code.name)


class RequestLogInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Logs ``rpc method=... code=... duration_ms=... peer=...`` once per call and records the
    request counter and latency histogram. Streaming calls are measured until the stream ends."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics

    def _record(self, method: str, code: str, started: float, context: grpc.ServicerContext) -> None:
        seconds = time.perf_counter() - started
        self._metrics.observe_request(method, code, seconds)
        log.info(
            "rpc method=%s code=%s duration_ms=%.1f peer=%s",
            method, code, seconds * 1000.0, context.peer(),
            extra={"rpc_method": method, "rpc_code": code, "duration_ms": seconds * 1000.0,
                   "peer": context.peer()},
        )

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method

        def wrap(behavior: Behavior, streaming: bool) -> Behavior:
            if streaming:

                def streamed(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                    started = time.perf_counter()
                    failed = False
                    try:
                        yield from behavior(request, context)
                    except GeneratorExit:
                        raise
                    except BaseException:
                        failed = True
                        raise
                    finally:
                        code = _code_name(context, failed)
                        if not failed and code == "OK" and not context.is_active():
                            code = "CANCELLED"
                        self._record(method, code, started, context)

                return streamed

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                started = time.perf_counter()
                failed = False
                try:
                    return behavior(request, context)
                except BaseException:
                    failed = True
                    raise
                finally:
                    self._record(method, _code_name(context, failed), started, context)

            return unary

        return rebuild_handler(handler, wrap)


class _Malformed:
    """Stands in for a request whose bytes are not a valid message of the method's type."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def message(self, method: str) -> str:
        return (
            f"the request to {method} is not a valid protobuf message ({self.reason}); "
            "send a message of the method's request type"
        )


class MalformedRequestInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Answers INVALID_ARGUMENT to request bytes that do not parse (garbage, or nesting past
    protobuf's recursion limit) instead of gRPC's own INTERNAL "Exception deserializing request!"
    (which, on a request stream, also left the server unable to shut down). Register it last, so
    the other interceptors' handlers keep its tolerant deserializer."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        method = handler_call_details.method
        deserialize = handler.request_deserializer

        def tolerant(data: bytes) -> Any:
            try:
                return deserialize(data)
            except Exception as exc:  # noqa: BLE001 - answered as INVALID_ARGUMENT below
                return _Malformed(f"{type(exc).__name__}: {exc}")

        def wrap(behavior: Behavior, _streaming: bool) -> Behavior:
            if handler.request_streaming:

                def checked_stream(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
                    def checked() -> Iterator[Any]:
                        for request in requests:
                            if isinstance(request, _Malformed):
                                from omnivec.indexer.errors import InvalidInputError

                                raise InvalidInputError(request.message(method))
                            yield request

                    return behavior(checked(), context)

                return checked_stream

            def checked_unary(request: Any, context: grpc.ServicerContext) -> Any:
                if isinstance(request, _Malformed):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message(method))
                return behavior(request, context)

            return checked_unary

        return rebuild_handler(handler, wrap, request_deserializer=tolerant)
