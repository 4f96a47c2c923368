"""The tills' journals as the server stores them: each record as received (every field that
arrived, nothing added), as JSON text."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update

from shared.journal import HASH_VERIFIED, JournalEntry, Return, Void
from syncserver.storage.database import bulk_insert, driver_value
from syncserver.storage.schema import journal_entries

__all__ = [
    "EntryHead",
    "StoredEntry",
    "entry_head",
    "iter_entries_by_position",
    "record_text",
    "set_positions",
    "store_entries",
    "store_entry",
    "stored_entries",
    "stored_entry",
    "stored_hashes",
    "stored_returns_of",
    "void_of",
]


@dataclass(frozen=True, slots=True)
class StoredEntry:
    terminal_id: str
    seq: int
    entry_id: str
    kind: str
    record: dict[str, Any]

    def entry(self) -> JournalEntry:
        """The record as a journal entry. Its hash is not computed again: HQ checked it over
        this very record before storing it, and HQ's database is where the ledger built on it
        lives too (``ledger rebuild --check`` replays from these records)."""
        return JournalEntry.model_validate(
            self.record, context={HASH_VERIFIED: self.record.get("hash")}
        )


_COLUMNS = (
    "terminal_id",
    "seq",
    "entry_id",
    "kind",
    "occurred_at",
    "hash",
    "record",
    "received_at",
    "original_terminal",
    "original_seq",
)


def _row(
    record: Mapping[str, Any], entry: JournalEntry, text: str, received_at: Any
) -> tuple[Any, ...]:
    original = entry.payload.original if isinstance(entry.payload, Return | Void) else None
    return (
        entry.terminal_id,
        entry.seq,
        entry.entry_id,
        entry.kind,
        record["occurred_at"],
        entry.hash,
        text,
        received_at,
        original.terminal_id if original else None,
        original.seq if original else None,
    )


def record_text(record: Mapping[str, Any]) -> str:
    """A received record as stored: JSON text of exactly what arrived (its hash stays
    checkable)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def store_entry(
    conn: Connection, record: Mapping[str, Any], entry: JournalEntry, now: datetime
) -> None:
    store_entries(conn, [(record, entry, record_text(record))], now)


def store_entries(
    conn: Connection,
    items: Sequence[tuple[Mapping[str, Any], JournalEntry, str]],
    now: datetime,
) -> None:
    """Store received records (record, its entry, its JSON text) in one executemany."""
    received_at = driver_value(conn, journal_entries.c.received_at, now)
    bulk_insert(conn, journal_entries, _COLUMNS, [_row(*item, received_at) for item in items])


def stored_hashes(conn: Connection, terminal_id: str, first: int, last: int) -> dict[int, str]:
    rows = conn.execute(
        select(journal_entries.c.seq, journal_entries.c.hash).where(
            journal_entries.c.terminal_id == terminal_id,
            journal_entries.c.seq.between(first, last),
        )
    )
    return {int(row.seq): row.hash for row in rows}


_HEAD_COLUMNS = (
    journal_entries.c.terminal_id,
    journal_entries.c.seq,
    journal_entries.c.entry_id,
    journal_entries.c.kind,
)


def _stored(row: Any) -> StoredEntry:
    """A row of ``_HEAD_COLUMNS`` and ``record``."""
    return StoredEntry(
        row.terminal_id, int(row.seq), row.entry_id, row.kind, json.loads(row.record)
    )


_ENTRY = select(*_HEAD_COLUMNS, journal_entries.c.record).where(
    journal_entries.c.terminal_id == bindparam("e_terminal"),
    journal_entries.c.seq == bindparam("e_seq"),
)


def stored_entry(conn: Connection, terminal_id: str, seq: int) -> StoredEntry | None:
    row = conn.execute(_ENTRY, {"e_terminal": terminal_id, "e_seq": seq}).first()
    return _stored(row) if row is not None else None


_RETURNS_OF = (
    select(*_HEAD_COLUMNS, journal_entries.c.record)
    .where(
        journal_entries.c.original_terminal == bindparam("r_terminal"),
        journal_entries.c.original_seq == bindparam("r_seq"),
        journal_entries.c.kind == "return",
    )
    .order_by(journal_entries.c.terminal_id, journal_entries.c.seq)
)


def stored_returns_of(conn: Connection, terminal_id: str, seq: int) -> list[StoredEntry]:
    """The stored returns that name entry (terminal_id, seq) as their original, by till and
    seq (whatever entry id they name: the caller decides which are really its)."""
    rows = conn.execute(_RETURNS_OF, {"r_terminal": terminal_id, "r_seq": seq})
    return [_stored(row) for row in rows]


def stored_entries(conn: Connection, keys: Sequence[tuple[str, int]]) -> list[StoredEntry]:
    """Many stored entries by (terminal_id, seq), whole, in one statement (those that exist)."""
    by_terminal: dict[str, list[int]] = {}
    for terminal_id, seq in keys:
        by_terminal.setdefault(terminal_id, []).append(seq)
    found = []
    for terminal_id, seqs in by_terminal.items():
        rows = conn.execute(_ENTRIES, {"e_terminal": terminal_id, "e_seqs": sorted(set(seqs))})
        found += [_stored(row) for row in rows]
    return found


_ENTRIES = select(*_HEAD_COLUMNS, journal_entries.c.record).where(
    journal_entries.c.terminal_id == bindparam("e_terminal"),
    journal_entries.c.seq.in_(bindparam("e_seqs", expanding=True)),
)
"""One till's entries by seq: one statement, compiled once (a tuple IN list is compiled
afresh for every length)."""


@dataclass(frozen=True, slots=True)
class EntryHead:
    """What reconciliation needs to know about a stored entry it refers to."""

    terminal_id: str
    seq: int
    entry_id: str
    kind: str


_ENTRY_HEAD = select(*_HEAD_COLUMNS).where(
    journal_entries.c.terminal_id == bindparam("h_terminal"),
    journal_entries.c.seq == bindparam("h_seq"),
)


def entry_head(conn: Connection, terminal_id: str, seq: int) -> EntryHead | None:
    row = conn.execute(_ENTRY_HEAD, {"h_terminal": terminal_id, "h_seq": seq}).first()
    return EntryHead(row.terminal_id, int(row.seq), row.entry_id, row.kind) if row else None


_REFERRING = select(
    journal_entries.c.terminal_id, journal_entries.c.seq, journal_entries.c.kind
).where(
    journal_entries.c.original_terminal == bindparam("r_terminal"),
    journal_entries.c.original_seq == bindparam("r_seq"),
)


def void_of(conn: Connection, terminal_id: str, seq: int, before_seq: int) -> int | None:
    """The seq of an earlier void of sale (terminal_id, seq) by the same till, if any.

    Asks only by the sale referred to, which its index answers directly (a filter on the
    till's own seq range would lead the planner to walk the till's whole journal); the few
    entries that refer to one sale are sorted out here."""
    rows = conn.execute(_REFERRING, {"r_terminal": terminal_id, "r_seq": seq})
    voids = [
        int(row.seq)
        for row in rows
        if row.kind == "void" and row.terminal_id == terminal_id and int(row.seq) < before_seq
    ]
    return min(voids, default=None)


def set_positions(
    conn: Connection, terminal_id: str, first_seq: int, last_seq: int, first_position: int
) -> None:
    """Entries first_seq..last_seq were reconciled in that order: number them from
    first_position (one statement, whatever the batch size)."""
    conn.execute(
        update(journal_entries)
        .where(
            and_(
                journal_entries.c.terminal_id == terminal_id,
                journal_entries.c.seq.between(first_seq, last_seq),
            )
        )
        .values(position=journal_entries.c.seq + (first_position - first_seq))
    )


def iter_entries_by_position(conn: Connection, batch: int = 1000) -> Iterator[tuple[int, str]]:
    """(position, record JSON) of every stored entry, in ledger order, in bounded batches."""
    last = -1
    while True:
        rows = conn.execute(
            select(journal_entries.c.position, journal_entries.c.record)
            .where(journal_entries.c.position > last)
            .order_by(journal_entries.c.position)
            .limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            last = int(row.position)
            yield last, row.record
