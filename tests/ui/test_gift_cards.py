"""Gift cards and store credit in the till UI (issue 13): selling and topping up a card
between sales (Ctrl+G, or scanning it on an empty sale), checking its balance, paying with it
(F5) and with the member's store credit (F4), split with cash, the balance left in view.

Balances come from HQ's pull page, applied by the till's own pull code; everything else is
the real till database."""

from __future__ import annotations

from textual.widgets import Static

from shared.journal import GiftCardLoad, Sale, TenderMethod
from shared.protocol import StoredValueState
from shared.receipt import short_card
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase
from terminal.store.journal import get_entry
from terminal.sync.client import SyncClient
from terminal.till.service import Till
from terminal.ui.screens.gift_card import GiftCardScreen
from terminal.ui.screens.gift_card_payment import GiftCardPaymentScreen
from terminal.ui.screens.payment import PaymentScreen
from terminal.ui.screens.prompt import PromptScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.totals import Totals
from tests.terminal.helpers import journal_count
from tests.terminal.stored_value_helpers import (
    UNREACHABLE_HQ,
    apply_page,
    gift_number,
    member_state,
)
from tests.ui.helpers import euro, message, press, scan, type_text

MEMBER = 11


def card_at_hq(number: str, balance_minor: int, status: str = "active") -> StoredValueState:
    return StoredValueState(
        card_number=number,
        balance_minor=balance_minor,
        status=status,
        blocked_reason="reported lost" if status == "blocked" else None,
    )


def last_entry(database: TillDatabase):
    with database.read() as db:
        entry = get_entry(db, journal_count(database))
    assert entry is not None
    return entry.payload


def state_text(app) -> str:
    return str(app.screen.query_one("#gift-card-state").content)


async def test_sell_a_new_card_for_cash_with_change(
    make_app, till: Till, database: TillDatabase
) -> None:
    number = gift_number(till, 1)
    masked = short_card(number)
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "ctrl+g")
        assert isinstance(app.screen, GiftCardScreen)
        await type_text(pilot, number, "enter")
        assert state_text(app) == (
            f"Gift card {masked} is new to this till: no balance yet · an amount sells "
            "(activates) it"
        )
        await type_text(pilot, "25.00", "enter")
        assert isinstance(app.screen, GiftCardPaymentScreen)
        await press(pilot, "f12")  # nothing taken yet
        assert message(pilot) == f"{euro(2500)} still to pay — take a tender"
        await type_text(pilot, "30", "enter")
        assert message(pilot) == f"Change due {euro(500)} — Enter or F12 loads the card"
        assert journal_count(database) == before  # nothing journaled before completing
        await press(pilot, "enter")
        assert isinstance(app.screen, SaleScreen)
        load = last_entry(database)
        assert isinstance(load, GiftCardLoad)
        assert (load.card_number, load.amount_minor, load.activation) == (number, 2500, True)
        assert [(t.method, t.amount_minor) for t in load.tenders] == [(TenderMethod.CASH, 3000)]
        assert load.change_minor == 500
        assert f"Gift card {masked} activated {euro(2500)} · change {euro(500)}" in (
            app.screen.query_one(Totals).text
        )
        assert till.gift_card_balance(number).balance_minor == 2500


async def test_a_card_scanned_between_sales_is_topped_up_by_card_and_shows_its_balance(
    make_app, till: Till, config: TillConfig, database: TillDatabase, key_clock
) -> None:
    number = gift_number(till, 2)
    masked = short_card(number)
    apply_page(config, database, gift_cards=(card_at_hq(number, 1000),))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, number)  # an empty sale: the gift card dialog
        assert isinstance(app.screen, GiftCardScreen)
        assert state_text(app) == (
            f"Gift card {masked} · balance {euro(1000)} (HQ's last figure) · an amount tops it up"
        )
        await type_text(pilot, "15", "enter")
        await type_text(pilot, "20", "f3")  # a card cannot give change
        assert message(pilot) == (
            f"card cannot be more than the {euro(1500)} due — only cash gives change"
        )
        await press(pilot, "backspace", "f3", "f12")  # the refused amount was selected
        assert isinstance(app.screen, SaleScreen)
        load = last_entry(database)
        assert isinstance(load, GiftCardLoad)
        assert not load.activation
        assert f"Gift card {masked} topped up {euro(1500)} · change {euro(0)}" in (
            app.screen.query_one(Totals).text
        )
        # Offline, the balance is HQ's last figure plus what this till has not sent, said so.
        await press(pilot, "ctrl+g")
        await type_text(pilot, number, "f7")
        assert message(pilot) == (
            f"Gift card {masked} · balance {euro(2500)} (HQ's last figure {euro(1000)} + "
            f"{euro(1500)} from this till not yet sent)"
        )
        await press(pilot, "escape")
        assert isinstance(app.screen, SaleScreen)


async def test_a_blocked_card_is_not_loaded_and_a_gift_card_waits_for_the_sale_to_end(
    make_app, till: Till, config: TillConfig, database: TillDatabase, key_clock
) -> None:
    blocked = gift_number(till, 3)
    apply_page(config, database, gift_cards=(card_at_hq(blocked, 500, "blocked"),))
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "ctrl+g")
        await type_text(pilot, "1234 5678", "enter")
        assert message(pilot) == (
            "That is not a gift card number (12–19 digits, check digit) — scan the gift card again"
        )
        await scan(pilot, key_clock, blocked)
        assert state_text(app) == (
            f"Gift card {short_card(blocked)} is blocked (reported lost) · balance {euro(500)}"
        )
        assert message(pilot) == "This card cannot be loaded — keep the card and ask HQ"
        await press(pilot, "escape")
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        await press(pilot, "ctrl+g")
        assert isinstance(app.screen, SaleScreen)
        assert message(pilot) == ("Finish the sale first, then sell or top up a gift card (Ctrl+G)")
    assert journal_count(database) == before


async def test_pay_part_with_a_gift_card_keyed_at_f5_and_the_rest_in_cash(
    make_app, till: Till, config: TillConfig, database: TillDatabase
) -> None:
    number = gift_number(till, 4)
    masked = short_card(number)
    apply_page(config, database, gift_cards=(card_at_hq(number, 1500),))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        await press(pilot, "f12", "f5")
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, number, "enter")
        payment = app.screen
        assert isinstance(payment, PaymentScreen)
        # No amount typed: as much as the card covers.
        assert message(pilot) == f"Gift card {masked} {euro(1500)} taken, {euro(0)} left"
        tenders = str(payment.query_one("#tenders", Static).content)
        assert tenders == f"Gift card {masked}{euro(1500):>12}  left {euro(0)}"
        await press(pilot, "enter")  # cash, exact
        assert message(pilot) == "Paid in full — Enter or F12 completes the sale"
        await press(pilot, "enter")
        sale = last_entry(database)
        assert isinstance(sale, Sale)
        assert [(t.method, t.amount_minor, t.reference) for t in sale.tenders] == [
            (TenderMethod.GIFT_CARD, 1500, number),
            (TenderMethod.CASH, 500, None),
        ]
        assert till.gift_card_balance(number).balance_minor == 0


async def test_a_card_scanned_in_the_sale_pays_at_f5_within_its_balance(
    make_app, till: Till, config: TillConfig, database: TillDatabase, key_clock
) -> None:
    number, unknown = gift_number(till, 5), gift_number(till, 6)
    masked = short_card(number)
    apply_page(config, database, gift_cards=(card_at_hq(number, 5000),))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        await scan(pilot, key_clock, number)
        assert message(pilot) == (
            f"Gift card {masked} · balance {euro(5000)} — F12, then F5 pays with it"
        )
        await press(pilot, "f12")
        offer = str(app.screen.query_one("#stored-value").content)
        assert offer == f"Gift card {masked} {euro(5000)} (F5)"
        await type_text(pilot, "25", "f5")  # more than is due
        assert message(pilot) == (
            f"Gift card {masked} cannot pay more than the {euro(2000)} due — only cash gives change"
        )
        await press(pilot, "backspace")  # the refused amount was selected
        await type_text(pilot, "12.50", "f5")
        assert message(pilot) == f"Gift card {masked} {euro(1250)} taken, {euro(3750)} left"
        await scan(pilot, key_clock, unknown)  # a second card, scanned at the payment screen
        assert message(pilot) == (
            f"Gift card {short_card(unknown)} is not known to this till — sync with HQ, or "
            "take another form of payment"
        )
        await press(pilot, "f5")  # the scanned card paid already: asks for another
        assert isinstance(app.screen, PromptScreen)
        await press(pilot, "escape")
        await press(pilot, "escape")  # back to the sale: the tenders are dropped
        assert isinstance(app.screen, SaleScreen)
        assert app.screen.basket.tenders == []


async def test_store_credit_pays_only_for_a_member_and_within_their_balance(
    make_app, config: TillConfig, database: TillDatabase, key_clock
) -> None:
    apply_page(
        config, database, members=(member_state(config, database, MEMBER, store_credit_minor=1000),)
    )
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        await press(pilot, "f12", "f4")
        assert message(pilot) == "Store credit belongs to a member — scan the member's card first"
        await press(pilot, "escape")
        await scan(pilot, key_clock, demo_card(config, MEMBER))
        await press(pilot, "f12")
        offer = str(app.screen.query_one("#stored-value").content)
        assert offer == f"Store credit {euro(1000)} (F4)"
        await type_text(pilot, "15", "f4")
        assert message(pilot) == (
            f"The member's store credit has {euro(1000)} left — take the rest in another tender"
        )
        await press(pilot, "backspace", "f4")  # the refused amount was selected
        assert message(pilot) == f"Store credit {euro(1000)} taken, {euro(0)} left"
        await press(pilot, "f3", "f12")  # the rest by card, complete
        sale = last_entry(database)
        assert isinstance(sale, Sale)
        assert [(t.method, t.amount_minor) for t in sale.tenders] == [
            (TenderMethod.STORE_CREDIT, 1000),
            (TenderMethod.CARD, 1000),
        ]


async def test_beyond_the_offline_cap_the_till_asks_hq_off_the_screen_and_says_it_cannot(
    make_app, till: Till, config: TillConfig, database: TillDatabase, key_clock
) -> None:
    """The demo rules let a card pay 100.00 a day beyond HQ's last word; above that the
    till asks HQ live (in a worker: the screen stays responsive) — here HQ is out of reach."""
    number = gift_number(till, 7)
    masked = short_card(number)
    apply_page(config, database, gift_cards=(card_at_hq(number, 20000),))
    app = make_app()
    with SyncClient(UNREACHABLE_HQ, "token") as client:
        till.hq_gift_card = client.gift_card
        async with app.run_test(size=(120, 40)) as pilot:
            await type_text(pilot, "DEPT-GROCERY 150.00", "enter")
            await scan(pilot, key_clock, number)
            await press(pilot, "f12", "f5")
            assert message(pilot) == (
                f"HQ cannot be reached: at most {euro(10000)} more can be paid from Gift card "
                f"{masked} today (balance {euro(20000)}) — take the rest in another tender"
            )
            payment = app.screen
            assert isinstance(payment, PaymentScreen)
            assert payment.basket.tenders == []
            assert not payment.asking
            await type_text(pilot, "100", "f5")  # within the cap: no need to ask
            assert message(pilot) == f"Gift card {masked} {euro(10000)} taken, {euro(10000)} left"
    till.hq_gift_card = None
