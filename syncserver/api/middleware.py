"""What every request meets before any route, authentication or parsing, and what every
response leaves with.

``RequestGuard`` refuses, in the one error shape (HTML for dashboard pages):

* an address whose path or query string holds a NUL, raw or as ``%00`` (422): PostgreSQL
  can neither store nor compare a text with a NUL, so one check here keeps every text
  parameter of every route away from that;
* a body larger than its route takes (413, ``syncserver.api.limits``): by ``Content-Length``
  before a byte of it is read, and while a body without one (chunked) streams in, as soon as
  it passes the limit. Memory then stays bounded whoever sends what, signed in or not.

``ApiHeaders`` marks every JSON API response ``Cache-Control: no-store`` (members' personal
data must not be kept by browsers or proxies) and every response ``nosniff``.

Both are plain ASGI middleware (not ``BaseHTTPMiddleware``): bodies stream through them
unbuffered, and errors inside a route still reach the app's error handlers.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncserver.api.errors import respond_error
from syncserver.api.limits import body_limit, describe_bytes
from syncserver.api.params import parse_digits

__all__ = ["API_HEADERS", "ApiHeaders", "BodyTooLargeError", "RequestGuard", "has_nul"]

API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
"""On every response under /api/ (the error handlers add them to errors too)."""

_NUL_MESSAGE = (
    "the address holds a NUL character (%00), which no text here can contain: "
    "remove it from the path and query string"
)


def has_nul(scope: Scope) -> bool:
    """A NUL in the request's path or query string, decoded (``\\x00``) or not (``%00``)."""
    path = str(scope.get("path", ""))
    raw_path = bytes(scope.get("raw_path") or b"")
    query = bytes(scope.get("query_string") or b"")
    return "\x00" in path or any(b"\x00" in part or b"%00" in part for part in (raw_path, query))


def _too_large(limit: int) -> str:
    return (
        f"the request body is larger than this endpoint takes ({describe_bytes(limit)}): "
        "send less (a till splits its unsent entries into smaller pushes)"
    )


class BodyTooLargeError(HTTPException):
    """Raised from ``receive`` once a streamed body passes its limit. An HTTPException, so
    FastAPI's body reading passes it on (it turns other errors into a 400) and the app's
    handler answers 413 in the error shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=_too_large(limit))


class RequestGuard:
    """NUL addresses and oversized bodies are refused before the app sees the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        length = parse_digits(declared, 2**63) if declared is not None else None
        # A body is on its way unless the request says it has none.
        unread = bool(length) or "chunked" in headers.get("transfer-encoding", "").lower()
        if has_nul(scope):
            await _refuse(scope, receive, send, 422, "malformed", _NUL_MESSAGE, close=unread)
            return
        limit = body_limit(str(scope["method"]), str(scope["path"]))
        if length is not None and length > limit:
            # Not a byte of the body is read, and the connection closes after the reply.
            await _refuse(scope, receive, send, 413, "too_large", _too_large(limit), close=True)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received, unread
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                unread = bool(message.get("more_body", False))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if unread:
                    # Answered before the body was read (refused by its size, its token, …):
                    # close the connection rather than read the rest of it for nothing.
                    MutableHeaders(scope=message)["Connection"] = "close"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLargeError as error:
            # Read outside a route (no handler saw it): answer here unless a reply began.
            if started:
                raise
            await _refuse(scope, receive, send, 413, "too_large", str(error.detail), close=True)


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    message: str,
    *,
    close: bool = False,
) -> None:
    response = respond_error(Request(scope, receive), status, code, message)
    if close:
        response.headers["Connection"] = "close"
    await response(scope, receive, send)


class ApiHeaders:
    """``API_HEADERS`` on /api/ responses; ``nosniff`` on every other response (pages set
    their own headers too, in ``syncserver.web``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if api:
                    for name, value in API_HEADERS.items():
                        headers[name] = value
                elif "x-content-type-options" not in headers:
                    headers["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_with_headers)
