"""The voucher and gift card screens the snapshot tests take, at 120x40 (test_snapshots.py)
and 80x24 (test_small_screen.py): the same scenes, so both sizes show the same thing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.pilot import Pilot
from textual.widgets import Input

from shared.protocol import StoredValueState, VoucherState
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase
from terminal.till.service import Till
from tests.terminal.reward_helpers import publish_rewards
from tests.terminal.stored_value_helpers import apply_page, gift_number, voucher_code
from tests.ui.helpers import KeyClock, press, scan, settle, type_text

Scene = Callable[[Pilot[None]], Awaitable[None]]


async def still(pilot: Pilot[None]) -> None:
    """No blinking cursors: the snapshot must not depend on when it is taken."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await settle(pilot)


def _known(config: TillConfig, database: TillDatabase, till: Till) -> tuple[str, str]:
    """A 5.00 voucher and a gift card with 15.00 on it, as HQ's pull gave them."""
    voucher = VoucherState(code=voucher_code(1), value_minor=500, status="issued")
    card = gift_number(till, 1)
    apply_page(
        config,
        database,
        vouchers=(voucher,),
        gift_cards=(StoredValueState(card_number=card, balance_minor=1500, status="active"),),
    )
    return voucher.code, card


def basket_with_a_voucher(
    config: TillConfig, database: TillDatabase, till: Till, key_clock: KeyClock
) -> Scene:
    voucher, _ = _known(config, database, till)

    async def run_before(pilot: Pilot[None]) -> None:
        await scan(pilot, key_clock, demo_card(config, 9))
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        await type_text(pilot, "DEPT-FRESH 2.49", "enter")
        await scan(pilot, key_clock, voucher)
        await still(pilot)

    return run_before


def payment_with_a_gift_card(
    config: TillConfig, database: TillDatabase, till: Till, key_clock: KeyClock
) -> Scene:
    voucher, card = _known(config, database, till)

    async def run_before(pilot: Pilot[None]) -> None:
        await type_text(pilot, "DEPT-GROCERY 30.00", "enter")
        await scan(pilot, key_clock, voucher)
        await scan(pilot, key_clock, card)
        await press(pilot, "f12", "f5")  # the card scanned in the sale: all 15.00 of it, 10.00 due
        await still(pilot)

    return run_before


def gift_card_dialog(
    config: TillConfig, database: TillDatabase, till: Till, key_clock: KeyClock
) -> Scene:
    _, card = _known(config, database, till)

    async def run_before(pilot: Pilot[None]) -> None:
        await press(pilot, "ctrl+g")
        await scan(pilot, key_clock, card)
        await type_text(pilot, "10.00")
        await still(pilot)

    return run_before


def rewards_list(
    config: TillConfig, database: TillDatabase, till: Till, key_clock: KeyClock
) -> Scene:
    """A Silver member with 4,200 points and a €20 basket, the rewards list open (F11), one
    reward already applied."""
    publish_rewards(database)

    async def run_before(pilot: Pilot[None]) -> None:
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        await scan(pilot, key_clock, demo_card(config, 9))
        await press(pilot, "f11", "down", "down", "down", "down", "enter")  # Five off
        await press(pilot, "f11")
        await still(pilot)

    return run_before
