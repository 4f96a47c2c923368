"""HQ never knows more than the till (docs/design.md, invariant 10): a real till (its own SQLite
journal, ``till sync``, ``SyncEngine``) against a real server (SQLite file and PostgreSQL,
real uvicorn) whose journal is truncated, replaced or restored behind its back.

Before issue 10 a till whose journal lost its last 10 entries synced "fine" — exit 0,
``"unsent": -10``, status online — and its next sales reused seqs HQ already held.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from terminal.cli.main import till as till_cli
from terminal.store.settings import set_setting
from terminal.sync.engine import SyncEngine, SyncReport
from terminal.sync.errors import SyncJournalAlarmError
from tests.server.tills import members_csv_from_till, workload
from tests.sync.harness import Hq, SyncedTill, assert_converged, catalog_csv_of, till_config_file


def _store(hq: Hq, base: Path) -> SyncedTill:
    till = hq.open_till(base / "tills")
    hq.import_members(members_csv_from_till(till))
    hq.import_catalog(catalog_csv_of(till))
    return till


def _till(config: Path, *args: str) -> Result:
    return CliRunner().invoke(till_cli, [*args, "--config", str(config)], catch_exceptions=False)


def _cut_tail(till: SyncedTill, keep: int) -> None:
    """Remove the journal's entries after ``keep`` with plain sqlite3, the guards dropped
    first — as a repair tool, a careless admin or a partial restore would."""
    conn = sqlite3.connect(till.config.database_path)
    try:
        conn.execute("DROP TRIGGER journal_no_delete")
        conn.execute("DELETE FROM journal WHERE seq > ?", [keep])
        conn.commit()
    finally:
        conn.close()


def _journal_behind(hq: Hq, terminal_id: str) -> list[tuple[str, str, int, str | None, int]]:
    return [e for e in hq.exceptions([terminal_id]) if e[0] == "journal_behind"]


def test_a_truncated_journal_alarms_and_its_later_sales_are_not_silently_skipped(
    hq: Hq, tmp_path: Path
) -> None:
    till = _store(hq, tmp_path)
    workload(till, 24)
    config = till_config_file(tmp_path, till, hq.url)
    assert _till(config, "sync", "--once", "--quiet").exit_code == 0
    synced = till.last_seq()
    assert synced > 12
    stored = hq.stored_hashes(till.terminal_id)

    _cut_tail(till, synced - 10)  # the acked seq the till remembers stays at ``synced``

    # Before issue 10: exit 0, "unsent": -10, status online, and the loss went unnoticed.
    alarmed = _till(config, "sync", "--once", "--quiet")
    assert alarmed.exit_code == 1
    assert alarmed.stdout == ""
    assert "JOURNAL ALARM" in alarmed.stderr
    assert (
        f"HQ holds this till's entries up to seq {synced}, but the till's journal ends at "
        f"seq {synced - 10}: the journal was truncated or restored from an older copy"
    ) in alarmed.stderr
    assert "call HQ support" in alarmed.stderr
    assert "(0 entries still unsent)" in alarmed.stderr
    status = json.loads(_till(config, "status").stdout)
    assert (status["sync_state"], status["online"]) == ("alarm", False)
    assert status["sync_alarm"] == status["sync_error"]
    assert f"up to seq {synced}" in status["sync_alarm"]
    assert status["unsent_entries"] == 0  # never negative
    assert till.engine.unsent() == 0
    # HQ raised its side of the alarm, once, and holds exactly what it held.
    assert len(_journal_behind(hq, till.terminal_id)) == 1
    assert hq.stored_hashes(till.terminal_id) == stored

    # The till sells on: 11 sales under seqs HQ already holds with other entries.
    for _ in range(11):
        till.sale(till.cards[0])
    assert till.last_seq() == synced + 1
    again = _till(config, "sync", "--once", "--quiet")
    assert again.exit_code == 1
    assert f"journal diverged at seq {synced}" in again.stderr
    assert "(11 entries still unsent)" in again.stderr  # none of them silently skipped
    status = json.loads(_till(config, "status").stdout)
    assert (status["sync_state"], status["unsent_entries"]) == ("alarm", 11)
    with pytest.raises(SyncJournalAlarmError, match=f"diverged at seq {synced}"):
        till.engine.sync_once()
    assert hq.stored_hashes(till.terminal_id) == stored  # nothing overwritten, nothing added
    assert hq.acked(till.terminal_id) == synced


def test_a_journal_replaced_at_hqs_acked_seq_alarms_on_both_sides(hq: Hq, tmp_path: Path) -> None:
    till = _store(hq, tmp_path)
    workload(till, 8)
    till.engine.sync_once()
    synced = till.last_seq()
    _cut_tail(till, synced - 1)
    till.sale(None)  # the same seq again, another entry
    assert till.last_seq() == synced

    with pytest.raises(SyncJournalAlarmError, match=f"journal diverged at seq {synced}:"):
        till.engine.sync_once()

    status = till.till.status()
    assert (status["sync_state"], status["online"]) == ("alarm", False)
    assert len(_journal_behind(hq, till.terminal_id)) == 1
    assert hq.acked(till.terminal_id) == synced


def test_a_push_reply_whose_acked_hash_is_not_the_tills_raises_the_alarm(
    hq: Hq, tmp_path: Path
) -> None:
    """After every push the till checks HQ's acknowledged hash too (here the journal's tail
    changed between the comparison and the push: a push of entries HQ already holds answers
    with HQ's tip, which the till no longer has)."""
    till = _store(hq, tmp_path)
    workload(till, 10)
    till.engine.sync_once()
    synced = till.last_seq()
    _cut_tail(till, synced - 2)
    till.sale(None)
    till.sale(None)
    with till.database.write() as db:
        set_setting(db, "acked_seq", str(synced - 5))
    engine = SyncEngine(till.config, till.database, till.client, push_batch=2)

    with pytest.raises(SyncJournalAlarmError, match=f"journal diverged at seq {synced}:"):
        engine.push_all(SyncReport())

    assert 0 <= engine.unsent() <= till.last_seq() - (synced - 5)


def test_a_till_whose_remembered_ack_is_stale_adopts_hqs(hq: Hq, tmp_path: Path) -> None:
    """HQ's acknowledged seq replaces whatever the till remembered — behind (a lost reply) or
    ahead — once the hashes agree; the round then sends exactly what HQ lacks."""
    till = _store(hq, tmp_path)
    workload(till, 8)
    till.engine.sync_once()
    synced = till.last_seq()
    workload(till, 4)
    for remembered in (0, till.last_seq() + 3):
        with till.database.write() as db:
            set_setting(db, "acked_seq", str(remembered))
        assert till.engine.compare_with_hq() == hq.acked(till.terminal_id) == synced
        assert till.engine.acked_seq() == synced
        assert till.engine.unsent() == till.last_seq() - synced

    report = till.engine.sync_once()
    assert (report.pushed, report.duplicates) == (till.last_seq() - synced, 0)
    assert_converged(hq, [till])


def test_an_unreadable_unsent_row_stops_the_push_there_and_says_which(
    hq: Hq, tmp_path: Path
) -> None:
    """A damaged row (edited by hand, the guards dropped first) is reported by seq, not a
    decoder traceback; the entries before it still reach HQ."""
    till = _store(hq, tmp_path)
    workload(till, 6)
    till.engine.sync_once()
    synced = till.last_seq()
    for _ in range(3):
        till.sale(None)
    conn = sqlite3.connect(till.config.database_path)
    try:
        conn.execute("DROP TRIGGER journal_no_update")
        conn.execute("UPDATE journal SET record = '{not json' WHERE seq = ?", [synced + 2])
        conn.commit()
    finally:
        conn.close()

    with pytest.raises(SyncJournalAlarmError) as raised:
        till.engine.sync_once()
    assert raised.value.message.startswith(f"journal entry seq {synced + 2} is unreadable: ")
    assert "Run `till journal verify` and call HQ support" in raised.value.message
    assert hq.acked(till.terminal_id) == till.engine.acked_seq() == synced + 1
    assert till.till.status()["sync_state"] == "alarm"
