"""Postings: the rows of the double-entry ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from syncserver.ledger.accounts import Leg, PostingKind
from syncserver.storage.schema import postings

__all__ = ["PostingSource", "insert_postings", "postings_of_entry"]


@dataclass(frozen=True, slots=True)
class PostingSource:
    """What caused a posting: a till's journal entry, or an HQ event."""

    terminal_id: str | None = None
    seq: int | None = None
    hq_event_id: int | None = None

    def label(self) -> str:
        if self.terminal_id is not None:
            return f"{self.terminal_id}#{self.seq}"
        return f"HQ event {self.hq_event_id}"


def insert_postings(
    conn: Connection,
    source: PostingSource,
    legs: Sequence[Leg],
    first_line: int,
    occurred_at: str,
    now: datetime,
) -> None:
    rows: list[dict[str, Any]] = [
        {
            "terminal_id": source.terminal_id,
            "seq": source.seq,
            "hq_event_id": source.hq_event_id,
            "line": first_line + index,
            "account": leg.account,
            "member_id": leg.member_id,
            "unit": leg.unit,
            "amount": leg.amount,
            "kind": leg.kind.value,
            "occurred_at": occurred_at,
            "created_at": now,
        }
        for index, leg in enumerate(legs)
    ]
    if rows:
        conn.execute(postings.insert(), rows)


def postings_of_entry(conn: Connection, terminal_id: str, seq: int) -> list[Leg]:
    rows = conn.execute(
        select(postings.c.account, postings.c.amount, postings.c.kind, postings.c.unit)
        .where(postings.c.terminal_id == terminal_id, postings.c.seq == seq)
        .order_by(postings.c.line)
    )
    return [Leg(row.account, int(row.amount), PostingKind(row.kind), row.unit) for row in rows]
