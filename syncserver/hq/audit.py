"""Reading the audit log: newest first, keyset-paginated by id, filtered by actor, action
prefix (``member.`` finds every member action) and target."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from syncserver.api.pagination import decode_cursor
from syncserver.errors import MalformedError
from syncserver.storage.schema import audit_log

__all__ = ["AuditFilter", "AuditRow", "audit_page", "cursor_id"]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    """A prefix: ``member.`` matches member.adjust, member.block …; ``user.add`` itself."""
    target_kind: str | None = None
    target_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    target_kind: str | None
    target_id: str | None
    ip: str | None
    via: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    """What the action recorded, without ``via`` (which has its own field)."""


def _detail(text: str) -> tuple[str | None, dict[str, Any]]:
    try:
        body = json.loads(text)
    except ValueError:
        return None, {"text": text}
    if not isinstance(body, dict):
        return None, {"value": body}
    via = body.pop("via", None)
    return (str(via) if via is not None else None), body


def audit_page(
    conn: Connection, where: AuditFilter, *, before: int | None = None, limit: int = 50
) -> list[AuditRow]:
    """Up to ``limit`` rows with id below ``before`` (keyset), newest first."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(audit_log.c.id < before)
    if where.actor:
        query = query.where(audit_log.c.actor == where.actor)
    if where.action:
        query = query.where(audit_log.c.action.startswith(where.action, autoescape=True))
    if where.target_kind:
        query = query.where(audit_log.c.target_kind == where.target_kind)
    if where.target_id:
        query = query.where(audit_log.c.target_id == where.target_id)
    rows = []
    for row in conn.execute(query):
        via, detail = _detail(row.detail)
        rows.append(
            AuditRow(
                id=int(row.id),
                at=row.at,
                actor=row.actor,
                action=row.action,
                target_kind=row.target_kind,
                target_id=row.target_id,
                ip=row.ip,
                via=via,
                detail=detail,
            )
        )
    return rows


def cursor_id(cursor: str | None) -> int | None:
    """The id a page cursor holds (None: the first page); 422 for anything else."""
    key = decode_cursor(cursor, 1)
    if key is None:
        return None
    if not isinstance(key[0], int) or isinstance(key[0], bool):
        raise MalformedError("cursor: not a cursor this list gave out; start from the first page")
    return key[0]
