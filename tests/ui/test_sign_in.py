"""Signing in and out, and the lock screen."""

from __future__ import annotations

from textual.widgets import Input

from terminal.ui.screens.lock import LockScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.screens.sign_in import SignInScreen
from terminal.ui.widgets.status_bar import StatusBar
from tests.terminal.helpers import products
from tests.ui.helpers import message, press, settle, type_text


async def test_sign_in_with_cashier_number_and_masked_pin(make_app) -> None:
    app = make_app(signed_in=False)
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, SignInScreen)
        assert app.screen.query_one("#pin", Input).password  # the PIN never shows
        await type_text(pilot, "1", "enter")
        await type_text(pilot, "1234", "enter")
        assert isinstance(app.screen, SaleScreen)
        assert app.till.cashier is not None
        assert app.till.cashier.name == "Alex Meyer"
        await settle(pilot)
        assert "Alex Meyer" in app.screen.query_one(StatusBar).text


async def test_a_wrong_pin_says_so_and_signs_nobody_in(make_app) -> None:
    app = make_app(signed_in=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "1", "enter")
        await type_text(pilot, "9999", "enter")
        assert isinstance(app.screen, SignInScreen)
        assert message(pilot) == "Cashier number or PIN is wrong — try again"
        assert app.screen.query_one("#pin", Input).value == ""
        assert app.till.cashier is None


async def test_sign_out_returns_to_sign_in_but_not_with_a_sale_open(make_app, database) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, products(database)[0].sku, "enter")
        await press(pilot, "ctrl+o")
        assert isinstance(app.screen, SaleScreen)
        assert message(pilot) == "Finish or void the open sale before signing out"
        await press(pilot, "delete")  # void the line
        await press(pilot, "ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, SignInScreen)
        assert app.till.cashier is None


async def test_the_lock_screen_needs_the_signed_in_cashiers_pin(make_app, database) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, products(database)[0].sku, "enter")
        sale = app.screen
        await press(pilot, "ctrl+l")
        assert isinstance(app.screen, LockScreen)
        await type_text(pilot, "9999", "enter")  # the supervisor's PIN is not Alex's
        assert isinstance(app.screen, LockScreen)
        assert message(pilot) == "That is not Alex Meyer's PIN — try again"
        await press(pilot, "f12")  # sale keys do nothing while locked
        assert isinstance(app.screen, LockScreen)
        await type_text(pilot, "1234", "enter")
        assert app.screen is sale
        assert isinstance(sale, SaleScreen)
        assert len(sale.basket.lines) == 1
