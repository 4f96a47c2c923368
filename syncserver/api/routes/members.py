"""HQ API: members — search, profile, reconciled balance, ledger history, tier status and
history, points lots, manual adjustments.

Reading needs the viewer role, adjusting the manager role; a till's token gets 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from shared.protocol import ErrorBody
from syncserver.api.deps import ActorDep, DatabaseDep, ManagerDep, SettingsDep, ViewerDep
from syncserver.api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from syncserver.api.params import MemberIdPath, SafeMultilineText
from syncserver.errors import MalformedError, NotFoundError
from syncserver.hq import actions
from syncserver.hq.members import (
    Balance,
    LedgerPosting,
    MemberDetail,
    MemberSummary,
    classify,
    explicit,
    member_balance,
    member_detail,
    member_ledger,
    search_members,
)
from syncserver.hq.tiers import LotsPage, TierHistoryPage, member_lots_page, member_tiers
from syncserver.settings import utc_now

router = APIRouter(prefix="/api/v1/members", tags=["members"])

_FILTER = Query(min_length=1, max_length=320)


def _errors(*codes: int) -> dict[int | str, dict[str, object]]:
    return {code: {"model": ErrorBody} for code in codes}


@router.get("", responses=_errors(401, 403, 422))
def list_members(
    _user: ViewerDep,
    database: DatabaseDep,
    settings: SettingsDep,
    q: Annotated[
        str | None,
        Query(
            max_length=320,
            description=(
                "One search box: a card number (check digit valid), an email (contains @), "
                "a member id (M…), a phone number or its last digits (digits, spaces, + - ( ), "
                "at least 4 digits) or else words of a name, each the start of a word of "
                "the name, any case and accents. Empty: every member by member id."
            ),
        ),
    ] = None,
    card: Annotated[str | None, _FILTER] = None,
    phone: Annotated[str | None, _FILTER] = None,
    email: Annotated[str | None, _FILTER] = None,
    name: Annotated[str | None, _FILTER] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[MemberSummary]:
    """Members matching the search, keyset-paginated: by (matched word, member id) for a
    name search (exact words first), by phone key for a phone search, by member id otherwise.
    Use ``q`` or one of the explicit filters (``card``, ``phone`` by the end of the number
    in any format, ``email`` as stored or lower case, ``name`` words)."""
    given = [
        key
        for key, value in (
            ("q", q),
            ("card", card),
            ("phone", phone),
            ("email", email),
            ("name", name),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise MalformedError(
            f"use one of q, card, phone, email, name at a time (got {', '.join(given)})"
        )
    region = settings.default_country
    search = explicit(card=card, phone=phone, email=email, name=name, region=region)
    search = search or classify(q, region)
    with database.read() as conn:
        items, next_cursor = search_members(conn, search, limit, cursor)
    return Page[MemberSummary](items=items, next_cursor=next_cursor)


@router.get("/{member_id}", responses=_errors(401, 403, 404))
def get_member(member_id: MemberIdPath, _user: ViewerDep, database: DatabaseDep) -> MemberDetail:
    """The member's profile, reconciled balance and every card (with block reasons)."""
    with database.read() as conn:
        found = member_detail(conn, member_id)
    if found is None:
        raise NotFoundError(_no_member(member_id))
    return found


@router.get("/{member_id}/balance", responses=_errors(401, 403, 404))
def get_balance(member_id: MemberIdPath, _user: ViewerDep, database: DatabaseDep) -> Balance:
    """The reconciled points balance: the sum of the member's postings."""
    with database.read() as conn:
        found = member_balance(conn, member_id)
    if found is None:
        raise NotFoundError(_no_member(member_id))
    return found


@router.get("/{member_id}/ledger", responses=_errors(401, 403, 404, 422))
def get_ledger(
    member_id: MemberIdPath,
    _user: ViewerDep,
    database: DatabaseDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[LedgerPosting]:
    """The member's postings in the order they happened (``occurred_at``, ties by arrival),
    newest first, each with ``balance_after`` (the member's balance after it: the first
    item's is the current balance) and its source: the till entry (terminal, store, seq,
    receipt number, cashier) or the HQ event (kind, staff member, reason)."""
    with database.read() as conn:
        if member_balance(conn, member_id) is None:
            raise NotFoundError(_no_member(member_id))
        items, next_cursor = member_ledger(conn, member_id, limit, cursor)
    return Page[LedgerPosting](items=items, next_cursor=next_cursor)


@router.get("/{member_id}/tiers", responses=_errors(401, 403, 404, 422))
def get_tiers(
    member_id: MemberIdPath,
    _user: ViewerDep,
    database: DatabaseDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> TierHistoryPage:
    """The member's tier now (``status``: tier and perks, since, next review, grace, the
    qualifying figure over the program's window as of today (UTC) and progress to the next
    tier) and their tier history newest first (``items``: effective day, from → to, the
    reason, and the till entry or HQ event behind it), keyset-paginated."""
    with database.read() as conn:
        found = member_tiers(conn, member_id, utc_now().date(), limit, cursor)
    if found is None:
        raise NotFoundError(_no_member(member_id))
    return found


@router.get("/{member_id}/lots", responses=_errors(401, 403, 404, 422))
def get_lots(
    member_id: MemberIdPath,
    _user: ViewerDep,
    database: DatabaseDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> LotsPage:
    """The member's points lots, oldest first (a redemption takes the oldest first):
    earned and expiry day, amount, points left, points expired and the source (``ref``),
    keyset-paginated; with the balance they hold, points owed, the next expiry day and the
    points expiring by day."""
    with database.read() as conn:
        found = member_lots_page(conn, member_id, limit, cursor)
    if found is None:
        raise NotFoundError(_no_member(member_id))
    return found


class AdjustmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: StrictInt = Field(
        ge=-actions.MAX_ADJUSTMENT,
        le=actions.MAX_ADJUSTMENT,
        description="Points onto the member (negative: taken off); not 0.",
        examples=[50],
    )
    reason: SafeMultilineText = Field(
        max_length=500, description="Why (at least 3 characters); kept in the ledger and audit."
    )


class AdjustmentResult(BaseModel):
    hq_event_id: int
    member_id: str
    points: int
    balance: int
    """The member's balance after the adjustment."""


@router.post(
    "/{member_id}/adjustments",
    status_code=status.HTTP_201_CREATED,
    responses=_errors(401, 403, 404, 409, 422),
)
def adjust(
    member_id: MemberIdPath,
    body: AdjustmentRequest,
    _user: ManagerDep,
    actor: ActorDep,
    database: DatabaseDep,
) -> AdjustmentResult:
    """A manual adjustment (manager role): an HQ event in the ledger, with who and why."""
    result = actions.adjust_points(database, actor, member_id, body.points, body.reason)
    return AdjustmentResult(
        hq_event_id=result.hq_event_id,
        member_id=member_id,
        points=result.points,
        balance=result.balance or 0,
    )


def _no_member(member_id: str) -> str:
    return f"no member {member_id}: search with GET /api/v1/members?q=…"
