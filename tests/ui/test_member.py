"""Members at the till: finding one without a card, the member panel, redeeming points."""

from __future__ import annotations

from textual.widgets import DataTable

from shared.money import format_points
from terminal.demo.seed import demo_card
from terminal.ui.screens.member_search import MemberSearchScreen
from terminal.ui.screens.prompt import PromptScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.member_panel import MemberPanel
from terminal.ui.widgets.totals import Totals
from tests.terminal.helpers import journal_count, products
from tests.ui.helpers import message, press, scan, type_text


def sale_of(app) -> SaleScreen:
    screen = app.screen
    assert isinstance(screen, SaleScreen)
    return screen


async def test_find_a_member_by_phone_email_or_name(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        for query, expected in (
            ("+49 151 00000009", "Ines García"),
            ("jonas.yilmaz.8@example.com", "Jonas Yilmaz"),
            ("kemal fi", "Kemal Fischer"),
        ):
            await press(pilot, "f2")
            assert isinstance(app.screen, MemberSearchScreen)
            await type_text(pilot, query, "enter")
            assert app.screen.query_one(DataTable).row_count >= 1
            await press(pilot, "enter")  # choose the highlighted member
            sale = sale_of(app)
            assert sale.basket.member is not None
            assert sale.basket.member.member.name == expected
            assert expected in app.screen.query_one(MemberPanel).text


async def test_a_search_that_finds_nobody_says_so(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f2")
        await type_text(pilot, "nobody-here@example.com", "enter")
        assert message(pilot) == "No member matches nobody-here@example.com"
        await press(pilot, "escape")
        assert sale_of(app).basket.member is None


async def test_the_panel_shows_member_and_the_points_this_sale_earns_live(
    make_app, config, database, key_clock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, demo_card(config, 9))  # Ines García, silver, 4,200 pts
        panel = app.screen.query_one(MemberPanel)
        assert "Ines García" in panel.text
        assert "Silver" in panel.text
        assert format_points(4200) in panel.text
        assert "This sale earns" in panel.text
        assert "+0 pts" in panel.text
        assert "Weekend fresh x2" in panel.text  # offers
        sale = sale_of(app)
        for product in products(database)[:4]:
            await scan(pilot, key_clock, product.sku)
            earn = app.till.preview_earn(sale.basket)
            assert earn is not None
            assert f"+{format_points(earn.total_points)}" in panel.text
        assert "Total:" not in panel.text
        await press(pilot, "ctrl+b")  # how the points add up
        assert "Total:" in panel.text
        await press(pilot, "ctrl+b")
        assert "Total:" not in panel.text


async def test_remove_the_member_from_the_sale(make_app, config, key_clock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, demo_card(config, 1))
        await press(pilot, "f4")
        assert sale_of(app).basket.member is None
        assert "No member" in app.screen.query_one(MemberPanel).text
        assert message(pilot) == "Member removed from this sale"


async def _ring_up(pilot, euros: int) -> None:
    """One department line for a basket big enough for the redemption being tested."""
    await type_text(pilot, f"DEPT-GROCERY {euros}.00", "enter")


async def test_redeem_as_many_points_as_allowed_then_part_then_cancel(
    make_app, config, database, key_clock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, demo_card(config, 1))  # 950 pts
        await _ring_up(pilot, 25)
        sale = sale_of(app)
        await press(pilot, "f5")
        assert isinstance(app.screen, PromptScreen)
        await press(pilot, "enter")  # empty: as many as allowed
        assert sale.basket.redemption is not None
        assert sale.basket.redemption.points == 950
        assert "Points discount" in app.screen.query_one(Totals).text
        assert "Redeeming" in app.screen.query_one(MemberPanel).text
        assert message(pilot) == "Redeemed 950 pts: €9.50 off"
        await press(pilot, "f5")
        await type_text(pilot, "500", "enter")
        assert sale.basket.redemption is not None
        assert sale.basket.redemption.points == 500
        assert sale.basket.discount_minor == 500
        await press(pilot, "f5")
        await type_text(pilot, "0", "enter")
        assert sale.basket.redemption is None
        assert "Points discount" not in app.screen.query_one(Totals).text


async def test_redemption_refusals_show_the_reason_and_change_nothing(
    make_app, config, database, key_clock
) -> None:
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f5")
        assert message(pilot) == "Scan the member's card first, then redeem points (F5)"
        await scan(pilot, key_clock, demo_card(config, 2))  # Anna Weber: 120 pts
        await _ring_up(pilot, 20)
        await press(pilot, "f5")
        await type_text(pilot, "200", "enter")
        assert isinstance(app.screen, PromptScreen)  # stays open to correct the number
        assert message(pilot) == "The member has only 120 pts. — redeem fewer points, or none"
        await press(pilot, "escape")
        assert sale_of(app).basket.redemption is None

        await scan(pilot, key_clock, demo_card(config, 7))  # Kemal Fischer: 12,000 pts
        await _ring_up(pilot, 40)
        await press(pilot, "f5")
        await type_text(pilot, "1500", "enter")  # above the offline cap of 1,000 a day
        assert message(pilot).startswith(
            "The till is offline: at most 1,000 pts more can be redeemed for this member today"
        )
        await press(pilot, "escape")
        assert sale_of(app).basket.redemption is None
    assert journal_count(database) == before
