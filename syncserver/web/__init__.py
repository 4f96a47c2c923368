"""The HQ dashboard: server-rendered pages (Jinja2, htmx for small live parts, Chart.js for
the overview chart), on the same app and database as the JSON API."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncserver.settings import utc_now
from syncserver.web.forms import plain_form
from syncserver.web.pages import (
    audit,
    cashiers,
    entries,
    exceptions,
    giftcards,
    members,
    overview,
    program,
    signin,
    stores,
    terminals,
    users,
    vouchers,
)
from syncserver.web.session import current_session
from syncserver.web.templating import render

__all__ = ["install_dashboard", "is_page", "page_error"]

_NOT_PAGES = (
    "/api/",
    "/static/",
    "/static-offline-docs/",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/healthz",
)


def is_page(request: Request) -> bool:
    """Dashboard requests get HTML errors; the API and tools get the JSON error shape."""
    return not request.url.path.startswith(_NOT_PAGES)


def page_error(request: Request, status: int, code: str, message: str) -> Response:
    if code == "sign_in_required":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)
    session = None
    if status != 500:
        try:
            database = request.app.state.database
            session = current_session(request, database)
        except Exception:  # the error page must render whatever else went wrong
            session = None
    # "Back" without script (the page's CSP allows none inline): the page the user came from,
    # when it is one of ours.
    referer = request.headers.get("referer", "")
    origin = f"{request.url.scheme}://{request.url.netloc}/"
    back = referer if referer.startswith(origin) else "/"
    at = utc_now().strftime("%Y-%m-%d %H:%M:%S UTC")
    return render(
        request, "error.html", session, status, code=code, message=message, back=back, at=at
    )


# Scripts only from this server (htmx, Chart.js, our static files): an injected <script> in a
# member's name could not run even if escaping ever failed. No framing (clickjacking), forms
# post only here.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show members' personal data: never kept in shared browser or proxy caches.
    "Cache-Control": "no-store",
}


class PageHeaders:
    """Adds ``_PAGE_HEADERS`` to dashboard responses. Plain ASGI (not BaseHTTPMiddleware), so
    an error inside a page still reaches the error handlers and the browser gets the 500
    page, and streaming responses are not buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(_NOT_PAGES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _PAGE_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_dashboard(app: FastAPI) -> None:
    app.add_middleware(PageHeaders)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.state.page_error = page_error
    app.state.is_page = is_page
    for module in (
        signin,
        overview,
        members,
        vouchers,
        giftcards,
        entries,
        exceptions,
        terminals,
        cashiers,
        stores,
        program,
        audit,
        users,
    ):
        # Every form, whichever page it posts to, holds printable text only (web/forms.py).
        app.include_router(module.router, dependencies=[Depends(plain_form)])
