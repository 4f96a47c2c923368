"""The journal table: append one sealed entry, read entries back, verify the chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlite_utils

from shared.journal import (
    GENESIS_HASH,
    BreakKind,
    ChainBreak,
    ChainReport,
    JournalEntry,
    Payload,
    canonical_json,
    verify_chain,
)

__all__ = [
    "MalformedRecordError",
    "append_entry",
    "get_entry",
    "hash_at",
    "iter_records",
    "journal_tip",
    "verify_journal",
]


class MalformedRecordError(ValueError):
    """A stored journal row whose record is not a JSON object (damaged or edited by hand).
    ``seq`` names the row; nothing after it can be read, sent or trusted until it is
    investigated."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"journal entry seq {seq} is unreadable: {reason}")
        self.seq = seq
        self.reason = reason


def journal_tip(db: sqlite_utils.Database) -> tuple[int, str]:
    """(seq, hash) of the newest entry; (0, GENESIS_HASH) for an empty journal."""
    row = db.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def hash_at(db: sqlite_utils.Database, seq: int) -> str | None:
    """The stored hash of entry ``seq`` (the genesis hash for 0; None if there is none)."""
    if seq == 0:
        return GENESIS_HASH
    row = db.execute("SELECT hash FROM journal WHERE seq = ?", [seq]).fetchone()
    return str(row[0]) if row else None


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
    """Stored records in storage order (rowid = seq), as plain dicts, in bounded batches.

    A row whose record is not a JSON object raises :class:`MalformedRecordError` naming its
    seq (a clear refusal for ``till journal export`` and the push, not a decoder traceback).
    """
    last = since_seq
    while True:
        rows = db.execute(
            "SELECT seq, record FROM journal WHERE seq > ? ORDER BY seq LIMIT ?", [last, batch]
        ).fetchall()
        if not rows:
            return
        for seq, record in rows:
            last = seq
            yield _parse(int(seq), record)


def _parse(seq: int, text: object) -> dict[str, Any]:
    if not isinstance(text, str | bytes):
        raise MalformedRecordError(seq, f"the stored record is {type(text).__name__}, not text")
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as error:
        # ValueError covers JSONDecodeError and bytes that are not UTF-8.
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise MalformedRecordError(seq, f"the stored record is not JSON ({reason})") from None
    if not isinstance(record, dict):
        raise MalformedRecordError(seq, "the stored record is JSON but not an object")
    return record


def get_entry(db: sqlite_utils.Database, seq: int) -> JournalEntry | None:
    row = db.execute("SELECT record FROM journal WHERE seq = ?", [seq]).fetchone()
    return JournalEntry.model_validate_json(row[0]) if row else None


def verify_journal(db: sqlite_utils.Database) -> ChainReport:
    """Re-check every stored entry's hash and link, from seq 1. A row that cannot even be
    read as a record is a ``malformed`` break naming its seq, like any other break."""
    unreadable: list[MalformedRecordError] = []

    def readable() -> Iterator[dict[str, Any]]:
        # Stop at the first unreadable row: the chain cannot be followed past it.
        try:
            yield from iter_records(db)
        except MalformedRecordError as error:
            unreadable.append(error)

    report = verify_chain(readable())
    if report.first_break is not None or not unreadable:
        return report
    bad = unreadable[0]
    return ChainReport(
        checked=report.checked,
        last_seq=report.last_seq,
        last_hash=report.last_hash,
        first_break=ChainBreak(
            kind=BreakKind.MALFORMED,
            seq=bad.seq,
            position=report.checked,
            entry_id=None,
            detail=bad.reason,
        ),
    )
