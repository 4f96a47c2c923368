"""HQ API: gift cards (and credit slips) — search, one card, its history, blocking a lost
card and moving its balance to a new one.

Reading needs the viewer role, blocking and moving the manager role; each write is an HQ
event in the ledger (``syncserver.hq.giftcards``) with an audit row. A till's token gets 403
(tills ask for a card's balance through ``/api/v1/sync/giftcard/{number}``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.protocol import ErrorBody
from syncserver.api.deps import ActorDep, DatabaseDep, ManagerDep, ViewerDep
from syncserver.api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from syncserver.api.params import SafeMultilineText, SafeText
from syncserver.errors import MalformedError, NotFoundError
from syncserver.hq.giftcard_views import (
    GiftCardView,
    classify_number,
    gift_card,
    giftcard_account,
    search_gift_cards,
)
from syncserver.hq.giftcards import block_gift_card, move_gift_card
from syncserver.hq.voucher_views import MoneyPosting, account_history
from syncserver.storage.database import Database

__all__ = ["card_number", "router"]

router = APIRouter(prefix="/api/v1/giftcards", tags=["gift cards"])

GiftCardPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        description="The whole card number (Luhn check digit), spaces allowed.",
        examples=["6039000000000000005"],
    ),
]


def _errors(*codes: int) -> dict[int | str, dict[str, object]]:
    return {code: {"model": ErrorBody} for code in codes}


def card_number(text: str) -> str:
    """The digits of a whole card number, else a 422 saying what is wrong."""
    search = classify_number(text)
    if search.kind == "number":
        return search.value
    if search.kind == "invalid":
        raise MalformedError(f"gift card {text!r}: {search.value}")
    raise MalformedError(
        f"gift card {text!r} is not a whole card number: check its digits (the last is a "
        "check digit)"
    )


def _card(database: Database, number: str) -> GiftCardView:
    with database.read() as conn:
        found = gift_card(conn, number)
    if found is None:
        raise NotFoundError(
            f"no gift card {number}: check the number, or search with GET /api/v1/giftcards?q=…"
        )
    return found


@router.get("", responses=_errors(401, 403, 422))
def list_gift_cards(
    _user: ViewerDep,
    database: DatabaseDep,
    q: Annotated[
        str | None,
        Query(max_length=40, description="The whole number, or at least its last 4 digits."),
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[GiftCardView]:
    """Gift cards and credit slips by number (keyset-paginated), filtered by the whole
    number or its last digits."""
    search = classify_number(q)
    if search.kind == "invalid":
        raise MalformedError(f"q: {search.value}")
    with database.read() as conn:
        items, next_cursor = search_gift_cards(conn, search, limit, cursor)
    return Page[GiftCardView](items=items, next_cursor=next_cursor)


@router.get("/{number}", responses=_errors(401, 403, 404, 422))
def get_gift_card(number: GiftCardPath, _user: ViewerDep, database: DatabaseDep) -> GiftCardView:
    """The card's balance (the sum of its postings), status, block reason and where a
    moved balance went."""
    return _card(database, card_number(number))


@router.get("/{number}/history", responses=_errors(401, 403, 404, 422))
def get_history(
    number: GiftCardPath,
    _user: ViewerDep,
    database: DatabaseDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[MoneyPosting]:
    """The card's postings, newest first (when they happened at the till, ties by arrival),
    each with the balance after it and the till entry (store, till, seq, receipt number)
    or HQ event (who, why) behind it."""
    digits = card_number(number)
    _card(database, digits)
    with database.read() as conn:
        items, next_cursor = account_history(conn, giftcard_account(digits), limit, cursor)
    return Page[MoneyPosting](items=items, next_cursor=next_cursor)


class BlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: SafeMultilineText = Field(max_length=500, description="Why (at least 3 characters).")


class MoveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_number: SafeText = Field(
        max_length=40, description="The new card's number (Luhn check digit)."
    )
    reason: SafeMultilineText = Field(max_length=500, description="Why (at least 3 characters).")


class MoveResult(BaseModel):
    old: GiftCardView = Field(description="The old card: blocked, balance moved.")
    new: GiftCardView = Field(description="The new card, holding the balance.")


@router.post("/{number}/block", responses=_errors(401, 403, 404, 409, 422))
def block(
    number: GiftCardPath,
    body: BlockRequest,
    _user: ManagerDep,
    actor: ActorDep,
    database: DatabaseDep,
) -> GiftCardView:
    """Block a lost or stolen card (manager role): tills refuse it after their next pull; a
    payment with it that reaches HQ later raises a ``giftcard_blocked`` exception. The
    balance stays on the card until it is moved."""
    digits = card_number(number)
    block_gift_card(database, digits, body.reason, actor)
    return _card(database, digits)


@router.post("/{number}/move", responses=_errors(401, 403, 404, 409, 422))
def move(
    number: GiftCardPath,
    body: MoveRequest,
    _user: ManagerDep,
    actor: ActorDep,
    database: DatabaseDep,
) -> MoveResult:
    """Move the card's balance to a new card (manager role): the old card is blocked and
    names the new one."""
    old, new = card_number(number), card_number(body.new_number)
    if old == new:
        raise MalformedError("the new card must be another card than the old one")
    move_gift_card(database, old, new, body.reason, actor)
    return MoveResult(old=_card(database, old), new=_card(database, new))
