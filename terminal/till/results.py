"""What the till's actions return to the UI and the command line."""

from __future__ import annotations

from dataclasses import dataclass

from shared.codes import (
    ReceiptRef,
)
from shared.journal import (
    JournalEntry,
)
from terminal.store.catalog import Offer
from terminal.till.standing import Standing

__all__ = ["MemberView", "ReturnableLine", "SaleDone", "ScanResult"]


@dataclass(frozen=True, slots=True)
class MemberView:
    """What the member panel and the self-check screen show."""

    member_key: str
    name: str
    card_number: str
    tier: str | None
    balance: int
    offers: tuple[Offer, ...]
    blocked: bool = False
    standing: Standing | None = None
    """Tier name, perks, progress and expiring points (None: not known here)."""


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a scan did to the basket, in words for the status line."""

    kind: str  # product | member | receipt | voucher | gift_card | ignored
    message: str
    receipt: ReceiptRef | None = None
    gift_card: str | None = None
    """A scanned gift card's number: the payment screen offers to pay with it."""


@dataclass(frozen=True, slots=True)
class SaleDone:
    entry: JournalEntry
    print_job_id: int
    change_minor: int
    balance_after: int | None


@dataclass(frozen=True, slots=True)
class ReturnableLine:
    line_no: int
    description: str
    sold_quantity: int
    returnable_quantity: int
    unit_net_minor: int
    """Refund per unit: the line's net over its quantity (rounding remainder on the last)."""
