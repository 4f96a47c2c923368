"""Dashboard: till staff (Staff → Cashiers) — each store's cashiers and supervisors for
everyone; adding one, disabling and enabling, and a new PIN for managers.

PIN fields are password inputs and a PIN is never sent back: a form refused for another
field comes back with the name, id and store filled in and the PIN fields empty.
"""

from __future__ import annotations

from itertools import groupby
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from syncserver.api.deps import DatabaseDep, SettingsDep
from syncserver.api.pagination import CursorQuery, decode_cursor, page_of
from syncserver.errors import ConflictError, MalformedError, NotFoundError
from syncserver.hq.cashiers import (
    ROLES,
    add_cashier,
    disable_cashier,
    enable_cashier,
    find_cashier,
    list_cashiers,
    reset_pin,
)
from syncserver.storage.users import Role
from syncserver.web.session import (
    CheckedSession,
    ManagerPage,
    ViewerPage,
    WebSession,
    redirect,
    require_role,
)
from syncserver.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE = 100
CashierIdPath = Annotated[str, Path(min_length=1, max_length=16)]
FormText = Annotated[str, Form(max_length=1000)]
FormPin = Annotated[str, Form(max_length=100)]


def _anchor(cashier_id: str) -> str:
    return f"/cashiers#cashier-{quote(cashier_id, safe='')}"


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
    key = decode_cursor(cursor, 2)
    after = (str(key[0]), str(key[1])) if key else None
    with database.read() as conn:
        rows = list_cashiers(conn, store_id=store, after=after, limit=PAGE + 1)
    items, next_cursor = page_of(rows, PAGE, lambda r: [r.store_id, r.cashier_id])
    stores = [(store_id, list(group)) for store_id, group in groupby(items, lambda r: r.store_id)]
    return render(
        request,
        "cashiers/list.html",
        session,
        status,
        stores=stores,
        next_cursor=next_cursor,
        store=store or "",
        roles=ROLES,
        can_manage=session.user.can(Role.MANAGER),
        error=error,
        values=values or {},
    )


@router.get("/cashiers", response_class=HTMLResponse)
def cashiers_page(
    request: Request,
    session: ViewerPage,
    database: DatabaseDep,
    store: Annotated[str | None, Query(max_length=64)] = None,
    cursor: CursorQuery = None,
) -> Response:
    return _list_page(request, session, database, (store or "").strip() or None, cursor)


@router.post("/cashiers", response_class=HTMLResponse)
def add(
    request: Request,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
    store_id: FormText = "",
    cashier_id: FormText = "",
    name: FormText = "",
    role: Annotated[str, Form(max_length=32)] = "cashier",
    pin: FormPin = "",
    pin_again: FormPin = "",
) -> Response:
    require_role(session, Role.MANAGER, "adding a cashier")
    values = {"store_id": store_id, "cashier_id": cashier_id, "name": name, "role": role}
    try:
        if pin != pin_again:
            raise MalformedError("pin: the two PINs differ; type the same PIN twice")
        added = add_cashier(
            database,
            session.actor,
            store_id=store_id,
            cashier_id=cashier_id,
            name=name,
            pin=pin,
            role=role,
        )
    except (MalformedError, ConflictError) as error:
        return _list_page(
            request,
            session,
            database,
            None,
            None,
            status=error.status,
            error=error.message,
            values=values,
        )
    flash = (
        f"Added cashier {added.cashier_id} ({added.name}, {added.role}) to store "
        f"{added.store_id}. Its tills pick them up on their next sync; then they sign in with "
        "their id and PIN."
    )
    return redirect(_anchor(added.cashier_id), settings, flash)


@router.post("/cashiers/{cashier_id}/disable", response_class=HTMLResponse)
def disable(
    cashier_id: CashierIdPath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    require_role(session, Role.MANAGER, "disabling a cashier")
    try:
        record = disable_cashier(database, session.actor, cashier_id)
    except (ConflictError, NotFoundError) as error:
        return redirect("/cashiers", settings, error.message, error=True)
    flash = (
        f"Disabled cashier {record.cashier_id} ({record.name}): store {record.store_id}'s tills "
        "refuse them from their next sync, and sign them out if they are signed in."
    )
    return redirect(_anchor(record.cashier_id), settings, flash)


@router.post("/cashiers/{cashier_id}/enable", response_class=HTMLResponse)
def enable(
    cashier_id: CashierIdPath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    require_role(session, Role.MANAGER, "enabling a cashier")
    try:
        record = enable_cashier(database, session.actor, cashier_id)
    except (ConflictError, NotFoundError) as error:
        return redirect("/cashiers", settings, error.message, error=True)
    flash = (
        f"Enabled cashier {record.cashier_id} ({record.name}): they sign in with the PIN they "
        f"had at store {record.store_id}'s tills after their next sync."
    )
    return redirect(_anchor(record.cashier_id), settings, flash)


@router.get("/cashiers/{cashier_id}/pin", response_class=HTMLResponse)
def pin_form(
    request: Request, cashier_id: CashierIdPath, session: ManagerPage, database: DatabaseDep
) -> Response:
    """The new-PIN form (two password fields)."""
    with database.read() as conn:
        record = find_cashier(conn, cashier_id)
    return render(request, "cashiers/pin.html", session, target=record, error=None)


@router.post("/cashiers/{cashier_id}/pin", response_class=HTMLResponse)
def new_pin(
    request: Request,
    cashier_id: CashierIdPath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
    pin: FormPin = "",
    pin_again: FormPin = "",
) -> Response:
    require_role(session, Role.MANAGER, "setting a cashier's PIN")
    try:
        if pin != pin_again:
            raise MalformedError("pin: the two PINs differ; type the same PIN twice")
        record = reset_pin(database, session.actor, cashier_id, pin)
    except MalformedError as error:
        with database.read() as conn:
            target = find_cashier(conn, cashier_id)
        return render(
            request, "cashiers/pin.html", session, error.status, target=target, error=error.message
        )
    except NotFoundError as error:
        return redirect("/cashiers", settings, error.message, error=True)
    flash = (
        f"Cashier {record.cashier_id} ({record.name}) has a new PIN: store {record.store_id}'s "
        "tills take it on their next sync; until then the old one still works there."
    )
    return redirect(_anchor(record.cashier_id), settings, flash)
