"""The tills' journals as the server stores them: each record exactly as received."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select, update

from shared.journal import JournalEntry, Return, Void
from syncserver.storage.schema import journal_entries

__all__ = [
    "StoredEntry",
    "iter_entries_by_position",
    "set_positions",
    "store_entry",
    "stored_entry",
    "stored_hashes",
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
        return JournalEntry.model_validate(self.record)


def store_entry(
    conn: Connection, record: Mapping[str, Any], entry: JournalEntry, now: datetime
) -> None:
    original = entry.payload.original if isinstance(entry.payload, Return | Void) else None
    conn.execute(
        journal_entries.insert().values(
            terminal_id=entry.terminal_id,
            seq=entry.seq,
            entry_id=entry.entry_id,
            kind=entry.kind,
            occurred_at=record["occurred_at"],
            hash=entry.hash,
            # The received record, not a re-serialisation: its hash must stay checkable.
            record=json.dumps(record, ensure_ascii=False, separators=(",", ":")),
            received_at=now,
            original_terminal=original.terminal_id if original else None,
            original_seq=original.seq if original else None,
        )
    )


def stored_hashes(conn: Connection, terminal_id: str, first: int, last: int) -> dict[int, str]:
    rows = conn.execute(
        select(journal_entries.c.seq, journal_entries.c.hash).where(
            journal_entries.c.terminal_id == terminal_id,
            journal_entries.c.seq.between(first, last),
        )
    )
    return {int(row.seq): row.hash for row in rows}


def stored_entry(conn: Connection, terminal_id: str, seq: int) -> StoredEntry | None:
    row = conn.execute(
        select(
            journal_entries.c.terminal_id,
            journal_entries.c.seq,
            journal_entries.c.entry_id,
            journal_entries.c.kind,
            journal_entries.c.record,
        ).where(journal_entries.c.terminal_id == terminal_id, journal_entries.c.seq == seq)
    ).first()
    if row is None:
        return None
    return StoredEntry(
        row.terminal_id, int(row.seq), row.entry_id, row.kind, json.loads(row.record)
    )


def void_of(conn: Connection, terminal_id: str, seq: int, before_seq: int) -> int | None:
    """The seq of an earlier void of sale (terminal_id, seq) by the same till, if any."""
    return conn.execute(
        select(journal_entries.c.seq)
        .where(
            journal_entries.c.terminal_id == terminal_id,
            journal_entries.c.kind == "void",
            journal_entries.c.original_terminal == terminal_id,
            journal_entries.c.original_seq == seq,
            journal_entries.c.seq < before_seq,
        )
        .order_by(journal_entries.c.seq)
        .limit(1)
    ).scalar_one_or_none()


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
