"""The print queue screen: waiting receipts with the reason, retries, reprints.

Printing goes to the real ESC/POS printer simulator over TCP on loopback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from textual.widgets import DataTable

from hardware.printing import ReceiptPrinter
from hardware.sim.printer_sim import PrinterMode, PrinterSimulator
from shared.codes import format_receipt_barcode
from terminal.till.printing import ReceiptSink
from terminal.ui.screens.print_queue import PrintQueueScreen
from tests.terminal.helpers import products
from tests.ui.helpers import message, press, scan, type_text


@pytest.fixture
def simulator() -> Iterator[PrinterSimulator]:
    with PrinterSimulator(mode=PrinterMode.OUT_OF_PAPER) as sim:
        yield sim


def printer_at(simulator: PrinterSimulator) -> Callable[[], ReceiptSink]:
    return lambda: ReceiptPrinter(simulator.url, "TM-T88V", timeout_s=60.0)


async def _sell_one(pilot, key_clock, database) -> None:
    await scan(pilot, key_clock, products(database)[0].sku)
    await press(pilot, "f12")
    await press(pilot, "enter", "enter")


def _rows(screen) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_a_failed_receipt_waits_with_its_reason_and_prints_on_retry(
    make_app, database, key_clock, simulator
) -> None:
    app = make_app(printer=printer_at(simulator))
    async with app.run_test(size=(120, 40)) as pilot:
        await _sell_one(pilot, key_clock, database)
        assert "Printer is out of paper" in message(pilot)
        await press(pilot, "f8")
        screen = app.screen
        assert isinstance(screen, PrintQueueScreen)
        [row] = _rows(screen)
        assert row[1:4] == ["T1-1", "failed", "1"]
        assert row[4].startswith("Printer is out of paper")
        simulator.mode = PrinterMode.ONLINE  # a new roll is in
        await press(pilot, "f5")
        assert message(pilot) == "Printed T1-1"
        assert _rows(screen) == []
        [receipt] = simulator.receipts
        assert "T1-1" in receipt.text


async def test_retry_all_prints_every_waiting_receipt(
    make_app, database, key_clock, simulator
) -> None:
    app = make_app(printer=printer_at(simulator))
    async with app.run_test(size=(120, 40)) as pilot:
        await _sell_one(pilot, key_clock, database)
        await _sell_one(pilot, key_clock, database)
        assert app.print_queue.waiting() == 2
        simulator.mode = PrinterMode.ONLINE
        await press(pilot, "f8")  # a key after it could reach the sale screen first
        await press(pilot, "f6")
        assert message(pilot) == "Printed T1-1, T1-2"
        assert app.print_queue.waiting() == 0
        assert len(simulator.receipts) == 2


async def test_reprint_a_past_receipt_by_number_or_by_scanning_it(
    make_app, database, key_clock, simulator
) -> None:
    simulator.mode = PrinterMode.ONLINE
    app = make_app(printer=printer_at(simulator))
    async with app.run_test(size=(120, 40)) as pilot:
        await _sell_one(pilot, key_clock, database)
        await press(pilot, "f8")
        await press(pilot, "tab")  # to the reprint field
        await type_text(pilot, "T1-1", "enter")
        assert message(pilot) == "Printed T1-1"
        await scan(pilot, key_clock, format_receipt_barcode("T1", 1))
        assert message(pilot) == "Printed T1-1"
        receipts = simulator.receipts
        assert len(receipts) == 3
        assert "REPRINT" in receipts[1].text
        assert not receipts[1].drawer_kicked
        await type_text(pilot, "T1-77", "enter")
        assert message(pilot) == "No receipt T1-77"


async def test_without_a_printer_receipts_wait_with_a_clear_message(
    make_app, database, key_clock
) -> None:
    app = make_app()  # no printer_url configured
    async with app.run_test(size=(120, 40)) as pilot:
        await _sell_one(pilot, key_clock, database)
        await press(pilot, "f8")
        await press(pilot, "f5")
        assert message(pilot) == (
            "Receipt T1-1 not printed: no receipt printer is configured — set printer_url "
            "— it waits in the print queue (F8)"
        )
        [row] = _rows(app.screen)
        assert row[2:4] == ["failed", "2"]
