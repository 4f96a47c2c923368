"""The journal table: append one sealed entry, read entries back, verify the chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlite_utils

from shared.journal import (
    GENESIS_HASH,
    ChainReport,
    JournalEntry,
    Payload,
    canonical_json,
    verify_chain,
)

__all__ = ["append_entry", "get_entry", "iter_records", "journal_tip", "verify_journal"]


def journal_tip(db: sqlite_utils.Database) -> tuple[int, str]:
    """(seq, hash) of the newest entry; (0, GENESIS_HASH) for an empty journal."""
    row = db.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def append_entry(
    db: sqlite_utils.Database,
    *,
    terminal_id: str,
    entry_id: str,
    occurred_at: datetime,
    utc_offset_min: int,
    cashier_id: str | None,
    payload: Payload,
) -> JournalEntry:
    """Seal ``payload`` as the next entry and insert it. Call inside ``TillDatabase.write()``
    together with the state changes the entry causes (invariant 1: one transaction)."""
    entry = JournalEntry.after(
        journal_tip(db),
        terminal_id=terminal_id,
        entry_id=entry_id,
        occurred_at=occurred_at,
        utc_offset_min=utc_offset_min,
        cashier_id=cashier_id,
        payload=payload,
    )
    record = entry.to_record()
    db.execute(
        "INSERT INTO journal (seq, entry_id, kind, occurred_at, hash, record) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            entry.seq,
            entry.entry_id,
            entry.kind,
            record["occurred_at"],
            entry.hash,
            canonical_json(record).decode("utf-8"),
        ],
    )
    return entry


def iter_records(
    db: sqlite_utils.Database, *, since_seq: int = 0, batch: int = 500
) -> Iterator[dict[str, Any]]:
    """Stored records in storage order (rowid = seq), as plain dicts, in bounded batches."""
    last = since_seq
    while True:
        rows = db.execute(
            "SELECT seq, record FROM journal WHERE seq > ? ORDER BY seq LIMIT ?", [last, batch]
        ).fetchall()
        if not rows:
            return
        for seq, record in rows:
            last = seq
            yield json.loads(record)


def get_entry(db: sqlite_utils.Database, seq: int) -> JournalEntry | None:
    row = db.execute("SELECT record FROM journal WHERE seq = ?", [seq]).fetchone()
    return JournalEntry.model_validate_json(row[0]) if row else None


def verify_journal(db: sqlite_utils.Database) -> ChainReport:
    """Re-check every stored entry's hash and link, from seq 1."""
    return verify_chain(iter_records(db))
