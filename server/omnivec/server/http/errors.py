"""The one place where an error becomes an HTTP status and a JSON body.

The gRPC status still belongs to the error class (``grpc_status``, read by
:func:`omnivec.server.status.describe_error`, the function the gRPC servicers use too, so both
edges give the same message and the same INTERNAL reference logging). Only the step from gRPC
status to HTTP status lives here, the usual way (as grpc-gateway and Google's JSON APIs map it):

    INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE  -> 400
    UNAUTHENTICATED -> 401     PERMISSION_DENIED -> 403    NOT_FOUND -> 404
    ALREADY_EXISTS, ABORTED -> 409                        CANCELLED -> 499
    RESOURCE_EXHAUSTED -> 413 (a request or item too big), 429 (ServerBusyError: too many
                          requests in flight), 507 (StorageFullError: the disk is full)
    UNIMPLEMENTED -> 501   UNAVAILABLE -> 503   DEADLINE_EXCEEDED -> 504   others -> 500

Every error body is ``{"error": {"code": 404, "status": "NOT_FOUND", "message": "..."}}``; the
message says what was wrong and what to do, as over gRPC.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from omnivec.indexer.errors import StorageFullError
from omnivec.server.limits import ServerBusyError
from omnivec.server.status import describe_error

__all__ = ["HTTP_STATUS", "ErrorBody", "ErrorDetail", "error_response", "http_status_for",
           "install_error_handlers"]

HTTP_STATUS: dict[str, int] = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 413,
    "CANCELLED": 499,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
# HTTP statuses Starlette raises itself (unknown route, wrong method) -> the gRPC status name.
_STATUS_OF_HTTP = {404: "NOT_FOUND", 405: "UNIMPLEMENTED", 413: "RESOURCE_EXHAUSTED"}


class ErrorDetail(BaseModel):
    code: int
    status: str
    message: str


class ErrorBody(BaseModel):
    """What every failed request answers."""

    error: ErrorDetail


def http_status_for(exc: BaseException, status: str) -> int:
    if status == "RESOURCE_EXHAUSTED":
        if isinstance(exc, ServerBusyError):
            return 429
        if isinstance(exc, StorageFullError):
            return 507
    return HTTP_STATUS.get(status, 500)


def error_body(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "status": status, "message": message}}


def error_response(exc: BaseException, where: str) -> JSONResponse:
    """The response for any exception raised while serving ``where`` (a route's path)."""
    grpc_code, message = describe_error(exc, where)
    status = grpc_code.name
    code = http_status_for(exc, status)
    headers = {"www-authenticate": "Bearer"} if code == 401 else None
    return JSONResponse(error_body(code, status, message), status_code=code, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for err in exc.errors():
        location = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form"))
        problems.append(f"{location or 'request'}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(problems)


def install_error_handlers(app: FastAPI) -> None:
    """Every exception a route raises answers in the shape above."""

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(
            error_body(400, "INVALID_ARGUMENT", _validation_message(exc)), status_code=400
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = _STATUS_OF_HTTP.get(exc.status_code, "INVALID_ARGUMENT" if exc.status_code < 500 else "INTERNAL")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such route: {request.method} {request.url.path} (see /docs)"
        return JSONResponse(
            error_body(exc.status_code, status, message), status_code=exc.status_code,
            headers=exc.headers,
        )

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc, f"{request.method} {request.url.path}")

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_error)
