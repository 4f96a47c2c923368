"""Paying: cash with change, card, the member's store credit, split tenders; completing and
printing. Gift card tenders: tests/ui/test_gift_cards.py."""

from __future__ import annotations

from shared.journal import Sale, TenderMethod
from terminal.demo.seed import demo_card
from terminal.store.journal import get_entry
from terminal.ui.screens.payment import PaymentScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.status_bar import StatusBar
from terminal.ui.widgets.totals import Totals
from tests.terminal.helpers import journal_count, products
from tests.terminal.stored_value_helpers import apply_page, member_state
from tests.ui.helpers import RecordingPrinter, euro, message, press, scan, type_text


def sale_of(app) -> SaleScreen:
    screen = app.screen
    assert isinstance(screen, SaleScreen)
    return screen


def last_done(database) -> Sale:
    with database.read() as db:
        entry = get_entry(db, journal_count(database))
    assert entry is not None
    assert isinstance(entry.payload, Sale)
    return entry.payload


async def test_cash_shows_change_then_the_sale_is_journaled_and_the_next_one_starts(
    make_app, database, key_clock
) -> None:
    """No printer configured: the receipt waits in the queue with the reason, and the
    cashier carries straight on with the next customer."""
    first, second = products(database)[:2]
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, first.sku)
        total = first.price_minor
        await press(pilot, "f12")
        assert isinstance(app.screen, PaymentScreen)
        await type_text(pilot, "50", "enter")
        change = 5000 - total
        assert message(pilot) == (f"Change due {euro(change)} — Enter or F12 completes the sale")
        assert journal_count(database) == before  # nothing journaled before completing
        await press(pilot, "enter")
        sale = sale_of(app)
        assert journal_count(database) == before + 1
        journaled = last_done(database)
        assert journaled.change_minor == change
        assert [t.method for t in journaled.tenders] == [TenderMethod.CASH]
        assert sale.basket.empty
        assert f"change {euro(change)}" in sale.query_one(Totals).text
        assert message(pilot) == (
            f"Receipt {journaled.receipt_no} not printed: no receipt printer is configured "
            "— set printer_url — it waits in the print queue (F8)"
        )
        assert app.print_queue.waiting() == 1
        status = sale.query_one(StatusBar).text
        assert "printer: 1 waiting (no receipt" in status
        assert f"{before + 1} unsent" in status
        await scan(pilot, key_clock, second.sku)  # the next sale, at once
        assert [line.product.sku for line in sale.basket.lines] == [second.sku]


async def test_split_card_and_store_credit(make_app, config, database, key_clock) -> None:
    """Store credit is the member's money (issue 13): refused without a member, and with
    one it pays as far as their balance goes; cash takes the rest."""
    apply_page(
        config, database, members=(member_state(config, database, 11, store_credit_minor=100),)
    )
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "DEPT-GROCERY 5.00", "enter")
        await press(pilot, "f12")
        await type_text(pilot, "0.50", "f3")  # card for part of it
        await press(pilot, "f4")
        assert message(pilot) == "Store credit belongs to a member — scan the member's card first"
        await press(pilot, "escape")  # back to the sale (the card tender is dropped)
        await scan(pilot, key_clock, demo_card(config, 11))
        await press(pilot, "f12")
        await type_text(pilot, "0.50", "f3")
        await press(pilot, "f4")  # no amount: as much as the store credit covers
        assert message(pilot) == f"Store credit {euro(100)} taken, {euro(0)} left"
        await press(pilot, "enter")  # cash for the rest
        await press(pilot, "f12")
        assert isinstance(app.screen, SaleScreen)
        journaled = last_done(database)
        assert [(t.method, t.amount_minor) for t in journaled.tenders] == [
            (TenderMethod.CARD, 50),
            (TenderMethod.STORE_CREDIT, 100),
            (TenderMethod.CASH, 350),
        ]
        assert journaled.change_minor == 0


async def test_payment_refusals_keep_the_sale_open_and_journal_nothing(
    make_app, database, key_clock
) -> None:
    product = products(database)[0]
    due = euro(product.price_minor)
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f12")
        assert message(pilot) == "The basket is empty — scan a product first"
        await scan(pilot, key_clock, product.sku)
        await press(pilot, "f12")
        await press(pilot, "f12")  # complete without paying
        assert message(pilot) == f"{due} still to pay — take a tender"
        await type_text(pilot, "900", "f3")  # a card for more than is due
        assert message(pilot) == f"card cannot be more than the {due} due — only cash gives change"
        await type_text(pilot, "12.345", "enter")
        assert message(pilot) == "12.345 is not an amount — type it like 12.50"
        await type_text(pilot, "0.10", "enter")
        await press(pilot, "escape")  # back to the sale: the tender taken is removed
        sale = sale_of(app)
        assert sale.basket.tenders == []
        assert len(sale.basket.lines) == 1
        assert message(pilot) == "Payment cancelled: the sale is still open"
    assert journal_count(database) == before


async def test_a_member_sale_prints_its_receipt_with_the_points(
    make_app, config, database, key_clock
) -> None:
    printer = RecordingPrinter()
    app = make_app(printer=printer)
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, demo_card(config, 1))
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        await press(pilot, "f12")
        await press(pilot, "enter", "enter")  # exact cash, complete
        journaled = last_done(database)
        assert journaled.points_earned > 0
        assert message(pilot) == f"Printed {journaled.receipt_no}"
        assert app.print_queue.waiting() == 0
        assert len(printer.receipts) == 1
        assert "printer: ok" in app.screen.query_one(StatusBar).text


async def test_a_printer_failure_shows_its_message_and_the_receipt_waits(
    make_app, database, key_clock
) -> None:
    printer = RecordingPrinter(fail_with="printer is out of paper")
    app = make_app(printer=printer)
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, products(database)[0].sku)
        await press(pilot, "f12")
        await press(pilot, "enter", "enter")
        journaled = last_done(database)
        assert message(pilot) == (
            f"Receipt {journaled.receipt_no} not printed: printer is out of paper "
            "— it waits in the print queue (F8)"
        )
        [job] = app.print_queue.jobs()
        assert (job.status, job.last_error) == ("failed", "printer is out of paper")
        assert sale_of(app).basket.empty


async def test_enter_pressed_again_while_the_sale_completes_does_not_complete_it_twice(
    make_app, database, key_clock
) -> None:
    """Keys typed ahead wait in the queue of the field that had focus: on a slow till the
    extra Enters reach the payment screen after it completed the sale. They must not journal
    the sale again, nor close the sale screen beneath (a blank till)."""
    product = products(database)[0]
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, product.sku)
        await press(pilot, "f12")
        await press(pilot, "enter", "enter", "enter", "enter")  # exact cash, complete, twice
        sale = sale_of(app)
        assert journal_count(database) == before + 1
        assert last_done(database).total_minor == product.price_minor
        assert sale.basket.empty
        await scan(pilot, key_clock, product.sku)  # and the till sells on
        assert len(sale.basket.lines) == 1
