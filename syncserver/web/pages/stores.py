"""Dashboard: the stores (Stores) — name, address, time zone, country and tax id, with how
many tills and cashiers each has, for everyone; adding a store and changing one for managers.

A form refused for a field comes back filled in as typed, with that field's message, like the
Cashiers page. The time zone is a text input with a list of the usual IANA names to pick from
(a browser offers them as one types); the server checks it whatever the browser sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated
from urllib.parse import quote
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection, func, select

from syncserver.api.deps import DatabaseDep, SettingsDep
from syncserver.api.pagination import CursorQuery, decode_cursor, page_of
from syncserver.errors import ConflictError, MalformedError, NotFoundError
from syncserver.hq.stores import (
    MAX_ADDRESS_LINES,
    StoreChanges,
    StoreFields,
    change_store,
    create_store,
    find_store,
    store_page,
)
from syncserver.storage.schema import cashiers, terminals
from syncserver.storage.stores import StoreRecord
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
StoreIdPath = Annotated[str, Path(min_length=1, max_length=64)]
FormText = Annotated[str, Form(max_length=1000)]
# A few lines of at most 100 characters each (hq.stores checks the lines themselves).
FormAddress = Annotated[str, Form(max_length=2000)]

# The areas of the tz database where shops are; leaves out the old aliases (US/…, Canada/…),
# Etc/GMT±n (whose signs read backwards) and Antarctica's research stations.
_AREAS = ("Africa", "America", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


@cache
def common_timezones() -> tuple[str, ...]:
    """The time zones the form suggests: UTC and every Area/Location zone in ``_AREAS``. Any
    name the tz database knows is accepted; these are only offered."""
    zones = {z for z in available_timezones() if z.split("/", 1)[0] in _AREAS and "/" in z}
    return ("UTC", *sorted(zones))


@dataclass(frozen=True, slots=True)
class StoreRow:
    """A store as the list shows it, with its tills and cashiers counted."""

    store: StoreRecord
    tills: int
    """Tills not revoked."""
    revoked_tills: int
    cashiers: int
    """Cashiers not disabled."""
    disabled_cashiers: int


def _counts(conn: Connection, store_ids: list[str]) -> dict[str, tuple[int, int, int, int]]:
    """(tills, revoked tills, cashiers, disabled cashiers) by store, for these stores."""
    if not store_ids:
        return {}
    found = {store_id: [0, 0, 0, 0] for store_id in store_ids}
    till_rows = conn.execute(
        select(terminals.c.store_id, func.count(), func.count(terminals.c.revoked_at))
        .where(terminals.c.store_id.in_(store_ids))
        .group_by(terminals.c.store_id)
    )
    for store_id, total, revoked in till_rows:
        found[store_id][0:2] = [int(total) - int(revoked), int(revoked)]
    cashier_rows = conn.execute(
        select(cashiers.c.store_id, func.count(), func.count(cashiers.c.disabled_at))
        .where(cashiers.c.store_id.in_(store_ids))
        .group_by(cashiers.c.store_id)
    )
    for store_id, total, disabled in cashier_rows:
        found[store_id][2:4] = [int(total) - int(disabled), int(disabled)]
    return {store_id: (a, b, c, d) for store_id, (a, b, c, d) in found.items()}


def _anchor(store_id: str) -> str:
    return f"/stores#store-{quote(store_id, safe='')}"


def _edit_url(store_id: str) -> str:
    return f"/stores/{quote(store_id, safe='')}/edit"


def _lines(address: str) -> list[str]:
    """The address text area, one receipt line per line (blank lines dropped by hq.stores)."""
    return address.splitlines()


def _list_page(
    request: Request,
    session: WebSession,
    database: DatabaseDep,
    cursor: str | None,
    *,
    status: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    key = decode_cursor(cursor, 1)
    with database.read() as conn:
        records = store_page(conn, after=str(key[0]) if key else None, limit=PAGE + 1)
        items, next_cursor = page_of(records, PAGE, lambda r: [r.store_id])
        counts = _counts(conn, [r.store_id for r in items])
    rows = [StoreRow(r, *counts.get(r.store_id, (0, 0, 0, 0))) for r in items]
    return render(
        request,
        "stores/list.html",
        session,
        status,
        rows=rows,
        next_cursor=next_cursor,
        can_manage=session.user.can(Role.MANAGER),
        timezones=common_timezones(),
        max_lines=MAX_ADDRESS_LINES,
        error=error,
        values=values or {},
    )


def _edit_page(
    request: Request,
    session: WebSession,
    store: StoreRecord,
    *,
    status: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    current = {
        "name": store.name,
        "address": "\n".join(store.address),
        "timezone": store.timezone,
        "country": store.country or "",
        "tax_id": store.tax_id or "",
    }
    return render(
        request,
        "stores/edit.html",
        session,
        status,
        store=store,
        timezones=common_timezones(),
        max_lines=MAX_ADDRESS_LINES,
        error=error,
        values=current | (values or {}),
    )


@router.get("/stores", response_class=HTMLResponse)
def stores_page(
    request: Request, session: ViewerPage, database: DatabaseDep, cursor: CursorQuery = None
) -> Response:
    return _list_page(request, session, database, cursor)


@router.post("/stores", response_class=HTMLResponse)
def add(
    request: Request,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
    store_id: FormText = "",
    name: FormText = "",
    address: FormAddress = "",
    timezone: FormText = "",
    country: FormText = "",
    tax_id: FormText = "",
) -> Response:
    require_role(session, Role.MANAGER, "adding a store")
    values = {
        "store_id": store_id,
        "name": name,
        "address": address,
        "timezone": timezone,
        "country": country,
        "tax_id": tax_id,
    }
    fields = StoreFields(
        store_id=store_id,
        name=name,
        address=_lines(address),
        timezone=timezone,
        # "de" is what people type; ISO codes are capitals (hq.stores refuses anything else).
        country=country.strip().upper(),
        tax_id=tax_id,
    )
    try:
        added = create_store(database, session.actor, fields)
    except (MalformedError, ConflictError) as error:
        return _list_page(
            request,
            session,
            database,
            None,
            status=error.status,
            error=error.message,
            values=values,
        )
    flash = (
        f"Added store {added.store_id} ({added.name}, {added.timezone}). Register its tills on "
        "the Terminals page and add its cashiers; each till gets the store's name, address and "
        "time zone when it is set up."
    )
    return redirect(_anchor(added.store_id), settings, flash)


@router.get("/stores/{store_id}/edit", response_class=HTMLResponse)
def edit_form(
    request: Request, store_id: StoreIdPath, session: ManagerPage, database: DatabaseDep
) -> Response:
    with database.read() as conn:
        store = find_store(conn, store_id)
    return _edit_page(request, session, store)


def _changes(store: StoreRecord, values: dict[str, str]) -> StoreChanges:
    """Only what differs from the store as it is, so an audit row names real changes (texts
    compared with their runs of spaces folded, as hq.stores stores them)."""

    def same(typed: str, stored: str) -> bool:
        return " ".join(typed.split()) == stored

    lines = [" ".join(line.split()) for line in _lines(values["address"])]
    address = [line for line in lines if line]
    country = values["country"].strip().upper()
    return StoreChanges(
        name=None if same(values["name"], store.name) else values["name"],
        address=None if tuple(address) == store.address else address,
        timezone=None if values["timezone"].strip() == store.timezone else values["timezone"],
        country=None if country == (store.country or "") else country,
        tax_id=None if same(values["tax_id"], store.tax_id or "") else values["tax_id"],
    )


@router.post("/stores/{store_id}/edit", response_class=HTMLResponse)
def save(
    request: Request,
    store_id: StoreIdPath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
    name: FormText = "",
    address: FormAddress = "",
    timezone: FormText = "",
    country: FormText = "",
    tax_id: FormText = "",
) -> Response:
    require_role(session, Role.MANAGER, "changing a store")
    values = {
        "name": name,
        "address": address,
        "timezone": timezone,
        "country": country,
        "tax_id": tax_id,
    }
    try:
        with database.read() as conn:
            store = find_store(conn, store_id)
    except NotFoundError as error:
        return redirect("/stores", settings, error.message, error=True)
    changes = _changes(store, values)
    if changes == StoreChanges():
        return redirect(_anchor(store.store_id), settings, f"Store {store.store_id}: no changes.")
    try:
        changed = change_store(database, session.actor, store_id, changes)
    except MalformedError as error:
        return _edit_page(
            request, session, store, status=error.status, error=error.message, values=values
        )
    except NotFoundError as error:
        return redirect("/stores", settings, error.message, error=True)
    flash = (
        f"Saved store {changed.store_id} ({changed.name}, {changed.timezone}). Its tills print "
        "a new name or address once set up again: a new set-up code on each till's page, then "
        "till setup on the till."
    )
    return redirect(_anchor(changed.store_id), settings, flash)
