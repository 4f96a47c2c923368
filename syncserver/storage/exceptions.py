"""The exceptions queue HQ works through: what reconciliation could not simply accept.

Reconciliation writes here; HQ reads and resolves through ``syncserver.hq.exceptions`` and
``syncserver.hq.actions.resolve_exception``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from shared.protocol import RaisedException
from syncserver.storage.schema import exceptions

__all__ = ["insert_exception", "open_exception_exists"]

OPEN = "open"


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
