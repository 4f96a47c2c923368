"""Returns: find the sale by its receipt, choose lines and quantities, refund."""

from __future__ import annotations

from shared.codes import format_receipt_barcode
from shared.journal import Return, TenderMethod
from terminal.store.journal import get_entry
from terminal.till.service import Till
from terminal.ui.screens.prompt import PromptScreen
from terminal.ui.screens.returns import ReturnsScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.totals import Totals
from tests.terminal.helpers import journal_count, products
from tests.ui.helpers import euro, message, press, scan, type_text


def _sell_two_lines(till: Till, database) -> int:
    """A completed sale to return from (rung up through the core, as the till did)."""
    first, second = products(database)[:2]
    basket = till.new_basket()
    till.add_product(basket, first.sku, 2)
    till.add_product(basket, second.sku)
    till.add_tender(basket, TenderMethod.CASH, None)
    return till.complete_sale(basket).entry.seq


async def test_scan_the_receipt_choose_everything_and_refund(
    make_app, till, config, database, key_clock
) -> None:
    seq = _sell_two_lines(till, database)
    first, second = products(database)[:2]
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        # Scanning a receipt barcode on the sale screen opens the return for it.
        await scan(pilot, key_clock, format_receipt_barcode(config.terminal_id, seq))
        screen = app.screen
        assert isinstance(screen, ReturnsScreen)
        assert [line.sold_quantity for line in screen.lines] == [2, 1]
        await press(pilot, "f5")  # everything
        await press(pilot, "f6")  # refund by card instead of cash
        await press(pilot, "f12")
        assert isinstance(app.screen, SaleScreen)
        assert journal_count(database) == before + 1
        with database.read() as db:
            entry = get_entry(db, before + 1)
        assert entry is not None
        assert isinstance(entry.payload, Return)
        refund = 2 * first.price_minor + second.price_minor
        assert entry.payload.refund_minor == refund
        assert entry.payload.tenders[0].method is TenderMethod.CARD
        totals = app.screen.query_one(Totals).text
        assert f"Last refund T1-{before + 1} · {euro(refund)} by card" in totals


async def test_key_the_receipt_number_and_return_part_of_a_line(make_app, till, database) -> None:
    seq = _sell_two_lines(till, database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f7")
        await type_text(pilot, f"T1-{seq}", "enter")
        assert isinstance(app.screen, ReturnsScreen)
        await press(pilot, "f3")  # the first line (2 sold)
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, "1", "enter")
        await press(pilot, "f12")
        with database.read() as db:
            entry = get_entry(db, journal_count(database))
        assert entry is not None
        assert isinstance(entry.payload, Return)
        assert [(ln.original_line_no, ln.quantity) for ln in entry.payload.lines] == [(1, 1)]


async def test_returning_more_than_was_sold_is_refused_with_the_cores_reason(
    make_app, till, database
) -> None:
    seq = _sell_two_lines(till, database)
    second = products(database)[1]
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f7")
        await type_text(pilot, str(seq), "enter")
        await press(pilot, "down", "f3")  # the second line: 1 sold
        await type_text(pilot, "2", "enter")
        await press(pilot, "f12")
        assert isinstance(app.screen, ReturnsScreen)
        assert message(pilot) == (
            f"{second.description}: 1 sold, 0 already returned — at most 1 can come back "
            "— change the quantity"
        )
        await press(pilot, "shift+tab")  # back to the receipt field
        await type_text(pilot, "999", "enter")  # not a sale of this till
        assert message(pilot) == "No sale with receipt T1-999"
        await type_text(pilot, "T7-3", "enter")  # another till's: no HQ to ask here
        assert message(pilot) == (
            "Receipt T7-3 is from till T7 and this till does not sync with HQ — F3 keys a "
            "line from the receipt, F12 refunds it without points"
        )
    assert journal_count(database) == before
