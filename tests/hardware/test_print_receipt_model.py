"""The Receipt model: the numbers must add up and a full card number can never get in."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from shared.money import Money
from shared.receipt import (
    REFERENCE_CARD_NUMBER,
    Discount,
    PointsLine,
    PointsSummary,
    ReceiptError,
    ReceiptMember,
    Tender,
    reference_receipt,
)


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def test_reference_receipt_is_consistent_and_non_ascii() -> None:
    receipt = reference_receipt()
    assert receipt.total == eur(1889)
    assert receipt.member is not None
    assert receipt.member.masked_card.endswith(REFERENCE_CARD_NUMBER[-4:])
    assert REFERENCE_CARD_NUMBER not in repr(receipt)
    text = repr(receipt)
    for probe in ("Grüße", "€5", "café", "Zoë"):
        assert probe in text


def test_the_drawer_opens_for_cash_only_and_never_on_a_reprint() -> None:
    assert reference_receipt(cash=True).open_drawer
    assert not reference_receipt(cash=False).open_drawer
    assert not reference_receipt(cash=True, reprint=True).open_drawer


def test_member_refuses_an_unmasked_card_number() -> None:
    with pytest.raises(ReceiptError, match="last 4 digits"):
        ReceiptMember(REFERENCE_CARD_NUMBER, "Gold")
    masked = ReceiptMember.from_card_number("9826 0001 2345 6785", "Gold").masked_card
    assert masked.endswith("6785")
    assert sum(ch.isdigit() for ch in masked) == 4


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"subtotal": eur(2390)}, "lines add up"),
        ({"discounts": (Discount("Points", eur(400)),)}, "less discounts"),
        ({"tenders": (Tender("Cash", eur(1000), cash=True),)}, "tenders less change"),
        ({"tenders": (), "change": eur(1)}, "change given without"),
        ({"total": Money(1889, "USD")}, "amounts in USD"),
    ],
)
def test_figures_that_contradict_each_other_are_refused(
    changes: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ReceiptError, match=complaint):
        dataclasses.replace(reference_receipt(), **changes)


def test_tax_rows_must_add_up() -> None:
    receipt = reference_receipt()
    row = dataclasses.replace(receipt.tax_rows[0], tax=eur(245))
    with pytest.raises(ReceiptError, match="net \\+ tax"):
        dataclasses.replace(receipt, tax_rows=(row, receipt.tax_rows[1]))
    with pytest.raises(ReceiptError, match="tax summary gross"):
        dataclasses.replace(receipt, tax_rows=receipt.tax_rows[:1])


def test_points_breakdown_must_add_up_to_the_points_earned() -> None:
    with pytest.raises(ReceiptError, match="adds up to 5"):
        PointsSummary(earned=6, breakdown=(PointsLine("Base", 5),))
    with pytest.raises(ReceiptError, match="non-negative"):
        PointsSummary(earned=-1)
