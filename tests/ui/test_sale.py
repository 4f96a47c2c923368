"""Ringing up a sale: scanning, keying, departments, quantities, voids, totals and tax."""

from __future__ import annotations

from textual.widgets import Input

from shared.codes import gtin_check_digit
from terminal.demo.seed import blocked_demo_card, demo_card
from terminal.ui.screens.prompt import PromptScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.basket_table import BasketTable
from terminal.ui.widgets.totals import Totals
from tests.terminal.helpers import journal_count, products
from tests.ui.helpers import euro, message, press, scan, type_text


def sale_of(app) -> SaleScreen:
    screen = app.screen
    assert isinstance(screen, SaleScreen)
    return screen


async def test_scanned_products_show_as_lines_with_total_and_tax(
    make_app, database, key_clock
) -> None:
    first, second = products(database)[:2]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, first.sku)
        await scan(pilot, key_clock, first.sku)  # a repeat scan adds to the line
        await scan(pilot, key_clock, second.sku)
        sale = sale_of(app)
        assert [(ln.product.sku, ln.quantity) for ln in sale.basket.lines] == [
            (first.sku, 2),
            (second.sku, 1),
        ]
        assert app.screen.query_one(BasketTable).row_count == 2
        totals = app.screen.query_one(Totals).text
        total = sale.basket.total_minor
        assert total == 2 * first.price_minor + second.price_minor
        assert euro(total) in totals
        assert "incl. tax" in totals
        assert message(pilot) == f"{second.description} x1"


async def test_departments_take_a_keyed_price(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "DEPT-FRESH 2.49", "enter")  # price on the same line
        await type_text(pilot, "dept-grocery", "enter")  # or asked for
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, "3,5", "enter")
        sale = sale_of(app)
        assert [(ln.product.sku, ln.unit_price_minor) for ln in sale.basket.lines] == [
            ("DEPT-FRESH", 249),
            ("DEPT-GROCERY", 350),
        ]
        await type_text(pilot, "2*DEPT-GENERAL 1.00", "enter")
        assert sale.basket.lines[-1].quantity == 2
        assert sale.basket.total_minor == 249 + 350 + 200


async def test_a_bad_price_keeps_the_dialog_open_and_adds_nothing(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "DEPT-GROCERY", "enter")
        await type_text(pilot, "abc", "enter")
        assert isinstance(app.screen, PromptScreen)
        assert message(pilot) == "abc is not an amount — type it like 12.50"
        await press(pilot, "escape")
        assert sale_of(app).basket.empty


async def test_quantity_of_the_selected_line_and_voiding_it(make_app, database) -> None:
    first, second = products(database)[:2]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, first.sku, "enter")
        await type_text(pilot, second.sku, "enter")
        await press(pilot, "up", "f3")  # select the first line, change its quantity
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, "4", "enter")  # replaces the quantity shown
        sale = sale_of(app)
        assert [ln.quantity for ln in sale.basket.lines] == [4, 1]
        await press(pilot, "down", "delete")  # void the second line
        assert [ln.product.sku for ln in sale.basket.lines] == [first.sku]
        assert message(pilot) == f"Voided {second.description} x1"
        assert sale.basket.total_minor == 4 * first.price_minor


async def test_delete_in_the_entry_field_still_deletes_text(make_app, database) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, products(database)[0].sku, "enter")
        await type_text(pilot, "12", "home", "delete")
        assert app.screen.query_one("#entry", Input).value == "2"
        assert len(sale_of(app).basket.lines) == 1


async def test_bad_scans_and_cards_are_explained_and_change_nothing(
    make_app, config, database, key_clock
) -> None:
    before = journal_count(database)
    unknown_product = "4000000000" + "12"
    unknown_product += gtin_check_digit(unknown_product)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, "9826000000000012")  # a card with a wrong check digit
        assert "check digit" in message(pilot)
        await scan(pilot, key_clock, "#%&!?garbage")
        assert "not a code this till knows" in message(pilot)
        await scan(pilot, key_clock, unknown_product)
        assert message(pilot) == (
            f"Product {unknown_product} is not in the catalog — "
            "key the price on a department instead"
        )
        await scan(pilot, key_clock, demo_card(config, 9_999))
        assert message(pilot).startswith("This card is not registered — enrol the customer")
        await scan(pilot, key_clock, blocked_demo_card(config))
        assert message(pilot).startswith("This card is blocked (reported lost)")
        await type_text(pilot, "NO-SUCH-SKU", "enter")
        assert message(pilot).startswith("Product NO-SUCH-SKU is not in the catalog")
        sale = sale_of(app)
        assert sale.basket.empty
        assert sale.basket.member is None
    assert journal_count(database) == before
