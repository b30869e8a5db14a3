"""Optional bearer-token authentication, enforced by a server interceptor.

Tokens come from ``server.tokens_file`` (one per line; blank lines and ``#`` comments ignored)
and/or the ``OMNIVEC_TOKENS`` environment variable (comma-separated). With neither, auth is off.
A configured file that is missing or holds no token is a startup error: a typo must not silently
open the server.

Every method needs ``authorization: Bearer <token>`` except the standard health service
(``grpc.health.v1.Health``), which load balancers and orchestrators call without credentials.
Server reflection does require a token (it describes the whole API); grpcurl passes one with
``-H 'authorization: Bearer TOKEN'``. Tokens are compared with :func:`hmac.compare_digest`
against every configured token, so the time taken reveals neither which token nor how much of it
matched.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import grpc

from omnivec.indexer.config import ServerSettings
from omnivec.indexer.errors import ConfigError
from omnivec.server.interceptors import rebuild_handler

__all__ = ["TOKENS_ENV", "BearerTokenInterceptor", "TokenChecker", "bearer_token", "load_tokens"]

TOKENS_ENV = "OMNIVEC_TOKENS"
UNAUTHENTICATED_PREFIXES = ("/grpc.health.v1.Health/",)


def load_tokens(settings: ServerSettings, environ: Mapping[str, str] | None = None) -> list[str]:
    """The accepted tokens; an empty list means auth is off."""
    env = os.environ if environ is None else environ
    tokens: list[str] = []
    if settings.tokens_file is not None:
        path = settings.tokens_file
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(
                f"server.tokens_file {path} cannot be read ({exc.strerror or exc}); "
                "create it with one token per line or unset it"
            ) from exc
        from_file = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if not from_file:
            raise ConfigError(f"server.tokens_file {path} holds no token; add one per line")
        tokens.extend(from_file)
    tokens.extend(t.strip() for t in env.get(TOKENS_ENV, "").split(",") if t.strip())
    for token in tokens:
        if any(c.isspace() for c in token):
            raise ConfigError("a bearer token contains whitespace; tokens are single words")
    return list(dict.fromkeys(tokens))


def bearer_token(header: str | bytes | None) -> str | None:
    """The token of an ``authorization`` value: None when there is none, "" when malformed."""
    if header is None:
        return None
    text = header.decode("utf-8", "replace") if isinstance(header, bytes) else str(header)
    scheme, _, token = text.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""
    return token.strip()


def _bearer(metadata: Sequence[tuple[str, Any]] | None) -> str | None:
    for key, value in metadata or ():
        if key.lower() == "authorization":
            return bearer_token(value)
    return None


class TokenChecker:
    """Checks bearer tokens against the configured ones; shared by the gRPC interceptor and the
    HTTP edge, so both accept and refuse the same requests with the same words."""

    def __init__(self, tokens: Sequence[str]) -> None:
        if not tokens:
            raise ValueError("TokenChecker needs at least one token")
        self._tokens = [t.encode("utf-8") for t in tokens]

    def _valid(self, token: str) -> bool:
        given = token.encode("utf-8")
        matched = False
        for accepted in self._tokens:  # no early exit: every token is compared every time
            matched |= hmac.compare_digest(accepted, given)
        return matched

    def refusal(self, token: str | None) -> str | None:
        """None when ``token`` (from :func:`bearer_token`) is accepted, else why it is not."""
        if token is not None and token and self._valid(token):
            return None
        if token is None:
            return (
                "missing credentials: this server requires an 'authorization: Bearer <token>' "
                "header (SDK: Client(..., token=...); CLI: --token or OMNIVEC_TOKEN)"
            )
        if not token:
            return "malformed authorization header: expected 'Bearer <token>'"
        return "invalid token: it matches none of the server's tokens"


class BearerTokenInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Rejects calls without a valid ``authorization: Bearer <token>`` with UNAUTHENTICATED."""

    def __init__(self, tokens: Sequence[str]) -> None:
        if not tokens:
            raise ValueError("BearerTokenInterceptor needs at least one token")
        self._checker = TokenChecker(tokens)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        if method.startswith(UNAUTHENTICATED_PREFIXES):
            return continuation(handler_call_details)
        message = self._checker.refusal(_bearer(handler_call_details.invocation_metadata))
        if message is None:
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None

        def deny(_behavior: Any, streaming: bool) -> Any:
            def abort(_request: Any, context: grpc.ServicerContext) -> Any:
                context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

            return abort

        return rebuild_handler(handler, deny)
