"""HQ API: vouchers — search by code, one voucher with its postings, bulk issue, void.

Reading needs the viewer role, issuing and voiding the manager role; each write is an HQ
event in the ledger (``syncserver.hq.vouchers``) with an audit row. A till's token gets 403.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from shared.bounds import MAX_ID
from shared.protocol import ErrorBody
from syncserver.api.deps import ActorDep, DatabaseDep, ManagerDep, ViewerDep
from syncserver.api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from syncserver.api.params import SafeMultilineText, SafeText
from syncserver.errors import MalformedError, NotFoundError
from syncserver.hq.voucher_views import (
    MoneyPosting,
    VoucherDetail,
    VoucherSummary,
    account_history,
    classify_code,
    search_vouchers,
    voucher_account,
    voucher_detail,
)
from syncserver.hq.vouchers import issue_vouchers, void_voucher
from syncserver.settings import utc_now
from syncserver.storage.database import Database

__all__ = ["MAX_ISSUE", "MAX_VOUCHER_MINOR", "canonical_code", "router"]

router = APIRouter(prefix="/api/v1/vouchers", tags=["vouchers"])

MAX_ISSUE = 10_000
"""Codes one issue makes at most."""
MAX_VOUCHER_MINOR = 10**9
"""A voucher's value, cap or minimum spend at most (10 million in a two-decimal currency)."""

VoucherCodePath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        description="The code, any case, with or without dashes, e.g. V-ABCD-EFGH-JK2M.",
    ),
]
StatusQuery = Annotated[
    Literal["issued", "redeemed", "expired", "voided"] | None,
    Query(description="Only vouchers in this state."),
]


def _errors(*codes: int) -> dict[int | str, dict[str, object]]:
    return {code: {"model": ErrorBody} for code in codes}


def canonical_code(text: str) -> str:
    """The canonical code of a whole code typed any way, else a 422 saying what is wrong."""
    search = classify_code(text)
    if search.kind == "code":
        return search.value
    if search.kind == "invalid":
        raise MalformedError(f"voucher code {text!r}: {search.value}")
    raise MalformedError(
        f"voucher code {text!r} is not a whole code: V and 12 symbols, e.g. V-ABCD-EFGH-JK2M"
    )


@router.get("", responses=_errors(401, 403, 422))
def list_vouchers(
    _user: ViewerDep,
    database: DatabaseDep,
    q: Annotated[
        str | None,
        Query(
            max_length=40,
            description="A code or its beginning, any case, with or without dashes and the V.",
        ),
    ] = None,
    status: StatusQuery = None,
    member_id: Annotated[
        str | None, Query(min_length=1, max_length=MAX_ID, description="Only this member's.")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[VoucherSummary]:
    """Vouchers by code (keyset-paginated), filtered by a code or its beginning, state and
    member. A whole code whose check symbol fails is a 422 (a typo, not an unknown code)."""
    search = classify_code(q)
    if search.kind == "invalid":
        raise MalformedError(f"q: {search.value}")
    with database.read() as conn:
        items, next_cursor = search_vouchers(
            conn,
            search,
            status=status,
            member_id=member_id,
            today=utc_now().date(),
            limit=limit,
            cursor=cursor,
        )
    return Page[VoucherSummary](items=items, next_cursor=next_cursor)


class VoucherWithPostings(VoucherDetail):
    postings: list[MoneyPosting] = Field(
        description="The newest postings on voucher:<code> (at most 50)."
    )


POSTINGS_SHOWN = 50


def _with_postings(database: Database, code: str) -> VoucherWithPostings:
    with database.read() as conn:
        found = voucher_detail(conn, code, utc_now().date())
        if found is None:
            raise NotFoundError(
                f"no voucher {code}: check the code, or search with GET /api/v1/vouchers?q=…"
            )
        legs, _ = account_history(conn, voucher_account(code), POSTINGS_SHOWN, None)
    return VoucherWithPostings(**found.model_dump(), postings=legs)


@router.get("/{code}", responses=_errors(401, 403, 404, 422))
def get_voucher(
    code: VoucherCodePath, _user: ViewerDep, database: DatabaseDep
) -> VoucherWithPostings:
    """One voucher: value or percent, minimum spend, expiry, member, state, who issued it,
    where and when it was redeemed (the till entry) and its postings."""
    return _with_postings(database, canonical_code(code))


class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: StrictInt = Field(ge=1, le=MAX_ISSUE, description="How many codes (1–10,000).")
    value_minor: StrictInt = Field(
        ge=0,
        le=MAX_VOUCHER_MINOR,
        description="A fixed value in minor units of the program currency; with percent_bp, "
        "the most it takes off (0: no cap). A fixed voucher needs more than 0.",
        examples=[500],
    )
    percent_bp: StrictInt | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="Percent off in basis points (1000 = 10 %) instead of a fixed value.",
    )
    min_spend_minor: StrictInt = Field(
        default=0, ge=0, le=MAX_VOUCHER_MINOR, description="The basket it needs (minor units)."
    )
    expires_on: date | None = Field(default=None, description="The last day it can be used.")
    member_id: SafeText | None = Field(
        default=None, max_length=MAX_ID, description="Only this member may use them."
    )


class IssueResult(BaseModel):
    count: int
    codes: list[str] = Field(description="The new codes, canonical form.")


@router.post("", status_code=status.HTTP_201_CREATED, responses=_errors(401, 403, 404, 409, 422))
def issue(
    body: IssueRequest, _user: ManagerDep, actor: ActorDep, database: DatabaseDep
) -> IssueResult:
    """Issue ``count`` single-use vouchers (manager role): an HQ event in the ledger that
    holds the codes; tills learn them on their next pull."""
    codes = issue_vouchers(
        database,
        count=body.count,
        value_minor=body.value_minor,
        percent_bp=body.percent_bp,
        min_spend_minor=body.min_spend_minor,
        expires_on=body.expires_on,
        member_id=body.member_id,
        actor=actor,
    )
    return IssueResult(count=len(codes), codes=codes)


class VoidRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: SafeMultilineText = Field(max_length=500, description="Why (at least 3 characters).")


@router.post("/{code}/void", responses=_errors(401, 403, 404, 409, 422))
def void(
    code: VoucherCodePath,
    body: VoidRequest,
    _user: ManagerDep,
    actor: ActorDep,
    database: DatabaseDep,
) -> VoucherWithPostings:
    """Void an issued voucher (manager role): tills refuse it after their next pull; a use
    that reaches HQ later raises a ``voucher_invalid`` exception."""
    canonical = canonical_code(code)
    void_voucher(database, canonical, body.reason, actor)
    return _with_postings(database, canonical)
