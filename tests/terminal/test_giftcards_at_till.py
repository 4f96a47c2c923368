"""Gift cards, credit slips and store credit at the till (issue 13): a real till database,
HQ's balances applied by the till's own pull code, the command line through CliRunner, and
receipts read back from the ESC/POS printer simulator over TCP.

- Selling (activating) and topping up a card journal a ``GiftCardLoad``; its balance is HQ's
  figure + this till's unsent effects, and a pull covering an entry never counts it twice.
- Paying takes at most the balance, never from a blocked or unknown card, and beyond the
  offline daily cap only with HQ's live word (refused clearly when HQ cannot be reached).
- Store credit is the member's: refused without one or beyond their balance.
- Refunds go to the member's store credit, a new credit slip, or the card the sale was
  paid with; receipts print the card's last four digits, the amount and the balance left.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from hardware.sim.printer_sim import PrinterSimulator
from shared.codes import ReceiptRef
from shared.journal import GiftCardLoad, Return, Sale, ShiftClose, TenderMethod
from shared.protocol import StoredValueState
from terminal.cli.main import till as till_cli
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase
from terminal.sync.client import SyncClient
from terminal.till.errors import PaymentIncompleteError, ReturnRefusedError, StoredValueRefusedError
from terminal.till.returning import RefundTo
from terminal.till.service import Till
from tests.terminal.helpers import journal_count
from tests.terminal.stored_value_helpers import (
    UNREACHABLE_HQ,
    apply_page,
    basket_of,
    gift_number,
    member_state,
    printed,
)

MEMBER = 11


@pytest.fixture
def printer() -> Iterator[PrinterSimulator]:
    with PrinterSimulator() as sim:
        yield sim


def card_at_hq(number: str, balance_minor: int, status: str = "active") -> StoredValueState:
    return StoredValueState(
        card_number=number,
        balance_minor=balance_minor,
        status=status,
        blocked_reason="reported lost" if status == "blocked" else None,
    )


def pay_with_card(till: Till, number: str, amount: int | None, *, quantity: int = 1) -> Sale:
    basket = basket_of(till, 1000, quantity=quantity)
    till.add_tender(basket, TenderMethod.GIFT_CARD, amount, card_number=number)
    till.add_tender(basket, TenderMethod.CASH, None)
    sale = till.complete_sale(basket).entry.payload
    assert isinstance(sale, Sale)
    return sale


def test_a_card_sold_here_is_active_with_its_balance_and_its_receipt_says_so(
    till: Till, config: TillConfig, database: TillDatabase, printer: PrinterSimulator
) -> None:
    number = gift_number(till, 1)
    done = till.sell_gift_card(number, 2500, [(TenderMethod.CASH, 3000)])
    load = done.entry.payload
    assert isinstance(load, GiftCardLoad)
    assert (load.card_number, load.amount_minor, load.activation) == (number, 2500, True)
    assert done.change_minor == 500
    view = till.gift_card_balance(number)
    assert (view.balance_minor, view.status, view.unsent_minor) == (2500, "active", 2500)
    text = printed(till, printer, done.print_job_id)
    assert f"Gift card ••••{number[-4:]} activated €25.00 Balance €25.00" in text
    assert number not in text  # never the whole number on a receipt
    assert "Change €5.00" in text

    with pytest.raises(StoredValueRefusedError, match="already active — top it up instead"):
        till.sell_gift_card(number, 1000, [(TenderMethod.CASH, None)])
    till.top_up_gift_card(number, 1000, [(TenderMethod.CARD, None)])
    assert till.gift_card_balance(number).balance_minor == 3500


def test_loads_that_cannot_be_are_refused_and_journal_nothing(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    number = gift_number(till, 2)
    count = journal_count(database)
    with pytest.raises(StoredValueRefusedError, match="not active at this till"):
        till.top_up_gift_card(number, 1000, [(TenderMethod.CASH, None)])
    with pytest.raises(StoredValueRefusedError, match="cannot be paid with a gift card"):
        till.sell_gift_card(number, 1000, [(TenderMethod.STORE_CREDIT, None)])
    with pytest.raises(PaymentIncompleteError, match="card cannot be more than"):
        till.sell_gift_card(number, 1000, [(TenderMethod.CARD, 2000)])
    with pytest.raises(PaymentIncompleteError, match="still to pay"):
        till.sell_gift_card(number, 1000, [(TenderMethod.CASH, 500)])
    with pytest.raises(StoredValueRefusedError, match="not a gift card number"):
        till.sell_gift_card(number[:-1] + str((int(number[-1]) + 1) % 10), 1000, [])
    blocked = gift_number(till, 3)
    apply_page(config, database, gift_cards=(card_at_hq(blocked, 0, "blocked"),))
    with pytest.raises(StoredValueRefusedError, match="is blocked"):
        till.top_up_gift_card(blocked, 1000, [(TenderMethod.CASH, None)])
    assert journal_count(database) == count


def test_paying_with_a_card_takes_at_most_its_balance_and_prints_what_is_left(
    till: Till, config: TillConfig, database: TillDatabase, printer: PrinterSimulator
) -> None:
    number = gift_number(till, 4)
    till.sell_gift_card(number, 2500, [(TenderMethod.CASH, None)])
    basket = basket_of(till, 1000, quantity=4)
    till.add_tender(basket, TenderMethod.GIFT_CARD, 1000, card_number=number)
    with pytest.raises(StoredValueRefusedError) as refused:
        till.add_tender(basket, TenderMethod.GIFT_CARD, 1600, card_number=number)
    assert str(refused.value) == (
        f"Gift card {till.gift_card_balance(number).masked} has €15.00 left — "
        "take the rest in another tender"
    )
    till.add_tender(basket, TenderMethod.CASH, None)
    done = till.complete_sale(basket)
    sale = done.entry.payload
    assert isinstance(sale, Sale)
    assert next((t.method, t.amount_minor, t.gift_card) for t in sale.tenders) == (
        TenderMethod.GIFT_CARD,
        1000,
        number,
    )
    assert till.gift_card_balance(number).balance_minor == 1500
    text = printed(till, printer, done.print_job_id)
    short = f"••••{number[-4:]}"
    assert f"Gift card {short} €10.00" in text  # the tender
    assert f"Gift card {short} paid €10.00 Balance €15.00" in text


def test_a_tender_beyond_what_is_due_or_from_a_blocked_or_unknown_card_is_refused(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    good, blocked, unknown = gift_number(till, 5), gift_number(till, 6), gift_number(till, 7)
    apply_page(
        config,
        database,
        gift_cards=(card_at_hq(good, 100_000), card_at_hq(blocked, 5000, "blocked")),
    )
    basket = basket_of(till, 500)
    with pytest.raises(StoredValueRefusedError, match=r"cannot pay more than the .* due"):
        till.add_tender(basket, TenderMethod.GIFT_CARD, basket.total_minor + 1, card_number=good)
    with pytest.raises(StoredValueRefusedError, match="is blocked \\(reported lost\\)"):
        till.add_tender(basket, TenderMethod.GIFT_CARD, 100, card_number=blocked)
    with pytest.raises(StoredValueRefusedError, match="is not known to this till"):
        till.add_tender(basket, TenderMethod.GIFT_CARD, 100, card_number=unknown)
    # Amount left out: as much as is due.
    till.add_tender(basket, TenderMethod.GIFT_CARD, None, card_number=good)
    assert basket.due_minor == 0


def test_beyond_the_offline_cap_the_till_asks_hq_and_refuses_when_it_cannot(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    # The demo rules let one card pay 100.00 a day beyond HQ's figure without HQ.
    number = gift_number(till, 8)
    apply_page(config, database, gift_cards=(card_at_hq(number, 50_000),))
    pay_with_card(till, number, 6000, quantity=10)
    basket = basket_of(till, 1000, quantity=10)
    with pytest.raises(StoredValueRefusedError) as refused:
        till.add_tender(basket, TenderMethod.GIFT_CARD, 6000, card_number=number)
    assert str(refused.value).startswith(
        "The till is offline: at most €40.00 more can be paid from Gift card"
    )
    with SyncClient(UNREACHABLE_HQ, "token") as client:
        till.hq_gift_card = client.gift_card
        with pytest.raises(
            StoredValueRefusedError, match=r"^HQ cannot be reached: at most €40\.00"
        ):
            till.add_tender(basket, TenderMethod.GIFT_CARD, 6000, card_number=number)
    till.hq_gift_card = None
    till.add_tender(basket, TenderMethod.GIFT_CARD, 4000, card_number=number)  # within the cap


def test_a_pull_covering_a_payment_takes_hqs_balance_and_never_counts_it_twice(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    number = gift_number(till, 9)
    apply_page(config, database, gift_cards=(card_at_hq(number, 2500),))
    sale = pay_with_card(till, number, 1000)
    assert sale.tenders[0].gift_card == number
    assert till.gift_card_balance(number).balance_minor == 1500
    with database.read() as db:
        paid_seq = int(db.execute("SELECT MAX(seq) FROM journal").fetchone()[0])
    # HQ had not seen the payment yet: its 25.00 and the till's -10.00.
    apply_page(
        config, database, gift_cards=(card_at_hq(number, 2500),), applied_through=paid_seq - 1
    )
    assert till.gift_card_balance(number).balance_minor == 1500
    # HQ applied it (and another till spent 3.00): HQ's figure alone.
    apply_page(config, database, gift_cards=(card_at_hq(number, 1200),), applied_through=paid_seq)
    view = till.gift_card_balance(number)
    assert (view.balance_minor, view.unsent_minor) == (1200, 0)


def test_store_credit_is_the_members_and_goes_no_further_than_their_balance(
    till: Till, config: TillConfig, database: TillDatabase, printer: PrinterSimulator
) -> None:
    apply_page(
        config,
        database,
        members=(member_state(config, database, MEMBER, store_credit_minor=2000),),
    )
    basket = basket_of(till, 500, quantity=6)
    with pytest.raises(StoredValueRefusedError, match="Store credit belongs to a member"):
        till.add_tender(basket, TenderMethod.STORE_CREDIT, 500)
    till.attach_member(basket, demo_card(config, MEMBER))
    with pytest.raises(StoredValueRefusedError, match=r"store credit has €20\.00 left"):
        till.add_tender(basket, TenderMethod.STORE_CREDIT, 2001)
    till.add_tender(basket, TenderMethod.STORE_CREDIT, 500)
    till.add_tender(basket, TenderMethod.CASH, None)
    done = till.complete_sale(basket)
    key = f"M{MEMBER:07d}"
    assert till.store_credit_balance(key) == 1500
    assert "Store credit paid €5.00 Balance €15.00" in printed(till, printer, done.print_job_id)


def test_refunds_go_to_store_credit_a_credit_slip_or_the_card_paid_with(
    till: Till, config: TillConfig, database: TillDatabase, printer: PrinterSimulator
) -> None:
    # A member's sale refunded to their store credit.
    basket = basket_of(till, 500, quantity=3)
    till.attach_member(basket, demo_card(config, MEMBER))
    till.add_tender(basket, TenderMethod.CASH, None)
    member_sale = till.complete_sale(basket)
    line = basket.lines[0].line_no
    key = f"M{MEMBER:07d}"
    before = till.store_credit_balance(key)
    ret = till.return_items(member_sale.entry.seq, {line: 1}, refund_to=RefundTo.STORE_CREDIT)
    refund = ret.entry.payload
    assert isinstance(refund, Return)
    assert refund.tenders[0].method is TenderMethod.STORE_CREDIT
    assert till.store_credit_balance(key) == before + refund.refund_minor

    # A sale without a member: no store credit to refund to, a credit slip instead.
    anonymous = basket_of(till, 500, quantity=2)
    till.add_tender(anonymous, TenderMethod.CASH, None)
    plain = till.complete_sale(anonymous)
    with pytest.raises(ReturnRefusedError) as refused:
        till.return_items(plain.entry.seq, {1: 1}, refund_to=RefundTo.STORE_CREDIT)
    assert str(refused.value) == (
        "This sale had no member, so there is no store credit to refund to — refund to a "
        "credit slip, or in cash"
    )
    with pytest.raises(ReturnRefusedError, match="not paid with a gift card"):
        till.return_items(plain.entry.seq, {1: 1}, refund_to=RefundTo.GIFT_CARD)
    slip = till.return_items(plain.entry.seq, {1: 1}, refund_to=RefundTo.CREDIT_SLIP)
    slip_return = slip.entry.payload
    assert isinstance(slip_return, Return)
    slip_number = slip_return.tenders[0].gift_card
    assert slip_number is not None
    assert till.codes.is_gift_card_number(slip_number)
    assert till.gift_card_balance(slip_number).balance_minor == slip_return.refund_minor
    amount = f"€{slip_return.refund_minor // 100}.{slip_return.refund_minor % 100:02d}"
    text = printed(till, printer, slip.print_job_id)
    assert f"Credit slip ••••{slip_number[-4:]} {amount}" in text
    # The slip is the card: its number as a scannable code (a QR when CODE128 is too wide).
    assert re.search(rf"\[(BARCODE CODE128|QR) {slip_number}\]", text), text
    # The slip pays like a gift card.
    spend = basket_of(till, 100)
    till.add_tender(spend, TenderMethod.GIFT_CARD, None, card_number=slip_number)

    # A sale paid with a gift card refunded onto that card.
    number = gift_number(till, 10)
    till.sell_gift_card(number, 5000, [(TenderMethod.CASH, None)])
    paid = basket_of(till, 500)
    till.add_tender(paid, TenderMethod.GIFT_CARD, None, card_number=number)
    card_sale = till.complete_sale(paid)
    left = till.gift_card_balance(number).balance_minor
    back = till.return_items(card_sale.entry.seq, {1: 1}, refund_to=RefundTo.GIFT_CARD)
    back_return = back.entry.payload
    assert isinstance(back_return, Return)
    assert back_return.tenders[0].gift_card == number
    assert till.gift_card_balance(number).balance_minor == left + back_return.refund_minor


def test_a_voided_sale_gives_the_card_its_money_back(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    number = gift_number(till, 12)
    till.sell_gift_card(number, 3000, [(TenderMethod.CASH, None)])
    basket = basket_of(till, 500)
    till.add_tender(basket, TenderMethod.GIFT_CARD, None, card_number=number)
    done = till.complete_sale(basket)
    assert till.gift_card_balance(number).balance_minor < 3000
    till.void_sale(done.entry.seq, "customer changed their mind")
    assert till.gift_card_balance(number).balance_minor == 3000


def test_the_giftcard_commands_sell_top_up_report_and_pay(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    env = {"LOYALTILL_DATA_DIR": str(config.data_dir), "LOYALTILL_TIMEZONE": "Europe/Berlin"}
    who = ["--cashier", "1", "--pin", "1234"]
    number = gift_number(till, 11)
    runner = CliRunner()
    sold = runner.invoke(
        till_cli,
        ["giftcard", "sell", *who, "--card", number, "--amount", "25.00", "--tender", "cash:25.00"],
        env=env,
    )
    assert sold.exit_code == 0, sold.output
    assert json.loads(sold.output)["balance_minor"] == 2500
    again = runner.invoke(
        till_cli,
        ["giftcard", "sell", *who, "--card", number, "--amount", "5.00", "--tender", "cash:"],
        env=env,
    )
    assert again.exit_code == 1
    assert "already active" in again.output
    assert "Traceback" not in again.output
    topped = runner.invoke(
        till_cli,
        ["giftcard", "topup", *who, "--card", number, "--amount", "5.00", "--tender", "card:"],
        env=env,
    )
    assert topped.exit_code == 0, topped.output
    sku = basket_of(till, 1200).lines[0].product.sku
    sale = runner.invoke(
        till_cli,
        [
            "sale",
            *who,
            "--line",
            f"{sku}:1",
            "--tender",
            f"gift:{number}:10.00",
            "--tender",
            "cash:",
        ],
        env=env,
    )
    assert sale.exit_code == 0, sale.output
    balance = runner.invoke(till_cli, ["giftcard", "balance", number], env=env)
    assert balance.exit_code == 0, balance.output
    said = json.loads(balance.output)
    assert said["balance_minor"] == 2000
    assert said["status"] == "active"
    assert said["card"].endswith(number[-4:])
    assert number not in balance.output
    unknown = runner.invoke(till_cli, ["giftcard", "balance", gift_number(till, 99)], env=env)
    assert unknown.exit_code == 1
    assert "not known to this till" in unknown.output


def test_cash_taken_for_gift_cards_is_in_the_drawer_at_the_z_report(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    till.sell_gift_card(gift_number(till, 13), 2500, [(TenderMethod.CASH, 3000)])
    entry, _ = till.close_shift()
    z = entry.payload
    assert isinstance(z, ShiftClose)
    assert z.cash_expected_minor == 2500
    assert z.sales_by_tender[TenderMethod.CASH] == 2500


def test_a_refund_without_the_original_sale_goes_back_as_money_only(till: Till) -> None:
    other_till = ReceiptRef(terminal="T9", seq=4)
    with pytest.raises(ReturnRefusedError) as refused:
        till.return_without_original(other_till, {1: (1, 500)}, TenderMethod.STORE_CREDIT)
    assert str(refused.value) == (
        "Without the original sale the refund cannot go to store credit or a gift card — "
        "refund in cash or to the card"
    )
