"""HQ API: the audit log — every staff action (web, API and the server's CLI), newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shared.protocol import ErrorBody
from syncserver.api.deps import DatabaseDep, ViewerDep
from syncserver.api.pagination import CursorQuery, LimitQuery, Page, page_of
from syncserver.hq.audit import AuditFilter, AuditRow, audit_page, cursor_id
from syncserver.settings import as_utc

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="The HQ username, or cli for the server's command line.")
    action: str = Field(description="e.g. member.adjust, terminal.revoke, user.add")
    target_kind: str | None = Field(description="member, card, exception, terminal, user …")
    target_id: str | None
    via: str | None = Field(description="web, api or cli")
    ip: str | None
    detail: dict[str, Any] = Field(description="What the action recorded (amounts, reasons …)")


def audit_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=as_utc(row.at),
        actor=row.actor,
        action=row.action,
        target_kind=row.target_kind,
        target_id=row.target_id,
        via=row.via,
        ip=row.ip,
        detail=row.detail,
    )


Text = Annotated[str | None, Query(max_length=120)]


@router.get("", responses={s: {"model": ErrorBody} for s in (401, 403, 422)})
def audit_log(
    _user: ViewerDep,
    database: DatabaseDep,
    actor: Annotated[str | None, Query(max_length=100, description="Exactly this actor.")] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="Action prefix, e.g. member. or user.add")
    ] = None,
    target_kind: Annotated[str | None, Query(max_length=32)] = None,
    target_id: Text = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AuditEntry]:
    """Staff actions, newest first."""
    where = AuditFilter(actor, action, target_kind, target_id)
    with database.read() as conn:
        rows = audit_page(conn, where, before=cursor_id(cursor), limit=limit + 1)
    items, next_cursor = page_of(rows, limit, lambda r: [r.id])
    return Page(items=[audit_entry(r) for r in items], next_cursor=next_cursor)
