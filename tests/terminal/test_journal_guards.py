"""The journal's guards on a real SQLite file: triggers put back on every open, an INSERT that
breaks the chain refused inside SQLite, and ``till journal verify`` naming a damaged record
as a break instead of a traceback (issue 10, section 3)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shared.journal import GENESIS_HASH, BreakKind, TenderMethod, entry_hash, verify_chain
from terminal.cli.main import till as till_cli
from terminal.config import TillConfig
from terminal.store import TillDatabase, open_database
from terminal.store.journal import MalformedRecordError, iter_records, verify_journal
from terminal.store.triggers import JOURNAL_TRIGGERS
from terminal.till.service import Till
from tests.terminal.helpers import journal_count, products


def _sale(till: Till) -> int:
    basket = till.new_basket()
    till.add_product(basket, products(till.database)[0].sku, 2)
    till.add_tender(basket, TenderMethod.CASH, None)
    return till.complete_sale(basket).entry.seq


def _triggers(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'journal'"
        ).fetchall()
    finally:
        conn.close()
    return {str(name): str(sql) for name, sql in rows}


def _raw(path: Path, *statements: str, args: list[Any] | None = None) -> None:
    """Change the database behind the till's back, with plain sqlite3 (no triggers put back)."""
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement, (args or []) if "?" in statement else [])
        conn.commit()
    finally:
        conn.close()


def _next_record(database: TillDatabase, **changes: Any) -> dict[str, Any]:
    """A well-formed record that follows the journal's tip (then ``changes`` applied)."""
    with database.read() as db:
        last = json.loads(db.execute("SELECT record FROM journal ORDER BY seq DESC").fetchone()[0])
    record = {
        **last,
        "seq": last["seq"] + 1,
        "entry_id": str(uuid.uuid4()),
        "prev_hash": last["hash"],
    }
    record.update(changes)
    record["hash"] = entry_hash(record)
    return record


def _insert(database: TillDatabase, entry: dict[str, Any], **columns: Any) -> None:
    values = {
        "seq": entry["seq"],
        "entry_id": entry["entry_id"],
        "kind": entry["payload"]["kind"],
        "occurred_at": entry["occurred_at"],
        "hash": entry["hash"],
        "record": json.dumps(entry, sort_keys=True, separators=(",", ":")),
        **columns,
    }
    with database.write() as db:
        db.execute(
            "INSERT INTO journal (seq, entry_id, kind, occurred_at, hash, record) "
            "VALUES (:seq, :entry_id, :kind, :occurred_at, :hash, :record)",
            values,
        )


def test_the_triggers_hold_the_genesis_hash_the_chain_uses() -> None:
    assert f"'{GENESIS_HASH}'" in JOURNAL_TRIGGERS["journal_append_next"]


def test_reopening_puts_back_dropped_and_weakened_triggers(config: TillConfig, till: Till) -> None:
    path = config.database_path
    _sale(till)
    till.database.close()
    assert _triggers(path) == JOURNAL_TRIGGERS  # put in place by the first open
    # Someone removes the guards, weakens one and adds one that silently swallows entries.
    _raw(
        path,
        "DROP TRIGGER journal_no_update",
        "DROP TRIGGER journal_append_next",
        "DROP TRIGGER journal_no_delete",
        "CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal BEGIN SELECT 1; END",
        "CREATE TRIGGER swallow BEFORE INSERT ON journal BEGIN SELECT RAISE(IGNORE); END",
    )
    assert set(_triggers(path)) == {"journal_no_delete", "swallow"}

    database = open_database(path)
    try:
        assert _triggers(path) == JOURNAL_TRIGGERS
        for statement in ("UPDATE journal SET kind = 'x'", "DELETE FROM journal"):
            with (
                pytest.raises(sqlite3.IntegrityError, match="append-only"),
                database.write() as db,
            ):
                db.execute(statement)
        # Selling still works, and the sale really is in the journal (nothing swallowed).
        reopened = Till(config, database, clock=till.clock)
        reopened.sign_in("1", "1234")
        assert _sale(reopened) == 2
        assert journal_count(database) == 2
        assert verify_journal(database.db).ok
    finally:
        database.close()


def test_a_healthy_database_is_not_rewritten_on_open(config: TillConfig, till: Till) -> None:
    """Comparing first: opening a guarded database changes no schema (other processes keep
    their prepared statements)."""
    _sale(till)
    version = till.database.pragma("schema_version")
    again = open_database(config.database_path)
    try:
        assert again.pragma("schema_version") == version
    finally:
        again.close()


@pytest.mark.parametrize(
    ("name", "make", "refusal"),
    [
        ("a skipped seq", lambda db: _next_record(db, seq=3), "next seq"),
        ("a seq already taken", lambda db: _next_record(db, seq=1), "next seq"),
        ("an unlinked entry", lambda db: _next_record(db, prev_hash="a" * 64), "prev_hash"),
        (
            "an entry linked to the genesis hash mid-chain",
            lambda db: _next_record(db, prev_hash=GENESIS_HASH),
            "prev_hash",
        ),
    ],
)
def test_an_insert_that_breaks_the_chain_is_refused(
    till: Till, name: str, make: Callable[[TillDatabase], dict[str, Any]], refusal: str
) -> None:
    _sale(till)
    record = make(till.database)
    with pytest.raises(sqlite3.IntegrityError, match=refusal):
        _insert(till.database, record)
    assert journal_count(till.database) == 1, name
    assert _sale(till) == 2  # the till's own appends still go through
    assert verify_journal(till.database.db).ok


def test_a_row_whose_columns_disagree_with_its_record_is_refused(till: Till) -> None:
    _sale(till)
    record = _next_record(till.database)
    for columns in ({"hash": "b" * 64}, {"entry_id": str(uuid.uuid4())}):
        with pytest.raises(sqlite3.IntegrityError, match="differ from its record"):
            _insert(till.database, record, **columns)
    for text in ("not json", "[1, 2]"):
        with pytest.raises(sqlite3.IntegrityError, match="not a JSON object"):
            _insert(till.database, record, record=text)
    assert journal_count(till.database) == 1
    _insert(till.database, record)  # the same record, told the truth, is the next entry
    assert verify_journal(till.database.db).ok


def test_the_verifier_names_records_that_are_not_entries_and_never_raises() -> None:
    for record in (None, 7, "text", [1, 2], {"seq": "1"}, {"seq": 1, "hash": "x"}):
        report = verify_chain([record])
        assert report.first_break is not None
        assert report.first_break.kind is BreakKind.MALFORMED
    report = verify_chain([{"seq": 4, "hash": "0" * 64}])
    assert report.first_break is not None
    assert report.first_break.seq == 4  # the seq it claims, to find it by
    assert "prev_hash" in report.first_break.detail


def _env(config: TillConfig) -> dict[str, str]:
    return {"LOYALTILL_DATA_DIR": str(config.data_dir), "LOYALTILL_TIMEZONE": "Europe/Berlin"}


@pytest.mark.parametrize(
    ("damage", "detail"),
    [
        ("this is not json {", "not JSON"),
        ("[1, 2, 3]", "not an object"),
        ('"just a string"', "not an object"),
        ("{}", "seq must be a positive integer"),
        ('{"seq": 2, "hash": 12, "prev_hash": null}', "hash must be 64"),
    ],
)
def test_journal_verify_reports_a_malformed_record_as_a_break(
    config: TillConfig, till: Till, damage: str, detail: str
) -> None:
    for _ in range(3):
        _sale(till)
    _raw(
        config.database_path,
        "DROP TRIGGER journal_no_update",
        "UPDATE journal SET record = ? WHERE seq = 2",
        args=[damage],
    )
    runner = CliRunner()

    verify = runner.invoke(
        till_cli, ["journal", "verify"], env=_env(config), catch_exceptions=False
    )
    assert verify.exit_code == 1
    assert "journal broken after 1 good entries: malformed at " in verify.stderr
    assert detail in verify.stderr
    if damage.startswith(("this", "[", '"')):
        assert "at seq 2" in verify.stderr  # unreadable rows are named by their seq
    assert "Traceback" not in verify.output

    export = runner.invoke(
        till_cli, ["journal", "export"], env=_env(config), catch_exceptions=False
    )
    if damage.startswith(("this", "[", '"')):
        assert export.exit_code == 1
        assert "journal entry seq 2 is unreadable" in export.stderr
        assert len(export.stdout.splitlines()) == 1  # what came before it


def test_reading_an_unreadable_row_names_it(config: TillConfig, till: Till) -> None:
    _sale(till)
    _raw(
        config.database_path,
        "DROP TRIGGER journal_no_update",
        "UPDATE journal SET record = 'garbage' WHERE seq = 1",
    )
    with till.database.read() as db, pytest.raises(MalformedRecordError) as raised:
        list(iter_records(db))
    assert raised.value.seq == 1
    report = verify_journal(till.database.db)
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.MALFORMED, 1)
