"""Postings: the rows of the double-entry ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from syncserver.ledger.accounts import Leg, PostingKind
from syncserver.storage.database import bulk_insert, driver_value
from syncserver.storage.schema import postings

__all__ = [
    "PostingSource",
    "insert_posting_rows",
    "insert_postings",
    "posting_rows",
    "postings_of_entry",
]


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


_COLUMNS = (
    "terminal_id",
    "seq",
    "hq_event_id",
    "line",
    "account",
    "member_id",
    "unit",
    "amount",
    "kind",
    "occurred_at",
    "created_at",
)


def posting_rows(
    source: PostingSource,
    legs: Sequence[Leg],
    first_line: int,
    occurred_at: str,
    created_at: Any,
) -> list[tuple[Any, ...]]:
    """Rows for :func:`insert_posting_rows`; ``created_at`` in the driver's form
    (:func:`~syncserver.storage.database.driver_value`)."""
    return [
        (
            source.terminal_id,
            source.seq,
            source.hq_event_id,
            first_line + index,
            leg.account,
            leg.member_id,
            leg.unit,
            leg.amount,
            leg.kind.value,
            occurred_at,
            created_at,
        )
        for index, leg in enumerate(legs)
    ]


def insert_posting_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows from :func:`posting_rows`, any number of entries, in one executemany."""
    bulk_insert(conn, postings, _COLUMNS, rows)


def insert_postings(
    conn: Connection,
    source: PostingSource,
    legs: Sequence[Leg],
    first_line: int,
    occurred_at: str,
    now: datetime,
) -> None:
    created_at = driver_value(conn, postings.c.created_at, now)
    insert_posting_rows(conn, posting_rows(source, legs, first_line, occurred_at, created_at))


def postings_of_entry(conn: Connection, terminal_id: str, seq: int) -> list[Leg]:
    rows = conn.execute(
        select(postings.c.account, postings.c.amount, postings.c.kind, postings.c.unit)
        .where(postings.c.terminal_id == terminal_id, postings.c.seq == seq)
        .order_by(postings.c.line)
    )
    return [Leg(row.account, int(row.amount), PostingKind(row.kind), row.unit) for row in rows]
