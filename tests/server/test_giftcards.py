"""Gift cards, credit slips and store credit at HQ (docs/giftcards.md): money postings that
balance per unit, balances that are the sum of postings, overdrafts from offline tills,
refunds into stored value, HQ's block and move, voids — on SQLite and PostgreSQL, with
``ledger rebuild --check`` after each."""

from __future__ import annotations

import random
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from shared.codes import generate_gift_card_number
from shared.journal import Tender, TenderMethod
from shared.protocol import PushRequest
from syncserver.cli import main as syncserver
from syncserver.errors import ConflictError, NotFoundError
from syncserver.hq.giftcards import block_gift_card, move_gift_card
from syncserver.hq.setup import CLI
from syncserver.ledger.rebuild import rebuild_check
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.members import member_states
from syncserver.storage.schema import postings, stored_values
from syncserver.sync.pull import pull
from syncserver.sync.push import push
from terminal.config import TillConfig
from tests.server.helpers import prepare
from tests.server.journal import JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")
_RNG = random.Random(13)


def gift_card() -> str:
    return generate_gift_card_number(TillConfig().code_config(), _RNG)


def gift(number: str, amount: int) -> Tender:
    return Tender(method=TenderMethod.GIFT_CARD, amount_minor=amount, reference=number)


def cash(amount: int) -> Tender:
    return Tender(method=TenderMethod.CASH, amount_minor=amount)


def credit(amount: int) -> Tender:
    return Tender(method=TenderMethod.STORE_CREDIT, amount_minor=amount)


def send(database: Database, till: JournalWriter, since: int = 0) -> list[tuple[Any, ...]]:
    reply = push(
        database,
        till.terminal_id,
        PushRequest(terminal_id=till.terminal_id, entries=till.since(since)),
        utc_now,
    )
    return [(e.kind, e.seq, e.amount) for e in reply.exceptions]


def card_row(database: Database, number: str) -> Any:
    with database.read() as conn:
        return conn.execute(
            select(stored_values).where(stored_values.c.account == f"giftcard:{number}")
        ).one()


def posted(database: Database, account: str) -> int:
    with database.read() as conn:
        return int(
            conn.execute(
                select(func.coalesce(func.sum(postings.c.amount), 0)).where(
                    postings.c.account == account
                )
            ).scalar_one()
        )


def assert_balanced_and_replayed(database: Database) -> None:
    """Every entry's and event's postings sum to zero per unit; the replay agrees."""
    with database.read() as conn:
        sums = conn.execute(
            select(postings.c.terminal_id, postings.c.seq, postings.c.hq_event_id, postings.c.unit)
            .group_by(
                postings.c.terminal_id, postings.c.seq, postings.c.hq_event_id, postings.c.unit
            )
            .having(func.sum(postings.c.amount) != 0)
        ).all()
    assert sums == []
    report = rebuild_check(database)
    assert report.ok, report.differences


def two_tills(database: Database) -> tuple[JournalWriter, JournalWriter]:
    server = prepare(database)
    a, _ = server.terminal(name="A")
    b, _ = server.terminal(name="B")
    return JournalWriter(a), JournalWriter(b)


def test_a_card_sold_at_one_till_and_spent_at_another(database: Database) -> None:
    till_a, till_b = two_tills(database)
    number = gift_card()
    till_a.giftcard_load(number, 2500)
    assert send(database, till_a) == []
    till_b.sale(None, tenders=(gift(number, 1000), cash(200)))
    assert send(database, till_b) == []
    row = card_row(database, number)
    assert (row.balance_minor, row.status, row.kind) == (1500, "active", "giftcard")
    assert posted(database, "program:giftcard_sales") == -2500
    assert posted(database, "program:giftcard_tendered") == 1000
    page = pull(database, till_b.terminal_id, 0, 1000)
    assert [(c.card_number, c.balance_minor) for c in page.gift_cards] == [(number, 1500)]
    assert_balanced_and_replayed(database)


def test_two_offline_spends_beyond_the_balance_raise_one_overdraft(database: Database) -> None:
    till_a, till_b = two_tills(database)
    number = gift_card()
    till_a.giftcard_load(number, 2500)
    assert send(database, till_a) == []
    till_a.sale(None, [("4000000000017", "grocery", 1, 2000)], tenders=(gift(number, 2000),))
    till_b.sale(None, [("4000000000017", "grocery", 1, 2000)], tenders=(gift(number, 2000),))
    assert send(database, till_a, 1) == []
    assert send(database, till_b) == [("giftcard_overdraft", 1, 1500)]
    assert card_row(database, number).balance_minor == -1500
    assert_balanced_and_replayed(database)


def test_unknown_and_twice_activated_cards_post_anyway(database: Database) -> None:
    till_a, till_b = two_tills(database)
    number, other = gift_card(), gift_card()
    till_a.giftcard_load(number, 1000)
    till_a.giftcard_load(other, 500, activation=False)
    till_b.giftcard_load(number, 700)
    assert send(database, till_a) == [("giftcard_blocked", 2, 500)]
    assert send(database, till_b) == [("giftcard_activated_twice", 1, 700)]
    assert card_row(database, number).balance_minor == 1700
    assert card_row(database, other).balance_minor == 500
    assert_balanced_and_replayed(database)


def test_refunds_to_store_credit_and_to_a_credit_slip(database: Database) -> None:
    till_a, _till_b = two_tills(database)
    sale = till_a.sale(ANNA)
    slip = gift_card()
    till_a.ret(sale, ANNA, refund=450, tenders=(credit(450),))
    till_a.ret(sale, ANNA, refund=300, line_no=2, before={1: 1}, tenders=(gift(slip, 300),))
    assert send(database, till_a) == []
    assert posted(database, "credit:M0000000001") == 450
    assert card_row(database, slip).balance_minor == 300
    with database.read() as conn:
        (anna,) = member_states(conn, ["M0000000001"])
    assert anna.store_credit_minor == 450
    # Spent later, in part, and more than is there: the rest is short.
    till_a.sale(ANNA, [("4000000000017", "grocery", 1, 500)], tenders=(credit(500),))
    assert send(database, till_a, 3) == [("giftcard_overdraft", 4, 50)]
    assert_balanced_and_replayed(database)


def test_store_credit_without_a_member_is_held_on_suspense(database: Database) -> None:
    till_a, _till_b = two_tills(database)
    till_a.sale(None, tenders=(credit(1200),))
    assert send(database, till_a) == [("store_credit_unbacked", 1, 1200)]
    assert posted(database, "suspense:store_credit") == -1200
    assert_balanced_and_replayed(database)


def test_a_void_gives_the_card_its_money_back(database: Database) -> None:
    till_a, _till_b = two_tills(database)
    number = gift_card()
    till_a.giftcard_load(number, 2500)
    sale = till_a.sale(None, tenders=(gift(number, 1200),))
    till_a.void(sale)
    assert send(database, till_a) == []
    assert card_row(database, number).balance_minor == 2500
    assert_balanced_and_replayed(database)


def test_block_and_move(database: Database) -> None:
    till_a, till_b = two_tills(database)
    lost, new, stolen = gift_card(), gift_card(), gift_card()
    till_a.giftcard_load(lost, 2500)
    till_a.giftcard_load(stolen, 1000)
    till_a.sale(None, tenders=(gift(lost, 1200),))
    assert send(database, till_a) == []
    move_gift_card(database, lost, new, "customer lost it", CLI)
    block_gift_card(database, stolen, "reported stolen", CLI)
    old_row, new_row = card_row(database, lost), card_row(database, new)
    assert (old_row.balance_minor, old_row.status, old_row.moved_to) == (0, "blocked", new)
    assert (new_row.balance_minor, new_row.status) == (1300, "active")
    with pytest.raises(ConflictError, match="already"):
        block_gift_card(database, stolen, "again", CLI)
    with pytest.raises(NotFoundError):
        block_gift_card(database, gift_card(), "never sold", CLI)
    with pytest.raises(ConflictError, match="in use"):
        move_gift_card(database, stolen, new, "wrong card", CLI)
    # A till that had not pulled yet takes the stolen card: HQ raises it, the card goes below.
    till_b.sale(None, tenders=(gift(stolen, 1200),))
    assert send(database, till_b) == [("giftcard_blocked", 1, 1200)]
    page = pull(database, till_b.terminal_id, 0, 1000)
    states = {c.card_number: (c.balance_minor, c.status) for c in page.gift_cards}
    assert states[stolen] == (-200, "blocked")
    assert states[new] == (1300, "active")
    assert_balanced_and_replayed(database)


def test_cli_block_move_and_show(database: Database, db_url: str) -> None:
    till_a, _till_b = two_tills(database)
    number, new = gift_card(), gift_card()
    till_a.giftcard_load(number, 2500)
    assert send(database, till_a) == []
    runner = CliRunner()
    shown = runner.invoke(syncserver, ["giftcards", "show", number, "--db", db_url])
    assert shown.exit_code == 0, shown.output
    assert "25.00" in shown.output
    moved = runner.invoke(
        syncserver, ["giftcards", "move", number, new, "--reason", "lost", "--db", db_url]
    )
    assert moved.exit_code == 0, moved.output
    blocked = runner.invoke(
        syncserver, ["giftcards", "block", number, "--reason", "lost card", "--db", db_url]
    )
    assert blocked.exit_code != 0
    assert "already blocked" in blocked.output
    unknown = runner.invoke(syncserver, ["giftcards", "show", "4000", "--db", db_url])
    assert unknown.exit_code != 0
    assert "Traceback" not in unknown.output
    assert card_row(database, new).balance_minor == 2500
    assert_balanced_and_replayed(database)
