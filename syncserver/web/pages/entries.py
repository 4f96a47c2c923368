"""Dashboard: one till journal entry as HQ stored it — the receipt behind a posting."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from shared.money import Money
from syncserver.api.deps import DatabaseDep
from syncserver.api.params import SeqPath, TerminalIdPath
from syncserver.errors import NotFoundError
from syncserver.hq.entries import entry_view
from syncserver.web.session import ViewerPage
from syncserver.web.templating import render

router = APIRouter(include_in_schema=False)


def money(minor: object, currency: object) -> str:
    """Minor units as the receipt shows them ("€12.34"); the raw number if it cannot be."""
    if not isinstance(minor, int) or isinstance(minor, bool):
        return "—"
    try:
        return Money(minor, str(currency)).format()
    except (ValueError, TypeError, KeyError):
        unit = f" {currency}" if currency else ""
        return f"{minor:,}{unit} (minor units)"


def utc_offset(minutes: object) -> str | None:
    """The store's clock as "UTC+1" or "UTC-5:30"."""
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        return None
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


@router.get("/entries/{terminal_id}/{seq}", response_class=HTMLResponse)
def entry_page(
    request: Request,
    terminal_id: TerminalIdPath,
    seq: SeqPath,
    session: ViewerPage,
    database: DatabaseDep,
) -> Response:
    with database.read() as conn:
        entry = entry_view(conn, terminal_id, seq)
    if entry is None:
        raise NotFoundError(
            f"no journal entry {terminal_id}#{seq} has reached HQ: check the till and number, "
            "or whether that till has synced (Terminals shows its acknowledged seq)"
        )
    payload = entry.record.get("payload")
    return render(
        request,
        "entries/detail.html",
        session,
        entry=entry,
        payload=payload if isinstance(payload, dict) else {},
        money=money,
        store_offset=utc_offset(entry.record.get("utc_offset_min")),
    )
