"""Closing the shift: count the cash, confirm; the Z report is journaled and queued."""

from __future__ import annotations

from shared.journal import ShiftClose
from terminal.store.journal import get_entry
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.screens.shift_close import ShiftCloseScreen
from terminal.ui.widgets.totals import Totals
from tests.terminal.helpers import journal_count, products
from tests.ui.helpers import RecordingPrinter, message, press, type_text


async def test_count_confirm_and_the_z_report_is_journaled_and_printed(make_app, database) -> None:
    printer = RecordingPrinter()
    product = products(database)[0]
    app = make_app(printer=printer)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, product.sku, "enter")
        await press(pilot, "f12")  # a key after it could reach the sale screen first
        await press(pilot, "enter", "enter")  # one cash sale
        before = journal_count(database)
        await press(pilot, "f10")
        assert isinstance(app.screen, ShiftCloseScreen)
        await type_text(pilot, "100", "enter")
        assert message(pilot).startswith("Close the shift with €100.00 counted?")
        assert journal_count(database) == before  # not until it is confirmed
        await press(pilot, "enter")
        assert isinstance(app.screen, SaleScreen)
        assert journal_count(database) == before + 1
        with database.read() as db:
            entry = get_entry(db, before + 1)
        assert entry is not None
        assert isinstance(entry.payload, ShiftClose)
        assert entry.payload.sales_count == 1
        assert entry.payload.cash_expected_minor == product.price_minor
        assert entry.payload.cash_counted_minor == 10_000
        assert message(pilot) == "Printed T1-2"
        totals = app.screen.query_one(Totals).text
        assert "Shift closed: Z report T1-2" in totals
        assert "difference €" in totals
        assert [title for title, _ in printer.reports] == ["Z REPORT"]


async def test_the_shift_is_not_closed_over_an_open_sale_or_without_a_count(
    make_app, database
) -> None:
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, products(database)[0].sku, "enter")
        await press(pilot, "f10")
        assert message(pilot) == "Finish or void the open sale before closing the shift"
        await press(pilot, "delete", "f10")
        await press(pilot, "enter")
        assert message(pilot) == "Count the cash first — type the total, e.g. 412.30"
        await type_text(pilot, "100", "enter")
        await type_text(pilot, "5", "enter")  # a changed count must be confirmed again
        assert message(pilot).startswith("Close the shift with €1,005.00 counted?")
        await press(pilot, "escape")
        assert isinstance(app.screen, SaleScreen)
    assert journal_count(database) == before


async def test_enter_pressed_again_while_the_shift_closes_closes_it_once(
    make_app, database
) -> None:
    """As with payment: Enters typed ahead reach the dialog after it closed the shift; they
    must not close it again, nor close the sale screen beneath."""
    before = journal_count(database)
    app = make_app(printer=RecordingPrinter())
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f10")
        await type_text(pilot, "100", "enter", "enter", "enter", "enter")
        assert isinstance(app.screen, SaleScreen)
        assert journal_count(database) == before + 1
        with database.read() as db:
            entry = get_entry(db, before + 1)
        assert entry is not None
        assert isinstance(entry.payload, ShiftClose)
