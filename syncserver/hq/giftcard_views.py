"""HQ's reading of gift cards, credit slips and members' store credit (``stored_values``):
search by number or its last digits, one card with its balance and status, its history
(postings on ``giftcard:<number>`` with the till entry behind each), and a member's store
credit. Pure read queries; the writes are HQ actions (``syncserver.hq.giftcards``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Row, select

from shared.codes import luhn_valid
from syncserver.api.pagination import decode_cursor, page_of
from syncserver.hq.voucher_views import money_text
from syncserver.storage.schema import stored_values

__all__ = [
    "MIN_SUFFIX_DIGITS",
    "CardSearch",
    "GiftCardView",
    "StoreCredit",
    "classify_number",
    "gift_card",
    "giftcard_account",
    "member_store_credit",
    "search_gift_cards",
]

MIN_SUFFIX_DIGITS = 4
"""The fewest last digits a search takes (fewer would list half the cards)."""

_SEPARATORS = re.compile(r"[\s-]+")
_DIGITS = re.compile(r"[0-9]{1,40}")


def giftcard_account(number: str) -> str:
    return f"giftcard:{number}"


@dataclass(frozen=True, slots=True)
class CardSearch:
    kind: Literal["all", "number", "suffix", "invalid"]
    value: str = ""
    """The digits, or what was wrong with them."""


def classify_number(text: str | None) -> CardSearch:
    """A whole card number (Luhn-valid; spaces and dashes as printed are fine) or its last
    digits (at least :data:`MIN_SUFFIX_DIGITS`)."""
    digits = _SEPARATORS.sub("", text or "")
    if not digits:
        return CardSearch("all")
    if not _DIGITS.fullmatch(digits):
        return CardSearch("invalid", "a gift card number is digits only (spaces are fine)")
    if len(digits) >= 12 and luhn_valid(digits):
        return CardSearch("number", digits)
    if len(digits) < MIN_SUFFIX_DIGITS:
        return CardSearch(
            "invalid", f"type the whole number or at least its last {MIN_SUFFIX_DIGITS} digits"
        )
    return CardSearch("suffix", digits)


class GiftCardView(BaseModel):
    card_number: str
    account: str = Field(description="The ledger account: giftcard:<number>.")
    balance_minor: int = Field(description="Minor units; negative after an offline overdraft.")
    currency: str
    balance_text: str
    status: str = Field(description="active or blocked.")
    blocked_reason: str | None
    moved_to: str | None = Field(description="Where a blocked card's balance went.")
    moved_to_number: str | None = Field(description="That card's number.")
    member_id: str | None
    activated_at: str | None
    last_used_at: str | None


class StoreCredit(BaseModel):
    member_id: str
    balance_minor: int
    currency: str
    balance_text: str
    status: str
    last_used_at: str | None


def _card(row: Row[Any]) -> GiftCardView:
    moved = row.moved_to
    return GiftCardView(
        card_number=row.card_number or row.account.removeprefix("giftcard:"),
        account=row.account,
        balance_minor=int(row.balance_minor),
        currency=row.currency,
        balance_text=money_text(int(row.balance_minor), row.currency),
        status=row.status,
        blocked_reason=row.blocked_reason,
        moved_to=moved,
        moved_to_number=moved.removeprefix("giftcard:") if moved else None,
        member_id=row.member_id,
        activated_at=row.activated_at,
        last_used_at=row.last_used_at,
    )


def gift_card(conn: Connection, number: str) -> GiftCardView | None:
    """The card (or credit slip) with this number: one primary-key lookup."""
    row = conn.execute(
        select(stored_values).where(
            stored_values.c.account == giftcard_account(number),
            stored_values.c.kind == "giftcard",
        )
    ).first()
    return None if row is None else _card(row)


def search_gift_cards(
    conn: Connection, search: CardSearch, limit: int, cursor: str | None
) -> tuple[list[GiftCardView], str | None]:
    """Cards matching the search, by account (keyset). The last digits are a scan of the
    gift cards (no index can find a suffix); a page stops at ``limit`` matches."""
    if search.kind == "invalid":
        return [], None
    after = decode_cursor(cursor, 1)
    query = select(stored_values).where(stored_values.c.kind == "giftcard")
    if search.kind == "number":
        query = query.where(stored_values.c.account == giftcard_account(search.value))
    elif search.kind == "suffix":
        query = query.where(stored_values.c.account.like(f"%{search.value}"))
    if after is not None:
        query = query.where(stored_values.c.account > str(after[0]))
    rows = conn.execute(query.order_by(stored_values.c.account).limit(limit + 1)).all()
    page, next_cursor = page_of(rows, limit, lambda row: (row.account,))
    return [_card(row) for row in page], next_cursor


def member_store_credit(conn: Connection, member_id: str) -> StoreCredit | None:
    """The member's store credit (``credit:<member id>``); None until they have had any."""
    row = conn.execute(
        select(stored_values).where(
            stored_values.c.account == f"credit:{member_id}", stored_values.c.kind == "credit"
        )
    ).first()
    if row is None:
        return None
    return StoreCredit(
        member_id=member_id,
        balance_minor=int(row.balance_minor),
        currency=row.currency,
        balance_text=money_text(int(row.balance_minor), row.currency),
        status=row.status,
        last_used_at=row.last_used_at,
    )
