"""Member self-check: a customer-facing screen showing a member's points, nothing else."""

from __future__ import annotations

from textual.widgets import Footer, Input

from terminal.demo.seed import blocked_demo_card, demo_card
from terminal.ui.screens.pin import PinScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.screens.self_check import SelfCheckScreen
from terminal.ui.widgets.status_bar import StatusBar
from tests.terminal.helpers import products
from tests.ui.helpers import message, press, scan, type_text


async def test_a_member_scans_and_sees_name_balance_tier_and_offers(
    make_app, config, database, key_clock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, products(database)[0].sku, "enter")  # a sale in progress
        await press(pilot, "f9")
        screen = app.screen
        assert isinstance(screen, SelfCheckScreen)
        assert not screen.query(Footer)
        assert not screen.query(StatusBar)
        await scan(pilot, key_clock, demo_card(config, 10))  # Chloé Rossi, gold
        assert "Hello, Chloé Rossi" in screen.text
        assert "12,000 pts" in screen.text
        assert "Gold tier" in screen.text
        assert "Gold: free coffee" in screen.text
        await scan(pilot, key_clock, blocked_demo_card(config))
        assert "Chloé" not in screen.text  # the previous member's balance is gone
        assert "This card can no longer be used" in screen.text
        await scan(pilot, key_clock, products(database)[0].sku)
        assert "That is not a loyalty card" in screen.text
        await press(pilot, "f12", "f1", "f2")  # cashier keys do nothing here
        assert app.screen is screen
        sale = app.screen_stack[-2]
        assert isinstance(sale, SaleScreen)
        assert sale.basket.member is None


async def test_leaving_self_check_needs_the_cashiers_pin(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f9")  # a key after it could reach the sale screen first
        await press(pilot, "escape")
        assert isinstance(app.screen, PinScreen)
        await type_text(pilot, "0000", "enter")
        assert message(pilot) == "That is not Alex Meyer's PIN — try again"
        assert app.screen.query_one("#pin-value", Input).password
        await press(pilot, "escape")
        assert isinstance(app.screen, SelfCheckScreen)
        await press(pilot, "escape")
        await type_text(pilot, "1234", "enter")
        assert isinstance(app.screen, SaleScreen)
