"""SVG snapshots of the main screens at 120x40, with the till's clock fixed (Monday 10:00).

Update after a deliberate change with ``pytest tests/ui/test_snapshots.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.pilot import Pilot
from textual.widgets import Input

from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase
from tests.terminal.helpers import products
from tests.ui import stored_value_scenes
from tests.ui.helpers import KeyClock, press, scan, settle, type_text

SIZE = (120, 40)


async def _still(pilot: Pilot[None]) -> None:
    """No blinking cursors: the snapshot must not depend on when it is taken."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await settle(pilot)


def test_sign_in(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await type_text(pilot, "1", "enter")
        await type_text(pilot, "12")  # the PIN shows as dots
        await _still(pilot)

    assert snap_compare(make_app(signed_in=False), terminal_size=SIZE, run_before=run_before)


def _sale_with_member(
    config: TillConfig, database: TillDatabase, key_clock: KeyClock
) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await scan(pilot, key_clock, demo_card(config, 9))
        for product in products(database)[:5]:
            await scan(pilot, key_clock, product.sku)
        await type_text(pilot, "DEPT-FRESH 2.49", "enter")
        await press(pilot, "up", "up", "ctrl+b")
        await _still(pilot)

    return run_before


def test_sale_with_a_member_and_lines(snap_compare, make_app, config, database, key_clock):
    run_before = _sale_with_member(config, database, key_clock)
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_payment(snap_compare, make_app, config, database, key_clock) -> None:
    sale = _sale_with_member(config, database, key_clock)

    async def run_before(pilot: Pilot[None]) -> None:
        await sale(pilot)
        await press(pilot, "f12")
        await type_text(pilot, "5", "f3")
        await type_text(pilot, "20", "enter")
        await _still(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_self_check(snap_compare, make_app, config, key_clock) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await press(pilot, "f9")
        await scan(pilot, key_clock, demo_card(config, 10))
        await _still(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await press(pilot, "f1")
        await _still(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_basket_with_a_voucher(snap_compare, make_app, config, database, till, key_clock):
    run_before = stored_value_scenes.basket_with_a_voucher(config, database, till, key_clock)
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_payment_with_a_gift_card(snap_compare, make_app, config, database, till, key_clock):
    run_before = stored_value_scenes.payment_with_a_gift_card(config, database, till, key_clock)
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_gift_card_dialog(snap_compare, make_app, config, database, till, key_clock):
    run_before = stored_value_scenes.gift_card_dialog(config, database, till, key_clock)
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_rewards_list(snap_compare, make_app, config, database, till, key_clock):
    run_before = stored_value_scenes.rewards_list(config, database, till, key_clock)
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)
