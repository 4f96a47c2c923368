"""Jinja2 templates (autoescaped) and the one way pages render.

Times: staff compare HQ's pages with receipts and with the clock on the shop wall, so a time
that belongs to a till — an entry, an exception it raised, its last contact — shows in its
store's time zone (``stores.timezone``), and any other time in the server's zone
(``ServerSettings.timezone``, ``LOYALTILL_SERVER_TIMEZONE``, default UTC). Every time is a
``<time>`` element whose ``title`` (the hover) is the same moment in UTC and whose
``datetime`` attribute is the exact UTC instant::

    {{ entry.occurred_at | when(terminal=entry.terminal_id) }}
    {{ posting.occurred_at | when(store=posting.till.store_id) }}
    {{ user.created_at | when }}

The store zones are read once per page, and only when the page shows a store's time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from sqlalchemy import select

from shared.journal import parse_utc
from syncserver.settings import as_utc
from syncserver.storage.database import Database
from syncserver.storage.schema import terminals
from syncserver.storage.stores import store_timezones
from syncserver.web.session import FLASH_COOKIE, WebSession, read_flash

__all__ = ["Clocks", "render", "templates"]

log = logging.getLogger(__name__)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _points(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _signed(value: int) -> str:
    return f"{value:+,}"


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None  # a store row with a zone this server's tz database lacks


class Clocks:
    """Which zone a time on this page is shown in: its store's, else the server's."""

    def __init__(self, database: Database | None, default_zone: str = "UTC") -> None:
        self._database = database
        self.default = _zone(default_zone) or ZoneInfo("UTC")
        self._stores: dict[str, ZoneInfo] | None = None
        self._terminals: dict[str, str] = {}

    def _load(self) -> dict[str, ZoneInfo]:
        if self._stores is None:
            self._stores = {}
            if self._database is not None:
                try:
                    with self._database.read() as conn:
                        zones = store_timezones(conn)
                        self._terminals = {
                            row.terminal_id: row.store_id
                            for row in conn.execute(
                                select(terminals.c.terminal_id, terminals.c.store_id)
                            )
                        }
                except Exception:  # a page still renders, in the server's zone
                    log.exception("could not read the stores' time zones")
                    zones = {}
                self._stores = {
                    store: zone for store, name in zones.items() if (zone := _zone(name))
                }
        return self._stores

    def zone(self, *, store: str | None = None, terminal: str | None = None) -> ZoneInfo:
        """The zone of ``store``, or of ``terminal``'s store; the server's for neither."""
        if store is None and terminal is None:
            return self.default
        zones = self._load()
        if store is None and terminal is not None:
            store = self._terminals.get(terminal)
        return zones.get(store or "", self.default)


def _moment(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return parse_utc(value)
        except ValueError:
            return None
    return as_utc(value)


def _clocks(context: Context) -> Clocks:
    clocks = context.get("clocks")
    return clocks if isinstance(clocks, Clocks) else Clocks(None)


def _local_and_utc(
    context: Context, value: datetime | str | None, store: str | None, terminal: str | None
) -> tuple[datetime, str, str] | None:
    moment = _moment(value)
    if moment is None:
        return None
    local = moment.astimezone(_clocks(context).zone(store=store, terminal=terminal))
    text = f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()
    return moment, text, f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


@pass_context
def _when(
    context: Context,
    value: datetime | str | None,
    store: str | None = None,
    terminal: str | None = None,
) -> Markup | str:
    """A time to the minute in its store's zone (or the server's), UTC on hover."""
    found = _local_and_utc(context, value, store, terminal)
    if found is None:
        return "—" if not value else str(value)
    moment, local, utc = found
    iso = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, utc, local)


@pass_context
def _when_text(
    context: Context,
    value: datetime | str | None,
    store: str | None = None,
    terminal: str | None = None,
) -> str:
    """The same as plain text (for an attribute): local time, then UTC in brackets."""
    found = _local_and_utc(context, value, store, terminal)
    if found is None:
        return "—"
    _, local, utc = found
    return local if local.endswith(" UTC") else f"{local} ({utc})"


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
templates.env.filters["when_text"] = _when_text
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
    state = request.app.state
    clocks = Clocks(
        getattr(state, "database", None),
        getattr(getattr(state, "settings", None), "timezone", "UTC"),
    )
    response = templates.TemplateResponse(
        request,
        template,
        {
            "clocks": clocks,
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
