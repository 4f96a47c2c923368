"""Every error leaves the API in the ``ErrorBody`` shape, FastAPI's own included."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.protocol import ErrorBody, ErrorDetail
from syncserver.errors import ApiError

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger(__name__)

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    401: "unauthorized",
    403: "forbidden",
    429: "rate_limited",
}


def error_response(
    status: int, code: str, message: str, acked_seq: int | None = None
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, acked_seq=acked_seq))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _validation_message(error: RequestValidationError) -> str:
    problems = []
    for problem in error.errors()[:3]:
        where = ".".join(str(part) for part in problem.get("loc", ())) or "request"
        problems.append(f"{where}: {problem.get('msg', 'invalid')}")
    return "; ".join(problems) or "the request is not valid"


def _respond(
    request: Request, status: int, code: str, message: str, acked_seq: int | None = None
) -> Response:
    """The JSON error shape for the API; the dashboard (when installed) renders its pages'
    errors as HTML with the same code and message."""
    is_page = getattr(request.app.state, "is_page", None)
    if is_page is not None and is_page(request):
        page_error: Callable[[Request, int, str, str], Response] = request.app.state.page_error
        return page_error(request, status, code, message)
    return error_response(status, code, message, acked_seq)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> Response:
        return _respond(request, error.status, error.code, error.message, error.acked_seq)

    @app.exception_handler(RequestValidationError)
    async def _malformed(request: Request, error: RequestValidationError) -> Response:
        return _respond(request, 422, "malformed", _validation_message(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(error.status_code, "http_error")
        return _respond(request, error.status_code, code, str(error.detail))

    @app.exception_handler(Exception)
    async def _internal(request: Request, error: Exception) -> Response:
        log.exception("unhandled error", exc_info=error)
        return _respond(
            request, 500, "internal", "internal server error; the request may be retried"
        )
