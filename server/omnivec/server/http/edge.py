"""What every HTTP request passes before a route: the same checks the gRPC server makes.

In this order, as one ASGI middleware:

1. **Auth.** With tokens configured, every path needs ``authorization: Bearer <token>`` (checked
   by the gRPC interceptor's :class:`~omnivec.server.auth.TokenChecker`, so the same tokens and
   the same words), except :data:`PUBLIC_PATHS`: the web app's static files, the API docs page
   and its assets, the OpenAPI document (it describes routes the web app's script names anyway,
   and holds no data), and the health check (like gRPC health). Refused: 401 before anything is
   read, so an unauthenticated client learns nothing, not even whether a collection exists.
2. **Concurrency.** At most ``server.max_concurrent_rpcs`` API requests in flight; more: 429.
3. **Body size.** A body over ``server.max_message_bytes`` (the gRPC message limit): 413, from
   the declared Content-Length before reading, or as soon as a streamed body passes the limit.
4. **Anything a route lets escape** becomes the error body of :mod:`omnivec.server.http.errors`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from omnivec.indexer.errors import UnauthenticatedError
from omnivec.server.auth import TokenChecker, bearer_token
from omnivec.server.http.errors import error_response
from omnivec.server.limits import RequestTooLargeError, ServerBusyError

__all__ = ["PUBLIC_PATHS", "PUBLIC_PREFIXES", "EdgeMiddleware", "is_public"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PATHS = frozenset({"/", "/index.html", "/favicon.ico", "/docs", "/openapi.json", "/healthz"})
PUBLIC_PREFIXES = ("/static/", "/docs-static/")


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: TokenChecker | None,
        max_body_bytes: int,
        max_in_flight: int,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.in_flight = 0  # one event loop: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        where = f"{scope.get('method', '')} {path}"
        headers = {k.lower(): v for k, v in scope.get("headers", ())}
        if self.tokens is not None and not is_public(path):
            refusal = self.tokens.refusal(bearer_token(headers.get(b"authorization")))
            if refusal is not None:
                await error_response(UnauthenticatedError(refusal), where)(scope, receive, send)
                return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await error_response(self._too_large(int(declared)), where)(scope, receive, send)
            return
        counted = not is_public(path)
        if counted and self.in_flight >= self.max_in_flight:
            busy = ServerBusyError(
                f"{self.in_flight} requests are in flight, the server's limit "
                f"(server.max_concurrent_rpcs); retry shortly"
            )
            await error_response(busy, where)(scope, receive, send)
            return
        if counted:
            self.in_flight += 1
        try:
            await self._guarded(scope, receive, send, where)
        finally:
            if counted:
                self.in_flight -= 1

    def _too_large(self, size: int | None) -> RequestTooLargeError:
        what = f"{size} bytes" if size is not None else "over the limit"
        return RequestTooLargeError(
            f"the request body is {what}; the server accepts at most {self.max_body_bytes} bytes "
            "(server.max_message_bytes): send fewer or smaller items per request"
        )

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, where: str) -> None:
        received = 0
        overflow: list[RequestTooLargeError] = []
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    overflow.append(self._too_large(None))
                    raise overflow[0]
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if overflow and not started:
                # Whatever the route made of the cut body (a parse error), the answer is 413.
                started = True
                await error_response(overflow[0], where)(scope, receive, send)
                return
            if overflow:
                return
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except Exception as exc:  # noqa: BLE001 - mapped to an error body right here
            if started:
                raise
            await error_response(overflow[0] if overflow else exc, where)(scope, receive, send)
