"""Dashboard: vouchers — search by code (any case, with or without dashes), filter by state
and member, one voucher (value, conditions, who issued it, where it was redeemed, its
postings), the bulk issue form (codes shown and offered as a text file) and voiding.

Reading needs the viewer role; issuing and voiding the manager role (the forms are only
shown to managers). The writes are HQ actions (``syncserver.hq.vouchers``), which record
the ledger event and the audit row. A form the action refuses comes back with the message
next to it and what was typed.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from shared.bounds import MAX_ID
from shared.money import Money
from syncserver.api.deps import DatabaseDep, SettingsDep
from syncserver.api.pagination import CursorQuery
from syncserver.api.routes.vouchers import MAX_ISSUE, MAX_VOUCHER_MINOR
from syncserver.errors import ApiError, ConflictError, MalformedError, NotFoundError
from syncserver.hq.overview import point_value
from syncserver.hq.voucher_views import (
    STATUSES,
    account_history,
    classify_code,
    money_text,
    search_vouchers,
    voucher_account,
    voucher_detail,
)
from syncserver.hq.vouchers import issue_vouchers, void_voucher
from syncserver.settings import utc_now
from syncserver.storage.database import Database
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

SEARCH_PAGE = 50
POSTINGS_PAGE = 25

_REFUSED = (MalformedError, ConflictError, NotFoundError)
_PERCENT = re.compile(r"^\s*(\d{1,3})(?:[.,](\d{1,2}))?\s*%?\s*$")
_COUNT = re.compile(r"^\s*\d{1,6}\s*$")
_CODE_LINE = re.compile(r"^V-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")

FilterText = Annotated[str | None, Query(max_length=64)]
CodePath = Annotated[str, Path(min_length=1, max_length=40)]


def voucher_url(code: str) -> str:
    return f"/vouchers/{quote(code, safe='')}"


@router.get("/vouchers", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: ViewerPage,
    database: DatabaseDep,
    q: Annotated[str | None, Query(max_length=40)] = None,
    status: FilterText = None,
    member: Annotated[str | None, Query(max_length=MAX_ID)] = None,
    cursor: CursorQuery = None,
) -> Response:
    """One code box (a whole code that exists opens its page: scan a voucher at an HQ desk
    and it is there) and two filters."""
    search = classify_code(q)
    state = (status or "").strip() or None
    if state is not None and state not in STATUSES:
        raise MalformedError(f"status: {state!r} is not one of {', '.join(STATUSES)}")
    member_id = (member or "").strip() or None
    with database.read() as conn:
        found, next_cursor = search_vouchers(
            conn,
            search,
            status=state,
            member_id=member_id,
            today=utc_now().date(),
            limit=SEARCH_PAGE,
            cursor=cursor,
        )
    live = request.headers.get("HX-Request") == "true"
    if search.kind == "code" and len(found) == 1 and not cursor and not live:
        return RedirectResponse(voucher_url(found[0].code), status_code=303)
    return render(
        request,
        "vouchers/search.html",
        session,
        q=q or "",
        search=search,
        status=state or "",
        member=member_id or "",
        statuses=STATUSES,
        vouchers=found,
        next_cursor=next_cursor,
        can_issue=session.user.can(Role.MANAGER),
    )


# --- issuing ----------------------------------------------------------------------------------


def _currency(database: Database) -> str | None:
    with database.read() as conn:
        value = point_value(conn)
    return value.currency if value is not None else None


@router.get("/vouchers/issue", response_class=HTMLResponse)
def issue_form(request: Request, session: ManagerPage, database: DatabaseDep) -> Response:
    return _issue_page(request, session, database, {})


def _issue_page(
    request: Request,
    session: WebSession,
    database: Database,
    values: dict[str, str],
    error: ApiError | None = None,
) -> Response:
    return render(
        request,
        "vouchers/issue.html",
        session,
        error.status if error else 200,
        currency=_currency(database),
        values=values,
        error=error.message if error else None,
        max_issue=MAX_ISSUE,
    )


def _amount(text: str, currency: str, what: str, *, required: bool) -> int:
    cleaned = text.strip().replace(",", "")
    if not cleaned:
        if required:
            raise MalformedError(f"{what}: enter an amount, e.g. 5.00")
        return 0
    try:
        minor = Money.parse(cleaned, currency).minor
    except ValueError as error:
        raise MalformedError(f"{what}: {error}") from None
    if minor < 0 or minor > MAX_VOUCHER_MINOR:
        limit = Money(MAX_VOUCHER_MINOR, currency).format()
        raise MalformedError(f"{what}: between 0 and {limit}")
    return minor


def _percent_bp(text: str) -> int:
    found = _PERCENT.fullmatch(text)
    if found is None:
        raise MalformedError("percent: a number like 10 or 12.5 (at most two decimals)")
    whole, decimals = found.group(1), (found.group(2) or "").ljust(2, "0")
    basis_points = int(whole) * 100 + int(decimals)
    if not 1 <= basis_points <= 10_000:
        raise MalformedError("percent: more than 0 and at most 100")
    return basis_points


def _count(text: str) -> int:
    if not _COUNT.fullmatch(text) or not 1 <= int(text) <= MAX_ISSUE:
        raise MalformedError(f"how many: a whole number from 1 to {MAX_ISSUE:,}")
    return int(text)


def _expiry(text: str) -> date | None:
    cleaned = text.strip()
    if not cleaned:
        return None
    try:
        day = date.fromisoformat(cleaned)
    except ValueError:
        raise MalformedError(f"last day: {cleaned!r} is not a date like 2027-12-31") from None
    if day < utc_now().date():
        raise MalformedError(f"last day: {day.isoformat()} has passed; pick today or later")
    return day


@router.post("/vouchers/issue", response_class=HTMLResponse)
def issue(
    request: Request,
    session: CheckedSession,
    database: DatabaseDep,
    kind: Annotated[str, Form(max_length=16)] = "amount",
    value: Annotated[str, Form(max_length=32)] = "",
    percent: Annotated[str, Form(max_length=16)] = "",
    cap: Annotated[str, Form(max_length=32)] = "",
    count: Annotated[str, Form(max_length=16)] = "1",
    min_spend: Annotated[str, Form(max_length=32)] = "",
    expires_on: Annotated[str, Form(max_length=16)] = "",
    member_id: Annotated[str, Form(max_length=MAX_ID)] = "",
) -> Response:
    require_role(session, Role.MANAGER, "issuing vouchers")
    values = {
        "kind": kind,
        "value": value,
        "percent": percent,
        "cap": cap,
        "count": count,
        "min_spend": min_spend,
        "expires_on": expires_on,
        "member_id": member_id,
    }
    try:
        currency = _currency(database)
        if currency is None:
            raise ConflictError("publish the program rules first: vouchers are in its currency")
        if kind == "percent":
            basis_points: int | None = _percent_bp(percent)
            value_minor = _amount(cap, currency, "at most", required=False)
        else:
            basis_points = None
            value_minor = _amount(value, currency, "value", required=True)
            if value_minor == 0:
                raise MalformedError("value: more than 0, e.g. 5.00")
        codes = issue_vouchers(
            database,
            count=_count(count),
            value_minor=value_minor,
            percent_bp=basis_points,
            min_spend_minor=_amount(min_spend, currency, "minimum spend", required=False),
            expires_on=_expiry(expires_on),
            member_id=member_id.strip() or None,
            actor=session.actor,
        )
    except _REFUSED as error:
        return _issue_page(request, session, database, values, error)
    return render(
        request,
        "vouchers/issued.html",
        session,
        201,
        codes=codes,
        text="\n".join(codes),
        values=values,
        currency=currency,
    )


@router.post("/vouchers/download")
def download(
    session: CheckedSession,
    codes: Annotated[str, Form(max_length=20 * MAX_ISSUE)] = "",
) -> Response:
    """The codes just issued as a text file, one per line (the browser posts back the codes
    the issue page shows; nothing is read from the database)."""
    require_role(session, Role.MANAGER, "downloading issued codes")
    lines = [line.strip() for line in codes.splitlines() if line.strip()]
    if not lines or not all(_CODE_LINE.fullmatch(line) for line in lines):
        raise MalformedError("nothing to download: issue vouchers first, then download them")
    name = f"vouchers-{utc_now():%Y%m%d-%H%M%S}.txt"
    return PlainTextResponse(
        "\n".join(lines) + "\n",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- one voucher ------------------------------------------------------------------------------


@router.get("/vouchers/{code}", response_class=HTMLResponse)
def voucher_page(
    request: Request,
    code: CodePath,
    session: ViewerPage,
    database: DatabaseDep,
    cursor: CursorQuery = None,
) -> Response:
    return _voucher_page(request, session, database, code, cursor)


def _canonical(code: str) -> str:
    search = classify_code(code)
    if search.kind != "code":
        raise NotFoundError(
            f"{code!r} is not a voucher code: search for it on the vouchers page "
            "(any case, with or without dashes)"
        )
    return search.value


def _voucher_page(
    request: Request,
    session: WebSession,
    database: Database,
    code: str,
    cursor: str | None = None,
    *,
    status: int = 200,
    error: str | None = None,
    reason: str = "",
) -> Response:
    canonical = _canonical(code)
    with database.read() as conn:
        found = voucher_detail(conn, canonical, utc_now().date())
        if found is None:
            raise NotFoundError(f"no voucher {canonical}: check the code on the voucher")
        legs, next_cursor = account_history(conn, voucher_account(canonical), POSTINGS_PAGE, cursor)
    return render(
        request,
        "vouchers/detail.html",
        session,
        status,
        voucher=found,
        postings=legs,
        money_text=money_text,
        next_cursor=next_cursor,
        can_void=session.user.can(Role.MANAGER) and found.status == "issued",
        is_manager=session.user.can(Role.MANAGER),
        error=error,
        reason=reason,
    )


@router.post("/vouchers/{code}/void", response_class=HTMLResponse)
def void(
    request: Request,
    code: CodePath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    require_role(session, Role.MANAGER, "voiding a voucher")
    canonical = _canonical(code)
    try:
        void_voucher(database, canonical, reason, session.actor)
    except (MalformedError, ConflictError) as error:
        return _voucher_page(
            request,
            session,
            database,
            canonical,
            status=error.status,
            error=error.message,
            reason=reason,
        )
    flash = f"Voided voucher {canonical}. Tills refuse it after their next sync."
    return redirect(voucher_url(canonical), settings, flash)
