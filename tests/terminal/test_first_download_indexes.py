"""A first download (cursor "0", no member cached) builds the search indexes once at its end
instead of keeping them up row by row: they are back when it ends, when it fails, and when
the till database is next opened after the process died mid-download; any other pull never
drops them. "Back" means searches by name, phone, email and card use them again."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from shared.codes import card_number_from_serial
from terminal.config import TillConfig
from terminal.store import TillDatabase, open_database
from terminal.store.members import card_by_number, search_members, search_sql
from terminal.store.migrations import DEFERRABLE_INDEXES
from terminal.sync.engine import SyncEngine, SyncReport
from terminal.sync.errors import SyncOfflineError
from tests.terminal.download_child import PAGE, PagedHQ, till_config

DEFERRED = {name for name, _ in DEFERRABLE_INDEXES}


@pytest.fixture
def config(tmp_path: Path) -> TillConfig:
    return till_config(tmp_path / "till")


def _indexes(path: Path) -> dict[str, str]:
    """The deferrable indexes present in the database at ``path`` (name -> definition), read
    on a connection of its own: what another process would see, without opening the till."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall()
    finally:
        conn.close()
    return {str(name): str(sql) for name, sql in rows if name in DEFERRED}


def _plan(database: TillDatabase, sql: str, params: list[object]) -> str:
    with database.read() as db:
        rows = db.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return " | ".join(str(row[-1]) for row in rows)


def _assert_indexes_back(config: TillConfig, database: TillDatabase, members: int) -> None:
    """Every deferred index is there with its migration's definition, the till's searches
    use them (EXPLAIN QUERY PLAN) and find the downloaded members."""
    fresh = open_database(config.data_dir / "fresh.db")
    try:
        expected = _indexes(fresh.path)
    finally:
        fresh.close()
    assert set(expected) == DEFERRED
    assert _indexes(database.path) == expected
    email = search_sql("m7@example.com")
    phone = search_sql("0170 0000007", region="DE")
    words = search_sql("anna kowalska")
    assert email
    assert phone
    assert words
    assert "INDEX members_email" in _plan(database, *email)
    assert "INDEX members_phone_rkey" in _plan(database, *phone)
    assert "INDEX member_words_member" in _plan(database, *words)
    assert "INDEX cards_member" in _plan(
        database, "SELECT card_number FROM cards WHERE member_key = ?", ["M0000000007"]
    )
    assert "INDEX members_name" in _plan(
        database, "SELECT member_key FROM members WHERE name_fold = ?", ["anna kowalska 5"]
    )
    with database.read() as db:
        assert db.execute("SELECT count(*) FROM members").fetchone()[0] == members
        assert [m.member_id for m in search_members(db, "m7@example.com")] == ["M0000000007"]
        assert [m.member_id for m in search_members(db, "0170 0000007", region="DE")] == [
            "M0000000007"
        ]
        assert "M0000000025" in [m.member_id for m in search_members(db, "anna kowalska")]
        card = card_by_number(db, card_number_from_serial(config.code_config(), 7))
        assert card is not None
        assert card.member_key == "M0000000007"


def test_a_first_download_builds_the_indexes_at_its_end(config: TillConfig) -> None:
    database = open_database(config.database_path)
    seen: list[set[str]] = []
    hq = PagedHQ(config, 4, lambda _since: seen.append(set(_indexes(database.path))))
    try:
        SyncEngine(config, database, hq).pull_all(SyncReport())  # type: ignore[arg-type]
        # Dropped while the pages were fetched and written.
        assert len(seen) == 4
        assert all(not present for present in seen)
        _assert_indexes_back(config, database, 4 * PAGE)
    finally:
        database.close()


def test_an_error_midway_puts_the_indexes_back(config: TillConfig) -> None:
    def offline_at_page_three(since: str) -> None:
        if since == str(2 * PAGE):
            raise SyncOfflineError("the line dropped")

    database = open_database(config.database_path)
    try:
        engine = SyncEngine(config, database, PagedHQ(config, 5, offline_at_page_three))  # type: ignore[arg-type]
        with pytest.raises(SyncOfflineError):
            engine.pull_all(SyncReport())
        _assert_indexes_back(config, database, 2 * PAGE)
        with database.read() as db:
            assert db.execute("SELECT value FROM settings WHERE key = 'pull_cursor'").fetchone()[
                0
            ] == str(2 * PAGE)
    finally:
        database.close()


def test_a_download_into_a_cache_with_members_keeps_its_indexes(config: TillConfig) -> None:
    """Resuming a download (cursor beyond 0), or a cursor 0 with members cached (HQ restored
    from a backup), writes with the indexes in place."""
    database = open_database(config.database_path)
    try:
        SyncEngine(config, database, PagedHQ(config, 1)).pull_all(SyncReport())  # type: ignore[arg-type]
        with database.write() as db:
            db.execute("DELETE FROM settings WHERE key = 'pull_cursor'")
        seen: list[set[str]] = []
        hq = PagedHQ(config, 3, lambda _since: seen.append(set(_indexes(database.path))))
        SyncEngine(config, database, hq).pull_all(SyncReport())  # type: ignore[arg-type]
        assert hq.cursors == ["0", str(PAGE), str(2 * PAGE)]
        assert seen == [DEFERRED] * 3
        _assert_indexes_back(config, database, 3 * PAGE)
    finally:
        database.close()


def test_a_till_killed_mid_download_gets_its_indexes_back_when_opened(
    config: TillConfig,
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.terminal.download_child", str(config.data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "applied 2"
        # Mid-download: two pages written, the search indexes not there.
        assert _indexes(config.database_path) == {}
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    database = open_database(config.database_path)
    try:
        _assert_indexes_back(config, database, 2 * PAGE)
    finally:
        database.close()
