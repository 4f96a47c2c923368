"""Dashboard: the exceptions queue, one exception, and resolving it (manager+).

The queue's filter (kind, store, status, age) travels with every link and form, so after a
resolution the manager lands on the next open exception of the same view.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from syncserver.api.deps import DatabaseDep, SettingsDep
from syncserver.api.pagination import CursorQuery, LimitQuery, decode_cursor, page_of
from syncserver.api.params import ExceptionIdPath, parse_digits
from syncserver.errors import ApiError, MalformedError, NotFoundError
from syncserver.hq.actions import ActionResult, resolve_exception
from syncserver.hq.exceptions import (
    AGES,
    KINDS,
    STATUSES,
    ExceptionFilter,
    cursor_key,
    exception_item,
    next_open,
    open_counts,
    parse_cursor_key,
    queue_page,
    resolution_card,
    resolution_options,
    resolution_postings,
    store_ids,
)
from syncserver.ledger.accounts import MONEY_WRITTEN_OFF
from syncserver.ledger.hq_events import Resolution
from syncserver.ledger.stored_value import money_text
from syncserver.settings import utc_now
from syncserver.storage.users import Role
from syncserver.web.session import CheckedSession, ViewerPage, redirect, require_role
from syncserver.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50

FilterText = Annotated[str | None, Query(max_length=64)]
"""The queue's filter fields (kind, store, status, age) in a page's address."""

RESOLUTIONS: dict[str, str] = {
    "accept": "Accept",
    "write_off": "Write off",
    "adjust": "Adjust points",
    "block_card": "Block card",
    "recover": "Recover from the card",
}


def _filter(
    kind: str | None, store: str | None, status: str | None, older_than_hours: str | None
) -> ExceptionFilter:
    """The queue filter from query or form fields (an empty field means "any")."""
    kind = (kind or "").strip() or None
    if kind is not None and kind not in KINDS:
        raise MalformedError(f"kind: there is no exception kind {kind!r}; pick one from the list")
    status = (status or "").strip() or "open"
    if status not in STATUSES:
        raise MalformedError(f"status: {status!r} is not open, resolved or all")
    hours: int | None = None
    age = (older_than_hours or "").strip()
    if age:
        parsed = parse_digits(age, 87_600)
        if parsed is None or parsed < 1:
            raise MalformedError(f"older_than_hours: {age!r} is not a number of hours")
        hours = parsed
    return ExceptionFilter(
        kind=kind, store=(store or "").strip() or None, status=status, older_than_hours=hours
    )


def _with(path: str, flt: ExceptionFilter) -> str:
    params = flt.params()
    return f"{path}?{urlencode(params)}" if params else path


@router.get("/exceptions", response_class=HTMLResponse)
def queue(
    request: Request,
    session: ViewerPage,
    database: DatabaseDep,
    kind: FilterText = None,
    store: FilterText = None,
    status: FilterText = None,
    older_than_hours: FilterText = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = PAGE_SIZE,
) -> Response:
    flt = _filter(kind, store, status, older_than_hours)
    after = parse_cursor_key(decode_cursor(cursor, 2))
    now = utc_now()
    with database.read() as conn:
        rows = queue_page(conn, flt, limit=limit + 1, after=after, now=now)
        counts = open_counts(conn)
        stores = store_ids(conn)
    items, next_cursor = page_of(rows, limit, cursor_key)
    return render(
        request,
        "exceptions/queue.html",
        session,
        items=items,
        next_cursor=next_cursor,
        counts=counts,
        open_total=sum(counts.values()),
        kinds=KINDS,
        stores=stores,
        ages=AGES,
        statuses=STATUSES,
        flt=flt,
        keep=_with("", flt),
        now=now,
    )


@router.get("/exceptions/{exception_id}", response_class=HTMLResponse)
def detail(
    request: Request,
    exception_id: ExceptionIdPath,
    session: ViewerPage,
    database: DatabaseDep,
    kind: FilterText = None,
    store: FilterText = None,
    status: FilterText = None,
    older_than_hours: FilterText = None,
) -> Response:
    flt = _filter(kind, store, status, older_than_hours)
    context: dict[str, Any] = {}
    with database.read() as conn:
        item = exception_item(conn, exception_id)
        if item is None:
            raise NotFoundError(f"no exception {exception_id}: it may be on another server")
        options = resolution_options(conn, item)
        context["evidence"] = _pretty(item.evidence)
        if item.resolution_event_id is not None:
            context["legs"] = resolution_postings(conn, item.resolution_event_id)
            context["blocked_card"] = resolution_card(conn, item.resolution_event_id)
    return render(
        request,
        "exceptions/detail.html",
        session,
        item=item,
        options=options,
        can_resolve=session.user.can(Role.MANAGER),
        resolutions=RESOLUTIONS,
        flt=flt,
        back=_with("/exceptions", flt),
        now=utc_now(),
        **context,
    )


@router.post("/exceptions/{exception_id}/resolve")
def resolve(
    exception_id: ExceptionIdPath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
    resolution: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    points: Annotated[str, Form(max_length=32)] = "",
    card_number: Annotated[str, Form(max_length=64)] = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    store: Annotated[str, Form(max_length=64)] = "",
    status: Annotated[str, Form(max_length=16)] = "",
    older_than_hours: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    require_role(session, Role.MANAGER, "resolving an exception")
    flt = _filter(kind, store, status, older_than_hours)
    here = _with(f"/exceptions/{exception_id}", flt)
    try:
        chosen = _resolution(resolution)
        amount = _points(points) if chosen == "adjust" else None
        result = resolve_exception(
            database,
            session.actor,
            exception_id,
            chosen,
            reason,
            amount=amount,
            card_number=(card_number.strip() or None) if chosen == "block_card" else None,
        )
    except NotFoundError:
        raise
    except ApiError as error:
        return redirect(here, settings, f"Not resolved: {error.message}", error=True)
    with database.read() as conn:
        item = exception_item(conn, exception_id)
        assert item is not None
        following = next_open(conn, flt, item, utc_now())
    done = f"Exception #{exception_id} resolved: {_outcome(chosen, result, card_number)}."
    if following is None:
        return redirect(
            _with("/exceptions", flt), settings, f"{done} No open exceptions left in this view."
        )
    return redirect(
        _with(f"/exceptions/{following}", flt), settings, f"{done} Here is the next open one."
    )


def _pretty(evidence: str | None) -> str | None:
    """A refused record, indented for reading (as stored when it is not JSON)."""
    if evidence is None:
        return None
    try:
        return json.dumps(json.loads(evidence), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return evidence


def _outcome(chosen: Resolution, result: ActionResult, card_number: str) -> str:
    """What the resolution did, for the flash message."""
    if result.currency is not None:
        return _money_outcome(chosen, result)
    if chosen == "accept":
        return "accepted, no points moved"
    if chosen == "block_card":
        return f"card {card_number.strip()} blocked"
    if chosen == "write_off" and result.member_id is None:  # a suspense account cleared
        return f"written off, {abs(result.points):,} points held for the unknown card cleared"
    done = "written off" if chosen == "write_off" else "adjusted"
    return f"{done}, {result.points:+,} points onto member {result.member_id}"


def _money_outcome(chosen: Resolution, result: ActionResult) -> str:
    assert result.currency is not None
    if chosen == "write_off":
        moved = money_text(abs(result.money_minor), result.currency)
        return f"written off, {moved} to {MONEY_WRITTEN_OFF}"
    if chosen == "recover":
        return "left to recover: the card stays below zero and its next top-up pays it back"
    if chosen == "block_card":
        return f"gift card {result.gift_card} blocked"
    return "accepted, no money moved (the loss stands where the ledger put it)"


def _resolution(value: str) -> Resolution:
    if value == "accept":
        return "accept"
    if value == "write_off":
        return "write_off"
    if value == "adjust":
        return "adjust"
    if value == "block_card":
        return "block_card"
    if value == "recover":
        return "recover"
    raise MalformedError("choose a resolution: accept, write off, adjust, recover or block card")


def _points(value: str) -> int | None:
    text = value.strip().replace(",", "").replace("_", "")
    if not text:
        return None  # resolve_exception says what is missing
    try:
        return int(text)
    except ValueError:
        raise MalformedError(
            f"points: {value!r} is not a whole number (negative takes points off)"
        ) from None
