"""What a till journals: one immutable payload type per kind of entry.

Each payload checks its own invariants in ``check_*`` methods, run on construction, so an
entry that does not add up can never be journaled or accepted by the server.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from shared.bounds import MAX_LINES, MAX_TENDERS
from shared.journal.types import (
    CardNumber,
    Count,
    Email,
    GiftCardNumber,
    Identifier,
    LineNo,
    Minor,
    NonNegMinor,
    Phone,
    Points,
    Quantity,
    Seq,
    TerminalId,
    Text,
    UtcTimestamp,
    Uuid,
    VoucherCode,
)
from shared.rules import EarnResult

__all__ = [
    "STORED_VALUE_METHODS",
    "CardIssue",
    "CardReplacement",
    "Enrolment",
    "EntryRef",
    "GiftCardLoad",
    "JournalInvariantError",
    "MemberRef",
    "Payload",
    "PointsRedeemed",
    "PriceOverride",
    "Return",
    "ReturnLine",
    "Sale",
    "SaleLine",
    "ShiftClose",
    "Tender",
    "TenderMethod",
    "TierUpgrade",
    "Void",
    "VoucherUse",
]


class JournalInvariantError(ValueError):
    """An entry whose numbers do not add up."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_GIFT_CARD: TypeAdapter[str] = TypeAdapter(GiftCardNumber)


class TenderMethod(StrEnum):
    CASH = "cash"
    CARD = "card"
    """An external card terminal: the till records the amount and the auth code only."""
    STORE_CREDIT = "store_credit"
    """The sale's (or return's) member's store credit account, money held at HQ
    (docs/giftcards.md): paying takes from it, a refund puts into it."""
    GIFT_CARD = "gift_card"
    """A gift card or credit slip (``reference`` is its number): paying takes from its
    balance, a refund puts into it (a new number: a credit slip)."""
    VOUCHER = "voucher"
    """Not offered by tills: a voucher is a discount on the sale (``Sale.vouchers``). Kept so
    journals that hold it still read."""


# Ways to pay backed by money HQ holds: never a way to buy a gift card (laundering).
STORED_VALUE_METHODS = frozenset({TenderMethod.STORE_CREDIT, TenderMethod.GIFT_CARD})


class Tender(_Frozen):
    method: TenderMethod
    amount_minor: Annotated[NonNegMinor, Field(gt=0)]
    reference: Identifier | None = None
    """Auth code (card), or the gift card's full number (gift_card: HQ debits that card;
    receipts print its last four digits); never a bank card number."""

    @model_validator(mode="after")
    def check_gift_card_reference(self) -> Self:
        if self.method is TenderMethod.GIFT_CARD:
            _GIFT_CARD.validate_python(self.reference)
        return self

    @property
    def gift_card(self) -> str | None:
        """The gift card number a gift_card tender takes from or puts into."""
        return self.reference if self.method is TenderMethod.GIFT_CARD else None


class VoucherUse(_Frozen):
    """A single-use voucher taken off the sale (docs/vouchers.md). The till checked it
    against what it knew (issued, unused here, unexpired, the member's if bound); HQ applies
    the first use it sees of a code, and a second use anywhere is ``voucher_reused``."""

    code: VoucherCode
    discount_minor: Annotated[NonNegMinor, Field(gt=0)]
    """What the voucher took off this sale (at most its value, at most the basket)."""


class MemberRef(_Frozen):
    """Who the entry is for. A member enrolled offline has only ``local_member_id`` until the
    server assigns ``member_id``; the card number always identifies them."""

    card_number: CardNumber
    member_id: Annotated[Identifier, Field(max_length=40)] | None = None
    local_member_id: Uuid | None = None


class EntryRef(_Frozen):
    """Points at another journal entry, possibly another till's (a return at a different till)."""

    terminal_id: TerminalId
    seq: Seq
    entry_id: Uuid


def _absent(value: object) -> bool:
    return value is None


def _empty(value: tuple[object, ...]) -> bool:
    return not value


class PriceOverride(_Frozen):
    """A line sold at another price than the catalog's, which a supervisor approved."""

    original_price_minor: NonNegMinor
    """The catalog's unit price, which the line would have had."""
    approved_by: Identifier
    """The supervisor's cashier id."""


class SaleLine(_Frozen):
    line_no: LineNo
    sku: Text
    description: Text
    category: Text
    quantity: Quantity
    unit_price_minor: NonNegMinor
    discount_minor: NonNegMinor = 0
    net_minor: NonNegMinor
    tax_rate_bp: Annotated[int, Field(ge=0, le=10_000, strict=True)] = 0
    """Tax rate in basis points (1900 = 19 %); prices include tax."""
    tax_minor: NonNegMinor = 0
    price_override: PriceOverride | None = Field(default=None, exclude_if=_absent)
    """Set when a supervisor approved ``unit_price_minor`` in place of the catalog's price.
    Written only when set, so a line without one hashes as it did before the field existed
    (and an HQ that predates it still accepts the entry)."""

    @model_validator(mode="after")
    def check_net(self) -> Self:
        expected = self.quantity * self.unit_price_minor - self.discount_minor
        if self.net_minor != expected:
            raise JournalInvariantError(
                f"line {self.line_no}: net {self.net_minor} != quantity x price - discount "
                f"({expected})"
            )
        override = self.price_override
        if override is not None and override.original_price_minor == self.unit_price_minor:
            raise JournalInvariantError(
                f"line {self.line_no}: a price override must change the price"
            )
        return self


class TierUpgrade(_Frozen):
    """The till moved the member up a tier with this sale (offline-first, docs/rules.md,
    "Tiers"): its qualifying total — as of its last pull plus its own entries HQ had not
    applied, this sale included — reached the tier's threshold. HQ confirms it from its own
    figures or raises ``tier_mismatch``; it never changes a tier silently."""

    from_tier: Identifier | None
    to_tier: Identifier
    qualifying_total: NonNegMinor
    """In the unit of the program's qualification metric (points, minor units, visits)."""
    threshold: NonNegMinor


class PointsRedeemed(_Frozen):
    points: Annotated[Points, Field(gt=0)]
    discount_minor: Annotated[NonNegMinor, Field(gt=0)]
    rules_version: Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]


def _check_tenders(tenders: tuple[Tender, ...], change_minor: int, total_minor: int) -> None:
    paid = sum(t.amount_minor for t in tenders)
    if paid - change_minor != total_minor:
        raise JournalInvariantError(
            f"tenders {paid} - change {change_minor} != total {total_minor}"
        )
    if change_minor:
        cash = sum(t.amount_minor for t in tenders if t.method is TenderMethod.CASH)
        if change_minor > cash:
            raise JournalInvariantError("change can only be given out of cash tendered")


class Sale(_Frozen):
    kind: Literal["sale"] = "sale"
    store_id: Identifier
    receipt_no: Text
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    lines: Annotated[tuple[SaleLine, ...], Field(min_length=1, max_length=MAX_LINES)]
    subtotal_minor: NonNegMinor
    """Sum of line nets, before points redemption."""
    total_minor: NonNegMinor
    """What the customer pays: subtotal less the redemption discount."""
    tax_minor: NonNegMinor = 0
    tenders: Annotated[tuple[Tender, ...], Field(max_length=MAX_TENDERS)]
    change_minor: NonNegMinor = 0
    member: MemberRef | None = None
    earned: EarnResult | None = None
    redeemed: PointsRedeemed | None = None
    tier: Identifier | None = Field(default=None, exclude_if=_absent)
    """The member's tier the till computed ``earned`` with (HQ checks it against the tier it
    holds for the member). Written only when set, like ``SaleLine.price_override``."""
    tier_upgrade: TierUpgrade | None = Field(default=None, exclude_if=_absent)
    """Set when this sale moved the member up a tier at the till."""
    vouchers: Annotated[tuple[VoucherUse, ...], Field(max_length=MAX_TENDERS)] = Field(
        default=(), exclude_if=_empty
    )
    """Vouchers taken off this sale, after the points discount. Written only when there are
    some, so a sale without one hashes as it did before the field existed."""

    @model_validator(mode="after")
    def check_totals(self) -> Self:
        line_numbers = [line.line_no for line in self.lines]
        if len(set(line_numbers)) != len(line_numbers):
            raise JournalInvariantError("line numbers must be unique")
        subtotal = sum(line.net_minor for line in self.lines)
        if self.subtotal_minor != subtotal:
            raise JournalInvariantError(
                f"subtotal {self.subtotal_minor} != sum of lines {subtotal}"
            )
        discount = self.redeemed.discount_minor if self.redeemed else 0
        if discount > subtotal:
            raise JournalInvariantError("the points discount exceeds the basket")
        codes = [voucher.code for voucher in self.vouchers]
        if len(set(codes)) != len(codes):
            raise JournalInvariantError("a voucher can be taken once per sale")
        discount += self.voucher_discount_minor
        if discount > subtotal:
            raise JournalInvariantError("the discounts exceed the basket")
        if self.total_minor != subtotal - discount:
            raise JournalInvariantError(
                f"total {self.total_minor} != subtotal {subtotal} - discount {discount}"
            )
        _check_tenders(self.tenders, self.change_minor, self.total_minor)
        return self

    @property
    def voucher_discount_minor(self) -> int:
        return sum(voucher.discount_minor for voucher in self.vouchers)

    @property
    def order_discount_minor(self) -> int:
        """Everything taken off the basket as a whole: points and vouchers."""
        points = self.redeemed.discount_minor if self.redeemed else 0
        return points + self.voucher_discount_minor

    @model_validator(mode="after")
    def check_member_points(self) -> Self:
        if (self.earned or self.redeemed) and self.member is None:
            raise JournalInvariantError("points can only be earned or redeemed by a member")
        if self.earned is not None:
            self.earned.check_totals()
        if (self.tier or self.tier_upgrade) and self.member is None:
            raise JournalInvariantError("only a member has a tier")
        upgrade = self.tier_upgrade
        if upgrade is not None and upgrade.qualifying_total < upgrade.threshold:
            raise JournalInvariantError(
                f"a tier upgrade needs the threshold {upgrade.threshold}, "
                f"not {upgrade.qualifying_total}"
            )
        return self

    @property
    def points_earned(self) -> int:
        return self.earned.total_points if self.earned else 0

    @property
    def points_redeemed(self) -> int:
        return self.redeemed.points if self.redeemed else 0


class ReturnLine(_Frozen):
    original_line_no: LineNo
    quantity: Quantity
    refund_minor: NonNegMinor


class Return(_Frozen):
    """Goods brought back against an earlier sale (found by its receipt barcode)."""

    kind: Literal["return"] = "return"
    store_id: Identifier
    receipt_no: Text
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    original: EntryRef
    lines: Annotated[tuple[ReturnLine, ...], Field(min_length=1, max_length=MAX_LINES)]
    refund_minor: NonNegMinor
    tenders: Annotated[tuple[Tender, ...], Field(max_length=MAX_TENDERS)]
    """How the refund was paid out."""
    member: MemberRef | None = None
    points_reversed: Points = 0
    points_restored: Points = 0
    reason: Text | None = None
    approved_by: Identifier | None = Field(default=None, exclude_if=_absent)
    """The supervisor (cashier id) who approved a refund above the till's limit. Written only
    when set, like ``SaleLine.price_override``."""
    original_unavailable: Literal[True] | None = Field(default=None, exclude_if=_absent)
    """True when the till had not seen the original sale and could not ask HQ for it: it
    refunded the money and moved no points. HQ works out the points from the original and
    raises ``return_mismatch`` for the difference (docs/ledger.md)."""

    @model_validator(mode="after")
    def check_totals(self) -> Self:
        refunded = sum(line.refund_minor for line in self.lines)
        if refunded != self.refund_minor:
            raise JournalInvariantError(f"refund {self.refund_minor} != sum of lines {refunded}")
        _check_tenders(self.tenders, 0, self.refund_minor)
        if (self.points_reversed or self.points_restored) and self.member is None:
            raise JournalInvariantError("points can only move for a member")
        return self


class Void(_Frozen):
    """Cancels a whole earlier sale of this shift (post-void); its points are undone too."""

    kind: Literal["void"] = "void"
    original: EntryRef
    reason: Text
    total_minor: NonNegMinor


class Enrolment(_Frozen):
    """A new member signed up at the till, possibly offline; the card is assigned here."""

    kind: Literal["enrolment"] = "enrolment"
    store_id: Identifier
    local_member_id: Uuid
    name: Text
    phone: Phone | None = None
    email: Email | None = None
    marketing_consent: bool
    consent_text_version: Identifier
    """Which wording of the consent question the member agreed to (privacy audit)."""
    card_number: CardNumber

    @model_validator(mode="after")
    def check_contact(self) -> Self:
        if not (self.phone or self.email):
            raise JournalInvariantError("an enrolment needs a phone number or an email address")
        return self


class CardIssue(_Frozen):
    """An additional card for an existing member."""

    kind: Literal["card_issue"] = "card_issue"
    member: MemberRef
    card_number: CardNumber


class CardReplacement(_Frozen):
    """The old card is blocked and the member continues on the new one (balance stays with
    the member, so nothing moves between accounts)."""

    kind: Literal["card_replacement"] = "card_replacement"
    member: MemberRef
    old_card_number: CardNumber
    new_card_number: CardNumber
    reason: Literal["lost", "stolen", "damaged"]

    @model_validator(mode="after")
    def check_cards_differ(self) -> Self:
        if self.old_card_number == self.new_card_number:
            raise JournalInvariantError("the replacement card must be a different card")
        return self


class GiftCardLoad(_Frozen):
    """A gift card sold and activated (``activation``), or topped up, at the till: money in
    exchange for a balance on the card (docs/giftcards.md). Paid like a sale, but never with
    a gift card or store credit."""

    kind: Literal["giftcard_load"] = "giftcard_load"
    store_id: Identifier
    receipt_no: Text
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    card_number: GiftCardNumber
    amount_minor: Annotated[NonNegMinor, Field(gt=0)]
    activation: bool
    """True: the card was new and is activated with this amount; False: a top-up."""
    tenders: Annotated[tuple[Tender, ...], Field(min_length=1, max_length=MAX_TENDERS)]
    change_minor: NonNegMinor = 0
    member: MemberRef | None = None
    """The member who bought it, when they showed their card (no points are earned)."""

    @model_validator(mode="after")
    def check_paid(self) -> Self:
        _check_tenders(self.tenders, self.change_minor, self.amount_minor)
        if any(t.method in STORED_VALUE_METHODS for t in self.tenders):
            raise JournalInvariantError(
                "a gift card cannot be paid with a gift card or store credit"
            )
        return self


class ShiftClose(_Frozen):
    """The Z report: what the shift did, by tender, and its loyalty activity."""

    kind: Literal["shift_close"] = "shift_close"
    store_id: Identifier
    shift_id: Uuid
    opened_at: UtcTimestamp
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    first_seq: Seq
    last_seq: Annotated[Seq, Field(ge=0)]
    sales_count: Count
    sales_by_tender: dict[TenderMethod, NonNegMinor]
    refunds_count: Count
    refunds_by_tender: dict[TenderMethod, NonNegMinor]
    voids_count: Count
    points_issued: Points
    points_redeemed: Points
    points_reversed: Points
    enrolments: Count
    cash_expected_minor: Minor
    cash_counted_minor: Minor | None = None


Payload = Annotated[
    Sale | Return | Void | Enrolment | CardIssue | CardReplacement | ShiftClose | GiftCardLoad,
    Field(discriminator="kind"),
]
