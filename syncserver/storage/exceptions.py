"""The exceptions queue HQ works through: what reconciliation could not simply accept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from shared.protocol import RaisedException
from syncserver.storage.schema import exceptions

__all__ = ["ExceptionRow", "insert_exception", "list_exceptions", "open_exception_exists"]

OPEN = "open"


@dataclass(frozen=True, slots=True)
class ExceptionRow:
    id: int
    kind: str
    terminal_id: str | None
    seq: int | None
    member_id: str | None
    amount: int
    detail: str
    status: str
    created_at: datetime


def insert_exception(
    conn: Connection, raised: RaisedException, now: datetime, evidence: str | None = None
) -> None:
    conn.execute(
        exceptions.insert().values(
            kind=raised.kind,
            terminal_id=raised.terminal_id,
            seq=raised.seq,
            member_id=raised.member_id,
            amount=raised.amount,
            detail=raised.detail,
            evidence=evidence,
            status=OPEN,
            created_at=now,
        )
    )


def open_exception_exists(
    conn: Connection, kind: str, terminal_id: str, seq: int, evidence: str | None
) -> bool:
    query = select(exceptions.c.id).where(
        exceptions.c.kind == kind,
        exceptions.c.terminal_id == terminal_id,
        exceptions.c.seq == seq,
        exceptions.c.status == OPEN,
    )
    if evidence is not None:
        query = query.where(exceptions.c.evidence == evidence)
    return conn.execute(query.limit(1)).first() is not None


def list_exceptions(
    conn: Connection, *, status: str | None = None, kind: str | None = None, limit: int = 100
) -> list[ExceptionRow]:
    query = select(
        exceptions.c.id,
        exceptions.c.kind,
        exceptions.c.terminal_id,
        exceptions.c.seq,
        exceptions.c.member_id,
        exceptions.c.amount,
        exceptions.c.detail,
        exceptions.c.status,
        exceptions.c.created_at,
    )
    if status is not None:
        query = query.where(exceptions.c.status == status)
    if kind is not None:
        query = query.where(exceptions.c.kind == kind)
    rows = conn.execute(query.order_by(exceptions.c.id).limit(limit))
    return [
        ExceptionRow(
            id=int(r.id),
            kind=r.kind,
            terminal_id=r.terminal_id,
            seq=None if r.seq is None else int(r.seq),
            member_id=r.member_id,
            amount=int(r.amount),
            detail=r.detail,
            status=r.status,
            created_at=r.created_at,
        )
        for r in rows
    ]
