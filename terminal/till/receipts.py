"""Journal entry → printable receipt. Reprints are built the same way, from the journal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from shared.codes import format_receipt_barcode
from shared.journal import (
    GiftCardLoad,
    JournalEntry,
    Return,
    ReturnLine,
    Sale,
    SaleLine,
    ShiftClose,
    Tender,
    TenderMethod,
)
from shared.money import Money, format_points
from shared.receipt import (
    Discount,
    OriginalReceipt,
    PointsLine,
    PointsSummary,
    Receipt,
    ReceiptLine,
    ReceiptMember,
    StoredValueLine,
    StoreHeader,
    TaxRow,
    TierStanding,
    VoucherIssued,
    short_card,
)
from shared.receipt import Tender as ReceiptTender
from shared.rules import EarnResult
from shared.rules.campaign_vouchers import offer_terms, offer_text
from shared.rules.model import Campaign, Reward
from shared.rules.rewards import reward_effect, voucher_terms
from terminal.config import TillConfig
from terminal.till.tax import tax_by_rate

__all__ = [
    "POINTS_NOT_ADJUSTED",
    "TENDER_LABELS",
    "receipt_for_entry",
    "tender_label",
    "with_standing",
    "z_report_lines",
]

POINTS_NOT_ADJUSTED = "Points not adjusted: the original sale is at another till; HQ will reconcile"
"""Said to the cashier and printed on the refund slip of a return made without the original
sale (``Return.original_unavailable``): no points moved, HQ adjusts the member."""

TENDER_LABELS = {
    TenderMethod.CASH: "Cash",
    TenderMethod.CARD: "Card",
    TenderMethod.STORE_CREDIT: "Store credit",
    TenderMethod.GIFT_CARD: "Gift card",
    TenderMethod.VOUCHER: "Voucher",
}


def _refund_line(line: ReturnLine, currency: str, sold: SaleLine | None) -> ReceiptLine:
    """A line that came back, named as the sale named it, with a negative amount.

    When the refund does not split into equal cents per unit (a rounding remainder on the
    last unit), the quantity goes into the description and the line shows only the amount,
    so no printed "qty x price" contradicts it."""
    name = sold.description if sold is not None else f"Item of line {line.original_line_no}"
    per_unit, remainder = divmod(line.refund_minor, line.quantity)
    if remainder:
        description, quantity, per_unit = f"{name} x{line.quantity}", 1, line.refund_minor
    else:
        description, quantity = name, -line.quantity
    return ReceiptLine(
        description=description,
        quantity=quantity,
        unit_price=Money(per_unit, currency),
        amount=Money(-line.refund_minor, currency),
        tax_letter="",
    )


def _price_note(line: SaleLine, currency: str) -> str | None:
    """Under a line sold at a supervisor-approved price: the catalog's price, and who."""
    override = line.price_override
    if override is None:
        return None
    was = Money(override.original_price_minor, currency).amount_text()
    return f"Price changed from {was} (supervisor {override.approved_by})"


def _tax_letter(rates: list[int], rate: int) -> str:
    return "ABCDEFGH"[rates.index(rate)]


def _local_time_text(entry: JournalEntry) -> str:
    return entry.local_time.strftime("%Y-%m-%d %H:%M")


def receipt_for_entry(
    entry: JournalEntry,
    config: TillConfig,
    *,
    balance_after: int | None,
    tier_after: str | None,
    reprint: bool = False,
    provisional: bool = False,
    original: JournalEntry | None = None,
    standing: TierStanding | None = None,
    stored_value: Sequence[Mapping[str, Any]] = (),
    rewards: Mapping[str, Reward] | None = None,
    campaigns: Mapping[str, Campaign] | None = None,
) -> Receipt:
    """The customer receipt for a sale or a return entry.

    ``provisional``: the balance is the till's own view HQ has not confirmed (see
    ``balance_is_provisional``). ``original``: for a return, the sale it refunds, so the
    receipt names its items and its receipt; without it the lines are "Item of line N".
    ``standing``: the member's tier by name, perks, progress and expiring points as they
    stood when the sale was made (``print_jobs.standing``); it replaces ``tier_after``.
    ``stored_value``: what the entry did to gift cards, credit slips and store credit, with
    the balances left, as decided when it was queued (``print_jobs.stored_value``).
    ``rewards``: the rewards a sale bought, by id, as the rules version it names had them
    (for their names and what their vouchers give); one missing prints by its id.
    ``campaigns``: likewise, the campaigns whose vouchers a sale was given, by id."""
    payload = entry.payload
    if not isinstance(payload, Sale | Return | GiftCardLoad):
        raise ValueError(f"a {payload.kind} entry has no customer receipt")
    if standing is not None:
        tier_after = standing.name
    cur = payload.currency
    store = StoreHeader(
        name=config.store_name, address_lines=config.store_address, tax_id=config.store_tax_id
    )
    common = {
        "currency": cur,
        "store": store,
        "receipt_no": payload.receipt_no,
        "terminal": entry.terminal_id,
        "cashier": entry.cashier_id or "-",
        "local_time_text": _local_time_text(entry),
        "footer_lines": config.receipt_footer,
        "reprint": reprint,
        "receipt_barcode": format_receipt_barcode(entry.terminal_id, entry.seq),
    }
    moved = tuple(_stored_value_line(item, cur) for item in stored_value)
    if moved:
        common["stored_value"] = moved
    tenders = tuple(
        ReceiptTender(
            label=tender_label(t),
            amount=Money(t.amount_minor, cur),
            cash=t.method == "cash",
        )
        for t in payload.tenders
    )
    if isinstance(payload, GiftCardLoad):
        return _load_receipt(payload, common, tenders)
    member = (
        ReceiptMember.from_card_number(payload.member.card_number, tier_after or "Member")
        if payload.member
        else None
    )
    if isinstance(payload, Return):
        return _return_receipt(
            payload, original, common, member, balance_after, tier_after, provisional, standing
        )

    rates = sorted({line.tax_rate_bp for line in payload.lines})
    lines = tuple(
        ReceiptLine(
            description=line.description,
            quantity=line.quantity,
            unit_price=Money(line.unit_price_minor, cur),
            amount=Money(line.net_minor, cur),
            tax_letter=_tax_letter(rates, line.tax_rate_bp),
            note=_price_note(line, cur),
        )
        for line in payload.lines
    )
    discount = payload.redeemed.discount_minor if payload.redeemed else 0
    discounts: tuple[Discount, ...] = (
        (
            Discount(
                f"Points redeemed {format_points(payload.points_redeemed)}", Money(discount, cur)
            ),
        )
        if discount
        else ()
    )
    discounts += tuple(
        Discount(f"Voucher {voucher.code}", Money(voucher.discount_minor, cur))
        for voucher in payload.vouchers
    )
    catalog = rewards or {}
    discounts += tuple(
        Discount(
            f"Reward: {_reward_name(catalog, bought.reward_id)}", Money(bought.discount_minor, cur)
        )
        for bought in payload.rewards
        if bought.voucher_code is None
    )
    vouchers = tuple(
        _reward_voucher(
            catalog.get(bought.reward_id), bought.reward_id, bought.voucher_code, entry, cur
        )
        for bought in payload.rewards
        if bought.voucher_code is not None
    )
    given = campaigns or {}
    vouchers += tuple(
        _campaign_voucher(
            given.get(item.campaign_id), item.campaign_id, item.voucher_code, entry, cur
        )
        for item in payload.campaign_vouchers
    )
    taxes = tax_by_rate(
        [(line.net_minor, line.tax_rate_bp) for line in payload.lines],
        payload.order_discount_minor,
    )
    tax_rows = tuple(
        TaxRow(
            letter=_tax_letter(rates, rate),
            rate_text=f"{rate / 100:g}%" if rate % 100 else f"{rate // 100}%",
            net=Money(gross - tax, cur),
            tax=Money(tax, cur),
            gross=Money(gross, cur),
        )
        for rate, (gross, tax) in taxes.items()
    )
    points = None
    if payload.member is not None:
        earned = payload.earned
        breakdown = _breakdown(payload, earned) if earned and earned.total_points else ()
        points = PointsSummary(
            earned=payload.points_earned,
            breakdown=breakdown,
            redeemed=payload.points_redeemed,
            rewards=payload.reward_points,
            new_balance=balance_after or 0,
            tier=tier_after,
            provisional=provisional,
            standing=standing,
        )
    return Receipt(
        **common,  # type: ignore[arg-type]
        lines=lines,
        subtotal=Money(payload.subtotal_minor, cur),
        total=Money(payload.total_minor, cur),
        discounts=discounts,
        tax_rows=tax_rows,
        tenders=tenders,
        change=Money(payload.change_minor, cur) if payload.change_minor else None,
        member=member,
        points=points,
        vouchers=vouchers,
    )


def _reward_name(catalog: Mapping[str, Reward], reward_id: str) -> str:
    reward = catalog.get(reward_id)
    return reward.name if reward is not None else reward_id


def _reward_voucher(
    reward: Reward | None, reward_id: str, code: str, entry: JournalEntry, currency: str
) -> VoucherIssued:
    """ "Reward voucher Free coffee: a free COFFEE, valid until 2026-12-23" over its barcode;
    the validity counts from the sale's day in the store's calendar, as the till issued it."""
    if reward is None:
        return VoucherIssued(code, f"Reward voucher {reward_id}")
    issued_on = entry.local_time.date()
    until = voucher_terms(reward, issued_on).expires_on.isoformat()
    effect = reward_effect(reward, currency)
    return VoucherIssued(code, f"Reward voucher {reward.name}: {effect}, valid until {until}")


def _campaign_voucher(
    campaign: Campaign | None, campaign_id: str, code: str, entry: JournalEntry, currency: str
) -> VoucherIssued:
    """ "Spend €40, get €4 off next visit: €4.00 off, valid until 2027-01-02" over its
    barcode; the validity counts from the sale's day in the store's calendar."""
    if campaign is None or campaign.voucher is None:
        return VoucherIssued(code, f"Voucher from {campaign_id}")
    issued_on = entry.local_time.date()
    until = offer_terms(campaign.voucher, issued_on).expires_on.isoformat()
    effect = offer_text(campaign.voucher, currency)
    return VoucherIssued(code, f"{campaign.name}: {effect}, valid until {until}")


def with_standing(receipt: Receipt, standing: TierStanding) -> Receipt:
    """``receipt`` saying the member's tier by name with its perks, progress and expiry."""
    if receipt.member is None and receipt.points is None:
        return receipt
    member = replace(receipt.member, tier=standing.name) if receipt.member else None
    points = (
        replace(receipt.points, tier=standing.name, standing=standing) if receipt.points else None
    )
    return replace(receipt, member=member, points=points)


def _return_receipt(
    payload: Return,
    original: JournalEntry | None,
    common: dict[str, object],
    member: ReceiptMember | None,
    balance_after: int | None,
    tier_after: str | None,
    provisional: bool,
    standing: TierStanding | None = None,
) -> Receipt:
    cur = payload.currency
    sale = original.payload if original is not None else None
    sold = {line.line_no: line for line in sale.lines} if isinstance(sale, Sale) else {}
    refund_lines = tuple(
        _refund_line(line, cur, sold.get(line.original_line_no)) for line in payload.lines
    )
    points = None
    if payload.member is not None:
        points = PointsSummary(
            earned=0,
            returned=payload.points_restored,
            taken_back=payload.points_reversed,
            new_balance=balance_after or 0,
            tier=tier_after,
            provisional=provisional,
            standing=standing,
        )
    ref = payload.original
    refund_of = OriginalReceipt(
        receipt_no=sale.receipt_no if isinstance(sale, Sale) else f"{ref.terminal_id}-{ref.seq}",
        local_time_text=_local_time_text(original) if original is not None else None,
    )
    if payload.original_unavailable:  # the till moved no points: say so, plainly
        common = {**common, "footer_lines": (POINTS_NOT_ADJUSTED, *_footer_of(common))}
    refund = Money(-payload.refund_minor, cur)
    tenders = tuple(
        ReceiptTender(
            label=f"{tender_label(t)} refund",
            amount=Money(-t.amount_minor, cur),
            cash=t.method == "cash",
        )
        for t in payload.tenders
    )
    return Receipt(
        **common,  # type: ignore[arg-type]
        lines=refund_lines,
        subtotal=refund,
        total=refund,
        tenders=tenders,
        member=member,
        points=points,
        refund_of=refund_of,
    )


def tender_label(tender: Tender) -> str:
    """How a receipt names a tender: a gift card by its last four digits."""
    if tender.gift_card is not None:
        return f"Gift card {short_card(tender.gift_card)}"
    return TENDER_LABELS[tender.method]


_MOVEMENT_WORDS = {
    "activated": "Gift card {card} activated",
    "topped_up": "Gift card {card} topped up",
    "paid": "Gift card {card} paid",
    "refunded": "Gift card {card} refunded",
    "credit_slip": "Credit slip {card}",
    "store_credit_paid": "Store credit paid",
    "store_credit_refunded": "Store credit refunded",
}


def _stored_value_line(item: Mapping[str, Any], currency: str) -> StoredValueLine:
    """One ``print_jobs.stored_value`` item (``stored_value.movement``) as a receipt line."""
    card = item.get("card")
    kind = str(item["kind"])
    text = _MOVEMENT_WORDS.get(kind, kind).format(card=short_card(card) if card else "")
    balance = item.get("balance_minor")
    return StoredValueLine(
        text=text,
        amount=Money(int(item["amount_minor"]), currency),
        balance=Money(int(balance), currency) if balance is not None else None,
        barcode=str(card) if kind == "credit_slip" and card else None,
    )


def _load_receipt(
    payload: GiftCardLoad, common: dict[str, object], tenders: tuple[ReceiptTender, ...]
) -> Receipt:
    """A gift card sold or topped up: one untaxed line (stored value is not a supply)."""
    cur = payload.currency
    amount = Money(payload.amount_minor, cur)
    what = "activated" if payload.activation else "top-up"
    line = ReceiptLine(f"Gift card {short_card(payload.card_number)} {what}", 1, amount, amount, "")
    return Receipt(
        **common,  # type: ignore[arg-type]
        lines=(line,),
        subtotal=amount,
        total=amount,
        tenders=tenders,
        change=Money(payload.change_minor, cur) if payload.change_minor else None,
    )


def _footer_of(common: dict[str, object]) -> tuple[str, ...]:
    footer = common.get("footer_lines")
    return tuple(str(line) for line in footer) if isinstance(footer, tuple | list) else ()


def _breakdown(sale: Sale, earned: EarnResult) -> tuple[PointsLine, ...]:
    """Short receipt lines from the engine's breakdown: one per earning line, then bonuses."""
    names = {line.line_no: line.description for line in sale.lines}
    items = [
        PointsLine(
            label=f"{names.get(line.line_no, line.sku)} x{line.quantity}", points=line.points
        )
        for line in earned.lines
        if line.points
    ]
    items += [PointsLine(label=b.label, points=b.points) for b in earned.order_items if b.points]
    return tuple(items)


def _count(number: int, one: str, many: str) -> str:
    return f"{number:,} {one if number == 1 else many}"


def z_report_lines(
    entry: JournalEntry, config: TillConfig, *, cashier_name: str | None = None
) -> list[str]:
    """The Z report as plain lines in plain words (printed through the same printer path).

    Who and where (store, till, cashier), when (closing time and the shift's period in the
    store's time), then the shift's figures: sales and returns by tender, voids counted,
    new members, loyalty points issued, redeemed and taken back, and the cash count."""
    payload = entry.payload
    if not isinstance(payload, ShiftClose):
        raise ValueError(f"a {payload.kind} entry is not a Z report")
    cur = payload.currency

    def money(minor: int) -> str:
        return Money(minor, cur).format()

    closed = _local_time_text(entry)
    opened = payload.opened_at.astimezone(config.zone).strftime("%Y-%m-%d %H:%M")
    cashier = entry.cashier_id or "-"
    out = [config.store_name, *config.store_address]
    out.append(f"Store {payload.store_id}, till {entry.terminal_id}")
    out.append(f"Z report {entry.terminal_id}-{entry.seq}")
    out.append(f"Cashier: {cashier} ({cashier_name})" if cashier_name else f"Cashier: {cashier}")
    out.append(f"Shift opened: {opened}")
    out.append(f"Shift closed: {closed}")
    out.append(f"  (store time, {config.timezone})")
    out.append(f"Journal entries {payload.first_seq} to {payload.last_seq}")
    out.append("")
    sales_total = sum(payload.sales_by_tender.values())
    out.append(f"Sales: {_count(payload.sales_count, 'sale', 'sales')}, {money(sales_total)}")
    for method, amount in sorted(payload.sales_by_tender.items()):
        out.append(f"  {TENDER_LABELS[method]}: {money(amount)}")
    refunds_total = sum(payload.refunds_by_tender.values())
    out.append(
        f"Returns: {_count(payload.refunds_count, 'return', 'returns')}, "
        f"{money(refunds_total)} refunded"
    )
    for method, amount in sorted(payload.refunds_by_tender.items()):
        out.append(f"  {TENDER_LABELS[method]}: {money(amount)}")
    out.append(f"Voids: {_count(payload.voids_count, 'sale', 'sales')} voided")
    if payload.voids_count:
        # The void entries do not carry amounts: the voided sales stay in Sales above.
        out.append("  (counted in Sales above; their cash is not in Cash expected)")
    out.append(f"New members: {payload.enrolments:,}")
    out.append("")
    out.append("Loyalty points")
    out.append(f"  Issued on sales: {format_points(payload.points_issued)}")
    out.append(f"  Redeemed as payment: {format_points(payload.points_redeemed)}")
    out.append(f"  Taken back by returns and voids: {format_points(payload.points_reversed)}")
    out.append("")
    out.append("Cash in the drawer")
    out.append(f"  Expected: {money(payload.cash_expected_minor)}")
    if payload.cash_counted_minor is None:
        out.append("  Counted: not counted")
    else:
        difference = payload.cash_counted_minor - payload.cash_expected_minor
        verdict = "over" if difference > 0 else "short" if difference < 0 else "exact"
        out.append(f"  Counted: {money(payload.cash_counted_minor)}")
        out.append(f"  Difference: {money(abs(difference))} {verdict}")
    return out
