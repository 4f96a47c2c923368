"""The till on a small POS screen (80x24) and the usual one (120x40): what the cashier and
the customer check — Qty, Price, Amount, the total and F12 Pay — stays on screen.

The snapshots are the sale with a member and several lines at both sizes; update them after
a deliberate change with ``pytest tests/ui/test_small_screen.py --snapshot-update`` and look
at the SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.pilot import Pilot
from textual.widgets import Input

from shared.money import Money
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase
from terminal.ui import TillApp
from terminal.ui.screens.help import HelpScreen
from terminal.ui.screens.payment import PaymentScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.key_bar import KeyBar
from tests.terminal.helpers import products
from tests.ui import stored_value_scenes
from tests.ui.helpers import KeyClock, message, press, scan, settle, type_text

SMALL = (80, 24)
USUAL = (120, 40)


def screen_lines(app: TillApp) -> list[str]:
    """The screen as the cashier sees it, one string per row."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def _still(pilot: Pilot[None]) -> None:
    """No blinking cursors: the snapshot must not depend on when it is taken."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await settle(pilot)


def _sale_with_member(
    config: TillConfig, database: TillDatabase, key_clock: KeyClock
) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Six lines, one of them a dozen expensive items (the widest amounts), and a member."""

    async def run_before(pilot: Pilot[None]) -> None:
        await scan(pilot, key_clock, demo_card(config, 9))
        for product in products(database)[:4]:
            await scan(pilot, key_clock, product.sku)
        await type_text(pilot, "DEPT-FRESH 2.49", "enter")
        await type_text(pilot, "12*DEPT-FRESH 1234.56", "enter")
        await _still(pilot)

    return run_before


def test_sale_at_80x24(snap_compare, make_app, config, database, key_clock) -> None:
    run_before = _sale_with_member(config, database, key_clock)
    assert snap_compare(make_app(), terminal_size=SMALL, run_before=run_before)


def test_sale_at_120x40(snap_compare, make_app, config, database, key_clock) -> None:
    run_before = _sale_with_member(config, database, key_clock)
    assert snap_compare(make_app(), terminal_size=USUAL, run_before=run_before)


def test_basket_with_a_voucher_at_80x24(snap_compare, make_app, config, database, till, key_clock):
    run_before = stored_value_scenes.basket_with_a_voucher(config, database, till, key_clock)
    assert snap_compare(make_app(), terminal_size=SMALL, run_before=run_before)


def test_payment_with_a_gift_card_at_80x24(
    snap_compare, make_app, config, database, till, key_clock
) -> None:
    run_before = stored_value_scenes.payment_with_a_gift_card(config, database, till, key_clock)
    assert snap_compare(make_app(), terminal_size=SMALL, run_before=run_before)


def test_gift_card_dialog_at_80x24(snap_compare, make_app, config, database, till, key_clock):
    run_before = stored_value_scenes.gift_card_dialog(config, database, till, key_clock)
    assert snap_compare(make_app(), terminal_size=SMALL, run_before=run_before)


async def test_qty_price_amount_and_pay_stay_in_view_at_80x24(
    make_app, config, database, key_clock
) -> None:
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await _sale_with_member(config, database, key_clock)(pilot)
        sale = app.screen
        assert isinstance(sale, SaleScreen)
        lines = screen_lines(app)
        assert len(lines) == SMALL[1]
        assert all(len(line) == SMALL[0] for line in lines)
        heading = next(line for line in lines if "Item" in line)
        assert "Qty" in heading
        assert "Price" in heading
        assert "Amount" in heading
        text = "\n".join(lines)
        for line in sale.basket.lines:
            row = next(row for row in lines if row.startswith(f"│ {line.line_no} "))
            price = Money(line.unit_price_minor, "EUR").format()
            amount = Money(line.net_minor, "EUR").format()
            assert row.split("│")[1].split()[-3:] == [f"{line.quantity:,}", price, amount]
        assert "€14,814.72" in text  # 12 × €1,234.56, the widest amount, whole
        total = Money(sale.basket.total_minor, "EUR").format()
        assert any("TOTAL" in line and total in line for line in lines)
        assert sale.basket.member is not None
        assert sale.basket.member.member.name in text
        footer = lines[-1]
        assert "F12 Pay" in footer
        assert "F1 Help" in footer
        assert "Del Void" in footer
        assert "pay" in sale.query_one(KeyBar).shown_actions

        # Paying: the change and how to complete stay in view too.
        await press(pilot, "f12")
        assert isinstance(app.screen, PaymentScreen)
        await type_text(pilot, "20000", "enter")
        lines = screen_lines(app)
        assert "F12 Complete" in lines[-1]
        assert message(pilot).startswith("Change due")
        assert any("Change due" in line for line in lines)


async def test_the_footer_keeps_every_key_where_there_is_room(make_app) -> None:
    app = make_app()
    async with app.run_test(size=USUAL) as pilot:
        await settle(pilot)
        footer = screen_lines(app)[-1]
        for key in ("F1 Help", "F2 Find", "F9 Self-check", "F10 Close", "F12 Pay", "^L Lock"):
            assert key in footer


async def test_help_at_80x24_fits_and_scrolls_to_every_key(make_app, till) -> None:
    app = TillApp(
        till,
        make_app().print_queue,
        about=("LoyalTill demo", "  sign in: cashier 1 (Alex Meyer), PIN 1234"),
        status_interval_s=3600,
    )
    async with app.run_test(size=SMALL) as pilot:
        await press(pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        lines = screen_lines(app)
        text = "\n".join(lines)
        assert "LoyalTill demo" in text
        assert "sign in: cashier 1 (Alex Meyer), PIN 1234" in text
        assert "Esc: close" in text
        assert all(len(line) == SMALL[0] for line in lines)
        seen = text
        for _ in range(30):  # bounded: page down until the last section shows
            await press(pilot, "pagedown")
            seen += "\n".join(screen_lines(app))
            if "Member self-check" in seen:
                break
        assert "Member self-check" in seen
