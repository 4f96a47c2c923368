"""The sale in progress, kept in ``open_sale`` as it is built (terminal/store/open_sale.py):
durable on every change, gone with the sale's journal entry, versioned, and a damaged row
reported and set aside without stopping the till."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from shared.journal import Sale, TenderMethod
from shared.money import Money
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase, open_database
from terminal.store.open_sale import (
    OPEN_SALE_VERSION,
    SavedOpenSale,
    UnreadableOpenSale,
    read_open_sale,
)
from terminal.till.basket import Basket
from terminal.till.errors import CardBlockedError, TillError
from terminal.till.resuming import DISCARDED_LOG, OpenSaleOffer, OpenSaleSetAside
from terminal.till.service import Till
from tests.terminal.conftest import FakeClock
from tests.terminal.helpers import journal_count, products


def kept(config: TillConfig) -> dict[str, Any] | None:
    """The row as another process sees it: a separate connection, committed data only."""
    conn = sqlite3.connect(config.database_path)
    try:
        row = conn.execute("SELECT document FROM open_sale WHERE id = 1").fetchone()
    finally:
        conn.close()
    return None if row is None else json.loads(row[0])


def store_row(config: TillConfig, document: str) -> None:
    conn = sqlite3.connect(config.database_path)
    try:
        conn.execute(
            "INSERT OR REPLACE INTO open_sale (id, document, updated_at) VALUES (1, ?, ?)",
            [document, "2026-11-23T09:00:00+00:00"],
        )
        conn.commit()
    finally:
        conn.close()


def ring_up(till: Till, database: TillDatabase, config: TillConfig) -> Basket:
    """A sale with two lines (one of them twice), a member, a redemption and cash taken."""
    first, second = products(database)[:2]
    basket = till.start_sale()
    till.add_product(basket, first.sku)
    till.add_product(basket, first.sku)
    till.add_product(basket, second.sku, 3)
    till.attach_member(basket, demo_card(config, 9))
    till.redeem(basket, 200)
    till.add_tender(basket, TenderMethod.CASH, 500)
    return basket


def test_every_change_is_committed_before_the_call_returns(till, database, config) -> None:
    first, second = products(database)[:2]
    basket = till.start_sale()
    assert kept(config) is None
    till.add_product(basket, first.sku)
    document = kept(config)
    assert document is not None
    assert document["version"] == OPEN_SALE_VERSION
    assert [(line["sku"], line["quantity"]) for line in document["lines"]] == [(first.sku, 1)]
    assert document["cashier_id"] == "1"

    till.add_product(basket, first.sku)
    till.add_product(basket, second.sku, 3)
    till.attach_member(basket, demo_card(config, 9))
    till.redeem(basket, 200)
    till.add_tender(basket, TenderMethod.CASH, 500)
    document = kept(config)
    assert document is not None
    assert [(line["sku"], line["quantity"]) for line in document["lines"]] == [
        (first.sku, 2),
        (second.sku, 3),
    ]
    assert document["member"]["card_number"] == demo_card(config, 9)
    assert document["redemption"]["points"] == 200
    assert document["tenders"] == [{"method": "cash", "amount_minor": 500, "reference": None}]

    till.drop_tenders(basket)
    till.cancel_redemption(basket)
    till.detach_member(basket)
    till.set_quantity(basket, 2, 1)
    document = kept(config)
    assert document is not None
    assert document["tenders"] == []
    assert document["redemption"] is None
    assert document["member"] is None
    assert document["lines"][1]["quantity"] == 1

    till.void_line(basket, 1)
    till.void_line(basket, 2)
    assert kept(config) is None  # nothing left to offer back


def test_a_scripted_sale_never_touches_the_sale_on_screen(till, database, config) -> None:
    """``till sale`` (a plain basket) must not overwrite or clear what the screen keeps."""
    on_screen = ring_up(till, database, config)
    before = kept(config)
    scripted = till.new_basket()
    till.add_product(scripted, products(database)[3].sku)
    till.add_tender(scripted, TenderMethod.CASH, None)
    till.complete_sale(scripted)
    assert kept(config) == before
    assert on_screen.lines


def test_completing_removes_the_row_with_the_journal_entry(till, database, config) -> None:
    basket = ring_up(till, database, config)
    till.add_tender(basket, TenderMethod.CASH, basket.due_minor)
    done = till.complete_sale(basket)
    assert isinstance(done.entry.payload, Sale)
    assert kept(config) is None


def test_a_refused_completion_keeps_the_sale_offered(till, database, config) -> None:
    """The journal's transaction rolls back, and with it the row's deletion."""
    basket = ring_up(till, database, config)
    till.add_tender(basket, TenderMethod.CASH, basket.due_minor)
    before = journal_count(database)
    with database.write() as db:  # the card is blocked at another till meanwhile
        db.execute(
            "UPDATE cards SET status = 'blocked' WHERE card_number = ?", [demo_card(config, 9)]
        )
    with pytest.raises(CardBlockedError):
        till.complete_sale(basket)
    assert journal_count(database) == before
    assert kept(config) is not None


def test_resumed_after_a_restart_the_sale_journals_as_it_would_have(
    till, database, config, clock
) -> None:
    basket = ring_up(till, database, config)
    expected = (basket.total_minor, basket.paid_minor, basket.redemption, len(basket.lines))
    assert basket.member is not None
    member_name = basket.member.member.name

    restarted = Till(config, open_database(config.database_path), clock=clock)
    try:
        restarted.sign_in("9", "9999")  # another cashier takes over the till
        offer = restarted.open_sale_offer()
        assert isinstance(offer, OpenSaleOffer)
        assert offer.summary() == (
            f"the sale from 10:00 — 2 lines, member {member_name}, "
            f"{Money(expected[0], 'EUR').format()}"
        )
        assert offer.tenders_text() == "€5.00 cash"
        resumed = restarted.resume_sale()
        back = resumed.basket
        assert resumed.notes == ()
        assert resumed.member is not None
        assert (back.total_minor, back.paid_minor, back.redemption, len(back.lines)) == expected
        assert [(line.line_no, line.quantity) for line in back.lines] == [
            (line.line_no, line.quantity) for line in basket.lines
        ]
        restarted.add_tender(back, TenderMethod.CARD, back.due_minor)
        done = restarted.complete_sale(back)
        sale = done.entry.payload
        assert isinstance(sale, Sale)
        assert sale.points_redeemed == 200
        assert [t.method for t in sale.tenders] == [TenderMethod.CASH, TenderMethod.CARD]
        assert sale.tenders[0].amount_minor == 500
        assert done.entry.cashier_id == "9"
        assert restarted.open_sale_offer() is None
    finally:
        restarted.database.close()


def test_a_member_blocked_since_is_taken_off_on_resume(till, database, config) -> None:
    ring_up(till, database, config)
    with database.write() as db:
        db.execute(
            "UPDATE cards SET status = 'blocked' WHERE card_number = ?", [demo_card(config, 9)]
        )
    resumed = till.resume_sale()
    assert resumed.basket.member is None
    assert resumed.basket.redemption is None
    assert resumed.member is None
    assert "taken off the sale" in resumed.notes[0]
    assert "redemption was removed" in resumed.notes[1]
    document = kept(config)
    assert document is not None
    assert document["member"] is None  # what is on screen is what is kept


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("{not json", "not JSON"),
        ('{"version": 2, "lines": []}', "format version 2"),
        ("[1, 2]", "not a sale document"),
        (None, "lines.0.quantity"),  # a valid document with a negative quantity
    ],
)
def test_an_unreadable_row_is_set_aside_and_the_till_carries_on(
    till, database, config, document, reason
) -> None:
    if document is None:
        ring_up(till, database, config)
        saved = kept(config)
        assert saved is not None
        saved["lines"][0]["quantity"] = -2
        document = json.dumps(saved)
    store_row(config, document)
    with database.read() as db:
        assert isinstance(read_open_sale(db), UnreadableOpenSale)

    found = till.open_sale_offer()
    assert isinstance(found, OpenSaleSetAside)
    assert reason in found.reason
    assert found.path is not None
    assert found.path.read_text("utf-8") == document  # kept for a supervisor, byte for byte
    assert found.path.stat().st_mode & 0o077 == 0
    assert kept(config) is None
    # Selling goes on.
    basket = till.start_sale()
    till.add_product(basket, products(database)[0].sku)
    with database.read() as db:
        assert isinstance(read_open_sale(db), SavedOpenSale)


def test_discarding_with_tenders_taken_takes_a_supervisor(till, database, config) -> None:
    ring_up(till, database, config)
    with pytest.raises(TillError, match="only a supervisor"):
        till.discard_open_sale(None)
    assert till.cashier is not None
    with pytest.raises(TillError, match="only a supervisor"):
        till.discard_open_sale(till.cashier)  # a cashier cannot approve it themselves
    assert kept(config) is not None

    supervisor = till.sign_in("9", "9999")
    till.sign_in("1", "1234")
    till.discard_open_sale(supervisor)
    assert kept(config) is None
    records = (config.data_dir / DISCARDED_LOG).read_text("utf-8").splitlines()
    record = json.loads(records[-1])
    assert (record["by"], record["approved_by"]) == ("1", "9")
    assert record["sale"]["tenders"][0]["amount_minor"] == 500


def test_discarding_without_tenders_is_the_cashiers_call(till, database, config) -> None:
    basket = till.start_sale()
    till.add_product(basket, products(database)[0].sku)
    till.discard_open_sale(None)
    assert kept(config) is None
    record = json.loads((config.data_dir / DISCARDED_LOG).read_text("utf-8").splitlines()[-1])
    assert record["approved_by"] is None


def test_an_offer_from_another_day_names_the_day(till, database, config) -> None:
    basket = till.start_sale()
    till.add_product(basket, products(database)[0].sku)
    offer = till.open_sale_offer()
    assert isinstance(offer, OpenSaleOffer)
    later = FakeClock()
    assert "the sale from 10:00 —" in offer.summary(later.now.replace(tzinfo=None))
    next_day = later.now.replace(day=24, tzinfo=None)
    assert "the sale from Mon 23 Nov 10:00 —" in offer.summary(next_day)
