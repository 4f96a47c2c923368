"""The till's sync client against a real server (SQLite file and PostgreSQL, real uvicorn):
a day of trading reaches HQ exactly once, offline enrolments get their server ids, blocks
reach the till, a fresh till downloads everything, ``till sync --once``, and the worker."""

from __future__ import annotations

import csv
import io
import json
import queue
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from shared.journal import JournalEntry, Sale, TenderMethod
from terminal.cli.main import till as till_cli
from terminal.config import TillConfig
from terminal.demo.seed import demo_members, seed_cashiers_and_offers
from terminal.store import open_database
from terminal.store.catalog import current_rules
from terminal.store.members import card_by_number, member_balance, member_by_key
from terminal.store.settings import set_setting
from terminal.sync.client import SyncClient
from terminal.sync.engine import SyncEngine, SyncReport
from terminal.sync.errors import SyncError, SyncJournalAlarmError, SyncOfflineError
from terminal.sync.worker import SyncWorker, backoff_delay
from terminal.till.errors import CardBlockedError, UnknownCardError
from terminal.till.service import Till
from tests.server.tills import DEMO_PRODUCTS, MONDAY, Clock, members_csv_from_till, workload
from tests.sync.harness import (
    PATIENT,
    Hq,
    SyncedTill,
    assert_converged,
    catalog_csv_of,
    till_config_file,
    wait_for,
)


def store(hq: Hq, base: Path, tills: int = 1) -> list[SyncedTill]:
    """Tills registered with `syncserver terminal add`, seeded with the demo store, whose
    members and catalog HQ imports with `members import` / `catalog import`."""
    out = [hq.open_till(base / "tills", index) for index in range(tills)]
    hq.import_members(members_csv_from_till(out[0]))
    hq.import_catalog(catalog_csv_of(out[0]))
    return out


def big_sale(till: SyncedTill, card: str | None, redeem: int | None = None) -> JournalEntry:
    """A sale that surely earns points: three each of four point-earning products."""
    basket = till.till.new_basket()
    with till.database.read() as db:
        skus = [
            row[0]
            for row in db.execute(
                "SELECT sku FROM products WHERE open_price = 0 AND category NOT IN "
                "('tobacco', 'baby-formula') ORDER BY sku LIMIT 4"
            ).fetchall()
        ]
    for sku in skus:
        till.till.add_product(basket, sku, 3)
    if card is not None:
        till.till.attach_member(basket, card)
        if redeem is not None:
            till.till.redeem(basket, redeem)
    till.till.add_tender(basket, TenderMethod.CASH, None)
    done = till.till.complete_sale(basket)
    till.tick()
    return done.entry


def key_of(till: SyncedTill, card: str) -> str:
    with till.database.read() as db:
        found = card_by_number(db, card)
    assert found is not None
    return found.member_key


def view_of(till: SyncedTill, card: str) -> int:
    with till.database.read() as db:
        member = member_by_key(db, key_of(till, card))
        assert member is not None
        return member_balance(db, member)


def test_a_day_of_trading_reaches_hq_exactly_once(hq: Hq, tmp_path: Path) -> None:
    (till,) = store(hq, tmp_path)
    workload(till, 40)  # sales, redemptions, returns, voids, enrolments, a lost card, Z report
    last = till.last_seq()

    report = till.engine.sync_once()

    assert (report.acked_seq, report.pushed, report.duplicates) == (last, last, 0)
    assert hq.acked(till.terminal_id) == till.engine.acked_seq() == last
    # One till that follows the rules: the server agrees with every figure it sent.
    assert report.exceptions == []
    status = till.till.status()
    assert status["online"] is True
    assert status["unsent_entries"] == 0
    assert status["last_sync"] is not None
    assert status["sync_error"] is None
    server = hq.balances()
    views = till.views()
    assert len(views) > 12  # the demo members and everyone enrolled today
    assert views == {member_id: server[member_id] for member_id in views}
    # Everyone enrolled offline has their server id now, under their local key.
    local_ids = hq.local_member_ids()
    with till.database.read() as db:
        enrolled = db.execute(
            "SELECT member_key, member_id, local_member_id FROM members WHERE member_key LIKE 'L:%'"
        ).fetchall()
    assert enrolled
    assert all(key == f"L:{local}" and local_ids[local] == mid for key, mid, local in enrolled)

    again = till.engine.sync_once()
    assert (again.pushed, again.duplicates, again.members_pulled) == (0, 0, 0)
    assert again.acked_seq == last
    assert_converged(hq, [till])


def test_an_offline_enrolment_gets_its_server_id_and_keeps_its_unsent_points(
    hq: Hq, tmp_path: Path
) -> None:
    (till,) = store(hq, tmp_path)
    till.engine.sync_once()
    card = till.enrol()
    key = key_of(till, card)
    assert key.startswith("L:")
    local_id = key[2:]

    till.engine.push_all(SyncReport())  # HQ creates the member; the till has not pulled yet
    sale = big_sale(till, card)  # not sent yet
    points = sale.payload.points_earned if isinstance(sale.payload, Sale) else 0
    assert points > 0
    assert view_of(till, card) == points

    till.engine.pull_all(SyncReport())

    member_id = hq.local_member_ids()[local_id]
    with till.database.read() as db:
        member = member_by_key(db, key)
    assert member is not None
    assert (member.member_key, member.member_id, member.local_member_id) == (
        key,
        member_id,
        local_id,
    )
    assert hq.balances()[member_id] == 0  # HQ has not seen the sale ...
    assert view_of(till, card) == points  # ... and the member does not see points vanish

    till.engine.sync_once()
    assert hq.balances()[member_id] == view_of(till, card) == points

    # From now on the till names the member by their server id (and still the local one).
    later = big_sale(till, card)
    assert isinstance(later.payload, Sale)
    assert later.payload.member is not None
    assert later.payload.member.member_id == member_id
    assert later.payload.member.local_member_id == local_id
    till.engine.sync_once()
    assert_converged(hq, [till])


def test_a_card_blocked_at_hq_reaches_the_till_which_then_refuses_it(
    hq: Hq, tmp_path: Path
) -> None:
    first, second = store(hq, tmp_path, 2)
    for till in (first, second):
        till.engine.sync_once()
    card = first.cards[2]
    # The member reports the card lost at the other till; HQ blocks it on that till's push.
    new_card = second.replace_card(card)
    second.engine.sync_once()

    # This till has not heard yet: it still takes the card, and HQ flags the sale.
    stale = big_sale(first, card)
    assert isinstance(stale.payload, Sale)
    report = first.engine.sync_once()
    assert [(e.kind, e.seq, e.amount) for e in report.exceptions] == [
        ("card_blocked", stale.seq, stale.payload.points_earned)
    ]
    # The same round pulled the block: the lost card is refused, the new one is the member.
    with pytest.raises(CardBlockedError, match="blocked"):
        first.till.attach_member(first.till.new_basket(), card)
    view = first.till.attach_member(first.till.new_basket(), new_card)
    assert view.member_key == key_of(first, card)
    assert view.balance == hq.balances()[view.member_key]
    assert_converged(hq, [first, second])


def test_a_fresh_till_downloads_members_rules_and_catalog_with_progress(
    hq: Hq, tmp_path: Path
) -> None:
    (seeded,) = store(hq, tmp_path)  # HQ: the demo program, catalog and 12 members
    more = list(demo_members(seeded.config, 260, products=DEMO_PRODUCTS))[12:]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["member_id", "name", "phone", "email", "tier", "card_number", "balance"])
    for m in more:
        writer.writerow([m.member_id, m.name, m.phone, m.email, m.tier, m.card_number, m.balance])
    hq.import_members(out.getvalue())
    terminal_id, token = hq.add_terminal("New till")
    config = TillConfig(
        data_dir=tmp_path / "fresh", timezone="Europe/Berlin", terminal_id=terminal_id
    )
    database = open_database(config.database_path)
    calls: list[tuple[str, int, int]] = []
    with SyncClient(hq.url, token, timeout=PATIENT) as client:
        engine = SyncEngine(config, database, client, pull_limit=100)
        report = engine.sync_once(lambda what, done, total: calls.append((what, done, total)))

        assert report.members_pulled == 260
        assert report.rules_pulled == 1
        assert len(calls) >= 3  # one per page
        assert all(what == "pull" and total == 260 for what, _, total in calls)
        assert [done for _, done, _ in calls] == sorted(done for _, done, _ in calls)
        assert calls[-1] == ("pull", 260, 260)
        with database.read() as db:
            rules = current_rules(db)
            counts = [
                db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("members", "cards", "products")
            ]
        assert rules is not None
        assert rules.version == 3
        assert counts == [260, 260, DEMO_PRODUCTS + 3]  # 3 open-price departments

        # Cashiers are local; everything else came from HQ. The till sells at once.
        seed_cashiers_and_offers(database)
        till = Till(config, database, clock=Clock(MONDAY))
        till.sign_in("1", "1234")
        card = more[-1].card_number
        basket = till.new_basket()
        with database.read() as db:
            sku = db.execute(
                "SELECT sku FROM products WHERE category = 'fruit-veg' LIMIT 1"
            ).fetchone()[0]
        till.add_product(basket, sku, 4)
        view = till.attach_member(basket, card)
        assert view.balance == more[-1].balance
        till.add_tender(basket, TenderMethod.CARD, None)
        till.complete_sale(basket)
        engine.sync_once()
        assert hq.balances()[more[-1].member_id] == till.member_view(card).balance
        with pytest.raises(UnknownCardError):
            till.member_view(seeded.fresh_card())
    database.close()


def test_till_sync_once_prints_its_report_and_says_clearly_when_hq_refuses(
    hq: Hq, tmp_path: Path
) -> None:
    (till,) = store(hq, tmp_path)
    workload(till, 10)
    last = till.last_seq()
    config = till_config_file(tmp_path, till, hq.url)
    runner = CliRunner()

    result = runner.invoke(till_cli, ["sync", "--once", "--config", str(config)])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["pushed"] == printed["acked_seq"] == last
    assert (printed["duplicates"], printed["unsent"]) == (0, 0)
    assert printed["members_pulled"] >= 12
    assert "pull:" in result.stderr  # progress goes to stderr, the report to stdout
    assert hq.acked(till.terminal_id) == last

    hq.stop()
    till.sale(till.cards[0])
    unreachable = runner.invoke(till_cli, ["sync", "--once", "--quiet", "--config", str(config)])
    assert unreachable.exit_code == 1
    assert "sync failed: cannot reach HQ" in unreachable.stderr
    assert "1 entries still unsent" in unreachable.stderr
    assert till.till.status()["sync_state"] == "offline"
    hq.start()

    hq.cli("terminal", "revoke", till.terminal_id)
    refused = runner.invoke(till_cli, ["sync", "--once", "--quiet", "--config", str(config)])

    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert f"terminal {till.terminal_id} was revoked by HQ" in refused.stderr
    assert "ask HQ" in refused.stderr
    assert "1 entries still unsent" in refused.stderr
    status = till.till.status()
    assert (status["sync_state"], status["online"]) == ("refused", False)
    assert hq.acked(till.terminal_id) == last


def test_the_worker_syncs_backs_off_while_hq_is_down_and_recovers(hq: Hq, tmp_path: Path) -> None:
    (till,) = store(hq, tmp_path)
    results: queue.Queue[tuple[SyncReport | None, SyncError | None]] = queue.Queue()
    worker = SyncWorker(
        till.engine,
        interval_s=0.05,
        on_result=lambda report, error: results.put((report, error)),
        backoff_base_s=0.01,
        backoff_cap_s=0.2,
        rng=random.Random(3),
    )
    seen: list[tuple[SyncReport | None, SyncError | None]] = []

    def drain() -> list[tuple[SyncReport | None, SyncError | None]]:
        while not results.empty():
            seen.append(results.get_nowait())
        return seen

    for _ in range(3):
        till.sale(till.cards[1])
    worker.start()
    try:
        wait_for(lambda: any(report for report, _ in drain()), "a good first round")
        assert till.engine.acked_seq() == till.last_seq()

        hq.stop()  # HQ goes away
        till.sale(till.cards[1])
        worker.sync_now()
        seen.clear()
        wait_for(
            lambda: sum(1 for _, error in drain() if error is not None) >= 4,
            "failed rounds while HQ is down",
        )
        failures = [error for _, error in seen if error is not None]
        assert all(isinstance(error, SyncOfflineError) for error in failures)
        assert worker.failures >= 4
        assert 0 <= worker.next_delay_s <= 0.2
        status = till.till.status()
        assert status["sync_state"] == "offline"
        assert status["online"] is False
        assert status["unsent_entries"] == 1

        hq.start()  # back, on the same address
        seen.clear()
        wait_for(lambda: any(report for report, _ in drain()), "a good round after recovery")
        assert till.engine.acked_seq() == till.last_seq()
        assert worker.failures == 0
        assert till.till.status()["online"] is True
    finally:
        worker.stop()
    assert not worker.running
    assert hq.acked(till.terminal_id) == till.last_seq()
    assert_converged(hq, [till])


def test_backoff_is_full_jitter_within_the_cap() -> None:
    rng = random.Random(5)
    for failures in range(40):
        ceiling = min(300.0, 1.0 * 2**failures)
        delays = [backoff_delay(failures, rng=rng) for _ in range(20)]
        assert all(0 <= delay <= ceiling for delay in delays)
    assert max(backoff_delay(50, rng=rng) for _ in range(200)) <= 300.0


def test_a_pull_keeps_a_block_this_till_has_not_sent_yet(hq: Hq, tmp_path: Path) -> None:
    first, second = store(hq, tmp_path, 2)
    for till in (first, second):
        till.engine.sync_once()
    card = first.cards[5]
    new_card = first.replace_card(card)  # the member lost the card; not sent yet
    big_sale(second, card)  # elsewhere the member shops: HQ sends the member again
    second.engine.sync_once()

    first.engine.pull_all(SyncReport())  # a pull before the push (the worker, a page, …)

    with pytest.raises(CardBlockedError):
        first.till.attach_member(first.till.new_basket(), card)
    assert first.till.attach_member(first.till.new_basket(), new_card).balance == view_of(
        first, new_card
    )
    first.engine.sync_once()
    assert_converged(hq, [first, second])
    with pytest.raises(CardBlockedError):
        first.till.attach_member(first.till.new_basket(), card)


def test_a_till_that_remembers_more_than_hq_acknowledged_resends_from_where_hq_is(
    hq: Hq, tmp_path: Path
) -> None:
    """409 gap: the till's remembered ack is ahead of HQ's (HQ restored, say): it resends
    from HQ's acknowledged seq and nothing is lost."""
    (till,) = store(hq, tmp_path)
    workload(till, 8)
    till.engine.sync_once()
    synced = till.last_seq()
    workload(till, 8)
    with till.database.write() as db:
        set_setting(db, "acked_seq", str(synced + 5))

    report = till.engine.sync_once()

    assert report.acked_seq == till.last_seq() == hq.acked(till.terminal_id)
    assert report.pushed == till.last_seq() - synced
    assert_converged(hq, [till])


def test_a_till_restored_from_an_old_backup_raises_the_alarm_and_overwrites_nothing(
    hq: Hq, tmp_path: Path
) -> None:
    """A till database restored from an old copy holds less than HQ acknowledged, and its next
    entries reuse seqs HQ already has. The till compares its tip with HQ's before it pushes
    (invariant 10): it stops, says so, and sends nothing; HQ keeps its entries and opens one
    alarm however often the till retries."""
    (till,) = store(hq, tmp_path)
    workload(till, 6)
    till.engine.sync_once()
    backup = tmp_path / "backup.sqlite3"
    with till.database.read() as db:
        db.conn.execute("VACUUM INTO ?", [str(backup)])
    workload(till, 6)
    till.engine.sync_once()
    acked = hq.acked(till.terminal_id)
    stored = hq.stored_hashes(till.terminal_id)
    till.close()
    for suffix in ("-wal", "-shm"):
        till.config.database_path.with_name(till.config.database_path.name + suffix).unlink(
            missing_ok=True
        )
    shutil.copyfile(backup, till.config.database_path)
    restored = SyncedTill.reopen(till, hq.url)
    restored.sale(restored.cards[0])  # a different entry under a seq HQ already has
    tip = restored.last_seq()
    assert tip < acked

    for _ in range(2):
        with pytest.raises(SyncJournalAlarmError, match="truncated or restored") as raised:
            restored.engine.sync_once()
    assert f"up to seq {acked}" in raised.value.message
    assert f"ends at seq {tip}" in raised.value.message
    status = restored.till.status()
    assert (status["sync_state"], status["online"]) == ("alarm", False)
    assert status["sync_alarm"] == raised.value.message
    assert status["unsent_entries"] == 1  # the sale since the restore: HQ has not got it
    assert hq.stored_hashes(till.terminal_id) == stored
    alarms = [e for e in hq.exceptions([till.terminal_id]) if e[0] == "journal_behind"]
    assert len(alarms) == 1

    # Sales that carry the restored till past HQ's seq are not pushed over HQ's entries.
    while restored.last_seq() <= acked:
        restored.sale(None)
    with pytest.raises(SyncJournalAlarmError, match=f"journal diverged at seq {acked}"):
        restored.engine.sync_once()
    assert hq.stored_hashes(till.terminal_id) == stored
    restored.close()
