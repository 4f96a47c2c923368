"""The tills' endpoints: push journal entries, pull what changed (docs/protocol.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from shared.protocol import (
    ErrorBody,
    LiveMemberResponse,
    PullResponse,
    PushRequest,
    PushResponse,
)
from syncserver.api.deps import DatabaseDep, TerminalDep
from syncserver.errors import MalformedError
from syncserver.settings import utc_now
from syncserver.sync.pull import MAX_PULL_LIMIT, live_member, pull, report_pull
from syncserver.sync.push import push

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 409, 422, 503)
}


@router.post("/push", responses=_ERRORS)
def push_entries(body: PushRequest, terminal: TerminalDep, database: DatabaseDep) -> PushResponse:
    """Store and reconcile a contiguous run of this till's journal, exactly once."""
    return push(database, terminal.terminal_id, body, utc_now)


@router.get("/pull", responses=_ERRORS)
def pull_changes(
    terminal: TerminalDep,
    database: DatabaseDep,
    since: Annotated[str, Query(max_length=20, description="cursor from the last pull")] = "0",
    limit: Annotated[int, Query(ge=1, le=MAX_PULL_LIMIT)] = 500,
    tip: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**63 - 1,
            description="The last seq in the till's own journal (optional): HQ shows "
            "tip - acknowledged seq as the till's unsent estimate.",
        ),
    ] = None,
) -> PullResponse:
    """Members, rules, products and offers changed since the cursor, oldest change first."""
    if not since.isdigit():
        raise MalformedError(f"query.since: {since!r} is not a cursor from this server")
    page = pull(database, terminal.terminal_id, int(since), limit)
    report_pull(database, terminal, tip, utc_now())
    return page


@router.get("/member", responses=_ERRORS)
def member_now(
    terminal: TerminalDep,
    database: DatabaseDep,
    card: Annotated[str, Query(min_length=4, max_length=40, pattern=r"^[0-9]+$")],
) -> LiveMemberResponse:
    """One member's live balance: the till asks before redeeming beyond its offline cap."""
    return live_member(database, terminal.terminal_id, card)
