"""Tiers at HQ (docs/ledger.md, "Tiers"): upgrades when a sale crosses a threshold, the tier a
till claims or earned with checked against HQ's figures, and the review (grace, one tier
down, idempotent) — on SQLite and PostgreSQL, with ``ledger rebuild --check`` after each."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from shared.journal import JournalEntry, Sale
from shared.journal.payloads import TierUpgrade
from shared.points.lots import LotBook, add_months
from shared.protocol import PushRequest
from shared.rules import ProgramRules
from syncserver.cli import main as syncserver
from syncserver.hq.imports import import_members
from syncserver.hq.rules import publish_rules
from syncserver.hq.setup import CLI
from syncserver.ledger.periodic import DailyRuns, local_today, run_tier_review
from syncserver.ledger.rebuild import rebuild_check
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.members import member_states
from syncserver.storage.schema import (
    hq_events,
    member_balances,
    member_lots,
    members,
    tier_changes,
)
from syncserver.sync.push import push
from tests.server.helpers import MEMBERS, Server, members_csv, prepare, server_process
from tests.server.journal import RULES, JournalWriter, card, member_ref
from tests.sync.harness import wait_for

ANNA = member_ref(card(1), "M0000000001")  # tier "member", 1000 points
JAN = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


def tier_rules(version: int = 4, **qualification: Any) -> ProgramRules:
    """The demo program with low thresholds: silver at 30 points, gold at 100."""
    data = RULES.model_dump(mode="json")
    data["version"] = version
    data["tiers"] = [
        {"code": "member", "name": "Member", "threshold_points": 0},
        {"code": "silver", "name": "Silver", "threshold_points": 30, "multiplier": "2"},
        {"code": "gold", "name": "Gold", "threshold_points": 100, "multiplier": "3"},
    ]
    data["tier_qualification"] = {"metric": "points", "window_months": 12, **qualification}
    return ProgramRules.model_validate(data)


def setup(
    database: Database, rules: ProgramRules, *, who: tuple[str, ...] = ("M0000000001",)
) -> tuple[Server, str]:
    """A server with only the members ``who`` of the test members (Anna alone by default,
    imported in the base tier, so no review of her own is due until a sale moves her up):
    runs count nobody else, whatever day the test runs on."""
    server = prepare(database, with_members=False)
    chosen: list[tuple[str, str, int, str | None]] = [
        (m, card(s), b, t) for m, s, b, t in MEMBERS if m in who
    ]
    import_members(database, members_csv(chosen))
    publish_rules(database, rules.to_json())
    terminal_id, _token = server.terminal()
    return server, terminal_id


def send(database: Database, till: JournalWriter, since: int = 0) -> list[Any]:
    reply = push(
        database,
        till.terminal_id,
        PushRequest(terminal_id=till.terminal_id, entries=till.since(since)),
        utc_now,
    )
    return [(e.kind, e.seq, e.amount, e.detail) for e in reply.exceptions]


def with_payload(till: JournalWriter, sale: Sale, **changes: Any) -> JournalEntry:
    """Journal ``sale`` with some fields changed (what a till of issue 12 writes)."""
    return till.append(Sale.model_validate(sale.model_dump() | changes))


def scratch_sale(rules: ProgramRules, tier: str | None = None) -> Sale:
    entry = JournalWriter("T9999", start=JAN).sale(ANNA, rules=rules, tier=tier)
    assert isinstance(entry.payload, Sale)
    return entry.payload


def status(database: Database, member_id: str) -> tuple[Any, ...]:
    with database.read() as conn:
        row = conn.execute(
            select(
                members.c.tier, members.c.tier_since, members.c.tier_review_on, members.c.tier_grace
            ).where(members.c.member_id == member_id)
        ).one()
    return (row.tier, row.tier_since, row.tier_review_on, bool(row.tier_grace))


def history(database: Database, member_id: str) -> list[tuple[str, str | None, str]]:
    with database.read() as conn:
        rows = conn.execute(
            select(tier_changes.c.kind, tier_changes.c.to_tier, tier_changes.c.reason)
            .where(tier_changes.c.member_id == member_id)
            .order_by(tier_changes.c.id)
        ).all()
    return [(r.kind, r.to_tier, r.reason) for r in rows]


def assert_consistent(database: Database) -> None:
    """Every book holds what the member's balance says, and the replay agrees."""
    with database.read() as conn:
        balances = {
            row.member_id: row.points
            for row in conn.execute(select(member_balances.c.member_id, member_balances.c.points))
        }
        for member_id, text in conn.execute(
            select(member_lots.c.member_id, member_lots.c.book)
        ).all():
            assert LotBook.from_json(text).balance == balances[member_id], member_id
    report = rebuild_check(database)
    assert report.ok, report.differences


def earned(entry: JournalEntry) -> int:
    assert isinstance(entry.payload, Sale)
    return entry.payload.points_earned


def test_a_sale_crossing_the_threshold_upgrades_with_the_reason(database: Database) -> None:
    rules = tier_rules()
    _server, terminal_id = setup(database, rules)
    till = JournalWriter(terminal_id, start=JAN)
    first, second = till.sale(ANNA, rules=rules), till.sale(ANNA, rules=rules)
    assert earned(first) < 30 <= earned(first) + earned(second)
    assert send(database, till) == []
    total = earned(first) + earned(second)
    assert status(database, "M0000000001") == ("silver", "2026-01-10", "2027-01-10", False)
    assert history(database, "M0000000001") == [
        ("upgrade", "silver", f"qualified: {total} of 30 pts in 12 months")
    ]
    with database.read() as conn:
        (state,) = member_states(conn, ["M0000000001"], today=date(2026, 1, 10))
    assert (state.tier, state.tier_since, state.tier_review_on) == (
        "silver",
        "2026-01-10",
        "2027-01-10",
    )
    assert state.qualifying is not None
    assert state.qualifying.points == total
    assert state.qualifying.window_start == "2025-01-11"
    assert state.qualifying.visits == 2
    assert_consistent(database)


def test_an_upgrade_the_figures_do_not_support_is_a_tier_mismatch(database: Database) -> None:
    rules = tier_rules()
    _server, terminal_id = setup(database, rules)
    till = JournalWriter(terminal_id, start=JAN)
    sale = scratch_sale(rules)
    claim = TierUpgrade(from_tier="member", to_tier="silver", qualifying_total=31, threshold=30)
    entry = with_payload(till, sale, tier_upgrade=claim.model_dump())
    exceptions = send(database, till)
    assert [(kind, amount) for kind, _seq, amount, _detail in exceptions] == [
        ("tier_mismatch", 30 - earned(entry))
    ]
    detail = exceptions[0][3]
    assert "till: 31 pts of 30 pts" in detail
    assert f"HQ counts {earned(entry)} pts" in detail
    assert status(database, "M0000000001")[0] == "member"  # never a silent change
    assert_consistent(database)


def test_earning_with_a_tier_hq_does_not_hold_is_a_tier_mismatch(database: Database) -> None:
    rules = tier_rules()
    _server, terminal_id = setup(database, rules)
    till = JournalWriter(terminal_id, start=JAN)
    as_gold = scratch_sale(rules, tier="gold")
    as_member = scratch_sale(rules)
    entry = with_payload(till, as_gold, tier="gold")
    exceptions = send(database, till)
    difference = as_gold.points_earned - as_member.points_earned
    assert difference > 0
    assert [(kind, amount) for kind, _seq, amount, _detail in exceptions] == [
        ("tier_mismatch", difference)
    ]
    assert "earned with tier gold" in exceptions[0][3]
    # The till's figure is what is posted.
    assert Server(database, "").balance("M0000000001") == 1000 + earned(entry)
    assert_consistent(database)


def upgrade(database: Database, terminal_id: str, rules: ProgramRules, sales: int) -> None:
    till = JournalWriter(terminal_id, start=JAN)
    for _ in range(sales):
        till.sale(ANNA, rules=rules)
    assert send(database, till) == []


def test_a_review_keeps_then_gives_grace_once_then_moves_down(database: Database) -> None:
    rules = tier_rules(grace_months=3)
    _server, terminal_id = setup(database, rules)
    upgrade(database, terminal_id, rules, 2)
    total = (Server(database, "").balance("M0000000001") or 0) - 1000
    assert status(database, "M0000000001")[0] == "silver"
    assert run_tier_review(database, date(2027, 1, 9), CLI).nothing_due
    kept = run_tier_review(database, date(2027, 1, 10), CLI)
    # The window just ended (10 Jan 2026 up to 9 Jan 2027) holds the sales that upgraded.
    assert kept.summary() == "reviewed 1 member as of 2027-01-10: 0 down, 1 kept, 0 on grace"
    assert status(database, "M0000000001") == ("silver", "2027-01-10", "2028-01-10", False)
    assert run_tier_review(database, date(2027, 1, 10), CLI).summary() == (
        "tier review as of 2027-01-10: nothing due"
    )
    grace = run_tier_review(database, date(2028, 1, 10), CLI)
    assert grace.summary() == "reviewed 1 member as of 2028-01-10: 0 down, 0 kept, 1 on grace"
    assert status(database, "M0000000001") == ("silver", "2027-01-10", "2028-04-10", True)
    down = run_tier_review(database, date(2028, 4, 12), CLI)
    assert (down.counts["reviewed"], down.counts["down"]) == (1, 1)
    assert status(database, "M0000000001") == ("member", "2028-04-10", None, False)
    reasons = [reason for kind, _to, reason in history(database, "M0000000001") if kind == "review"]
    assert reasons == [
        f"review 2027-01-10: kept Silver ({total} pts in 12 months)",
        "review 2028-01-10: kept Silver, grace until 2028-04-10 (0 pts in 12 months)",
        "review 2028-04-10: Silver → Member (0 pts in 12 months; 30 pts needed)",
    ]
    assert run_tier_review(database, date(2028, 4, 12), CLI).nothing_due
    assert_consistent(database)


def test_a_late_run_reviews_every_date_that_came(database: Database) -> None:
    rules = tier_rules()
    _server, terminal_id = setup(database, rules)
    upgrade(database, terminal_id, rules, 2)
    late = run_tier_review(database, date(2028, 3, 1), CLI)  # 2027-01-10 kept, 2028-01-10 down
    assert (late.counts["reviewed"], late.counts["kept"], late.counts["down"]) == (1, 0, 1)
    assert [kind for kind, _to, _reason in history(database, "M0000000001")] == [
        "upgrade",
        "review",
        "review",
    ]
    assert status(database, "M0000000001") == ("member", "2028-01-10", None, False)
    assert run_tier_review(database, date(2028, 3, 1), CLI).nothing_due
    assert_consistent(database)


def test_one_tier_down_at_most(database: Database) -> None:
    rules = tier_rules(one_tier_down=True)
    _server, terminal_id = setup(database, rules)
    upgrade(database, terminal_id, rules, 8)
    assert status(database, "M0000000001")[0] == "gold"
    assert run_tier_review(database, date(2027, 1, 10), CLI).counts["kept"] == 1
    result = run_tier_review(database, date(2028, 1, 10), CLI)
    assert result.counts["down"] == 1
    assert status(database, "M0000000001") == ("silver", "2028-01-10", "2029-01-10", False)
    assert_consistent(database)


def test_the_cli_reviews_once_and_then_finds_nothing_due(database: Database) -> None:
    rules = tier_rules()
    _server, terminal_id = setup(database, rules)
    upgrade(database, terminal_id, rules, 2)
    url = database.engine.url.render_as_string(hide_password=False)
    args = ["tiers", "review", "--as-of", "2028-01-10", "--db", url]
    first = CliRunner().invoke(syncserver, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "reviewed 1 member as of 2028-01-10: 1 down, 0 kept, 0 on grace"
    assert "1 of 1 members" in first.stderr
    again = CliRunner().invoke(syncserver, args, catch_exceptions=False)
    assert again.stdout.strip() == "tier review as of 2028-01-10: nothing due"
    assert_consistent(database)


def test_serve_runs_todays_review_once(database: Database) -> None:
    rules = tier_rules()
    _server, terminal_id = setup(database, rules)
    today = local_today("UTC")
    start = datetime(today.year - 2, today.month, 1, 9, 0, tzinfo=UTC)
    till = JournalWriter(terminal_id, start=start)
    till.sale(ANNA, rules=rules)
    till.sale(ANNA, rules=rules)
    assert send(database, till) == []
    runs = DailyRuns(database, "UTC", CLI)
    runs.run_due()
    assert [r.kind for r in runs.done if not r.nothing_due] == ["tier_review"]
    assert status(database, "M0000000001")[0] == "member"
    runs.run_due()  # the HQ event says today's review happened: not again
    assert len([r for r in runs.done if r.kind == "tier_review"]) == 1
    with database.read() as conn:
        records = conn.execute(
            select(hq_events.c.record).where(hq_events.c.kind == "tier_review")
        ).scalars()
        days = [json.loads(record)["as_of"] for record in records]
    assert days == [today.isoformat()]
    assert_consistent(database)


def _review_days(database: Database) -> list[str]:
    with database.read() as conn:
        records = conn.execute(
            select(hq_events.c.record).where(hq_events.c.kind == "tier_review")
        ).scalars()
        return [json.loads(record)["as_of"] for record in records]


def test_syncserver_serve_reviews_on_its_own(database: Database, db_url: str) -> None:
    rules = tier_rules()
    _server, terminal_id = setup(database, rules)
    today = local_today("UTC")
    till = JournalWriter(terminal_id, start=datetime(today.year - 2, today.month, 1, 9, tzinfo=UTC))
    till.sale(ANNA, rules=rules)
    till.sale(ANNA, rules=rules)
    assert send(database, till) == []
    with server_process(db_url, env={"LOYALTILL_SERVER_TIMEZONE": "UTC"}):
        wait_for(lambda: bool(_review_days(database)), "the daily tier review of serve")
    assert _review_days(database) == [today.isoformat()]
    assert status(database, "M0000000001")[0] == "member"
    assert_consistent(database)


def test_an_imported_tier_is_held_until_the_review_one_window_after_the_import(
    database: Database,
) -> None:
    rules = tier_rules(grace_months=0)
    setup(database, rules)
    import_members(database, members_csv([("M0000000009", card(9), 0, "gold")]))
    imported_on = utc_now().date()
    review_on = add_months(imported_on, 12)
    assert status(database, "M0000000009") == (
        "gold",
        imported_on.isoformat(),
        review_on.isoformat(),
        False,
    )
    assert history(database, "M0000000009") == [
        ("import", "gold", f"imported in Gold; reviewed on {review_on.isoformat()}")
    ]
    before = review_on - timedelta(days=1)
    assert run_tier_review(database, before, CLI).nothing_due
    down = run_tier_review(database, review_on, CLI)
    assert (down.counts["reviewed"], down.counts["down"]) == (1, 1)
    assert status(database, "M0000000009") == ("member", review_on.isoformat(), None, False)
    assert_consistent(database)  # the replay dates the review from the import event too
