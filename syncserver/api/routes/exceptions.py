"""HQ API: the exceptions queue, one exception, and resolving it (docs/ledger.md,
"Resolving exceptions")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from shared.protocol import ErrorBody, ExceptionKind
from syncserver.api.deps import ActorDep, DatabaseDep, ManagerDep, ViewerDep
from syncserver.api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page_of
from syncserver.api.params import ExceptionIdPath, SafeMultilineText, SafeText
from syncserver.errors import MalformedError, NotFoundError
from syncserver.hq.actions import MAX_ADJUSTMENT, resolve_exception
from syncserver.hq.exceptions import (
    ExceptionFilter,
    ExceptionItem,
    cursor_key,
    exception_item,
    parse_cursor_key,
    queue_page,
    resolution_card,
    resolution_options,
    resolution_postings,
)
from syncserver.ledger.hq_events import Resolution
from syncserver.settings import utc_now

router = APIRouter(prefix="/api/v1/exceptions", tags=["exceptions"])


class ExceptionView(BaseModel):
    id: int
    kind: str
    status: Literal["open", "resolved"]
    terminal_id: str | None = Field(description="The till whose entry raised it.")
    store_id: str | None = Field(description="That till's store.")
    seq: int | None = Field(description="The entry's seq in that till's journal.")
    member_id: str | None
    amount: int = Field(
        description="Points the exception is about (docs/ledger.md); for a money exception "
        "(vouchers, gift cards, store credit) minor units of `currency`."
    )
    currency: str | None = Field(
        default=None, description="Set for a money exception: the currency of `amount`."
    )
    amount_text: str = Field(description='The amount as HQ shows it: "€5.00" or "500 points".')
    detail: str
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: Resolution | None = Field(
        default=None,
        description="How HQ resolved it: accept, write_off, adjust, block_card (for a money "
        "exception: accept, write_off, recover, block_card).",
    )
    resolution_reason: str | None = Field(default=None, description="Why, in HQ's words.")
    resolution_event_id: int | None = Field(
        default=None, description="The HQ event that carried the resolution out."
    )


class ResolutionPosting(BaseModel):
    line: int
    account: str
    amount: int
    kind: str


class ExceptionDetail(ExceptionView):
    evidence: str | None = Field(
        default=None, description="For a chain conflict: the refused record, as received."
    )
    applicable: list[Resolution] = Field(
        default_factory=list,
        description="The resolutions POST …/resolve accepts for it now (none once resolved).",
    )
    write_off_points: int | None = Field(
        default=None,
        description="Points a write-off would move onto write_off_account (when it applies).",
    )
    write_off_account: str | None = None
    member_cards: list[str] = Field(
        default_factory=list, description="The member's active cards: block_card's choices."
    )
    resolution_postings: list[ResolutionPosting] = Field(
        default_factory=list, description="What the resolution posted (its HQ event's legs)."
    )
    blocked_card: str | None = Field(default=None, description="The card block_card blocked.")
    write_off_minor: int | None = Field(
        default=None,
        description="Money exception: minor units a write-off would move onto "
        "write_off_account, against program:money_written_off (when it applies).",
    )
    recover_minor: int | None = Field(
        default=None,
        description="Money exception: what the card or store credit still owes; recover leaves "
        "it below zero so its next top-up (or refund) pays it.",
    )
    money_balance_minor: int | None = Field(
        default=None, description="Money exception: the card's or store credit's balance now."
    )
    gift_card: str | None = Field(default=None, description="The gift card it is about.")
    gift_card_url: str | None = None
    voucher_code: str | None = Field(default=None, description="The voucher it is about.")
    voucher_url: str | None = None


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: Resolution
    reason: SafeMultilineText = Field(
        max_length=2000, description="Why: mandatory, 3–500 characters."
    )
    points: int | None = Field(
        default=None,
        ge=-MAX_ADJUSTMENT,
        le=MAX_ADJUSTMENT,
        description="adjust only: points onto the member (negative takes off).",
    )
    card_number: SafeText | None = Field(
        default=None,
        max_length=64,
        description="block_card only: one of the member's cards; for a money exception the "
        "gift card it names (optional).",
    )


class ResolveResponse(BaseModel):
    exception: ExceptionView
    hq_event_id: int
    points: int = Field(description="Points the resolution moved onto its account (0: none).")
    money_minor: int = Field(
        default=0, description="Money exception: minor units of `currency` it moved (write off)."
    )
    currency: str | None = None
    gift_card_blocked: str | None = Field(
        default=None, description="Money exception: the gift card block_card blocked."
    )


def exception_view(item: ExceptionItem) -> ExceptionView:
    return ExceptionView(**_view_fields(item))


def _view_fields(item: ExceptionItem) -> dict[str, object]:
    return {
        "id": item.id,
        "kind": item.kind,
        "status": item.status,
        "terminal_id": item.terminal_id,
        "store_id": item.store_id,
        "seq": item.seq,
        "member_id": item.member_id,
        "amount": item.amount,
        "currency": item.currency,
        "amount_text": item.amount_text,
        "detail": item.detail,
        "created_at": item.created_at,
        "resolved_at": item.resolved_at,
        "resolved_by": item.resolved_by,
        "resolution": item.resolution_kind,
        "resolution_reason": item.resolution,
        "resolution_event_id": item.resolution_event_id,
    }


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


@router.get("", responses=_errors(401, 403, 422))
def exceptions_queue(
    _user: ViewerDep,
    database: DatabaseDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    status: Annotated[
        Literal["open", "resolved", "all"], Query(description="Open ones by default.")
    ] = "open",
    kind: ExceptionKind | None = None,
    store: Annotated[str | None, Query(max_length=64, description="A store id.")] = None,
    older_than_hours: Annotated[
        int | None, Query(ge=1, le=87_600, description="Only those raised longer ago.")
    ] = None,
) -> Page[ExceptionView]:
    """Exceptions, oldest first (by when they were raised, then id)."""
    after = parse_cursor_key(decode_cursor(cursor, 2))
    flt = ExceptionFilter(kind=kind, store=store, status=status, older_than_hours=older_than_hours)
    with database.read() as conn:
        rows = queue_page(conn, flt, limit=limit + 1, after=after, now=utc_now())
    items, next_cursor = page_of(rows, limit, cursor_key)
    return Page[ExceptionView](
        items=[exception_view(item) for item in items], next_cursor=next_cursor
    )


@router.get("/{exception_id}", responses=_errors(401, 403, 404, 422))
def one_exception(
    exception_id: ExceptionIdPath, _user: ViewerDep, database: DatabaseDep
) -> ExceptionDetail:
    """One exception with what applies to it (open) or what its resolution posted."""
    with database.read() as conn:
        item = exception_item(conn, exception_id)
        if item is None:
            raise NotFoundError(f"no exception {exception_id}")
        detail = ExceptionDetail(**_view_fields(item), evidence=item.evidence)
        if item.is_money:
            detail = detail.model_copy(update=_money_fields(conn, item))
        if item.status == "open":
            options = resolution_options(conn, item)
            return detail.model_copy(
                update={
                    "applicable": options.names,
                    "write_off_points": options.write_off,
                    "write_off_account": options.write_off_account or detail.write_off_account,
                    "member_cards": options.cards,
                }
            )
        if item.resolution_event_id is None:
            return detail
        legs = resolution_postings(conn, item.resolution_event_id)
        card = resolution_card(conn, item.resolution_event_id)
    return detail.model_copy(
        update={
            "resolution_postings": [
                ResolutionPosting(line=p.line, account=p.account, amount=p.amount, kind=p.kind)
                for p in legs
            ],
            "blocked_card": card,
        }
    )


def _money_fields(conn: Connection, item: ExceptionItem) -> dict[str, object]:
    """A money exception's card or voucher (with its HQ page) and, while open, what write
    off and recover would do."""
    options = resolution_options(conn, item).money
    assert options is not None
    facts = options.facts
    fields: dict[str, object] = {
        "gift_card": facts.gift_card,
        "gift_card_url": f"/giftcards/{facts.gift_card}" if facts.gift_card else None,
        "voucher_code": facts.voucher_code,
        "voucher_url": f"/vouchers/{facts.voucher_code}" if facts.voucher_code else None,
        "money_balance_minor": options.balance,
    }
    if item.status == "open":
        fields |= {
            "write_off_minor": options.write_off,
            "write_off_account": facts.account if options.write_off is not None else None,
            "recover_minor": options.recover,
        }
    return fields


@router.post(
    "/{exception_id}/resolve",
    responses=_errors(401, 403, 404, 409, 422),
)
def resolve(
    exception_id: ExceptionIdPath,
    body: ResolveRequest,
    _user: ManagerDep,
    actor: ActorDep,
    database: DatabaseDep,
) -> ResolveResponse:
    """Close an open exception with HQ's decision — itself a ledger posting (an HQ event)
    with who and why. 409 when it is already resolved; 422 when the resolution does not
    apply to it (``applicable`` in GET …/{id} says which do)."""
    if body.points is not None and body.resolution != "adjust":
        raise MalformedError(f"points: only adjust moves chosen points, not {body.resolution}")
    if body.card_number is not None and body.resolution != "block_card":
        raise MalformedError(f"card_number: only block_card takes a card, not {body.resolution}")
    result = resolve_exception(
        database,
        actor,
        exception_id,
        body.resolution,
        body.reason,
        amount=body.points,
        card_number=body.card_number,
    )
    with database.read() as conn:
        item = exception_item(conn, exception_id)
    assert item is not None
    return ResolveResponse(
        exception=exception_view(item),
        hq_event_id=result.hq_event_id,
        points=result.points,
        money_minor=result.money_minor,
        currency=result.currency,
        gift_card_blocked=result.gift_card,
    )
