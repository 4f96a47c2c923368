"""Rewards on the sale screen (issue 13): the member panel says how many the member can buy
and which key lists them (F11); the list is cheapest first with what each gives, its price
and how it is delivered; Enter buys the highlighted one, which shows as a basket row and in
the totals; a refusal says why in the message line; Del on its row takes it off.

The catalog is the demo program's next rules version (tests/terminal/reward_helpers.py)."""

from __future__ import annotations

from shared.journal import Sale
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase
from terminal.store.journal import get_entry
from terminal.ui.screens.rewards import RewardsScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.basket_table import BasketTable
from terminal.ui.widgets.member_panel import MemberPanel
from terminal.ui.widgets.totals import Totals
from tests.terminal.helpers import journal_count
from tests.terminal.reward_helpers import bakery_name, bakery_sku, publish_rewards
from tests.ui.helpers import euro, message, press, scan, type_text

SILVER = 9
"""Demo member 9: Silver, 4,200 points."""


def sale_of(app) -> SaleScreen:
    screen = app.screen
    assert isinstance(screen, SaleScreen)
    return screen


def rows(sale: SaleScreen) -> list[list[str]]:
    table = sale.query_one(BasketTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_panel_names_the_key_the_list_is_cheapest_first_and_enter_buys(
    make_app, config: TillConfig, database: TillDatabase, key_clock
) -> None:
    publish_rewards(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        await scan(pilot, key_clock, demo_card(config, SILVER))
        sale = sale_of(app)
        assert "6 rewards — F11" in sale.query_one(MemberPanel).text
        await press(pilot, "f11")
        screen = app.screen
        assert isinstance(screen, RewardsScreen)
        assert screen.rows() == [
            ["Free bread", f"a free {bakery_name(database)}", "150 pts", "apply now"],
            ["Tote bag", f"a free {bakery_name(database)}", "200 pts", "voucher"],
            ["20% off bakery", f"20% off bakery (at most {euro(200)})", "250 pts", "apply now"],
            ["Three off next time", f"{euro(300)} off", "300 pts", "voucher"],
            ["Five off", f"{euro(500)} off", "500 pts", "apply now"],
            ["Big one", f"{euro(4000)} off", "4,000 pts", "voucher"],
        ]
        await press(pilot, "down", "down", "down", "down", "enter")  # Five off
        sale = sale_of(app)
        assert message(pilot) == (
            f"Five off: {euro(500)} off for 500 pts — Del on its row takes it off"
        )
        assert rows(sale)[-1] == ["", "Reward: Five off", "", "", euro(-500)]
        totals = sale.query_one(Totals).text
        assert f"Reward{' ' * (30 - 6 - len(euro(-500)))}{euro(-500)}" in totals
        panel = sale.query_one(MemberPanel).text
        assert "Rewards" in panel
        assert "-500 pts" in panel
        # 3,700 points left, Five off chosen: Big one and Five off are no longer offered.
        assert "4 rewards — F11" in panel
        await press(pilot, "f12")
        await press(pilot, "enter", "enter")  # exact cash, complete
        with database.read() as db:
            entry = get_entry(db, journal_count(database))
        assert entry is not None
        assert isinstance(entry.payload, Sale)
        assert [(r.reward_id, r.discount_minor) for r in entry.payload.rewards] == [
            ("five-off", 500)
        ]
        assert entry.payload.total_minor == 2000 - 500


async def test_a_refusal_says_why_and_del_takes_a_reward_off(
    make_app, config: TillConfig, database: TillDatabase, key_clock
) -> None:
    publish_rewards(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f11")
        assert message(pilot) == "Scan the member's card first, then choose a reward (F11)"
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        await scan(pilot, key_clock, demo_card(config, SILVER))
        await press(pilot, "f11", "enter")  # Free bread: no bread on the sale
        sale = sale_of(app)
        assert message(pilot) == (
            f"Free bread: add {bakery_sku(database)} to the sale first — choose another "
            "reward, or none"
        )
        assert sale.basket.rewards == []
        await press(pilot, "f11", "down", "down", "down", "enter")  # Three off next time
        assert rows(sale)[-1] == ["", "Reward voucher: Three off next time", "", "", "300 pts"]
        assert sale.basket.total_minor == 2000  # a voucher takes nothing off this sale
        await press(pilot, "f3")  # a reward has no quantity
        assert message(pilot) == (
            "A reward is selected — ↑ to choose a line, or Del to take it off"
        )
        await press(pilot, "delete")
        assert message(pilot) == ("Three off next time taken off this sale: no points spent on it")
        assert sale.basket.rewards == []
        assert len(sale.basket.lines) == 1


async def test_without_rewards_to_buy_the_panel_says_nothing_of_them(
    make_app, config: TillConfig, database: TillDatabase, key_clock
) -> None:
    app = make_app()  # the demo program has no catalog
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, demo_card(config, SILVER))
        assert "F11" not in sale_of(app).query_one(MemberPanel).text
        await press(pilot, "f11")
        assert message(pilot).endswith("cannot buy a reward now")


async def test_the_list_and_the_panel_fit_a_small_screen(
    make_app, config: TillConfig, database: TillDatabase, key_clock
) -> None:
    from tests.ui.test_small_screen import SMALL, screen_lines

    publish_rewards(database)
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        await scan(pilot, key_clock, demo_card(config, SILVER))
        assert any("6 rewards — F11" in line for line in screen_lines(app))
        await press(pilot, "f11")
        lines = screen_lines(app)
        # Every reward's price and delivery are on screen, whole.
        for name, points, how in (
            ("Free bread", "150 pts", "apply now"),
            ("20% off bakery", "250 pts", "apply now"),
            ("Big one", "4,000 pts", "voucher"),
        ):
            row = next(line for line in lines if name in line)
            assert points in row
            assert how in row
