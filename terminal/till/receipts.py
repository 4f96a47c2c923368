"""Journal entry → printable receipt. Reprints are built the same way, from the journal."""

from __future__ import annotations

from datetime import timedelta

from shared.codes import format_receipt_barcode
from shared.journal import JournalEntry, Return, ReturnLine, Sale, ShiftClose, TenderMethod
from shared.money import Money, format_points
from shared.receipt import (
    Discount,
    PointsLine,
    PointsSummary,
    Receipt,
    ReceiptLine,
    ReceiptMember,
    StoreHeader,
    TaxRow,
)
from shared.receipt import Tender as ReceiptTender
from shared.rules import EarnResult
from terminal.config import TillConfig
from terminal.till.tax import tax_by_rate

__all__ = ["TENDER_LABELS", "receipt_for_entry", "z_report_lines"]

TENDER_LABELS = {
    TenderMethod.CASH: "Cash",
    TenderMethod.CARD: "Card",
    TenderMethod.STORE_CREDIT: "Store credit",
    TenderMethod.GIFT_CARD: "Gift card",
    TenderMethod.VOUCHER: "Voucher",
}


def _refund_line(line: ReturnLine, currency: str) -> ReceiptLine:
    """A refunded line; when the refund does not split into equal cents per unit (rounding
    remainder on the last unit), it prints as one line for the whole quantity."""
    per_unit, remainder = divmod(line.refund_minor, line.quantity)
    if remainder:
        description = f"Return of line {line.original_line_no} x{line.quantity}"
        quantity, per_unit = 1, line.refund_minor
    else:
        description, quantity = f"Return of line {line.original_line_no}", line.quantity
    return ReceiptLine(
        description=description,
        quantity=quantity,
        unit_price=Money(per_unit, currency),
        amount=Money(line.refund_minor, currency),
        tax_letter="",
    )


def _tax_letter(rates: list[int], rate: int) -> str:
    return "ABCDEFGH"[rates.index(rate)]


def _local_time_text(entry: JournalEntry) -> str:
    local = entry.occurred_at + timedelta(minutes=entry.utc_offset_min)
    return local.strftime("%Y-%m-%d %H:%M")


def receipt_for_entry(
    entry: JournalEntry,
    config: TillConfig,
    *,
    balance_after: int | None,
    tier_after: str | None,
    reprint: bool = False,
) -> Receipt:
    """The customer receipt for a sale or a return entry."""
    payload = entry.payload
    if not isinstance(payload, Sale | Return):
        raise ValueError(f"a {payload.kind} entry has no customer receipt")
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
    tenders = tuple(
        ReceiptTender(
            label=TENDER_LABELS[t.method],
            amount=Money(t.amount_minor, cur),
            cash=t.method == "cash",
        )
        for t in payload.tenders
    )
    member = (
        ReceiptMember.from_card_number(payload.member.card_number, tier_after or "Member")
        if payload.member
        else None
    )
    if isinstance(payload, Return):
        refund_lines = tuple(_refund_line(line, cur) for line in payload.lines)
        points = None
        if payload.member is not None:
            points = PointsSummary(
                earned=payload.points_restored,
                breakdown=(
                    (PointsLine("Redeemed points given back", payload.points_restored),)
                    if payload.points_restored
                    else ()
                ),
                redeemed=payload.points_reversed,
                new_balance=balance_after or 0,
                tier=tier_after,
            )
        refund = Money(payload.refund_minor, cur)
        return Receipt(
            **common,  # type: ignore[arg-type]
            lines=refund_lines,
            subtotal=refund,
            total=refund,
            tenders=tenders,
            member=member,
            points=points,
        )

    rates = sorted({line.tax_rate_bp for line in payload.lines})
    lines = tuple(
        ReceiptLine(
            description=line.description,
            quantity=line.quantity,
            unit_price=Money(line.unit_price_minor, cur),
            amount=Money(line.net_minor, cur),
            tax_letter=_tax_letter(rates, line.tax_rate_bp),
        )
        for line in payload.lines
    )
    discount = payload.redeemed.discount_minor if payload.redeemed else 0
    discounts = (
        (
            Discount(
                f"Points redeemed {format_points(payload.points_redeemed)}", Money(discount, cur)
            ),
        )
        if discount
        else ()
    )
    taxes = tax_by_rate([(line.net_minor, line.tax_rate_bp) for line in payload.lines], discount)
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
            new_balance=balance_after or 0,
            tier=tier_after,
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
    )


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


def z_report_lines(payload: ShiftClose) -> list[str]:
    """The Z report as plain lines (printed through the same printer path)."""
    cur = payload.currency
    out = [f"Z REPORT  store {payload.store_id}", f"seqs {payload.first_seq}-{payload.last_seq}"]
    out.append(f"Sales: {payload.sales_count}")
    for method, amount in sorted(payload.sales_by_tender.items()):
        out.append(f"  {TENDER_LABELS[method]}: {Money(amount, cur)}")
    out.append(f"Refunds: {payload.refunds_count}")
    for method, amount in sorted(payload.refunds_by_tender.items()):
        out.append(f"  {TENDER_LABELS[method]}: {Money(amount, cur)}")
    out.append(f"Voids: {payload.voids_count}")
    out.append(f"Points issued: {payload.points_issued}")
    out.append(f"Points redeemed: {payload.points_redeemed}")
    out.append(f"Points reversed: {payload.points_reversed}")
    out.append(f"Enrolments: {payload.enrolments}")
    out.append(f"Cash expected: {Money(payload.cash_expected_minor, cur)}")
    if payload.cash_counted_minor is not None:
        out.append(f"Cash counted: {Money(payload.cash_counted_minor, cur)}")
        out.append(
            f"Difference: {Money(payload.cash_counted_minor - payload.cash_expected_minor, cur)}"
        )
    return out
