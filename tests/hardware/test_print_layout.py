"""Receipt layout: every line fits the paper, whatever the receipt says."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.printing.layout import (
    Barcode,
    Cut,
    KickDrawer,
    PrintOp,
    Rule,
    TextLine,
    cells,
    clean,
    layout_lines,
    layout_receipt,
    two_column,
    wrap,
)
from shared.money import Money
from shared.receipt import (
    Discount,
    PointsLine,
    PointsSummary,
    Receipt,
    ReceiptLine,
    ReceiptMember,
    StoreHeader,
    TaxRow,
    Tender,
    reference_receipt,
)

WIDTHS = (32, 42, 48)


def overlong(ops: list[PrintOp], columns: int) -> list[str]:
    """Text lines wider than the paper (double-size lines have half the columns)."""
    bad = []
    for op in ops:
        if isinstance(op, TextLine):
            limit = columns // 2 if op.double else columns
            if cells(op.text) > limit:
                bad.append(op.text)
        elif isinstance(op, Rule) and cells(op.text) > columns:
            bad.append(op.text)
    return bad


def texts(ops: list[PrintOp]) -> list[str]:
    return [op.text for op in ops if isinstance(op, TextLine | Rule)]


@pytest.mark.parametrize("columns", [24, *WIDTHS])
def test_reference_receipt_fits_every_width(columns: int) -> None:
    for receipt in (reference_receipt(), reference_receipt(cash=False, reprint=True)):
        assert overlong(layout_receipt(receipt, columns), columns) == []


def test_reference_receipt_content_at_32_columns() -> None:
    ops = layout_receipt(reference_receipt(), 32)
    lines = texts(ops)
    assert isinstance(ops[0], KickDrawer)
    assert isinstance(ops[-1], Cut)
    assert "Café latte                6.40 A" in lines
    assert "  2 x 3.20" in lines
    assert "Organic oat milk 1 l,     2.49 B" in lines
    assert "  barista edition (lactose-free)" in lines
    assert "New balance            1,262 pts" in lines
    assert "Rate         Net     Tax   Gross" in lines
    assert "A 19%      12.82    2.44   15.26" in lines
    barcodes = [op.data for op in ops if isinstance(op, Barcode)]
    assert barcodes == ["V-K4PV-HZ7J-2DEP", "RT01-123-76"]


def test_a_reprint_has_a_banner_and_no_drawer_kick() -> None:
    ops = layout_receipt(reference_receipt(reprint=True), 42)
    assert not any(isinstance(op, KickDrawer) for op in ops)
    banner = ops[0]
    assert isinstance(banner, TextLine)
    assert (banner.text, banner.double) == ("REPRINT", True)


def test_two_column_puts_the_amount_right_and_wraps_the_label() -> None:
    assert two_column("Tea", "1.00", 12) == ["Tea     1.00"]
    assert two_column("Green tea with mint", "1.00 A", 20) == [
        "Green tea     1.00 A",
        "  with mint",
    ]
    # Too little room beside the amount: the label gets whole lines, the amount its own.
    assert two_column("Points redeemed", "-1,000,000,000.00", 24) == [
        "Points redeemed",
        "       -1,000,000,000.00",
    ]


def test_wrap_splits_words_longer_than_a_line() -> None:
    assert wrap("Donaudampfschifffahrtsgesellschaft", 10) == [
        "Donaudampf",
        "schifffahr",
        "tsgesellsc",
        "haft",
    ]
    assert wrap("", 10) == [""]


def test_wide_characters_count_two_columns() -> None:
    assert cells("東京") == 4
    assert all(cells(line) <= 5 for line in wrap("東京都渋谷区", 5))


def test_control_characters_cannot_reach_the_printer() -> None:
    # A product name carrying ESC p (drawer kick) and GS V (cut) prints as plain text.
    evil = "Free\x1bp\x00\x19\x19 lunch\x1dV\x00\ncombo"
    line = dataclasses.replace(reference_receipt().lines[0], description=evil)
    receipt = dataclasses.replace(
        reference_receipt(cash=False), lines=(line, *reference_receipt().lines[1:])
    )
    lines = texts(layout_receipt(receipt, 42))
    assert not any(ch < " " for text in lines for ch in text)
    assert clean(evil) == "Freep lunchV combo"


def test_layout_lines_keeps_indentation() -> None:
    ops = layout_lines("Z REPORT", ["Sales: 3", "  Cash: €12.00"], 32)
    assert texts(ops)[2:4] == ["Sales: 3", "  Cash: €12.00"]
    assert isinstance(ops[-1], Cut)


def test_layout_refuses_impossibly_narrow_paper() -> None:
    with pytest.raises(ValueError, match="at least 24"):
        layout_receipt(reference_receipt(), 20)


# -- random receipts -------------------------------------------------------------------------

words = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzÄÖÜßéèçñ€東京-–.()/ \t"),
    min_size=0,
    max_size=80,
)
amounts = st.integers(min_value=0, max_value=10**13)


@st.composite
def receipts(draw: st.DrawFn) -> Receipt:
    def eur(minor: int) -> Money:
        return Money(minor, "EUR")

    line_count = draw(st.integers(1, 4))
    lines = []
    for _ in range(line_count):
        quantity = draw(st.integers(-5, 999).filter(bool))
        unit = draw(amounts)
        lines.append(
            ReceiptLine(
                draw(words), quantity, eur(unit), eur(unit * quantity), draw(st.sampled_from("AB"))
            )
        )
    subtotal = sum(line.amount.minor for line in lines)
    discount = draw(st.integers(0, max(subtotal, 0)))
    total = subtotal - discount
    tax = draw(st.integers(0, max(total, 0))) if total > 0 else 0
    earned = draw(st.integers(0, 10**9))
    return Receipt(
        currency="EUR",
        store=StoreHeader(draw(words), tuple(draw(st.lists(words, max_size=2))), draw(words)),
        receipt_no=draw(words),
        terminal=draw(words),
        cashier=draw(words),
        local_time_text=draw(words),
        lines=tuple(lines),
        subtotal=eur(subtotal),
        discounts=(Discount(draw(words), eur(discount)),) if discount else (),
        total=eur(total),
        tax_rows=(
            TaxRow("A", draw(words), eur(total - tax), eur(tax), eur(total)),
            TaxRow("B", "7%", eur(0), eur(0), eur(0)),
        ),
        tenders=(Tender(draw(words), eur(total), cash=draw(st.booleans())),),
        member=ReceiptMember(draw(st.sampled_from(["•••• 1234", "**** **** 9"])), draw(words)),
        points=PointsSummary(
            earned=earned,
            breakdown=(PointsLine(draw(words), earned),),
            redeemed=draw(st.integers(0, 10**9)),
            new_balance=draw(st.integers(-(10**9), 10**12)),
            tier=draw(words),
        ),
        footer_lines=tuple(draw(st.lists(words, max_size=3))),
        reprint=draw(st.booleans()),
    )


@given(receipt=receipts(), columns=st.sampled_from([24, *WIDTHS]))
def test_no_line_of_any_receipt_exceeds_the_width(receipt: Receipt, columns: int) -> None:
    ops = layout_receipt(receipt, columns)
    assert overlong(ops, columns) == []
    assert isinstance(ops[-1], Cut)


@given(text=words, first=st.integers(2, 40), rest=st.integers(2, 40))
def test_wrap_keeps_every_word_and_respects_both_widths(text: str, first: int, rest: int) -> None:
    lines = wrap(text, first, rest)
    assert cells(lines[0]) <= first
    assert all(cells(line) <= rest for line in lines[1:])
    assert "".join(lines).replace(" ", "") == "".join(text.split())
