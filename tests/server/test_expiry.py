"""Points lots and expiry at HQ (docs/ledger.md, "Points lots and expiry"): FIFO use of the
oldest lot, the expiry run (idempotent; never overdraws a debt made while the points were
usable) and a redemption made before the expiry date that reaches HQ after the run — on
SQLite and PostgreSQL, with ``ledger rebuild --check`` after each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select

from shared.points.lots import LotBook
from shared.rules import ProgramRules
from syncserver.cli import main as syncserver
from syncserver.hq.setup import CLI
from syncserver.ledger.periodic import run_points_expiry
from syncserver.storage.database import Database, DatabaseBusyError
from syncserver.storage.members import member_states
from syncserver.storage.schema import member_lots, postings
from tests.server.helpers import Server
from tests.server.journal import RULES, JournalWriter, card, member_ref
from tests.server.test_tiers import assert_consistent, earned, send, setup

CARL = member_ref(card(3), "M0000000003")  # no points
WHO = ("M0000000001", "M0000000003")


def expiry_rules() -> ProgramRules:
    """The demo program with a 12-month expiry and redemption in steps of 10 points."""
    data = RULES.model_dump(mode="json")
    data["version"] = 4
    data["expiry"] = {"mode": "months_after_earn", "months": 12}
    data["redemption"] = {
        "points": 100,
        "value_minor": 100,
        "step_points": 10,
        "min_points": 0,
        "max_points_per_transaction": 5000,
        "max_basket_percent": 100,
    }
    return ProgramRules.model_validate(data)


def basket(points: int) -> list[tuple[str, str, int, int]]:
    """A basket that earns exactly ``points`` (1 per euro plus 5 per order)."""
    return [("4000000000017", "grocery", 1, (points - 5) * 100)]


def book(database: Database, member_id: str) -> LotBook:
    with database.read() as conn:
        text = conn.execute(
            select(member_lots.c.book).where(member_lots.c.member_id == member_id)
        ).scalar_one()
    return LotBook.from_json(text)


def posted(database: Database, account: str, kind: str | None = None) -> int:
    wanted = [postings.c.account == account]
    if kind is not None:
        wanted.append(postings.c.kind == kind)
    with database.read() as conn:
        return int(
            conn.execute(
                select(func.coalesce(func.sum(postings.c.amount), 0)).where(*wanted)
            ).scalar_one()
        )


def test_redemption_uses_the_oldest_lot_first(database: Database) -> None:
    rules = expiry_rules()
    _server, terminal_id = setup(database, rules, who=WHO)
    till = JournalWriter(terminal_id, start=datetime(2026, 1, 15, 9, tzinfo=UTC))
    jan = till.sale(CARL, basket(100), rules=rules)
    till.now = datetime(2026, 3, 15, 9, tzinfo=UTC)
    mar = till.sale(CARL, basket(150), rules=rules)
    till.now = datetime(2026, 4, 15, 9, tzinfo=UTC)
    redeem = till.sale(CARL, basket(300), rules=rules, redeem=120)
    assert (earned(jan), earned(mar)) == (100, 150)
    assert send(database, till) == []
    lots = {
        (lot.earned_on.isoformat(), lot.remaining) for lot in book(database, "M0000000003").lots
    }
    # January's lot is used up (and gone); 20 of March's were taken; April's own lot is whole.
    assert lots == {("2026-03-15", 130), ("2026-04-15", earned(redeem))}
    with database.read() as conn:
        (state,) = member_states(conn, ["M0000000003"])
    assert [(e.expires_on, e.points) for e in state.expiring] == [
        ("2027-03-15", 130),
        ("2027-04-15", earned(redeem)),
    ]
    assert_consistent(database)


def test_points_earned_13_months_ago_expire_under_12_months_once(database: Database) -> None:
    rules = expiry_rules()
    _server, terminal_id = setup(database, rules, who=WHO)
    till = JournalWriter(terminal_id, start=datetime(2025, 10, 1, 9, tzinfo=UTC))
    old = till.sale(CARL, basket(100), rules=rules)
    till.now = datetime(2026, 10, 20, 9, tzinfo=UTC)
    recent = till.sale(CARL, basket(40), rules=rules)
    assert send(database, till) == []
    assert run_points_expiry(database, date(2026, 10, 1), CLI).nothing_due  # last day: 1 Oct
    result = run_points_expiry(database, date(2026, 11, 2), CLI)
    assert result.summary() == "expired 100 points of 1 member as of 2026-11-02"
    server = Server(database, "")
    assert server.balance("M0000000003") == earned(recent)
    assert posted(database, "program:expired", "expire") == earned(old)
    assert run_points_expiry(database, date(2026, 11, 2), CLI).nothing_due
    assert server.balance("M0000000003") == earned(recent)
    assert_consistent(database)


def test_a_redemption_made_before_the_run_is_posted_against_the_lots_as_they_stood(
    database: Database,
) -> None:
    rules = expiry_rules()
    server, till_a_id = setup(database, rules, who=WHO)
    till_b_id, _token = server.terminal()
    till_a = JournalWriter(till_a_id, start=datetime(2025, 1, 10, 9, tzinfo=UTC))
    till_a.sale(CARL, basket(100), rules=rules)  # usable through 2026-01-10
    assert send(database, till_a) == []
    till_b = JournalWriter(till_b_id, start=datetime(2026, 1, 5, 9, tzinfo=UTC))
    late = till_b.sale(CARL, basket(300), rules=rules, redeem=100)  # offline, synced late
    expired = run_points_expiry(database, date(2026, 2, 1), CLI)
    assert expired.counts["points"] == 100
    assert server.balance("M0000000003") == 0
    assert send(database, till_b) == []  # no offline_overdraft: the points were there
    assert server.balance("M0000000003") == earned(late)
    assert posted(database, "program:expired") == 0  # expired, then taken back
    assert posted(database, "program:expired", "unexpire") == -100
    assert_consistent(database)


def test_the_cli_expires_once_and_then_finds_nothing_due(database: Database) -> None:
    rules = expiry_rules()
    _server, terminal_id = setup(database, rules, who=WHO)
    till = JournalWriter(terminal_id, start=datetime(2025, 1, 10, 9, tzinfo=UTC))
    till.sale(CARL, basket(100), rules=rules)
    assert send(database, till) == []
    url = database.engine.url.render_as_string(hide_password=False)
    args: list[Any] = ["points", "expire", "--as-of", "2026-02-01", "--db", url]
    first = CliRunner().invoke(syncserver, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "expired 100 points of 1 member as of 2026-02-01"
    again = CliRunner().invoke(syncserver, args, catch_exceptions=False)
    assert again.stdout.strip() == "points expiry as of 2026-02-01: nothing due"
    assert_consistent(database)


def test_a_member_from_before_lots_gets_one_opening_lot(database: Database) -> None:
    rules = expiry_rules()
    server, terminal_id = setup(database, rules, who=WHO)
    with database.write() as conn:  # as after migration 0005: balances, no books
        conn.execute(member_lots.delete())
    till = JournalWriter(terminal_id, start=datetime(2026, 2, 1, 9, tzinfo=UTC))
    sale = till.sale(member_ref(card(1), "M0000000001"), basket(20), rules=rules)
    assert send(database, till) == []
    lots = [
        (lot.ref, lot.earned_on, lot.expires_on, lot.remaining)
        for lot in book(database, "M0000000001").lots
    ]
    assert lots == [
        ("(opening)", date(2026, 2, 1), date(2027, 2, 1), 1000),
        (f"{terminal_id}#1", date(2026, 2, 1), date(2027, 2, 1), earned(sale)),
    ]
    assert server.balance("M0000000001") == 1000 + earned(sale)
    # The replay builds the book from the member's whole history: named, not a traceback.
    from syncserver.ledger.rebuild import rebuild_check

    report = rebuild_check(database)
    assert any(d.startswith("lot book of member M0000000001: live") for d in report.differences)
    assert not any("balance" in d for d in report.differences)


def test_rebuild_names_a_member_whose_lots_or_tier_were_changed(database: Database) -> None:
    rules = expiry_rules()
    _server, terminal_id = setup(database, rules, who=WHO)
    till = JournalWriter(terminal_id, start=datetime(2026, 2, 1, 9, tzinfo=UTC))
    till.sale(CARL, basket(100), rules=rules)
    assert send(database, till) == []
    assert_consistent(database)
    from syncserver.ledger.rebuild import rebuild_check
    from syncserver.storage.schema import members

    with database.write() as conn:
        conn.execute(
            members.update().where(members.c.member_id == "M0000000003").values(tier="silver")
        )
        conn.execute(
            member_lots.update()
            .where(member_lots.c.member_id == "M0000000003")
            .values(next_expiry="2026-01-01")
        )
    report = rebuild_check(database)
    assert [d.split(":")[0] for d in report.differences] == [
        "lot book of member M0000000003",
        "tier status of member M0000000003",
    ]


def test_runs_beside_pushes_replay_exactly(database: Database) -> None:
    """Expiry runs and tier reviews while two tills push: whatever the interleaving (on
    PostgreSQL a deadlock between a run and a push re-runs one of them), the replay in
    position order reproduces every book, balance and posting."""
    import threading

    from syncserver.ledger.periodic import run_tier_review

    rules = expiry_rules()
    server, till_a_id = setup(database, rules, who=WHO)
    till_b_id, _token = server.terminal()
    people = [CARL, member_ref(card(1), "M0000000001"), member_ref(card(2), "M0000000002")]
    tills = [
        JournalWriter(till_a_id, start=datetime(2025, 1, 1, 9, tzinfo=UTC)),
        JournalWriter(till_b_id, start=datetime(2025, 1, 1, 9, tzinfo=UTC)),
    ]
    failures: list[BaseException] = []

    def again_while_busy(work: Callable[[], object]) -> None:
        """As a till (a 503 on push) and ``serve``'s daily runs do: a write that stayed busy
        (deadlocks retried inside, on a loaded machine not always enough) is tried again."""
        for _ in range(100):
            try:
                work()
                return
            except DatabaseBusyError:
                threading.Event().wait(0.05)
        work()

    def sell(till: JournalWriter) -> None:
        try:
            for month in range(1, 13):
                for person in people:
                    till.now = datetime(2025, month, 2, 9, tzinfo=UTC)
                    redeem = 30 if month % 3 == 0 else 0
                    till.sale(person, basket(60), rules=rules, redeem=redeem)
                since = len(till.records) - len(people)
                again_while_busy(partial(send, database, till, since=since))
        except BaseException as error:
            failures.append(error)

    def run() -> None:
        try:
            for month in range(2, 14):
                day = date(2026 + (month - 1) // 12, (month - 1) % 12 + 1, 3)
                again_while_busy(partial(run_points_expiry, database, day, CLI))
                again_while_busy(partial(run_tier_review, database, day, CLI))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=sell, args=(till,)) for till in tills]
    threads.append(threading.Thread(target=run))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert not failures, failures
    assert_consistent(database)
