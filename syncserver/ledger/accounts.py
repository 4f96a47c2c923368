"""Account names and posting kinds (docs/ledger.md).

An account is ``<namespace>:<id>``. Points and money never mix: every posting carries a
``unit`` (``points``, or an ISO currency code in minor units) and each entry's postings sum to
zero *per unit*.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ADJUSTED",
    "EXPIRED",
    "GIFTCARD_LIABILITY",
    "ISSUED",
    "POINTS",
    "REDEEMED",
    "REVERSED",
    "WRITTEN_OFF",
    "Leg",
    "PostingKind",
    "giftcard_account",
    "member_account",
    "member_of",
    "suspense_account",
]

POINTS = "points"

ISSUED = "program:issued"
"""Points the program gave out (sales). Its balance is minus everything ever earned."""
REDEEMED = "program:redeemed"
"""Points members spent; a return that gives redeemed points back debits it."""
REVERSED = "program:reversed"
"""Earned points taken back by returns."""
ADJUSTED = "program:adjusted"
"""HQ's corrections and opening balances (imports, exception resolutions)."""
WRITTEN_OFF = "program:written_off"
"""Points HQ gave up on: an offline overdraft forgiven, points held for an unknown card."""
EXPIRED = "program:expired"
"""Points that expired (FIFO lots, syncserver.ledger.points): an expiry run posts member ->
expired (``expire``); a late debit that uses points a run had already expired posts them back
(``unexpire``, docs/ledger.md "Points lots and expiry")."""
GIFTCARD_LIABILITY = "program:giftcard_liability"
"""Reserved for gift cards: money (minor units) owed to card holders, against giftcard:<n>."""

_MEMBER = "member:"


class PostingKind(StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    REVERSE = "reverse"
    RESTORE = "restore"
    VOID = "void"
    OPENING = "opening"
    ADJUST = "adjust"
    WRITE_OFF = "write_off"
    EXPIRE = "expire"
    """An expiry run: member -X / ``program:expired`` +X."""
    UNEXPIRE = "unexpire"
    """A late entry takes back points a run had expired: ``program:expired`` -X / member +X,
    posted just before the debit (or visit) that needs them."""


def member_account(member_id: str) -> str:
    return f"{_MEMBER}{member_id}"


def member_of(account: str) -> str | None:
    """The member id of a member account; None for every other account."""
    return account[len(_MEMBER) :] if account.startswith(_MEMBER) else None


def suspense_account(card_number: str) -> str:
    """Points for a card the server cannot place: kept visible until HQ assigns them."""
    return f"suspense:card:{card_number}"


def giftcard_account(number: str) -> str:
    return f"giftcard:{number}"


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a posting: ``amount`` (signed) on ``account``."""

    account: str
    amount: int
    kind: PostingKind
    unit: str = POINTS

    @property
    def member_id(self) -> str | None:
        return member_of(self.account)


def pair(debit: str, credit: str, amount: int, kind: PostingKind) -> tuple[Leg, Leg]:
    """``amount`` onto ``debit``, the same off ``credit``: two legs that sum to zero."""
    return Leg(debit, amount, kind), Leg(credit, -amount, kind)
