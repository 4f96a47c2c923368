"""Dashboard: gift cards (and credit slips) — search by number or its last digits, one card
(balance, status, history with the till entry behind each line), blocking a lost card and
moving its balance to a new card.

Reading needs the viewer role; blocking and moving the manager role (the forms are only shown
to managers). The writes are HQ actions (``syncserver.hq.giftcards``), which record the
ledger event and the audit row. A form the action refuses comes back with the message next
to it and what was typed.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syncserver.api.deps import DatabaseDep, SettingsDep
from syncserver.api.pagination import CursorQuery
from syncserver.errors import ConflictError, MalformedError, NotFoundError
from syncserver.hq.giftcard_views import (
    classify_number,
    gift_card,
    giftcard_account,
    search_gift_cards,
)
from syncserver.hq.giftcards import block_gift_card, move_gift_card
from syncserver.hq.voucher_views import account_history, money_text
from syncserver.storage.database import Database
from syncserver.storage.users import Role
from syncserver.web.session import CheckedSession, ViewerPage, WebSession, redirect, require_role
from syncserver.web.templating import render

router = APIRouter(include_in_schema=False)

SEARCH_PAGE = 50
HISTORY_PAGE = 25

NumberPath = Annotated[str, Path(min_length=1, max_length=40)]
_REFUSED = (MalformedError, ConflictError, NotFoundError)


def card_url(number: str) -> str:
    return f"/giftcards/{quote(number, safe='')}"


@router.get("/giftcards", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: ViewerPage,
    database: DatabaseDep,
    q: Annotated[str | None, Query(max_length=40)] = None,
    cursor: CursorQuery = None,
) -> Response:
    """One number box: a whole number that exists opens the card (scan it at an HQ desk)."""
    search = classify_number(q)
    with database.read() as conn:
        found, next_cursor = search_gift_cards(conn, search, SEARCH_PAGE, cursor)
    if search.kind == "number" and len(found) == 1 and not cursor:
        return RedirectResponse(card_url(found[0].card_number), status_code=303)
    return render(
        request,
        "giftcards/search.html",
        session,
        q=q or "",
        search=search,
        cards=found,
        next_cursor=next_cursor,
    )


def _number(text: str) -> str:
    search = classify_number(text)
    if search.kind != "number":
        raise NotFoundError(
            f"{text!r} is not a whole gift card number: search by its last digits on the "
            "gift cards page"
        )
    return search.value


@router.get("/giftcards/{number}", response_class=HTMLResponse)
def card_page(
    request: Request,
    number: NumberPath,
    session: ViewerPage,
    database: DatabaseDep,
    cursor: CursorQuery = None,
) -> Response:
    return _card_page(request, session, database, _number(number), cursor)


def _card_page(
    request: Request,
    session: WebSession,
    database: Database,
    number: str,
    cursor: str | None = None,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    with database.read() as conn:
        card = gift_card(conn, number)
        if card is None:
            raise NotFoundError(
                f"no gift card {number}: check the number, or search by its last digits"
            )
        history, next_cursor = account_history(conn, giftcard_account(number), HISTORY_PAGE, cursor)
    if errors:
        # A message for a form this page no longer shows (a block of a card blocked
        # meanwhile) goes to the top of the page.
        shown = {"block"} if card.status != "blocked" else set()
        shown |= {"move"} if not card.moved_to else set()
        errors = {(key if key in shown else "page"): text for key, text in errors.items()}
    return render(
        request,
        "giftcards/detail.html",
        session,
        status,
        card=card,
        postings=history,
        next_cursor=next_cursor,
        money_text=money_text,
        can_change=session.user.can(Role.MANAGER),
        errors=errors or {},
        values=values or {},
    )


@router.post("/giftcards/{number}/block", response_class=HTMLResponse)
def block(
    request: Request,
    number: NumberPath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    require_role(session, Role.MANAGER, "blocking a gift card")
    digits = _number(number)
    try:
        block_gift_card(database, digits, reason, session.actor)
    except (MalformedError, ConflictError) as error:
        return _card_page(
            request,
            session,
            database,
            digits,
            status=error.status,
            errors={"block": error.message},
            values={"form": "block", "reason": reason},
        )
    flash = (
        f"Blocked gift card {digits}. Tills refuse it after their next sync; "
        "its balance stays on it until you move it to a new card."
    )
    return redirect(card_url(digits), settings, flash)


@router.post("/giftcards/{number}/move", response_class=HTMLResponse)
def move(
    request: Request,
    number: NumberPath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
    new_number: Annotated[str, Form(max_length=64)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    require_role(session, Role.MANAGER, "moving a gift card's balance")
    digits = _number(number)
    try:
        new = classify_number(new_number)
        if new.kind == "all":
            raise MalformedError("enter the new card's number (printed under its barcode)")
        if new.kind != "number":
            raise MalformedError(
                f"{new_number.strip()!r} is not a valid gift card number: check the digits "
                "(the last one is a check digit) or scan the card"
            )
        if new.value == digits:
            raise MalformedError("the new card must be another card than this one")
        move_gift_card(database, digits, new.value, reason, session.actor)
    except _REFUSED as error:
        return _card_page(
            request,
            session,
            database,
            digits,
            status=error.status,
            errors={"move": error.message},
            values={"form": "move", "reason": reason, "new_number": new_number},
        )
    flash = f"Moved the balance of gift card {digits} to {new.value}; {digits} is blocked."
    return redirect(card_url(new.value), settings, flash)
