"""Exceptions raised by the omnivec client, one per gRPC status code a caller may handle.

    OmnivecClientError          any failed call; `.code` is the grpc.StatusCode
     ├── InvalidArgument        INVALID_ARGUMENT, OUT_OF_RANGE; also raised before sending (a ValueError)
     ├── NotFound               NOT_FOUND: no such collection, item or probe
     ├── AlreadyExists          ALREADY_EXISTS: collection name or snapshot tag taken
     ├── FailedPrecondition     FAILED_PRECONDITION: e.g. encoder mismatch with the collection
     ├── ResourceExhausted      RESOURCE_EXHAUSTED: message too large, server busy
     ├── Unauthenticated        UNAUTHENTICATED: missing or wrong token
     ├── PermissionDenied       PERMISSION_DENIED: e.g. a path outside the server's index root
     ├── Unavailable            UNAVAILABLE: server down or unreachable (after retries)
     ├── DeadlineExceeded       DEADLINE_EXCEEDED: the call's timeout passed
     └── Unimplemented          UNIMPLEMENTED: the server does not offer this call

Other codes (INTERNAL, UNKNOWN, CANCELLED, ...) raise OmnivecClientError itself. Errors raised
from a failed call chain the grpc.RpcError as __cause__. Each class names its codes
(``default_code``, plus ``also_codes``); :func:`error_class_for` reads them from the classes, so
there is no separate table to keep in step.
"""

from __future__ import annotations

from typing import Any

import grpc


class OmnivecClientError(Exception):
    """Base of every error the client raises for a failed call."""

    default_code: Any = grpc.StatusCode.UNKNOWN
    also_codes: tuple[grpc.StatusCode, ...] = ()
    """Further codes that raise this class (OUT_OF_RANGE is an InvalidArgument too)."""

    def __init__(self, message: str, *, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code: grpc.StatusCode = code if code is not None else self.default_code

    def __str__(self) -> str:
        return f"{self.message} ({self.code.name})"


class InvalidArgument(OmnivecClientError, ValueError):
    default_code = grpc.StatusCode.INVALID_ARGUMENT
    also_codes = (grpc.StatusCode.OUT_OF_RANGE,)


class NotFound(OmnivecClientError):
    default_code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(OmnivecClientError):
    default_code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(OmnivecClientError):
    default_code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(OmnivecClientError):
    default_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unauthenticated(OmnivecClientError):
    default_code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(OmnivecClientError):
    default_code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(OmnivecClientError):
    default_code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(OmnivecClientError):
    default_code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unimplemented(OmnivecClientError):
    default_code = grpc.StatusCode.UNIMPLEMENTED


def error_class_for(code: grpc.StatusCode) -> type[OmnivecClientError]:
    """The exception class for a status code (OmnivecClientError for unmapped codes)."""
    for cls in OmnivecClientError.__subclasses__():
        if code is cls.default_code or code in cls.also_codes:
            return cls
    return OmnivecClientError


def error_from_rpc(error: grpc.RpcError) -> OmnivecClientError:
    """Translates a failed call (sync or grpc.aio) into the client's exception; the caller
    chains it with ``raise ... from error``."""
    code_of = getattr(error, "code", None)
    details_of = getattr(error, "details", None)
    code = code_of() if callable(code_of) else grpc.StatusCode.UNKNOWN
    details = details_of() if callable(details_of) else None
    # An empty details string (e.g. a bare abort) would print as "" - name the status instead.
    message = details if isinstance(details, str) and details else f"call failed: {code.name}"
    return error_class_for(code)(message, code=code)
