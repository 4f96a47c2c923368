"""What a loyalty receipt says, independent of any printer.

A :class:`Receipt` is plain data: the till builds it from a journaled sale and hands it to a
printer driver (``hardware.printing``), which lays it out for its paper width. Every amount is
a :class:`~shared.money.Money` and every points figure an ``int`` (docs/design.md, invariant 6).

Construction checks that the numbers add up, so a receipt can never show a total its lines,
discounts and tenders contradict, and refuses a member card number that is not masked: a
receipt leaves the store in the customer's pocket and must never carry a full card number.

Gift cards, credit slips and store credit a receipt moved money on are
:class:`StoredValueLine` s: the card's last four digits, the amount and the balance left (a
credit slip also prints its number as a barcode: the slip is the card). Vouchers redeemed
are :class:`Discount` s ("Voucher V-K4PV-HZ7J-2DEP").

A return receipt (``refund_of`` set) is the same shape with the signs turned: its lines,
total and tenders are zero or negative (money going back to the customer), it names the
receipt it refunds, and its points say what the return gave back and took back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from shared.codes import format_receipt_barcode, mask_card_number
from shared.money import Money

__all__ = [
    "REFERENCE_CARD_NUMBER",
    "Discount",
    "OriginalReceipt",
    "PointsLine",
    "PointsSummary",
    "Receipt",
    "ReceiptError",
    "ReceiptLine",
    "ReceiptMember",
    "StoreHeader",
    "StoredValueLine",
    "TaxRow",
    "Tender",
    "TierStanding",
    "VoucherIssued",
    "reference_receipt",
    "reference_return_receipt",
    "short_card",
]

_MAX_VISIBLE_CARD_DIGITS: Final = 4


class ReceiptError(ValueError):
    """A receipt whose figures contradict each other, or that would leak a card number."""


@dataclass(frozen=True, slots=True)
class StoreHeader:
    """The top of the receipt: who sold it (tax law wants the address and tax id)."""

    name: str
    address_lines: tuple[str, ...] = ()
    tax_id: str | None = None
    """Printed as given, e.g. "VAT GB123456789" or "USt-IdNr. DE123456789"."""


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    """One sold item. ``amount`` is what the line costs after any line discount."""

    description: str
    quantity: int
    unit_price: Money
    amount: Money
    tax_letter: str
    """Ties the line to a row of the tax summary ("A" = 19 %)."""
    note: str | None = None
    """Printed under the line, e.g. a supervisor-approved price and the catalog's."""


@dataclass(frozen=True, slots=True)
class Discount:
    """An order-level reduction, e.g. "Points redeemed 500 pts". ``amount`` is positive."""

    label: str
    amount: Money


@dataclass(frozen=True, slots=True)
class TaxRow:
    """One row of the tax summary: prices include tax, so ``net + tax == gross``."""

    letter: str
    rate_text: str
    """The rate as people read it: "19%", "7%", "0%"."""
    net: Money
    tax: Money
    gross: Money


@dataclass(frozen=True, slots=True)
class Tender:
    """How (part of) the total was paid. Cash tenders open the cash drawer."""

    label: str
    amount: Money
    cash: bool = False


@dataclass(frozen=True, slots=True)
class ReceiptMember:
    """The loyalty member on the sale. Holds only the masked card number, never the full one."""

    masked_card: str
    tier: str

    def __post_init__(self) -> None:
        if sum(ch.isdigit() for ch in self.masked_card) > _MAX_VISIBLE_CARD_DIGITS:
            raise ReceiptError(
                "masked_card shows more than the last 4 digits; build it with "
                "ReceiptMember.from_card_number()"
            )

    @classmethod
    def from_card_number(cls, card_number: str, tier: str) -> ReceiptMember:
        """Mask a full card number (last 4 digits shown) the one way every receipt does."""
        return cls(mask_card_number(card_number), tier)


@dataclass(frozen=True, slots=True)
class PointsLine:
    """One line of the points breakdown: "Double points on coffee  +6 pts"."""

    label: str
    points: int


@dataclass(frozen=True, slots=True)
class TierStanding:
    """The member's tier and what comes next, in the words the receipt prints them."""

    name: str
    """The tier's name ("Silver"), never its code."""
    upgraded: bool = False
    """This sale moved the member up: printed as "You are now Silver"."""
    perks: tuple[str, ...] = ()
    progress: str | None = None
    """ "488 pts to Gold by 31 Dec"."""
    grace: str | None = None
    """ "On grace until 31 Mar 2027"."""
    expiring: str | None = None
    """ "1,200 pts expire on 31 Jan"."""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ReceiptError("a tier standing needs the tier's name")


@dataclass(frozen=True, slots=True)
class PointsSummary:
    """Points on this sale as the till's rules engine computed them (invariant 5).

    On a return receipt ``earned`` and ``redeemed`` are 0: ``returned`` is what the return
    gave back of the points the customer paid with, ``taken_back`` what it took back of the
    points the sale had earned."""

    earned: int
    breakdown: tuple[PointsLine, ...] = ()
    """Short lines that add up to ``earned``; empty prints the total alone."""
    redeemed: int = 0
    rewards: int = 0
    """Points spent on rewards bought with this sale (docs/till-rewards.md)."""
    new_balance: int = 0
    tier: str | None = None
    """The member's tier after this sale; printed when it is known."""
    returned: int = 0
    taken_back: int = 0
    provisional: bool = False
    """``new_balance`` is the till's own view, not yet confirmed by HQ (the till was offline,
    or HQ has not seen this member's earlier entries from it): printed as provisional."""
    standing: TierStanding | None = None
    """The tier, its perks, progress and expiring points; when set it replaces ``tier``."""

    def __post_init__(self) -> None:
        if min(self.earned, self.redeemed, self.rewards, self.returned, self.taken_back) < 0:
            raise ReceiptError(
                "points earned, redeemed, returned and taken back are non-negative counts"
            )
        if self.breakdown and sum(p.points for p in self.breakdown) != self.earned:
            raise ReceiptError(
                f"points breakdown adds up to {sum(p.points for p in self.breakdown)}, "
                f"not the {self.earned} earned"
            )


@dataclass(frozen=True, slots=True)
class VoucherIssued:
    """A voucher handed out with this receipt; its code prints as a barcode."""

    code: str
    description: str


def short_card(number: str) -> str:
    """A gift card or credit slip as receipts name it: ``••••1234`` (last four digits)."""
    digits = re.sub(r"\D", "", number)
    return "••••" + digits[-_MAX_VISIBLE_CARD_DIGITS:]


@dataclass(frozen=True, slots=True)
class StoredValueLine:
    """Money this receipt moved on a gift card, a credit slip or store credit:
    "Gift card ••••1234 activated  €25.00", then the balance left."""

    text: str
    """Names the card by its last four digits at most (:func:`short_card`)."""
    amount: Money
    """What moved, positive."""
    balance: Money | None = None
    """The balance left after it, as the till knows it."""
    barcode: str | None = None
    """A credit slip's full number, printed as a barcode only (the slip is the card)."""

    def __post_init__(self) -> None:
        if max((len(run) for run in re.findall(r"\d+", self.text)), default=0) > 4:
            raise ReceiptError("a stored-value line shows at most the last 4 digits of a card")
        if self.amount.minor < 0:
            raise ReceiptError("a stored-value line's amount is positive")


@dataclass(frozen=True, slots=True)
class OriginalReceipt:
    """The sale a return receipt refunds, as its own receipt showed it."""

    receipt_no: str
    local_time_text: str | None = None


def _sum(amounts: Iterable[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total


@dataclass(frozen=True, slots=True)
class Receipt:
    """Everything one printed loyalty receipt shows, in the order a customer reads it."""

    currency: str
    store: StoreHeader
    receipt_no: str
    terminal: str
    cashier: str
    local_time_text: str
    """The store's wall-clock time, already formatted ("2026-03-14 17:42"): the receipt does
    not convert time zones, the till does."""
    lines: tuple[ReceiptLine, ...]
    subtotal: Money
    total: Money
    discounts: tuple[Discount, ...] = ()
    tax_rows: tuple[TaxRow, ...] = ()
    tenders: tuple[Tender, ...] = ()
    change: Money | None = None
    member: ReceiptMember | None = None
    points: PointsSummary | None = None
    vouchers: tuple[VoucherIssued, ...] = ()
    stored_value: tuple[StoredValueLine, ...] = ()
    """Gift cards, credit slips and store credit this receipt moved money on."""
    receipt_barcode: str | None = None
    """The payload that finds this sale again for a return (``format_receipt_barcode``)."""
    footer_lines: tuple[str, ...] = ()
    reprint: bool = False
    """A copy printed later: shows a REPRINT banner and never opens the cash drawer."""
    refund_of: OriginalReceipt | None = None
    """Set on a return receipt: the sale it refunds. Amounts are then zero or negative."""

    def __post_init__(self) -> None:
        self._check_currencies()
        self._check_arithmetic()
        if self.refund_of is not None:
            self._check_refund()

    @property
    def is_return(self) -> bool:
        return self.refund_of is not None

    @property
    def change_due(self) -> Money:
        return self.change if self.change is not None else Money.zero(self.currency)

    @property
    def open_drawer(self) -> bool:
        """Kick the cash drawer: a cash tender was taken and this is not a later copy."""
        return not self.reprint and any(t.cash for t in self.tenders)

    def _monies(self) -> Iterable[Money]:
        yield self.subtotal
        yield self.total
        yield self.change_due
        for line in self.lines:
            yield line.unit_price
            yield line.amount
        yield from (d.amount for d in self.discounts)
        for row in self.tax_rows:
            yield from (row.net, row.tax, row.gross)
        yield from (t.amount for t in self.tenders)
        for moved in self.stored_value:
            yield moved.amount
            if moved.balance is not None:
                yield moved.balance

    def _check_refund(self) -> None:
        """A refund shows money going back: a positive figure would read as a charge."""
        amounts = [self.total, *(line.amount for line in self.lines)]
        amounts += [t.amount for t in self.tenders]
        if any(amount.minor > 0 for amount in amounts):
            raise ReceiptError("a return receipt's lines, total and tenders are zero or negative")
        if self.discounts or self.change_due:
            raise ReceiptError("a return receipt has no discounts and gives no change")
        points = self.points
        if points is not None and (points.earned or points.redeemed):
            raise ReceiptError("a return earns and redeems nothing: use returned and taken_back")

    def _check_currencies(self) -> None:
        others = sorted({m.currency for m in self._monies()} - {self.currency})
        if others:
            raise ReceiptError(f"receipt in {self.currency} has amounts in {', '.join(others)}")

    def _check_arithmetic(self) -> None:
        cur = self.currency
        lines_sum = _sum((line.amount for line in self.lines), cur)
        if lines_sum != self.subtotal:
            raise ReceiptError(f"lines add up to {lines_sum}, subtotal says {self.subtotal}")
        discounted = self.subtotal - _sum((d.amount for d in self.discounts), cur)
        if discounted != self.total:
            raise ReceiptError(f"subtotal less discounts is {discounted}, total says {self.total}")
        if self.tenders:
            paid = _sum((t.amount for t in self.tenders), cur) - self.change_due
            if paid != self.total:
                raise ReceiptError(f"tenders less change come to {paid}, total is {self.total}")
        elif self.change_due:
            raise ReceiptError("change given without any tender")
        for row in self.tax_rows:
            if row.net + row.tax != row.gross:
                raise ReceiptError(f"tax row {row.letter}: net + tax != gross")
        if self.tax_rows:
            gross = _sum((row.gross for row in self.tax_rows), cur)
            if gross != self.total:
                raise ReceiptError(f"tax summary gross is {gross}, total is {self.total}")
        letters = {row.letter for row in self.tax_rows}
        unknown = sorted({line.tax_letter for line in self.lines} - letters) if letters else []
        if unknown:
            raise ReceiptError(f"lines use tax letters {unknown} missing from the tax summary")


REFERENCE_CARD_NUMBER: Final = "9826000123456785"
"""The member card on :func:`reference_receipt`; tests check it never appears in full."""

_VOUCHER_CODE: Final = "V-K4PV-HZ7J-2DEP"


def reference_receipt(*, cash: bool = True, reprint: bool = False) -> Receipt:
    """A realistic receipt for print tests, the demo and the golden files.

    Deliberately awkward: accented and non-Latin-1 text ("Grüße", "café", "Zoë", "€5", curly
    quotes, "×"), a description too long for one line, a quantity line, a points redemption,
    a voucher barcode and the receipt barcode. ``cash=False`` pays by card (no drawer kick).

    Figures: lines 23.89; 500 points redeemed take 5.00 off, split over the tax rates in
    proportion (A 4.04, B 0.96, ``shared.money.allocate``); tax is extracted from the gross.
    """

    def eur(minor: int) -> Money:
        return Money(minor, "EUR")

    lines = (
        ReceiptLine("Café latte", 2, eur(320), eur(640), "A"),
        ReceiptLine("Croissant au beurre", 1, eur(210), eur(210), "B"),
        ReceiptLine(
            "Organic oat milk 1 l, barista edition (lactose-free)", 1, eur(249), eur(249), "B"
        ),
        ReceiptLine("Mug “Grüße aus Berlin”", 1, eur(1290), eur(1290), "A"),
    )
    tenders = (
        (Tender("Cash", eur(2000), cash=True),) if cash else (Tender("Card •••• 4242", eur(1889)),)
    )
    return Receipt(
        currency="EUR",
        store=StoreHeader(
            name="Café Lindenhof",
            address_lines=("Hauptstraße 12", "10115 Berlin"),
            tax_id="USt-IdNr. DE123456789",
        ),
        receipt_no="T01-000123",
        terminal="T01",
        cashier="Zoë",
        local_time_text="2026-03-14 17:42",
        lines=lines,
        subtotal=eur(2389),
        discounts=(Discount("Points redeemed 500 pts", eur(500)),),
        total=eur(1889),
        tax_rows=(
            TaxRow("A", "19%", eur(1282), eur(244), eur(1526)),
            TaxRow("B", "7%", eur(339), eur(24), eur(363)),
        ),
        tenders=tenders,
        change=eur(111) if cash else None,
        member=ReceiptMember.from_card_number(REFERENCE_CARD_NUMBER, "Silver"),
        points=PointsSummary(
            earned=28,
            breakdown=(
                PointsLine("Base 1 pt per €1", 18),
                PointsLine("Silver tier ×1.25", 4),
                PointsLine("Double points: café", 6),
            ),
            redeemed=500,
            new_balance=1262,
            tier="Silver",
        ),
        vouchers=(VoucherIssued(_VOUCHER_CODE, "€5 off your next visit, valid until 2026-04-30"),),
        receipt_barcode=format_receipt_barcode("T01", 123),
        footer_lines=(
            "Vielen Dank & liebe Grüße!",
            "Returns within 30 days with this receipt.",
        ),
        reprint=reprint,
    )


def reference_return_receipt(*, provisional: bool = False) -> Receipt:
    """The return of part of :func:`reference_receipt`: one latte and the mug come back.

    Money back is what was paid for them (their share of the points discount deducted), the
    points the sale earned on them are taken back and the redeemed points they carried are
    returned."""

    def eur(minor: int) -> Money:
        return Money(minor, "EUR")

    lines = (
        ReceiptLine("Café latte", -1, eur(269), eur(-269), ""),
        ReceiptLine("Mug “Grüße aus Berlin”", -1, eur(1085), eur(-1085), ""),
    )
    return Receipt(
        currency="EUR",
        store=StoreHeader(
            name="Café Lindenhof",
            address_lines=("Hauptstraße 12", "10115 Berlin"),
            tax_id="USt-IdNr. DE123456789",
        ),
        receipt_no="T01-000131",
        terminal="T01",
        cashier="Zoë",
        local_time_text="2026-03-16 09:05",
        lines=lines,
        subtotal=eur(-1354),
        total=eur(-1354),
        tenders=(Tender("Cash refund", eur(-1354), cash=True),),
        member=ReceiptMember.from_card_number(REFERENCE_CARD_NUMBER, "Silver"),
        points=PointsSummary(
            earned=0,
            returned=297,
            taken_back=18,
            new_balance=1541,
            tier="Silver",
            provisional=provisional,
        ),
        receipt_barcode=format_receipt_barcode("T01", 131),
        refund_of=OriginalReceipt("T01-000123", "2026-03-14 17:42"),
    )
