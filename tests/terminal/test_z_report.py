"""The Z report in plain words, read back from the ESC/POS printer simulator (TCP, loopback):
store name and address, till, cashier, date and time, the shift's period, sales, returns,
voids counted, tenders, points issued and redeemed, and the cash count."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from hardware.printing import ReceiptPrinter
from hardware.sim.printer_sim import PrinterSimulator
from shared.journal import Return, Sale, ShiftClose, TenderMethod
from shared.money import Money
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.till.printing import PrintQueue
from terminal.till.results import SaleDone
from terminal.till.service import Till
from tests.terminal.conftest import FakeClock
from tests.terminal.helpers import products

WAIT_S = 30.0


@pytest.fixture
def config(tmp_path: Path) -> TillConfig:
    return TillConfig(
        data_dir=tmp_path / "till",
        timezone="Europe/Berlin",
        terminal_id="T7",
        store_id="S042",
        store_name="Café Lindenhof",
        store_address=("Hauptstraße 12", "10115 Berlin"),
    )


@pytest.fixture
def printer() -> Iterator[PrinterSimulator]:
    with PrinterSimulator() as sim:
        yield sim


def _sell(
    till: Till, config: TillConfig, *, card: int | None, method: TenderMethod, redeem: int = 0
) -> SaleDone:
    basket = till.new_basket()
    for product in products(till.database)[:2]:
        till.add_product(basket, product.sku, quantity=2)
    if card is not None:
        till.attach_member(basket, demo_card(config, card))
        if redeem:
            till.redeem(basket, redeem)
    till.add_tender(basket, method, None)
    return till.complete_sale(basket)


def _sale(done: SaleDone) -> Sale:
    assert isinstance(done.entry.payload, Sale)
    return done.entry.payload


def _euros(minor: int) -> str:
    return Money(minor, "EUR").format()


def test_the_z_report_says_who_where_when_and_what_in_plain_words(
    till: Till, config: TillConfig, clock: FakeClock, printer: PrinterSimulator
) -> None:
    # Signed in (the shift opened) at 09:00 UTC, 10:00 in Berlin; closed at 17:30 Berlin.
    rich = next(n for n in range(1, 61) if till.member_view(demo_card(config, n)).balance >= 400)
    clock.now += timedelta(hours=1)
    cash = _sell(till, config, card=rich, method=TenderMethod.CASH, redeem=300)
    card = _sell(till, config, card=None, method=TenderMethod.CARD)
    voided = _sell(till, config, card=rich, method=TenderMethod.CASH)
    till.void_sale(voided.entry.seq, "wrong customer")
    returned = till.return_items(cash.entry.seq, {1: 1})
    till.enrol(
        name="Ana Lima",
        phone=None,
        email="ana@example.com",
        marketing_consent=False,
        card_number=demo_card(config, 70_000),
    )
    clock.now += timedelta(hours=6, minutes=30)
    z_entry, job = till.close_shift(cash_counted_minor=12_345)
    z = z_entry.payload
    assert isinstance(z, ShiftClose)

    outcome = PrintQueue(
        till, lambda: ReceiptPrinter(printer.url, "TM-T88V", timeout_s=WAIT_S)
    ).print_job(job)
    assert outcome.ok, outcome.message
    (receipt,) = printer.wait_for_receipts(1, WAIT_S)
    lines = [" ".join(line.split()) for line in receipt.text.splitlines()]
    text = "\n".join(lines)

    assert "Z REPORT" in lines[0]
    # Who and where.
    assert "Café Lindenhof" in lines
    assert "Hauptstraße 12" in lines
    assert "10115 Berlin" in lines
    assert "Store S042, till T7" in lines
    assert f"Z report T7-{z_entry.seq}" in lines
    assert "Cashier: 1 (Alex Meyer)" in lines
    # When: the store's local time, and the shift's period.
    assert "Shift opened: 2026-11-23 10:00" in lines
    assert "Shift closed: 2026-11-23 17:30" in lines
    assert "(store time, Europe/Berlin)" in lines
    # What: sales with tenders, returns, voids counted, new members.
    sales = [cash, card, voided]
    taken = {
        TenderMethod.CASH: _sale(cash).total_minor + _sale(voided).total_minor,
        TenderMethod.CARD: _sale(card).total_minor,
    }
    assert f"Sales: 3 sales, {_euros(sum(taken.values()))}" in lines
    assert f"Cash: {_euros(taken[TenderMethod.CASH])}" in lines
    assert f"Card: {_euros(taken[TenderMethod.CARD])}" in lines
    assert isinstance(returned.entry.payload, Return)
    refund = returned.entry.payload.refund_minor
    assert f"Returns: 1 return, {_euros(refund)} refunded" in lines
    assert "Voids: 1 sale voided" in lines
    assert "New members: 1" in lines
    # Loyalty points, in words.
    issued = sum(_sale(s).points_earned for s in sales)
    assert issued == z.points_issued
    assert f"Issued on sales: {issued:,} pts" in lines
    assert "Redeemed as payment: 300 pts" in lines
    assert re.search(r"^Taken back by returns and voids: [\d,]+ pts$", text, re.MULTILINE)
    # The cash count.
    assert f"Expected: {_euros(z.cash_expected_minor)}" in lines
    assert "Counted: €123.45" in lines
    difference = 12_345 - z.cash_expected_minor
    verdict = "over" if difference > 0 else "short"
    assert f"Difference: {_euros(abs(difference))} {verdict}" in lines
    # No journal jargon left: plain words only.
    assert "seqs" not in text
