"""HQ: members with their reconciled balances."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shared.protocol import ErrorBody, MemberState
from syncserver.api.deps import DatabaseDep, HqUserDep
from syncserver.errors import NotFoundError
from syncserver.storage.members import card_row, member_states

router = APIRouter(prefix="/api/v1/members", tags=["members"])


@router.get("", responses={s: {"model": ErrorBody} for s in (401, 403, 404, 422)})
def member_by_card(
    card: Annotated[str, Query(min_length=1, max_length=64)],
    _user: HqUserDep,
    database: DatabaseDep,
) -> MemberState:
    """The member who owns ``card`` (active or blocked), with the reconciled balance."""
    with database.read() as conn:
        found = card_row(conn, card)
        states = member_states(conn, [found.member_id]) if found else []
    if not states:
        raise NotFoundError(f"no member has card {card}")
    return states[0]
