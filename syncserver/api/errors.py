"""Every error leaves the API in the ``ErrorBody`` shape, FastAPI's and Starlette's own
included (a 405 with its ``Allow`` header, a 400 for a body that is not JSON), and a database
that is busy or unreachable is a 503 the client may retry, never a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from shared.protocol import ErrorBody, ErrorDetail
from syncserver.errors import ApiError
from syncserver.storage.database import DatabaseBusyError

__all__ = [
    "ERROR_HEADERS",
    "allowed_methods",
    "error_response",
    "install_error_handlers",
    "respond_error",
]

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    401: "unauthorized",
    403: "forbidden",
    413: "too_large",
    429: "rate_limited",
}

ERROR_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
"""On every JSON error, the 500s too (those are answered outside the middleware that adds
them to other API responses)."""

_UNREADABLE_BODY = (
    "the request body could not be read as JSON: send UTF-8 JSON with "
    "Content-Type: application/json"
)
_BUSY = "the database is busy or unreachable: retry in a few seconds"


def error_response(
    status: int, code: str, message: str, acked_seq: int | None = None, seq: int | None = None
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, acked_seq=acked_seq, seq=seq))
    headers = dict(ERROR_HEADERS)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _validation_message(error: RequestValidationError) -> str:
    problems = []
    for problem in error.errors()[:3]:
        where = ".".join(str(part) for part in problem.get("loc", ())) or "request"
        problems.append(f"{where}: {problem.get('msg', 'invalid')}")
    return "; ".join(problems) or "the request is not valid"


def respond_error(
    request: Request,
    status: int,
    code: str,
    message: str,
    acked_seq: int | None = None,
    seq: int | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> Response:
    """The JSON error shape for the API; the dashboard (when installed) renders its pages'
    errors as HTML with the same code and message."""
    is_page = getattr(request.app.state, "is_page", None)
    if is_page is not None and is_page(request):
        page_error: Callable[[Request, int, str, str], Response] = request.app.state.page_error
        response = page_error(request, status, code, message)
    else:
        response = error_response(status, code, message, acked_seq, seq)
    response.headers.update(headers or {})
    return response


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (Starlette's own 405 names only the
    first route's, and the API has GET and POST routes on one path)."""
    return sorted(_methods(request.app.router.routes, request.scope))


def _methods(routes: Iterable[BaseRoute], scope: Scope) -> set[str]:
    found: set[str] = set()
    for route in routes:
        # FastAPI keeps an included router whole (not its routes copied into the app's).
        included = getattr(getattr(route, "original_router", None), "routes", None)
        if included is not None:
            found |= _methods(included, scope)
            continue
        methods = getattr(route, "methods", None)
        if methods and route.matches(scope)[0] is not Match.NONE:
            found |= set(methods)
    return found


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> Response:
        return respond_error(
            request,
            error.status,
            error.code,
            error.message,
            error.acked_seq,
            error.seq,
            headers=error.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _malformed(request: Request, error: RequestValidationError) -> Response:
        return respond_error(request, 422, "malformed", _validation_message(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        status = error.status_code
        code = _HTTP_CODES.get(status, "http_error")
        message = str(error.detail)
        headers = dict(error.headers or {})
        if status == 400 and message == "There was an error parsing the body":
            message = _UNREADABLE_BODY
        elif status == 405:
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed here: use {' or '.join(allowed)}"
        return respond_error(request, status, code, message, headers=headers)

    @app.exception_handler(DatabaseBusyError)
    @app.exception_handler(sa_exc.OperationalError)
    @app.exception_handler(sa_exc.TimeoutError)
    async def _busy(request: Request, error: Exception) -> Response:
        # A lock that stayed taken, a full connection pool or a database that went away: the
        # same request may well succeed in a moment, so say so (503) rather than "bug" (500).
        log.warning("database busy or unreachable: %s", error)
        return respond_error(request, 503, "busy", _BUSY)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, error: ClientDisconnect) -> Response:
        # The caller hung up before its whole body arrived: nothing was read or stored, and
        # nobody waits for this answer. Not a server error (and no traceback in the log).
        log.info("%s %s: client disconnected mid-body", request.method, request.url.path)
        return respond_error(request, 400, "bad_request", "the request body ended early")

    @app.exception_handler(Exception)
    async def _internal(request: Request, error: Exception) -> Response:
        log.exception("unhandled error", exc_info=error)
        return respond_error(
            request, 500, "internal", "internal server error; the request may be retried"
        )
