"""Dashboard: the audit log — every staff action (web, API and the server's CLI), newest
first, filtered by actor, action prefix and target; keyset-paginated by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from syncserver.api.deps import DatabaseDep
from syncserver.api.pagination import CursorQuery, page_of
from syncserver.hq.audit import AuditFilter, audit_page, cursor_id
from syncserver.web.session import ViewerPage
from syncserver.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE = 50
Text = Annotated[str | None, Query(max_length=120)]


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None


@router.get("/audit", response_class=HTMLResponse)
def audit_log_page(
    request: Request,
    session: ViewerPage,
    database: DatabaseDep,
    actor: Text = None,
    action: Text = None,
    target_kind: Text = None,
    target_id: Text = None,
    cursor: CursorQuery = None,
) -> Response:
    where = AuditFilter(_clean(actor), _clean(action), _clean(target_kind), _clean(target_id))
    with database.read() as conn:
        rows = audit_page(conn, where, before=cursor_id(cursor), limit=PAGE + 1)
    entries, next_cursor = page_of(rows, PAGE, lambda r: [r.id])
    return render(
        request,
        "audit/list.html",
        session,
        entries=entries,
        next_cursor=next_cursor,
        where=where,
        filtered=any((where.actor, where.action, where.target_kind, where.target_id)),
    )
