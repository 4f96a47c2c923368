"""The till's application core against a real SQLite file: every flow and every refusal."""

from __future__ import annotations

import sqlite3

import pytest

from shared.journal import JournalEntry, Return, Sale, ShiftClose, TenderMethod
from terminal.config import TillConfig
from terminal.demo.seed import blocked_demo_card, demo_card
from terminal.store import TillDatabase
from terminal.store.journal import get_entry, verify_journal
from terminal.till.errors import (
    CardBlockedError,
    EnrolmentRefusedError,
    NotSignedInError,
    PaymentIncompleteError,
    RedemptionRefusedError,
    ReturnRefusedError,
    ScanNotUnderstoodError,
    SignInFailedError,
    UnknownCardError,
    UnknownProductError,
)
from terminal.till.receipts import receipt_for_entry
from terminal.till.service import Till
from tests.terminal.helpers import journal_count, products


def _sell(till: Till, config: TillConfig, *, card: int | None, qty: int = 3, redeem=None):
    basket = till.new_basket()
    for product in products(till.database)[:qty]:
        till.add_product(basket, product.sku)
    if card is not None:
        till.attach_member(basket, demo_card(config, card))
    if redeem is not None:
        till.redeem(basket, redeem)
    till.add_tender(basket, TenderMethod.CASH, basket.total_minor + 500)
    return basket, till.complete_sale(basket)


def _member_with_at_least(till: Till, config: TillConfig, points: int) -> int:
    """The first demo member with at least ``points`` (demo balances are random)."""
    return next(n for n in range(1, 61) if till.member_view(demo_card(config, n)).balance >= points)


def test_the_database_is_durable_by_configuration(database: TillDatabase) -> None:
    assert database.pragma("journal_mode") == "wal"
    assert database.pragma("synchronous") == 2  # FULL


def test_sign_in_with_a_wrong_pin_is_refused(config, database, clock) -> None:
    till = Till(config, database, clock=clock)
    with pytest.raises(SignInFailedError):
        till.sign_in("1", "0000")
    with pytest.raises(NotSignedInError):
        till.complete_sale(till.new_basket())
    assert till.sign_in("1", "1234").name == "Alex Meyer"


def test_a_cash_sale_is_journaled_with_change_and_queues_its_receipt(till, database) -> None:
    basket = till.new_basket()
    first, second = products(database)[:2]
    till.add_product(basket, first.sku)
    till.add_product(basket, first.sku)  # a repeat scan adds to the line
    till.add_product(basket, second.sku)
    assert [line.quantity for line in basket.lines] == [2, 1]
    till.add_tender(basket, TenderMethod.CASH, basket.total_minor + 1000)
    done = till.complete_sale(basket)
    assert done.change_minor == 1000
    sale = done.entry.payload
    assert isinstance(sale, Sale)
    assert sale.total_minor == 2 * first.price_minor + second.price_minor
    assert sale.member is None
    assert sale.earned is None
    assert done.entry.cashier_id == "1"
    with database.read() as db:
        job = db.execute("SELECT seq, status FROM print_jobs WHERE id = ?", [done.print_job_id])
        assert job.fetchone() == (done.entry.seq, "queued")
    assert verify_journal(database.db).ok


def test_a_member_sale_earns_points_and_the_balance_includes_them(till, config) -> None:
    before = till.member_view(demo_card(config, 1)).balance
    _basket, done = _sell(till, config, card=1)
    sale = done.entry.payload
    assert isinstance(sale, Sale)
    assert sale.earned is not None
    assert sale.points_earned == sale.earned.total_points > 0
    assert done.balance_after == before + sale.points_earned
    assert till.member_view(demo_card(config, 1)).balance == before + sale.points_earned


def test_split_tenders_and_card_cannot_exceed_what_is_due(till, database) -> None:
    basket = till.new_basket()
    till.add_product(basket, products(database)[0].sku)
    till.add_product(basket, products(database)[1].sku)
    with pytest.raises(PaymentIncompleteError, match="still to pay"):
        till.complete_sale(basket)
    with pytest.raises(PaymentIncompleteError, match="cannot be more"):
        till.add_tender(basket, TenderMethod.CARD, basket.total_minor + 1)
    till.add_tender(basket, TenderMethod.CARD, 100)
    # Store credit is the member's money (issue 13): none without a member.
    with pytest.raises(PaymentIncompleteError, match="Store credit belongs to a member"):
        till.add_tender(basket, TenderMethod.STORE_CREDIT, None)
    till.add_tender(basket, TenderMethod.CASH, None)
    done = till.complete_sale(basket)
    assert [t.method for t in done.entry.payload.tenders] == ["card", "cash"]
    assert done.change_minor == 0


def test_departments_need_a_keyed_price(till) -> None:
    basket = till.new_basket()
    with pytest.raises(UnknownProductError, match="needs a price"):
        till.add_product(basket, "DEPT-GROCERY")
    till.add_product(basket, "DEPT-GROCERY", price_minor=1234)
    assert basket.total_minor == 1234


def test_bad_scans_and_cards_are_refused_and_change_nothing(till, config, database) -> None:
    count = journal_count(database)
    basket = till.new_basket()
    with pytest.raises(ScanNotUnderstoodError, match="check digit"):
        till.scan(basket, till.classify("9826000000000012"))
    with pytest.raises(ScanNotUnderstoodError):
        till.scan(basket, till.classify("\x1b[garbage"))
    with pytest.raises(UnknownCardError, match="not registered"):
        till.attach_member(basket, demo_card(config, 99_999))
    with pytest.raises(CardBlockedError, match="blocked"):
        till.attach_member(basket, blocked_demo_card(config))
    with pytest.raises(UnknownProductError):
        till.scan(basket, till.classify("4006381333931"))
    assert basket.empty
    assert basket.member is None
    assert journal_count(database) == count


def test_a_scan_adds_a_product_or_attaches_the_member(till, config, database) -> None:
    basket = till.new_basket()
    product = products(database)[0]
    assert till.scan(basket, till.classify(product.sku)).kind == "product"
    result = till.scan(basket, till.classify(demo_card(config, 2)))
    assert result.kind == "member"
    assert basket.member is not None


def test_redemption_within_limits_discounts_the_basket(till, config) -> None:
    member = _member_with_at_least(till, config, 1000)
    before = till.member_view(demo_card(config, member)).balance
    _basket, done = _sell(till, config, card=member, qty=8, redeem=200)
    sale = done.entry.payload
    assert isinstance(sale, Sale)
    assert sale.points_redeemed == 200
    assert sale.total_minor == sale.subtotal_minor - 200
    # Tax is due on what was paid: the journal and the receipt's tax summary agree.
    receipt = receipt_for_entry(done.entry, config, balance_after=0, tier_after=None)
    assert sale.tax_minor == sum(row.tax.minor for row in receipt.tax_rows)
    assert sum(row.gross.minor for row in receipt.tax_rows) == sale.total_minor
    assert done.balance_after == before - 200 + sale.points_earned


def test_redemption_above_the_balance_or_the_offline_cap_is_refused(till, config) -> None:
    members = [n for n in range(1, 61) if till.member_view(demo_card(config, n)).balance < 200]
    basket = till.new_basket()
    for product in products(till.database)[:10]:
        till.add_product(basket, product.sku)
    till.attach_member(basket, demo_card(config, members[0]))
    with pytest.raises(RedemptionRefusedError):
        till.redeem(basket, 200)
    assert basket.redemption is None

    rich = next(n for n in range(1, 61) if till.member_view(demo_card(config, n)).balance > 4000)
    basket = till.new_basket()
    for product in products(till.database, "alcohol"):
        till.add_product(basket, product.sku, quantity=5)
    till.attach_member(basket, demo_card(config, rich))
    with pytest.raises(RedemptionRefusedError, match="offline"):
        till.redeem(basket, 1500)  # the demo program caps offline redemption at 1,000 a day
    till.redeem(basket, 1000)
    till.add_tender(basket, TenderMethod.CARD, None)
    till.complete_sale(basket)
    basket = till.new_basket()
    for product in products(till.database, "alcohol"):
        till.add_product(basket, product.sku, quantity=5)
    till.attach_member(basket, demo_card(config, rich))
    with pytest.raises(RedemptionRefusedError, match="at most 0 pts more"):
        till.redeem(basket, 200)


def test_removing_lines_drops_a_redemption_that_no_longer_fits(till, config) -> None:
    basket = till.new_basket()
    for product in products(till.database)[:8]:
        till.add_product(basket, product.sku)
    till.attach_member(basket, demo_card(config, _member_with_at_least(till, config, 1000)))
    till.redeem(basket, 200)
    for line in list(basket.lines)[1:]:
        till.void_line(basket, line.line_no)
    assert basket.redemption is None or basket.discount_minor <= basket.subtotal_minor // 2


def test_partial_and_full_returns_reverse_points_and_never_exceed_the_sale(till, config) -> None:
    _basket, done = _sell(till, config, card=3, qty=3)
    sale = done.entry.payload
    assert isinstance(sale, Sale)
    line = sale.lines[0]
    first = till.return_items(done.entry.seq, {line.line_no: 1})
    ret = first.entry.payload
    assert isinstance(ret, Return)
    assert ret.refund_minor == line.net_minor // line.quantity
    with pytest.raises(ReturnRefusedError, match="at most"):
        till.return_items(done.entry.seq, {line.line_no: line.quantity})
    rest = {ln.line_no: ln.quantity for ln in sale.lines}
    rest[line.line_no] -= 1
    second = till.return_items(done.entry.seq, rest)
    total_refund = first.entry.payload.refund_minor + second.entry.payload.refund_minor
    assert total_refund == sale.total_minor
    reversed_points = first.entry.payload.points_reversed + second.entry.payload.points_reversed
    assert reversed_points == sale.points_earned
    _, lines = till.find_sale(done.entry.seq)
    assert all(ln.returnable_quantity == 0 for ln in lines)
    with pytest.raises(ReturnRefusedError):
        till.return_items(done.entry.seq, {line.line_no: 1})


def test_a_void_undoes_the_sale_and_its_points(till, config) -> None:
    before = till.member_view(demo_card(config, 5)).balance
    _, done = _sell(till, config, card=5)
    till.void_sale(done.entry.seq, "customer changed their mind")
    assert till.member_view(demo_card(config, 5)).balance == before
    with pytest.raises(ReturnRefusedError, match="voided"):
        till.find_sale(done.entry.seq)


def test_offline_enrolment_assigns_the_card_and_finds_the_member(till, config) -> None:
    card = demo_card(config, 50_000)
    entry, view = till.enrol(
        name="Zoë Quist",
        phone="+49 170 5550123",
        email=None,
        marketing_consent=True,
        card_number=card,
    )
    assert entry.kind == "enrolment"
    assert view.name == "Zoë Quist"
    assert view.balance == 0
    found = till.find_members("0170 555 0123".replace("0170", "+49170"))
    assert [m.name for m, _ in found] == ["Zoë Quist"]
    assert till.find_members("zoë q")[0][1] == card
    with pytest.raises(EnrolmentRefusedError, match="already belongs"):
        till.enrol(
            name="X", phone="+49 170 5550199", email=None, marketing_consent=False, card_number=card
        )
    with pytest.raises(EnrolmentRefusedError, match="phone number or an email"):
        till.enrol(name="Y", phone="", email="", marketing_consent=False, card_number=card)
    _, done = _sell(till, config, card=50_000)
    assert done.balance_after == done.entry.payload.points_earned


def test_replacing_a_lost_card_keeps_the_balance(till, config) -> None:
    old, new = demo_card(config, 7), demo_card(config, 60_007)
    balance = till.member_view(old).balance
    till.replace_card(old, new, "lost")
    with pytest.raises(CardBlockedError):
        till.member_view(old)
    assert till.member_view(new).balance == balance


def test_closing_the_shift_journals_a_z_report(till, config) -> None:
    _sell(till, config, card=None)
    _, done = _sell(till, config, card=2)
    till.return_items(done.entry.seq, {1: 1})
    entry, _job = till.close_shift(cash_counted_minor=0)
    report = entry.payload
    assert isinstance(report, ShiftClose)
    assert report.sales_count == 2
    assert report.refunds_count == 1
    assert report.points_issued == done.entry.payload.points_earned
    assert report.cash_expected_minor > 0


def test_the_journal_refuses_updates_and_deletes(till, config, database) -> None:
    _sell(till, config, card=None)
    for statement in ("UPDATE journal SET kind = 'x'", "DELETE FROM journal"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"), database.write() as db:
            db.execute(statement)
    assert verify_journal(database.db).ok


def test_every_entry_round_trips_and_the_chain_holds(till, config, database) -> None:
    _, done = _sell(till, config, card=4, qty=4)
    till.return_items(done.entry.seq, {1: 1})
    till.enrol(
        name="Ana",
        phone=None,
        email="ana@example.com",
        marketing_consent=False,
        card_number=demo_card(config, 70_000),
    )
    till.close_shift()
    with database.read() as db:
        for seq in range(1, journal_count(database) + 1):
            entry = get_entry(db, seq)
            assert isinstance(entry, JournalEntry)
            assert entry.seq == seq
    assert verify_journal(database.db).ok


def test_a_return_prints_a_receipt_that_adds_up(till, config) -> None:
    basket = till.new_basket()
    till.add_product(basket, "DEPT-GROCERY", quantity=3, price_minor=1000)
    till.attach_member(basket, demo_card(config, _member_with_at_least(till, config, 1000)))
    till.redeem(basket, 200)  # a discount share that does not split evenly over 3 units
    till.add_tender(basket, TenderMethod.CASH, None)
    done = till.complete_sale(basket)
    returned = till.return_items(done.entry.seq, {1: 2})
    receipt = receipt_for_entry(returned.entry, config, balance_after=0, tier_after=None)
    refund = returned.entry.payload.refund_minor
    # Money going back prints negative (issue 11).
    assert receipt.total.minor == -refund
    assert sum(line.amount.minor for line in receipt.lines) == -refund
