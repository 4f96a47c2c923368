"""Dashboard: member search, the member page (profile, balance, tier and tier history, points
lots, store credit and vouchers, cards, ledger history, exceptions) and the staff actions on
it (adjust points, block or replace a card).

Reading needs the viewer role; the forms need the manager role and are only shown to
managers. A form the action refuses (0 points, no reason, a bad card number, a card already
blocked) comes back on the same page with the message next to the form and what was typed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syncserver.api.deps import DatabaseDep, SettingsDep
from syncserver.api.pagination import CursorQuery
from syncserver.api.params import CardPath, MemberIdPath
from syncserver.errors import (
    ApiError,
    ConflictError,
    MalformedError,
    NotFoundError,
)
from syncserver.hq import actions
from syncserver.hq.giftcard_views import member_store_credit
from syncserver.hq.members import (
    MEMBER_EXCEPTIONS_SHOWN,
    classify,
    member_detail,
    member_exceptions,
    member_ledger,
    search_members,
)
from syncserver.hq.tiers import lot_source, member_lots_page, member_tiers
from syncserver.hq.voucher_views import CodeSearch, search_vouchers
from syncserver.settings import utc_now
from syncserver.storage.members import card_row
from syncserver.storage.users import Role
from syncserver.web.session import CheckedSession, ViewerPage, WebSession, redirect, require_role
from syncserver.web.templating import render

router = APIRouter(include_in_schema=False)

SEARCH_PAGE = 50
HISTORY_PAGE = 25
TIER_HISTORY_PAGE = 10
LOTS_PAGE = 25
VOUCHERS_SHOWN = 20
"""The member's vouchers on their page (the vouchers page filters by member for all)."""

_POINTS = re.compile(r"^[+-]?\d[\d,_ ]*$")
_REFUSED = (MalformedError, ConflictError, NotFoundError)
"""Refusals shown next to the form, with what was typed; others get the error page."""


@router.get("/members", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: ViewerPage,
    database: DatabaseDep,
    settings: SettingsDep,
    q: Annotated[str | None, Query(max_length=320)] = None,
    cursor: CursorQuery = None,
) -> Response:
    """One search box; a card number or member id that finds exactly one member opens the
    member page directly (a scanner at an HQ desk: scan, and the member is there)."""
    search = classify(q, settings.default_country)
    with database.read() as conn:
        found, next_cursor = search_members(conn, search, SEARCH_PAGE, cursor)
    live = request.headers.get("HX-Request") == "true"
    if len(found) == 1 and not cursor and not live:
        only = found[0]
        by_card = search.kind == "card" and any(c.card_number == search.value for c in only.cards)
        if by_card or search.kind == "id":
            return RedirectResponse(_member_url(only.member_id), status_code=303)
    return render(
        request,
        "members/search.html",
        session,
        q=q or "",
        search=search,
        members=found,
        next_cursor=next_cursor,
    )


@router.get("/members/{member_id}", response_class=HTMLResponse)
def member_page(
    request: Request,
    member_id: MemberIdPath,
    session: ViewerPage,
    database: DatabaseDep,
    cursor: CursorQuery = None,
    tier_cursor: CursorQuery = None,
    lot_cursor: CursorQuery = None,
) -> Response:
    return _member_page(
        request,
        session,
        database,
        member_id,
        cursor,
        tier_cursor=tier_cursor,
        lot_cursor=lot_cursor,
    )


def _member_page(
    request: Request,
    session: WebSession,
    database: DatabaseDep,
    member_id: str,
    cursor: str | None = None,
    *,
    tier_cursor: str | None = None,
    lot_cursor: str | None = None,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    with database.read() as conn:
        member = member_detail(conn, member_id)
        if member is None:
            raise NotFoundError(f"no member {member_id}: search for them by card, phone or name")
        history, next_cursor = member_ledger(conn, member_id, HISTORY_PAGE, cursor)
        member_exc = member_exceptions(conn, member_id)
        tiers = member_tiers(conn, member_id, utc_now().date(), TIER_HISTORY_PAGE, tier_cursor)
        lots = member_lots_page(conn, member_id, LOTS_PAGE, lot_cursor)
        store_credit = member_store_credit(conn, member_id)
        member_vouchers, more_vouchers = search_vouchers(
            conn,
            CodeSearch("all"),
            status=None,
            member_id=member_id,
            today=utc_now().date(),
            limit=VOUCHERS_SHOWN,
            cursor=None,
        )
    if errors:
        # A message for a form this page does not show (a card that is not this member's, a
        # block of a card blocked meanwhile) goes to the top of the page.
        forms = {"adjust"} | {f"replace:{c.card_number}" for c in member.cards}
        forms |= {f"block:{c.card_number}" for c in member.cards if c.status != "blocked"}
        errors = {(key if key in forms else "page"): text for key, text in errors.items()}
    return render(
        request,
        "members/detail.html",
        session,
        status,
        member=member,
        tiers=tiers,
        lots=lots,
        lot_source=lot_source,
        today=utc_now().date(),
        history=history,
        next_cursor=next_cursor,
        store_credit=store_credit,
        member_vouchers=member_vouchers,
        more_vouchers=more_vouchers is not None,
        exceptions=member_exc,
        exceptions_shown=MEMBER_EXCEPTIONS_SHOWN,
        open_exceptions=sum(1 for e in member_exc if e.status == "open"),
        can_change=session.user.can(Role.MANAGER),
        errors=errors or {},
        values=values or {},
    )


def _member_url(member_id: str) -> str:
    return f"/members/{quote(member_id, safe='')}"


def _parse_points(text: str) -> int:
    cleaned = text.strip()
    if not cleaned:
        raise MalformedError("enter the points: e.g. 50 to add or -50 to take off")
    if not _POINTS.fullmatch(cleaned):
        raise MalformedError(
            f"{cleaned!r} is not a whole number of points: e.g. 50 to add or -50 to take off"
        )
    return int(re.sub(r"[,_ ]", "", cleaned))


@router.post("/members/{member_id}/adjust", response_class=HTMLResponse)
def adjust(
    request: Request,
    member_id: MemberIdPath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
    points: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    require_role(session, Role.MANAGER, "adjusting points")
    try:
        amount = _parse_points(points)
        result = actions.adjust_points(database, session.actor, member_id, amount, reason)
    except _REFUSED as error:
        return _refused(request, session, database, member_id, "adjust", error, points, reason)
    now = f" (balance now {result.balance:,})" if result.balance is not None else ""
    if result.points > 0:
        flash = f"Added {result.points:,} points to {member_id}{now}."
    else:
        flash = f"Took {-result.points:,} points off {member_id}{now}."
    return redirect(_member_url(member_id), settings, flash)


@router.post("/members/{member_id}/cards/{card}/block", response_class=HTMLResponse)
def block(
    request: Request,
    member_id: MemberIdPath,
    card: CardPath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    require_role(session, Role.MANAGER, "blocking a card")
    form = f"block:{card}"
    try:
        _check_card_of(database, member_id, card)
        actions.block_card(database, session.actor, card, reason)
    except _REFUSED as error:
        return _refused(request, session, database, member_id, form, error, reason=reason)
    flash = f"Blocked card {card} of {member_id}. Tills refuse it after their next sync."
    return redirect(_member_url(member_id), settings, flash)


@router.post("/members/{member_id}/cards/{card}/replace", response_class=HTMLResponse)
def replace(
    request: Request,
    member_id: MemberIdPath,
    card: CardPath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
    new_card_number: Annotated[str, Form(max_length=64)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    require_role(session, Role.MANAGER, "replacing a card")
    form = f"replace:{card}"
    try:
        _check_card_of(database, member_id, card)
        if not new_card_number.strip():
            raise MalformedError("enter the new card's number (printed under its barcode)")
        actions.replace_card(database, session.actor, card, new_card_number, reason)
    except _REFUSED as error:
        return _refused(
            request,
            session,
            database,
            member_id,
            form,
            error,
            reason=reason,
            new_card_number=new_card_number,
        )
    flash = (
        f"Replaced card {card} of {member_id} with {new_card_number.strip()}; "
        "the old card is blocked and the balance stays with the member."
    )
    return redirect(_member_url(member_id), settings, flash)


def _check_card_of(database: DatabaseDep, member_id: str, card: str) -> None:
    with database.read() as conn:
        found = card_row(conn, card)
    if found is None or found.member_id != member_id:
        raise MalformedError(f"card {card} is not a card of member {member_id}")


def _refused(
    request: Request,
    session: WebSession,
    database: DatabaseDep,
    member_id: str,
    form: str,
    error: ApiError,
    points: str | None = None,
    reason: str = "",
    new_card_number: str | None = None,
) -> Response:
    """The member page again, with ``error`` next to ``form`` and the values typed."""
    values = {"form": form, "points": points, "reason": reason, "new_card_number": new_card_number}
    return _member_page(
        request,
        session,
        database,
        member_id,
        status=error.status,
        errors={form: error.message},
        values=values,
    )
