"""The tills' endpoints: push journal entries, pull what changed, compare journals
(docs/protocol.md)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from shared.bounds import MAX_PUSH_BYTES, MAX_SEQ
from shared.protocol import (
    ErrorBody,
    LiveGiftCardResponse,
    LiveMemberResponse,
    LiveVoucherResponse,
    OriginalSaleResponse,
    PullResponse,
    PushRequest,
    PushResponse,
    SyncStatus,
)
from syncserver.api.content_coding import ACCEPTED_CODINGS, decoded_body
from syncserver.api.deps import DatabaseDep, TerminalDep
from syncserver.api.metrics import Metrics
from syncserver.api.params import PullCursorQuery, SeqQuery, TerminalIdQuery
from syncserver.errors import MalformedError
from syncserver.hq.vouchers import canonical_code
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.sync.original import original_sale
from syncserver.sync.pull import (
    MAX_PULL_LIMIT,
    live_gift_card,
    live_member,
    live_voucher,
    pull_json,
    report_pull,
)
from syncserver.sync.push import push
from syncserver.sync.status import sync_status

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 409, 413, 422, 503)
}

_PUSH_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PushRequest.model_json_schema()}},
    }
}

Tip = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_SEQ,
        description="The last seq in the till's own journal (optional): HQ shows "
        "tip - acknowledged seq as the till's unsent estimate.",
    ),
]


@router.post("/push", responses={**_ERRORS, 415: {"model": ErrorBody}}, openapi_extra=_PUSH_BODY)
async def push_entries(
    request: Request, response: Response, terminal: TerminalDep, database: DatabaseDep
) -> PushResponse:
    """Store and reconcile a contiguous run of this till's journal, exactly once.

    The body is read only after the token checked out (an unauthenticated caller never
    makes the server read or parse its body), and never beyond ``MAX_PUSH_BYTES``. It may be
    gzipped (``Content-Encoding: gzip``; ``MAX_PUSH_BYTES`` once inflated too)."""
    body = await request.body()
    encoding = request.headers.get("content-encoding")
    metrics: Metrics = request.app.state.metrics
    # Timed from the body read on: the store and reconcile, not the till's upload.
    started = time.perf_counter()
    try:
        # Inflating and parsing a body is CPU work: off the event loop, with the push.
        reply = await run_in_threadpool(
            _decode_and_push, database, terminal.terminal_id, body, encoding
        )
    except Exception as error:
        metrics.record_failed_push(error, time.perf_counter() - started)
        raise
    metrics.record_push(reply, time.perf_counter() - started)
    request.state.entries = reply.stored  # for the request's JSON log line
    response.headers["Accept-Encoding"] = ACCEPTED_CODINGS
    return reply


def _decode_and_push(
    database: Database, terminal_id: str, body: bytes, encoding: str | None
) -> PushResponse:
    text = decoded_body(body, encoding, MAX_PUSH_BYTES)
    try:
        batch = PushRequest.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in ("body", *first["loc"]))
        raise MalformedError(f"{where}: {first['msg']}") from None
    return push(database, terminal_id, batch, utc_now)


@router.get("/status", responses=_ERRORS)
def journal_status(
    response: Response,
    terminal: TerminalDep,
    database: DatabaseDep,
    tip: Tip = None,
    tip_hash: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9a-f]{64}$",
            description="The hash of the till's newest entry (with ``tip``).",
        ),
    ] = None,
) -> SyncStatus:
    """What HQ holds of this till's journal (its acknowledged seq and hash). The till compares
    it with its own journal before it pushes; a till behind HQ is an alarm on both sides.
    ``Accept-Encoding`` names the content codings a push body may use (RFC 7694)."""
    response.headers["Accept-Encoding"] = ACCEPTED_CODINGS
    return sync_status(database, terminal, tip, tip_hash, utc_now())


@router.get("/pull", responses=_ERRORS, response_model=PullResponse)
def pull_changes(
    request: Request,
    terminal: TerminalDep,
    database: DatabaseDep,
    since: PullCursorQuery = "0",
    limit: Annotated[int, Query(ge=1, le=MAX_PULL_LIMIT)] = 500,
    tip: Tip = None,
) -> Response:
    """Members, rules, products and offers changed since the cursor, oldest change first.
    The page is a ``PullResponse`` written straight to JSON (no model per member)."""
    started = time.perf_counter()
    page = pull_json(database, terminal.terminal_id, int(since), limit)
    metrics: Metrics = request.app.state.metrics
    metrics.pull_seconds.observe(time.perf_counter() - started)
    report_pull(database, terminal, tip, utc_now())
    return Response(content=page, media_type="application/json")


@router.get("/member", responses=_ERRORS)
def member_now(
    terminal: TerminalDep,
    database: DatabaseDep,
    card: Annotated[str, Query(min_length=4, max_length=40, pattern=r"^[0-9]+$")],
) -> LiveMemberResponse:
    """One member's live balance: the till asks before redeeming beyond its offline cap."""
    return live_member(database, terminal.terminal_id, card)


@router.get("/giftcard/{number}", responses=_ERRORS)
def gift_card_now(
    terminal: TerminalDep,
    database: DatabaseDep,
    number: Annotated[
        str,
        Path(min_length=12, max_length=19, pattern=r"^[0-9]+$", description="The card number."),
    ],
) -> LiveGiftCardResponse:
    """A gift card's (or credit slip's) live balance: the till asks before taking more than
    its offline cap from it (docs/giftcards.md). 404 when HQ does not know the card."""
    return live_gift_card(database, terminal.terminal_id, number)


@router.get("/voucher/{code}", responses=_ERRORS)
def voucher_now(
    terminal: TerminalDep,
    database: DatabaseDep,
    code: Annotated[
        str,
        Path(
            min_length=12,
            max_length=20,
            pattern=r"^[A-Za-z0-9 -]+$",
            description="The voucher code, V-XXXX-XXXX-XXXX.",
        ),
    ],
) -> LiveVoucherResponse:
    """A voucher's state right now (docs/vouchers.md). 404 when HQ never issued it."""
    return live_voucher(database, terminal.terminal_id, canonical_code(code))


@router.get("/original", responses=_ERRORS)
def original_of_return(
    terminal: TerminalDep,
    database: DatabaseDep,
    terminal_id: TerminalIdQuery,
    seq: SeqQuery,
) -> OriginalSaleResponse:
    """A sale of any till with the returns HQ holds against it: a till asks before it takes
    back goods it did not sell, so the points come back as at the till that sold them.
    404 when HQ has no such sale."""
    return original_sale(database, terminal_id, seq)
