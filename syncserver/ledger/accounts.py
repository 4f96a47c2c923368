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
    "GIFTCARD_SALES",
    "GIFTCARD_TENDERED",
    "ISSUED",
    "MONEY_WRITTEN_OFF",
    "POINTS",
    "REDEEMED",
    "REVERSED",
    "REWARDS",
    "STORE_CREDIT_ISSUED",
    "STORE_CREDIT_SUSPENSE",
    "STORE_CREDIT_TENDERED",
    "VOUCHER_BREAKAGE",
    "VOUCHER_FUNDING",
    "VOUCHER_REDEEMED",
    "WRITTEN_OFF",
    "Leg",
    "PostingKind",
    "credit_account",
    "giftcard_account",
    "is_stored_value",
    "member_account",
    "member_of",
    "money_pair",
    "suspense_account",
    "voucher_account",
    "voucher_suspense_account",
]

POINTS = "points"

ISSUED = "program:issued"
"""Points the program gave out (sales). Its balance is minus everything ever earned."""
REDEEMED = "program:redeemed"
"""Points members spent; a return that gives redeemed points back debits it."""
REVERSED = "program:reversed"
"""Earned points taken back by returns."""
REWARDS = "program:rewards"
"""Points members spent buying rewards from the catalog (``reward``); a void of the sale gives
them back, a return does not (a reward bought is kept)."""
ADJUSTED = "program:adjusted"
"""HQ's corrections and opening balances (imports, exception resolutions)."""
WRITTEN_OFF = "program:written_off"
"""Points HQ gave up on: an offline overdraft forgiven, points held for an unknown card."""
EXPIRED = "program:expired"
"""Points that expired (FIFO lots, syncserver.ledger.points): an expiry run posts member ->
expired (``expire``); a late debit that uses points a run had already expired posts them back
(``unexpire``, docs/ledger.md "Points lots and expiry")."""
GIFTCARD_LIABILITY = "program:giftcard_liability"
"""Reserved name from before gift cards were built; nothing posts to it (see the money
accounts below, docs/giftcards.md)."""

# Money accounts (unit: the program's currency, minor units). A customer's account (a card,
# a member's credit, a voucher) is positive while it holds value; the program accounts hold
# the other side, so each entry still sums to zero per unit.
GIFTCARD_SALES = "program:giftcard_sales"
"""Money received for gift cards sold or topped up at a till."""
GIFTCARD_TENDERED = "program:giftcard_tendered"
"""Sales paid with a gift card or credit slip."""
STORE_CREDIT_TENDERED = "program:store_credit_tendered"
"""Sales paid with a member's store credit."""
STORE_CREDIT_ISSUED = "program:store_credit_issued"
"""Refunds paid out as stored value: to a member's store credit, a gift card or a credit slip."""
VOUCHER_FUNDING = "program:voucher_funding"
"""What issuing vouchers promised (issue), less voided vouchers."""
VOUCHER_REDEEMED = "program:voucher_redeemed"
"""Discounts vouchers gave on sales."""
VOUCHER_BREAKAGE = "program:voucher_breakage"
"""Voucher value never used: a fixed voucher's unused remainder, expired vouchers."""
MONEY_WRITTEN_OFF = "program:money_written_off"
"""Money HQ gave up on when resolving an exception: a gift card's or store credit's overdraft
forgiven, a reused or invalid voucher's discount or unbacked store credit cleared from its
suspense account."""
STORE_CREDIT_SUSPENSE = "suspense:store_credit"
"""Store credit tendered or refunded on an entry without a member (legacy journals): nothing
backs it; HQ sees it here (``store_credit_unbacked``)."""

_MEMBER = "member:"


class PostingKind(StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    REVERSE = "reverse"
    RESTORE = "restore"
    VOID = "void"
    REWARD = "reward"
    """Points spent on a reward bought with a sale: ``program:rewards`` +N / member -N (one
    pair per reward, in the order of ``Sale.rewards``); consumes lots like ``redeem``."""
    OPENING = "opening"
    ADJUST = "adjust"
    WRITE_OFF = "write_off"
    EXPIRE = "expire"
    """An expiry run: member -X / ``program:expired`` +X."""
    UNEXPIRE = "unexpire"
    """A late entry takes back points a run had expired: ``program:expired`` -X / member +X,
    posted just before the debit (or visit) that needs them. For a voucher: its breakage
    taken back (a use on or before its last day that reached HQ after the expiry run)."""
    GIFTCARD_LOAD = "giftcard_load"
    """A card sold or topped up: ``program:giftcard_sales`` -A / ``giftcard:<n>`` +A."""
    TENDER = "tender"
    """A sale paid with stored value: the card or credit -A / the program's tendered +A."""
    REFUND = "refund"
    """A refund paid into stored value: ``program:store_credit_issued`` -A / the card +A."""
    GIFTCARD_MOVE = "giftcard_move"
    """HQ moved a card's balance to a new card: old -B / new +B."""
    VOUCHER_ISSUE = "voucher_issue"
    """A voucher's value promised: ``program:voucher_funding`` -V / ``voucher:<code>`` +V."""
    VOUCHER_REDEEM = "voucher_redeem"
    """A voucher taken off a sale: ``voucher:<code>`` -D / ``program:voucher_redeemed`` +D."""
    VOUCHER_UNBACKED = "voucher_unbacked"
    """A discount HQ does not back (a reused or invalid voucher):
    ``suspense:voucher:<code>`` -D / ``program:voucher_redeemed`` +D."""
    BREAKAGE = "breakage"
    """Voucher value that will never be used: ``voucher:<code>`` -R / breakage +R."""
    VOUCHER_VOID = "voucher_void"
    """HQ voided a voucher: ``voucher:<code>`` -V / ``program:voucher_funding`` +V."""


def member_account(member_id: str) -> str:
    return f"{_MEMBER}{member_id}"


def member_of(account: str) -> str | None:
    """The member id of a member account; None for every other account."""
    return account[len(_MEMBER) :] if account.startswith(_MEMBER) else None


def suspense_account(card_number: str) -> str:
    """Points for a card the server cannot place: kept visible until HQ assigns them."""
    return f"suspense:card:{card_number}"


def giftcard_account(number: str) -> str:
    """A gift card's or credit slip's money."""
    return f"giftcard:{number}"


def credit_account(member_id: str) -> str:
    """A member's store credit (money)."""
    return f"credit:{member_id}"


def voucher_account(code: str) -> str:
    """What a voucher still promises (money)."""
    return f"voucher:{code}"


def voucher_suspense_account(code: str) -> str:
    """Discounts given with ``code`` that HQ does not back (reused, invalid)."""
    return f"suspense:voucher:{code}"


def is_stored_value(account: str) -> bool:
    """Accounts with a ``stored_values`` row (their balance is cached there)."""
    return account.startswith(("giftcard:", "credit:"))


def money_pair(debit: str, credit: str, amount: int, kind: PostingKind, unit: str) -> list[Leg]:
    """Money version of :func:`pair`: ``amount`` minor units of ``unit`` onto ``debit``."""
    return [Leg(debit, amount, kind, unit), Leg(credit, -amount, kind, unit)]


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
