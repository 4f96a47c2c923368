"""The keyboard-wedge interceptor: scans work whatever has focus; typing is never lost."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from hardware.sim.scanner_sim import ScannerSimulator
from terminal.demo.seed import demo_card
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.member_panel import MemberPanel
from terminal.ui.widgets.status_bar import StatusBar
from tests.terminal.helpers import products
from tests.ui.helpers import (
    SCAN_GAP_S,
    key_event,
    keys_for,
    message,
    press,
    scan,
    settle,
    type_text,
    wait_until,
)


async def test_a_scan_burst_attaches_the_member_and_never_reaches_the_focused_field(
    make_app, config, key_clock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        entry = app.screen.query_one("#entry", Input)
        assert entry.has_focus
        await type_text(pilot, "12")  # the cashier had started typing
        # Pilot's own key presses, timed by the key clock at a scanner's pace.
        key_clock.step = SCAN_GAP_S
        await pilot.press(*keys_for(demo_card(config, 1)), "enter")
        key_clock.step = 0.2
        await settle(pilot)
        panel = app.screen.query_one(MemberPanel)
        assert "Ines Kowalski" in panel.text
        assert entry.has_focus
        assert entry.value == "12"  # not one digit of the card landed in the field


async def test_slow_typing_reaches_the_field_in_order(make_app, database) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        entry = app.screen.query_one("#entry", Input)
        await type_text(pilot, "DEPT-FRESH 2.49")
        assert entry.value == "DEPT-FRESH 2.49"
        await press(pilot, "enter")
        sale = app.screen
        assert isinstance(sale, SaleScreen)
        assert [line.product.sku for line in sale.basket.lines] == ["DEPT-FRESH"]
        # A product number typed by hand is typed, not scanned, and still sells.
        await type_text(pilot, products(database)[0].sku, "enter")
        assert len(sale.basket.lines) == 2


async def test_keys_typed_before_a_function_key_arrive_before_it(make_app, database) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, products(database)[0].sku, "enter")
        await type_text(pilot, "3", "f3")  # "3" then F3: the quantity was keyed first
        sale = app.screen
        assert isinstance(sale, SaleScreen)
        assert sale.basket.lines[0].quantity == 3


async def test_a_burst_cut_off_before_enter_is_dropped_and_counted(make_app, key_clock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        key_clock.step = SCAN_GAP_S
        await press(pilot, *keys_for("98260000"))  # no Enter: the scan was cut off
        key_clock.step = 0.2
        await settle(pilot)
        assert app.screen.query_one("#entry", Input).value == ""
        assert message(pilot).startswith("Scan not read: scan was cut off")
        assert "1 rejected" in app.screen.query_one(StatusBar).text


async def test_scans_work_from_a_serial_scanner(make_app, config, tmp_path: Path) -> None:
    with ScannerSimulator(tmp_path / "scanner") as simulator:
        app = make_app(scanner_urls=(str(simulator.link),))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(  # the reader thread opens the port on its own
                pilot,
                lambda: app.scanners.statuses()[0].state == "connected",
                "the serial scanner to connect",
            )
            simulator.send(demo_card(config, 1))
            panel = app.screen.query_one(MemberPanel)
            await wait_until(pilot, lambda: "Ines Kowalski" in panel.text, "the scanned member")
            await settle(pilot)
            assert "serial ok" in app.screen.query_one(StatusBar).text


async def test_a_scan_on_a_dialog_that_takes_none_says_what_to_do(
    make_app, config, database, key_clock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, products(database)[0].sku, "enter")
        await press(pilot, "f3")  # the quantity dialog
        await scan(pilot, key_clock, demo_card(config, 1))
        assert message(pilot) == "Scan not used here — go back (Esc) to the sale, then scan"
        await press(pilot, "escape")
        sale = app.screen
        assert isinstance(sale, SaleScreen)
        assert sale.basket.member is None


async def test_a_held_key_is_released_by_the_timer_without_another_key(make_app) -> None:
    """The last key typed waits in the detector until the scanner gap has passed; the
    app's poll timer releases it (no further key, no test seam)."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        entry = app.screen.query_one("#entry", Input)
        event = key_event("7")
        event.set_sender(app)
        app.post_message(event)
        # The timer fires about 40 ms after the key (later on a busy machine).
        await wait_until(pilot, lambda: bool(entry.value), "the held key")
        assert entry.value == "7"
