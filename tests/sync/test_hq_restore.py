"""HQ restored from a backup (docs/protocol.md, "HQ restored from a backup"), with a real
server on an SQLite file and on PostgreSQL.

Two tills sync; HQ's database is backed up (SQLite's online backup; PostgreSQL's CREATE
DATABASE … TEMPLATE); the tills trade and sync on, HQ staff adjust a balance and the quiet
till pulls it; HQ is stopped, the backup put back and HQ started again. Then each till syncs
once, and:

* the quiet till's cursor is beyond HQ's restored history: HQ answers ``reset`` and the till
  downloads everything again (the lost adjustment disappears from its view);
* the busy till sees HQ acknowledge less than before: it re-sends its journal from HQ's
  acknowledged seq (the entries are still in its journal, no alarm) and pulls afresh;
* HQ ends with every entry of both journals exactly once, no journal alarm, balances as the
  tills show them, and ``ledger rebuild --check`` clean.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from syncserver.hq.actions import adjust_points
from syncserver.storage.audit import Actor
from syncserver.storage.database import Database
from syncserver.storage.schema import exceptions
from terminal.store.settings import get_setting
from tests.server.tills import DEMO_MEMBERS, members_csv_from_till, workload
from tests.server_databases import PgCluster
from tests.sync.harness import Hq, SyncedTill, assert_converged, catalog_csv_of

Restore = Callable[[], None]


def _sqlite_backup(database: Database, tmp_path: Path) -> Restore:
    """An online backup of the live SQLite file (what `sqlite3 hq.sqlite3 .backup` does);
    restoring puts it back in place of the database file."""
    path = Path(make_url(database.url).database or "")
    copy = tmp_path / "hq-backup.sqlite3"
    with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
        source.backup(target)

    def restore() -> None:
        database.dispose()
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(copy, path)

    return restore


def _postgres_backup(hq: Hq, cluster: PgCluster) -> tuple[Restore, Callable[[], None]]:
    """A copy of the database (CREATE DATABASE … TEMPLATE: it needs HQ stopped for a moment);
    restoring replaces the database with the copy. Returns (restore, drop the copy)."""
    name = make_url(hq.database.url).database
    backup = f"loyaltill_backup_{uuid.uuid4().hex[:12]}"
    hq.stop()
    hq.database.dispose()
    cluster.execute(f"CREATE DATABASE {backup} TEMPLATE {name}")
    hq.start()

    def restore() -> None:
        hq.database.dispose()
        cluster.execute(f"DROP DATABASE {name} WITH (FORCE)")
        cluster.execute(f"CREATE DATABASE {name} TEMPLATE {backup}")

    return restore, lambda: cluster.execute(f"DROP DATABASE IF EXISTS {backup} WITH (FORCE)")


def _cursor(till: SyncedTill) -> int:
    with till.database.read() as db:
        return int(get_setting(db, "pull_cursor") or 0)


def _setting(till: SyncedTill, key: str) -> str | None:
    with till.database.read() as db:
        return get_setting(db, key)


def test_tills_resend_and_repull_after_hq_is_restored_from_a_backup(
    hq: Hq, database: Database, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    busy, quiet = (hq.open_till(tmp_path / "tills", index) for index in range(2))
    hq.import_members(members_csv_from_till(busy))
    hq.import_catalog(catalog_csv_of(busy))
    workload(busy, 12)
    for till in (busy, quiet):
        till.engine.sync_once()
    before = busy.last_seq()
    assert hq.acked(busy.terminal_id) == before

    drop_copy: Callable[[], None] = lambda: None  # noqa: E731
    if database.dialect == "sqlite":
        restore = _sqlite_backup(database, tmp_path)
    else:
        cluster = request.getfixturevalue("pg_cluster")
        assert isinstance(cluster, PgCluster)
        restore, drop_copy = _postgres_backup(hq, cluster)
    try:
        # After the backup: more trading at one till, an HQ adjustment the other till pulls.
        workload(busy, 25)
        busy.engine.sync_once()
        after = busy.last_seq()
        assert after > before
        member = sorted(hq.balances())[0]
        adjust_points(database, Actor("mo"), member, 77, "goodwill, after the backup")
        quiet.engine.sync_once()
        quiet_cursor = _cursor(quiet)
        quiet_view = quiet.views()[member]
        balances_before_restore = hq.balances()

        hq.stop()
        restore()
        hq.start()
        assert hq.acked(busy.terminal_id) == before  # HQ forgot what came after the backup

        # The quiet till pushes nothing; its cursor is beyond HQ's history: a full download.
        report = quiet.engine.sync_once()
        assert report.members_pulled >= DEMO_MEMBERS
        assert _cursor(quiet) < quiet_cursor
        # The till shows HQ's restored balance, no longer the adjustment that went with it.
        assert quiet.views()[member] == hq.balances()[member] <= quiet_view - 77

        # The busy till re-sends what HQ lost (no alarm) and pulls everything afresh.
        report = busy.engine.sync_once()
        assert (report.acked_seq, report.pushed, report.duplicates) == (after, after - before, 0)
        assert report.members_pulled >= DEMO_MEMBERS
        assert _setting(busy, "hq_restore_seen_at") is not None
        assert busy.till.status()["sync_state"] == "online"

        # Every entry once, a sound ledger (rebuild --check), balances as the tills show them.
        assert_converged(hq, [busy, quiet])
        with database.read() as conn:
            alarms = conn.execute(
                select(exceptions.c.kind).where(
                    exceptions.c.kind.in_(("journal_behind", "chain_conflict", "entry_refused"))
                )
            ).all()
        assert alarms == []
        # HQ holds what it held before the restore, less only its own lost adjustment.
        expected = dict(balances_before_restore)
        expected[member] -= 77
        restored = hq.balances()
        # Members enrolled at the till after the backup come back under new server ids.
        assert {m: p for m, p in restored.items() if m in expected} == {
            m: p for m, p in expected.items() if m in restored
        }
        assert sum(restored.values()) == sum(expected.values())
    finally:
        hq.close_tills()
        hq.stop()
        drop_copy()
