"""The exceptions queue as HQ reads it: filtered, keyset-paginated pages, open counts per
kind, one exception with what its resolution posted, and which resolutions apply to it.

Writes (resolving) are ``syncserver.hq.actions.resolve_exception``; what a write-off would
move is computed here (:func:`overdraft_write_off`, :func:`suspense_held`) so the form's
preview and the action agree. The exceptions table stays small next to members and postings
(one row per problem, not per sale), and the queue's filters run on its (status, kind) and
(status, created_at) indexes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, get_args

from sqlalchemy import Connection, Select, and_, func, or_, select

from shared.protocol import ExceptionKind
from syncserver.errors import MalformedError
from syncserver.hq.money_exceptions import (
    MoneyOptions,
    entry_currency,
    is_money_kind,
    money_options,
)
from syncserver.ledger.rewards import is_money_mismatch
from syncserver.ledger.stored_value import money_text
from syncserver.settings import as_utc
from syncserver.storage.journal import void_of
from syncserver.storage.schema import (
    cards,
    exceptions,
    hq_events,
    journal_entries,
    member_balances,
    members,
    postings,
    terminals,
)

__all__ = [
    "AGES",
    "KINDS",
    "STATUSES",
    "ExceptionFilter",
    "ExceptionItem",
    "PostingLine",
    "ResolutionOptions",
    "cursor_key",
    "exception_item",
    "next_open",
    "open_counts",
    "overdraft_write_off",
    "parse_cursor_key",
    "queue_page",
    "resolution_card",
    "resolution_options",
    "resolution_postings",
    "store_ids",
    "suspense_held",
]

KINDS: tuple[str, ...] = get_args(ExceptionKind)
"""Every kind sync and reconciliation raise (shared.protocol.ExceptionKind), in its order."""

STATUSES = ("open", "resolved", "all")

AGES = {1: "older than 1 hour", 24: "older than 24 hours", 168: "older than 7 days"}
"""The dashboard's age filter (``older_than_hours``); the API takes any number of hours."""

_NO_SEQ = 2**62
"""Larger than any stored seq (syncserver.sync.push.MAX_SEQ)."""


@dataclass(frozen=True, slots=True)
class ExceptionFilter:
    kind: str | None = None
    store: str | None = None
    status: str = "open"
    """``open``, ``resolved`` or ``all``."""
    older_than_hours: int | None = None

    def params(self) -> dict[str, str]:
        """The filter as dashboard query parameters (defaults left out)."""
        out: dict[str, str] = {}
        if self.kind:
            out["kind"] = self.kind
        if self.store:
            out["store"] = self.store
        if self.status != "open":
            out["status"] = self.status
        if self.older_than_hours:
            out["older_than_hours"] = str(self.older_than_hours)
        return out


@dataclass(frozen=True, slots=True)
class ExceptionItem:
    id: int
    kind: str
    status: str
    terminal_id: str | None
    store_id: str | None
    seq: int | None
    member_id: str | None
    amount: int
    detail: str
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    """Why: the reason HQ gave."""
    resolution_kind: str | None = None
    """How: accept, write_off, adjust or block_card."""
    resolution_event_id: int | None = None
    evidence: str | None = None
    """For a chain conflict, the refused record (only read for one exception)."""
    currency: str | None = None
    """For a money exception (vouchers, gift cards, store credit): ``amount`` is minor
    units of this currency, not points."""

    @property
    def is_money(self) -> bool:
        return is_money_kind(self.kind)

    @property
    def money_difference(self) -> bool:
        """A ``reward_mismatch`` about a discount: its amount is money, though the kind is
        about points (its resolutions are accept or block card)."""
        return is_money_mismatch(self.kind, self.detail)

    @property
    def amount_text(self) -> str:
        """ "€5.00" for a money exception, "500 points" for the others."""
        if self.is_money or self.money_difference:
            if self.currency is None:
                return f"{self.amount:,} (minor units)"
            return money_text(self.amount, self.currency)
        return f"{self.amount:,} points"

    def age(self, now: datetime) -> str:
        """How long it has been open (or was open), roughly: 5 min, 3 h, 2 d."""
        end = self.resolved_at or now
        minutes = max(0, int((end - self.created_at).total_seconds() // 60))
        if minutes < 60:
            return f"{minutes} min"
        if minutes < 48 * 60:
            return f"{minutes // 60} h"
        return f"{minutes // (24 * 60)} d"


_LIST_COLUMNS = (
    exceptions.c.id,
    exceptions.c.kind,
    exceptions.c.status,
    exceptions.c.terminal_id,
    terminals.c.store_id,
    exceptions.c.seq,
    exceptions.c.member_id,
    exceptions.c.amount,
    exceptions.c.detail,
    exceptions.c.created_at,
    exceptions.c.resolved_at,
    exceptions.c.resolved_by,
    exceptions.c.resolution,
    exceptions.c.resolution_kind,
    exceptions.c.resolution_event_id,
)

_FROM = exceptions.outerjoin(terminals, terminals.c.terminal_id == exceptions.c.terminal_id)


def _with_currency(conn: Connection, item: ExceptionItem) -> ExceptionItem:
    """A money exception with its entry's currency (one indexed look-up)."""
    if item.money_difference:  # a cash sale posts no money: the sale names its currency
        return replace(item, currency=_sale_currency(conn, item.terminal_id, item.seq))
    if not item.is_money:
        return item
    return replace(item, currency=entry_currency(conn, item.terminal_id, item.seq))


def _sale_currency(conn: Connection, terminal_id: str | None, seq: int | None) -> str | None:
    if terminal_id is None or seq is None:
        return None
    record = conn.execute(
        select(journal_entries.c.record).where(
            journal_entries.c.terminal_id == terminal_id, journal_entries.c.seq == seq
        )
    ).scalar_one_or_none()
    payload = json.loads(record).get("payload", {}) if record is not None else {}
    currency = payload.get("currency") if isinstance(payload, dict) else None
    return currency if isinstance(currency, str) else None


def _item(row: Any, evidence: str | None = None) -> ExceptionItem:
    created = as_utc(row.created_at)
    assert created is not None
    return ExceptionItem(
        id=int(row.id),
        kind=row.kind,
        status=row.status,
        terminal_id=row.terminal_id,
        store_id=row.store_id,
        seq=None if row.seq is None else int(row.seq),
        member_id=row.member_id,
        amount=int(row.amount),
        detail=row.detail,
        created_at=created,
        resolved_at=as_utc(row.resolved_at),
        resolved_by=row.resolved_by,
        resolution=row.resolution,
        resolution_kind=row.resolution_kind,
        resolution_event_id=None
        if row.resolution_event_id is None
        else int(row.resolution_event_id),
        evidence=evidence,
    )


def _filtered(query: Select[Any], flt: ExceptionFilter, now: datetime) -> Select[Any]:
    if flt.status != "all":
        query = query.where(exceptions.c.status == flt.status)
    if flt.kind:
        query = query.where(exceptions.c.kind == flt.kind)
    if flt.store:
        tills = select(terminals.c.terminal_id).where(terminals.c.store_id == flt.store)
        query = query.where(exceptions.c.terminal_id.in_(tills.scalar_subquery()))
    if flt.older_than_hours:
        query = query.where(exceptions.c.created_at < now - timedelta(hours=flt.older_than_hours))
    return query


def _after(created_at: datetime, exception_id: int) -> Any:
    return or_(
        exceptions.c.created_at > created_at,
        and_(exceptions.c.created_at == created_at, exceptions.c.id > exception_id),
    )


def cursor_key(item: ExceptionItem) -> tuple[str, int]:
    """The queue's sort key (oldest first), as a cursor holds it."""
    return item.created_at.isoformat(), item.id


def parse_cursor_key(key: list[Any] | None) -> tuple[datetime, int] | None:
    """The (created_at, id) a decoded cursor names; 422 when it is not one of ours."""
    if key is None:
        return None
    try:
        created, exception_id = key
        when = as_utc(datetime.fromisoformat(str(created)))
        if not isinstance(exception_id, int) or when is None:
            raise ValueError(exception_id)
    except (TypeError, ValueError, OverflowError):  # 0001-01-01+14:00 has no UTC form
        raise MalformedError(
            "cursor: not a cursor this list gave out; start from the first page"
        ) from None
    return when, exception_id


def queue_page(
    conn: Connection,
    flt: ExceptionFilter,
    *,
    limit: int,
    after: tuple[datetime, int] | None,
    now: datetime,
) -> list[ExceptionItem]:
    """Up to ``limit`` exceptions (fetch one more to know there is a next page), oldest
    first by (created_at, id), after the cursor's key."""
    query = _filtered(select(*_LIST_COLUMNS).select_from(_FROM), flt, now)
    if after is not None:
        query = query.where(_after(*after))
    query = query.order_by(exceptions.c.created_at, exceptions.c.id).limit(limit)
    return [_with_currency(conn, _item(row)) for row in conn.execute(query)]


def open_counts(conn: Connection) -> dict[str, int]:
    """Open exceptions per kind (kinds with none left out)."""
    rows = conn.execute(
        select(exceptions.c.kind, func.count())
        .where(exceptions.c.status == "open")
        .group_by(exceptions.c.kind)
    )
    return {row[0]: int(row[1]) for row in rows}


def exception_item(conn: Connection, exception_id: int) -> ExceptionItem | None:
    row = conn.execute(
        select(*_LIST_COLUMNS, exceptions.c.evidence)
        .select_from(_FROM)
        .where(exceptions.c.id == exception_id)
    ).first()
    return None if row is None else _with_currency(conn, _item(row, row.evidence))


def next_open(
    conn: Connection, flt: ExceptionFilter, current: ExceptionItem, now: datetime
) -> int | None:
    """The open exception to work on after ``current`` in the same filter: the next one in
    queue order, else the oldest one still open (one skipped earlier)."""
    base = _filtered(
        select(exceptions.c.id).where(exceptions.c.id != current.id),
        ExceptionFilter(flt.kind, flt.store, "open", flt.older_than_hours),
        now,
    )
    order = (exceptions.c.created_at, exceptions.c.id)
    later = conn.execute(
        base.where(_after(current.created_at, current.id)).order_by(*order).limit(1)
    ).scalar_one_or_none()
    if later is None:
        later = conn.execute(base.order_by(*order).limit(1)).scalar_one_or_none()
    return None if later is None else int(later)


def store_ids(conn: Connection) -> list[str]:
    """Stores that have tills (the store filter's choices; a few hundred at most)."""
    rows = conn.execute(select(terminals.c.store_id).distinct().order_by(terminals.c.store_id))
    return [row[0] for row in rows]


# --- what a resolution posted --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostingLine:
    line: int
    account: str
    member_id: str | None
    amount: int
    kind: str
    occurred_at: str
    unit: str = "points"

    @property
    def amount_text(self) -> str:
        """ "+12" (points) or "+€5.00" (money)."""
        if self.unit == "points":
            return f"{self.amount:+,}"
        return ("+" if self.amount > 0 else "") + money_text(self.amount, self.unit)


def resolution_postings(conn: Connection, hq_event_id: int) -> list[PostingLine]:
    rows = conn.execute(
        select(
            postings.c.line,
            postings.c.account,
            postings.c.member_id,
            postings.c.amount,
            postings.c.kind,
            postings.c.occurred_at,
            postings.c.unit,
        )
        .where(postings.c.hq_event_id == hq_event_id)
        .order_by(postings.c.line)
    )
    return [
        PostingLine(
            int(r.line), r.account, r.member_id, int(r.amount), r.kind, r.occurred_at, r.unit
        )
        for r in rows
    ]


def resolution_card(conn: Connection, hq_event_id: int) -> str | None:
    """The card a ``block_card`` resolution blocked (from its HQ event): a member's card, or
    for a money exception the gift card."""
    record = conn.execute(
        select(hq_events.c.record).where(hq_events.c.id == hq_event_id)
    ).scalar_one_or_none()
    if record is None:
        return None
    event = json.loads(record)
    card = event.get("card_number") or event.get("gift_card_number")
    return card if isinstance(card, str) else None


# --- which resolutions apply -----------------------------------------------------------------


def overdraft_write_off(amount: int, balance: int) -> int:
    """Points a write-off of an overdraft of ``amount`` credits a member at ``balance``:
    what is still owed of it (later earnings and earlier write-offs have repaid the rest)."""
    return max(0, min(amount, -balance))


def suspense_held(conn: Connection, terminal_id: str, seq: int) -> tuple[str, int] | None:
    """(suspense account, points) entry (terminal_id, seq) still holds for a card no member
    owns: its own postings there, net of the void of it (a void reverses them); None when
    it holds nothing. Returns on the same card raise exceptions of their own."""
    seqs = [seq]
    voided_by = void_of(conn, terminal_id, seq, _NO_SEQ)
    if voided_by is not None:
        seqs.append(voided_by)
    rows = conn.execute(
        select(postings.c.account, func.sum(postings.c.amount))
        .where(
            postings.c.terminal_id == terminal_id,
            postings.c.seq.in_(seqs),
            postings.c.account.like("suspense:%"),
            postings.c.unit == "points",
        )
        .group_by(postings.c.account)
    ).all()
    held = [(str(r[0]), int(r[1])) for r in rows if int(r[1]) != 0]
    return held[0] if len(held) == 1 else None


@dataclass(frozen=True, slots=True)
class ResolutionOptions:
    """What HQ may do with one open exception (accept always applies)."""

    write_off: int | None
    """Points a write-off would move onto the member (overdraft) or off the suspense
    account (unknown card); None when write off does not apply."""
    write_off_account: str | None
    adjust: bool
    cards: list[str] = field(default_factory=list)
    """The member's active cards: block card applies when there is one."""
    balance: int | None = None
    """The member's balance now, when the exception has a member."""
    member_name: str | None = None
    why_no_write_off: str | None = None
    money: MoneyOptions | None = None
    """For a money exception: its resolutions (accept, write off, recover, block the gift
    card), the account and currency; the points fields above are then empty."""

    @property
    def names(self) -> list[str]:
        if self.money is not None:
            return self.money.names
        out = ["accept"]
        if self.write_off is not None:
            out.append("write_off")
        if self.adjust:
            out.append("adjust")
        if self.cards:
            out.append("block_card")
        return out


def resolution_options(conn: Connection, item: ExceptionItem) -> ResolutionOptions:
    """The resolutions ``resolve_exception`` would accept for ``item`` now (read without
    locks: the action checks again under them)."""
    if item.is_money:
        money = money_options(
            conn, item.kind, item.terminal_id, item.seq, item.member_id, item.amount, item.detail
        )
        return ResolutionOptions(
            write_off=None,
            write_off_account=None,
            adjust=False,
            why_no_write_off=money.why_no_write_off,
            money=money,
        )
    balance = name = None
    active: list[str] = []
    if item.member_id is not None:
        found = conn.execute(
            select(members.c.name, member_balances.c.points)
            .select_from(members.outerjoin(member_balances))
            .where(members.c.member_id == item.member_id)
        ).first()
        if found is not None:
            name, balance = found.name, int(found.points or 0)
        active = [
            row[0]
            for row in conn.execute(
                select(cards.c.card_number)
                .where(cards.c.member_id == item.member_id, cards.c.status == "active")
                .order_by(cards.c.card_number)
            )
        ]
    write_off: int | None = None
    account: str | None = None
    why: str | None = None
    if item.kind == "offline_overdraft" and item.member_id is not None and balance is not None:
        owed = overdraft_write_off(item.amount, balance)
        if owed:
            write_off, account = owed, f"member:{item.member_id}"
        else:
            why = f"member {item.member_id} is no longer below zero: nothing left to write off"
    elif item.kind == "unknown_card" and item.member_id is None and item.terminal_id:
        held = suspense_held(conn, item.terminal_id, item.seq or 0)
        if held is not None:
            account, write_off = held[0], -held[1]
        else:
            why = "no points are held on a suspense account for this entry"
    return ResolutionOptions(
        write_off=write_off,
        write_off_account=account,
        adjust=item.member_id is not None and not item.money_difference,
        cards=active if item.member_id is not None else [],
        balance=balance,
        member_name=name,
        why_no_write_off=why,
    )
