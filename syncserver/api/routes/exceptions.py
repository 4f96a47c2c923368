"""HQ: the exceptions queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from shared.protocol import ErrorBody, ExceptionKind
from syncserver.api.deps import DatabaseDep, HqUserDep
from syncserver.storage.exceptions import list_exceptions

router = APIRouter(prefix="/api/v1/exceptions", tags=["exceptions"])


class ExceptionView(BaseModel):
    id: int
    kind: str
    terminal_id: str | None
    seq: int | None
    member_id: str | None
    amount: int
    detail: str
    status: str
    created_at: datetime


@router.get("", responses={s: {"model": ErrorBody} for s in (401, 403, 422)})
def exceptions_queue(
    _user: HqUserDep,
    database: DatabaseDep,
    status: Literal["open", "resolved"] | None = "open",
    kind: ExceptionKind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ExceptionView]:
    """Exceptions, oldest first (open ones by default)."""
    with database.read() as conn:
        rows = list_exceptions(conn, status=status, kind=kind, limit=limit)
    return [
        ExceptionView(
            id=row.id,
            kind=row.kind,
            terminal_id=row.terminal_id,
            seq=row.seq,
            member_id=row.member_id,
            amount=row.amount,
            detail=row.detail,
            status=row.status,
            created_at=row.created_at,
        )
        for row in rows
    ]
