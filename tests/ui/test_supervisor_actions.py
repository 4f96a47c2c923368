"""What a supervisor approves at the till, through the keys: a line's price (Ctrl+P), a refund
above the till's limit, closing the till program (Ctrl+Q) — with HQ's supervisors, whose
numbers may hold letters."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text

from shared.codes import format_receipt_barcode
from shared.journal import PriceOverride, Return, Sale, TenderMethod
from shared.pins import new_pin_hash
from shared.protocol import CashierState
from terminal.config import TillConfig
from terminal.demo.seed import demo_products
from terminal.store import TillDatabase
from terminal.store.cashiers import apply_hq_cashier
from terminal.store.journal import get_entry
from terminal.till.service import Till
from terminal.ui import TillApp
from terminal.ui.screens.payment import PaymentScreen
from terminal.ui.screens.pin import PinScreen
from terminal.ui.screens.prompt import PromptScreen
from terminal.ui.screens.returns import ReturnsScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.basket_table import BasketTable
from tests.terminal.helpers import journal_count, products
from tests.ui.helpers import RecordingPrinter, euro, message, press, scan, type_text

SUPERVISOR_ID, SUPERVISOR_PIN = "Sup7", "86420"
WRONG = "Supervisor number or PIN is wrong — try again"
_CHEAPEST = min(p.price_minor for p in demo_products(60) if not p.open_price)


@pytest.fixture
def config(tmp_path: Path) -> TillConfig:
    """The suite's till, with its refund limit at the price of its cheapest product: one of
    those comes back without a supervisor (at the limit), two do not."""
    return TillConfig(
        data_dir=tmp_path / "till",
        timezone="Europe/Berlin",
        terminal_id="T1",
        refund_limit_minor=_CHEAPEST,
    )


@pytest.fixture(autouse=True)
def hq_supervisor(database: TillDatabase) -> None:
    """A supervisor as HQ's pull writes one (origin ``hq``), with letters in the number."""
    salt, digest = new_pin_hash(SUPERVISOR_PIN)
    with database.write() as db:
        apply_hq_cashier(
            db,
            CashierState(
                cashier_id=SUPERVISOR_ID,
                name="Sam Okafor",
                role="supervisor",
                pin_scheme="scrypt:16384:8:1",
                pin_salt=salt,
                pin_hash=digest,
            ),
        )


def _sale_screen(app: TillApp) -> SaleScreen:
    screen = app.screen
    assert isinstance(screen, SaleScreen)
    return screen


def _row_texts(app: TillApp) -> list[str]:
    table = _sale_screen(app).query_one(BasketTable)
    return [
        " ".join(cell.plain if isinstance(cell, Text) else str(cell) for cell in row)
        for row in (table.get_row_at(index) for index in range(table.row_count))
    ]


def _last_entry(database: TillDatabase) -> Sale | Return:
    with database.read() as db:
        entry = get_entry(db, journal_count(database))
    assert entry is not None
    assert isinstance(entry.payload, Sale | Return)
    return entry.payload


async def test_a_supervisor_approves_a_new_price_and_the_receipt_prints_it(
    make_app, database, key_clock
) -> None:
    product = max(products(database), key=lambda p: p.price_minor)
    printer = RecordingPrinter()
    app = make_app(printer=printer)
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, product.sku)
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, "1.50", "enter")
        assert isinstance(app.screen, PinScreen)
        await type_text(pilot, SUPERVISOR_ID, "enter")
        await type_text(pilot, SUPERVISOR_PIN, "enter")
        sale = _sale_screen(app)
        line = sale.basket.line(1)
        assert (line.unit_price_minor, line.original_price_minor) == (150, product.price_minor)
        assert message(pilot) == (
            f"{product.description}: {euro(150)} each (catalog {euro(product.price_minor)}, "
            "approved by Sam Okafor)"
        )
        [row] = _row_texts(app)
        assert f"price changed, was {euro(product.price_minor)}" in row
        assert euro(150) in row

        await press(pilot, "f12")
        assert isinstance(app.screen, PaymentScreen)
        await press(pilot, "enter")  # exact cash
        await press(pilot, "enter")  # complete
        assert isinstance(app.screen, SaleScreen)
        journaled = _last_entry(database)
        assert isinstance(journaled, Sale)
        assert journaled.total_minor == 150
        assert journaled.lines[0].price_override == PriceOverride(
            original_price_minor=product.price_minor, approved_by=SUPERVISOR_ID
        )
        [receipt] = printer.receipts
        assert receipt.lines[0].note == (
            f"Price changed from {euro(product.price_minor).removeprefix('€')} "
            f"(supervisor {SUPERVISOR_ID})"
        )


async def test_a_cashiers_pin_does_not_change_a_price(make_app, database, key_clock) -> None:
    product = products(database)[0]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, product.sku)
        await type_text(pilot, "0.01", "ctrl+p")  # the price keyed first, as with F3
        assert isinstance(app.screen, PinScreen)
        await type_text(pilot, "1", "enter")
        await type_text(pilot, "1234", "enter")  # Alex, signed in, is a cashier
        assert isinstance(app.screen, PinScreen)
        assert message(pilot) == WRONG
        await press(pilot, "escape")
        assert message(pilot) == "Price not changed"
        line = _sale_screen(app).basket.line(1)
        assert (line.unit_price_minor, line.original_price_minor) == (product.price_minor, None)


async def test_an_open_price_line_is_not_changed_with_ctrl_p(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "DEPT-FRESH 2.49", "enter")
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, SaleScreen)
        assert message(pilot).startswith("Fresh")
        assert "is sold at the price keyed with it" in message(pilot)


def _sell_cheapest(till: Till, database: TillDatabase, quantity: int) -> int:
    cheapest = min(products(database), key=lambda p: p.price_minor)
    assert cheapest.price_minor == _CHEAPEST
    basket = till.new_basket()
    till.add_product(basket, cheapest.sku, quantity)
    till.add_tender(basket, TenderMethod.CASH, None)
    return till.complete_sale(basket).entry.seq


async def test_a_refund_at_the_limit_needs_no_supervisor(
    make_app, till, config, database, key_clock
) -> None:
    seq = _sell_cheapest(till, database, 2)
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, format_receipt_barcode(config.terminal_id, seq))
        assert isinstance(app.screen, ReturnsScreen)
        await press(pilot, "f3")
        await type_text(pilot, "1", "enter")
        await press(pilot, "f12")
        assert isinstance(app.screen, SaleScreen)
        assert journal_count(database) == before + 1
        refund = _last_entry(database)
        assert isinstance(refund, Return)
        assert (refund.refund_minor, refund.approved_by) == (_CHEAPEST, None)


async def test_a_refund_above_the_limit_asks_a_supervisor(
    make_app, till, config, database, key_clock
) -> None:
    seq = _sell_cheapest(till, database, 2)
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, format_receipt_barcode(config.terminal_id, seq))
        await press(pilot, "f5")  # both: above the limit
        await press(pilot, "f12")
        ask = app.screen
        assert isinstance(ask, PinScreen)
        assert f"A refund of {euro(2 * _CHEAPEST)} is above this till's limit of" in str(
            ask.query_one("#pin-detail").render()
        )
        await type_text(pilot, "1", "enter")
        await type_text(pilot, "1234", "enter")  # the cashier's own PIN does not do
        assert message(pilot) == WRONG
        await press(pilot, "escape")
        assert isinstance(app.screen, ReturnsScreen)
        assert "nothing was refunded" in message(pilot)
        assert journal_count(database) == before

        await press(pilot, "f12")
        assert isinstance(app.screen, PinScreen)
        await type_text(pilot, SUPERVISOR_ID, "enter")
        await type_text(pilot, SUPERVISOR_PIN, "enter")
        assert isinstance(app.screen, SaleScreen)
        assert journal_count(database) == before + 1
        refund = _last_entry(database)
        assert isinstance(refund, Return)
        assert (refund.refund_minor, refund.approved_by) == (2 * _CHEAPEST, SUPERVISOR_ID)


async def test_a_supervisor_number_with_letters_closes_the_kiosk_till(make_app) -> None:
    app = make_app()
    exits: list[bool] = []
    app.exit = lambda *args, **kwargs: exits.append(True)
    assert app.till.config.kiosk
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "ctrl+q")
        assert isinstance(app.screen, PinScreen)
        await type_text(pilot, SUPERVISOR_ID, "enter")
        await type_text(pilot, "11111", "enter")
        assert message(pilot) == WRONG
        assert not exits
        await type_text(pilot, SUPERVISOR_PIN, "enter")  # the number is still there
        assert exits == [True]
