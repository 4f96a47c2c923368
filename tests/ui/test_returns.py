"""Returns: find the sale by its receipt, choose lines and quantities, refund (in cash, to
the card, the member's store credit, a new credit slip or the gift card the sale was paid
with)."""

from __future__ import annotations

from shared.codes import format_receipt_barcode
from shared.journal import Return, TenderMethod
from shared.protocol import StoredValueState
from shared.receipt import short_card
from terminal.demo.seed import demo_card
from terminal.store.journal import get_entry
from terminal.till.service import Till
from terminal.ui.screens.prompt import PromptScreen
from terminal.ui.screens.returns import ReturnsScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.totals import Totals
from tests.terminal.helpers import journal_count, products
from tests.terminal.stored_value_helpers import apply_page, gift_number
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


def _summary(app) -> str:
    return str(app.screen.query_one("#return-summary").content)


def _sell_for_20(till: Till, config, *, member: int | None = None, gift_card: str | None = None):
    """A 20.00 sale (one open-price line) to refund: with a member, paid with a gift card."""
    basket = till.new_basket()
    till.add_product(basket, "DEPT-GROCERY", price_minor=2000)
    if member is not None:
        till.attach_member(basket, demo_card(config, member))
    if gift_card is not None:
        till.add_tender(basket, TenderMethod.GIFT_CARD, None, card_number=gift_card)
    else:
        till.add_tender(basket, TenderMethod.CASH, None)
    return till.complete_sale(basket).entry.seq


async def test_refund_to_the_members_store_credit(make_app, till, config, database) -> None:
    seq = _sell_for_20(till, config, member=11)
    member_key = "M0000011"
    before = till.store_credit_balance(member_key)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f7")
        await type_text(pilot, str(seq), "enter")
        assert _summary(app).startswith("Refund in cash (F6 to change)")
        await press(pilot, "f5", "f6", "f6")  # everything; cash → card → store credit
        assert (
            _summary(app) == "Refund to the member's store credit (F6 to change) · 1 item(s) chosen"
        )
        await press(pilot, "f12")
        assert isinstance(app.screen, SaleScreen)
        ret = last_return(database)
        assert [(t.method, t.amount_minor) for t in ret.tenders] == [
            (TenderMethod.STORE_CREDIT, 2000)
        ]
        assert till.store_credit_balance(member_key) == before + 2000
        assert "by store credit" in app.screen.query_one(Totals).text


async def test_without_a_member_the_refund_goes_on_a_new_credit_slip(
    make_app, till, config, database
) -> None:
    seq = _sell_for_20(till, config)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f7")
        await type_text(pilot, str(seq), "enter")
        await press(pilot, "f5", "f6", "f6")  # cash → card → (no store credit) credit slip
        assert _summary(app) == (
            "Refund on a new credit slip (printed) (F6 to change) · 1 item(s) chosen"
        )
        await press(pilot, "f6")  # no gift card paid this sale: back to cash
        assert _summary(app).startswith("Refund in cash")
        await press(pilot, "f6", "f6", "f12")
        ret = last_return(database)
        [tender] = ret.tenders
        assert tender.method is TenderMethod.GIFT_CARD
        assert tender.gift_card is not None
        assert till.gift_card_balance(tender.gift_card).balance_minor == 2000
        assert f"by gift card {short_card(tender.gift_card)}" in app.screen.query_one(Totals).text


async def test_a_sale_paid_by_gift_card_is_refunded_onto_that_card(
    make_app, till, config, database
) -> None:
    number = gift_number(till, 21)
    apply_page(
        config,
        database,
        gift_cards=(StoredValueState(card_number=number, balance_minor=3000, status="active"),),
    )
    seq = _sell_for_20(till, config, gift_card=number)
    assert till.gift_card_balance(number).balance_minor == 1000
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f7")
        await type_text(pilot, str(seq), "enter")
        await press(pilot, "f5", "f6", "f6", "f6")  # cash → card → credit slip → the card
        assert _summary(app) == (
            f"Refund to gift card {short_card(number)} (F6 to change) · 1 item(s) chosen"
        )
        await press(pilot, "f12")
        ret = last_return(database)
        assert [(t.method, t.reference) for t in ret.tenders] == [(TenderMethod.GIFT_CARD, number)]
        assert till.gift_card_balance(number).balance_minor == 3000


def last_return(database) -> Return:
    with database.read() as db:
        entry = get_entry(db, journal_count(database))
    assert entry is not None
    assert isinstance(entry.payload, Return)
    return entry.payload
