"""The HQ dashboard: server-rendered pages (Jinja2, htmx for small live parts, Chart.js for
the overview chart), on the same app and database as the JSON API."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from syncserver.web.pages import (
    audit,
    exceptions,
    members,
    overview,
    program,
    signin,
    terminals,
    users,
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
    return render(request, "error.html", session, status, code=code, message=message)


def install_dashboard(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.state.page_error = page_error
    app.state.is_page = is_page
    for module in (signin, overview, members, exceptions, terminals, program, audit, users):
        app.include_router(module.router)
