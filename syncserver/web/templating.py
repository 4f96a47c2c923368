"""Jinja2 templates (autoescaped) and the one way pages render."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from syncserver.settings import as_utc
from syncserver.web.session import FLASH_COOKIE, WebSession, read_flash

__all__ = ["render", "templates"]

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _points(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _signed(value: int) -> str:
    return f"{value:+,}"


def _when(value: datetime | str | None) -> str:
    """UTC, to the minute: what staff compare with till receipts."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value.replace("T", " ")[:16] + " UTC" if value else "—"
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def _query(request: Request, **changes: Any) -> str:
    """This page's query string with some parameters changed (None removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else request.url.path


templates.env.filters["points"] = _points
templates.env.filters["signed"] = _signed
templates.env.filters["when"] = _when
templates.env.globals["query"] = _query


def render(
    request: Request,
    template: str,
    session: WebSession | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the signed-in user, CSRF token, nav and flash message."""
    flash = read_flash(request)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "session": session,
            "user": session.user if session else None,
            "csrf_token": session.csrf_token if session else "",
            "section": template.split("/")[0].split(".")[0],
            "flash": flash,
            **context,
        },
        status_code=status_code,
    )
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE)
    return response
