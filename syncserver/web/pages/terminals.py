"""Dashboard: the tills — sync health (last contact, acknowledged seq, unsent estimate, chain
status) for everyone; registering a till (its token shown once), a new set-up code for one
(shown once) and revoking one for admins.

The token page is the reply to the registering POST itself (never a redirect with the token
in a cookie or URL) and is sent with ``Cache-Control: no-store``, so it is shown exactly once.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from syncserver.api.deps import DatabaseDep, SettingsDep
from syncserver.api.pagination import CursorQuery, decode_cursor, page_of
from syncserver.errors import ConflictError, MalformedError, NotFoundError
from syncserver.hq.audit import AuditFilter, audit_page
from syncserver.hq.terminals import (
    OFFLINE_AFTER,
    find_terminal,
    new_setup_code,
    register_terminal,
    revoke,
    terminal_page,
)
from syncserver.storage.users import Role
from syncserver.web.session import (
    NO_STORE,
    AdminPage,
    CheckedSession,
    ViewerPage,
    WebSession,
    redirect,
    require_role,
)
from syncserver.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE = 50
HISTORY = 10
TerminalIdPath = Annotated[str, Path(min_length=1, max_length=16)]


def _url(terminal_id: str) -> str:
    return f"/terminals/{quote(terminal_id, safe='')}"


def _list_page(
    request: Request,
    session: WebSession,
    database: DatabaseDep,
    store: str | None,
    cursor: str | None,
    *,
    status: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    key = decode_cursor(cursor, 1)
    with database.read() as conn:
        rows = terminal_page(
            conn, store_id=store, after=str(key[0]) if key else None, limit=PAGE + 1
        )
    items, next_cursor = page_of(rows, PAGE, lambda h: [h.record.terminal_id])
    return render(
        request,
        "terminals/list.html",
        session,
        status,
        terminals=items,
        next_cursor=next_cursor,
        store=store or "",
        offline_hours=int(OFFLINE_AFTER.total_seconds() // 3600),
        can_admin=session.user.can(Role.ADMIN),
        error=error,
        values=values or {},
    )


@router.get("/terminals", response_class=HTMLResponse)
def terminals_page(
    request: Request,
    session: ViewerPage,
    database: DatabaseDep,
    store: Annotated[str | None, Query(max_length=64)] = None,
    cursor: CursorQuery = None,
) -> Response:
    return _list_page(request, session, database, (store or "").strip() or None, cursor)


@router.post("/terminals", response_class=HTMLResponse)
def register(
    request: Request,
    session: CheckedSession,
    database: DatabaseDep,
    store_id: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    require_role(session, Role.ADMIN, "registering a till")
    try:
        added = register_terminal(database, session.actor, store_id, name)
    except MalformedError as error:
        values = {"store_id": store_id, "name": name}
        return _list_page(
            request, session, database, None, None, status=422, error=error.message, values=values
        )
    response = render(
        request,
        "terminals/registered.html",
        session,
        added=added,
        server_url=str(request.base_url).rstrip("/"),
    )
    response.headers.update(NO_STORE)
    return response


@router.get("/terminals/{terminal_id}", response_class=HTMLResponse)
def till_page(
    request: Request, terminal_id: TerminalIdPath, session: ViewerPage, database: DatabaseDep
) -> Response:
    with database.read() as conn:
        health = find_terminal(conn, terminal_id)
        history = audit_page(
            conn, AuditFilter(target_kind="terminal", target_id=terminal_id), limit=HISTORY
        )
    return render(
        request,
        "terminals/detail.html",
        session,
        t=health,
        history=history,
        history_shown=HISTORY,
        offline_hours=int(OFFLINE_AFTER.total_seconds() // 3600),
        can_admin=session.user.can(Role.ADMIN),
    )


@router.post("/terminals/{terminal_id}/code", response_class=HTMLResponse)
def new_code(
    request: Request,
    terminal_id: TerminalIdPath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """A fresh one-time set-up code (the till's earlier codes stop working), shown once in the
    reply to this POST, like the code of a newly registered till."""
    require_role(session, Role.ADMIN, "issuing a set-up code")
    try:
        issued = new_setup_code(database, session.actor, terminal_id)
    except NotFoundError as error:
        return redirect("/terminals", settings, error.message, error=True)
    except ConflictError as error:
        return redirect(_url(terminal_id), settings, error.message, error=True)
    with database.read() as conn:
        health = find_terminal(conn, terminal_id)
    response = render(
        request,
        "terminals/code.html",
        session,
        issued=issued,
        t=health,
        server_url=str(request.base_url).rstrip("/"),
    )
    response.headers.update(NO_STORE)
    return response


@router.get("/terminals/{terminal_id}/revoke", response_class=HTMLResponse)
def confirm_revoke(
    request: Request, terminal_id: TerminalIdPath, session: AdminPage, database: DatabaseDep
) -> Response:
    """Are you sure? The page the revoke button leads to (works without JavaScript)."""
    with database.read() as conn:
        health = find_terminal(conn, terminal_id)
    return render(request, "terminals/revoke.html", session, t=health)


@router.post("/terminals/{terminal_id}/revoke", response_class=HTMLResponse)
def revoke_till(
    terminal_id: TerminalIdPath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    require_role(session, Role.ADMIN, "revoking a till")
    try:
        record = revoke(database, session.actor, terminal_id)
    except NotFoundError as error:
        return redirect("/terminals", settings, error.message, error=True)
    except ConflictError as error:
        return redirect(_url(terminal_id), settings, error.message, error=True)
    flash = (
        f"Revoked {record.terminal_id} ({record.name}, store {record.store_id}): HQ refuses "
        "its token from now on. What it already sent stays in the ledger."
    )
    return redirect(_url(terminal_id), settings, flash)
