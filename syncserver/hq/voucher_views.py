"""HQ's reading of vouchers: search by code (any case, with or without dashes), filters by
status and member, one voucher with who issued it, where it was redeemed and its postings,
and a money account's postings (shared with the gift card pages).

Pure read queries, each taking a connection; the writes are HQ actions
(``syncserver.hq.vouchers``). A voucher's money lives in ``postings`` on the account
``voucher:<code>`` with the program's currency as the unit (docs/vouchers.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Row, and_, func, or_, select

from shared.codes.checks import VOUCHER_ALPHABET, voucher_code_valid
from shared.codes.results import canonical_voucher
from shared.money import Money
from syncserver.api.pagination import decode_cursor, page_of
from syncserver.hq.members import HqSource, TillSource, _hq_sources, _till_sources
from syncserver.storage.schema import postings, vouchers

__all__ = [
    "STATUSES",
    "CodeSearch",
    "MoneyPosting",
    "VoucherDetail",
    "VoucherSummary",
    "account_history",
    "classify_code",
    "money_text",
    "search_vouchers",
    "voucher_account",
    "voucher_detail",
]

STATUSES = ("issued", "redeemed", "expired", "voided")
"""A voucher's states (``vouchers.status``)."""

_SYMBOLS = 12
"""A voucher code's symbols after the V: 11 random and one check symbol (shared.codes)."""


def money_text(minor: int | None, currency: str) -> str:
    """Minor units as a receipt shows them ("€5.00"); the plain number if the currency is
    not one the program knows."""
    if minor is None:
        return "—"
    try:
        return Money(minor, currency).format()
    except (ValueError, TypeError):
        return f"{minor:,} {currency} (minor units)"


def voucher_account(code: str) -> str:
    return f"voucher:{code}"


# --- search -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeSearch:
    """What a code typed into the search box asks for."""

    kind: Literal["all", "code", "prefix", "invalid"]
    value: str = ""
    """The canonical code, the canonical beginning of codes, or what was wrong."""


def classify_code(text: str | None) -> CodeSearch:
    """A code or the beginning of one, any case, with or without dashes and spaces, with or
    without the leading V: ``v-abcd-efgh-jk23``, ``VABCDEFGHJK23``, ``abcd efgh`` all work.
    A whole code whose check symbol fails (a typo) is said to be invalid rather than not
    found."""
    compact = (text or "").strip().replace("-", "").replace(" ", "").upper()
    if not compact:
        return CodeSearch("all")
    # Every code starts with V; so does a third of the alphabet. Thirteen symbols starting
    # with V are the whole code with its V; otherwise a leading V is the V only when it was
    # typed as "V-" / "V ".
    typed = (text or "").strip().upper()
    whole_with_v = len(compact) == _SYMBOLS + 1 and compact.startswith("V")
    v_typed = typed[:2] in ("V-", "V ") or compact == "V"
    symbols = compact[1:] if whole_with_v or v_typed else compact
    wrong = next((c for c in symbols if c not in VOUCHER_ALPHABET), None)
    if wrong is not None:
        hint = " (codes have no 0, 1, I, L or O)" if wrong in "01ILO" else ""
        return CodeSearch("invalid", f"{wrong!r} is not a voucher code symbol{hint}")
    if len(symbols) > _SYMBOLS:
        return CodeSearch("invalid", f"a voucher code has {_SYMBOLS} symbols after the V")
    if len(symbols) == _SYMBOLS:
        if not voucher_code_valid(symbols):
            return CodeSearch(
                "invalid", "this code fails its check symbol: a symbol is mistyped or swapped"
            )
        return CodeSearch("code", canonical_voucher(symbols))
    return CodeSearch("prefix", canonical_voucher(symbols) if symbols else "V-")


class VoucherSummary(BaseModel):
    code: str = Field(description="Canonical form V-XXXX-XXXX-XXXX.")
    status: str = Field(description="issued, redeemed, expired or voided.")
    past_expiry: bool = Field(
        description="Still issued but past its last day (the nightly run expires it)."
    )
    value_minor: int = Field(
        description="Fixed value in minor units; for a percent voucher its cap (0: no cap)."
    )
    percent_bp: int | None = Field(description="Percent off in basis points (1000 = 10 %).")
    min_spend_minor: int
    min_spend_text: str = Field(description='For people: "€20.00", or "none".')
    currency: str
    value_text: str = Field(description='For people: "€5.00 off" or "10 % off (at most €20.00)".')
    expires_on: date | None = Field(description="The last day it can be used; null: no end.")
    member_id: str | None = Field(description="Only this member may use it; null: anyone.")
    source: str = Field(description="hq, reward:<id> or campaign:<id>.")
    issued_at: str


class VoucherDetail(VoucherSummary):
    issued_by: TillSource | HqSource | None = Field(
        description="The till entry (a reward or campaign) or the HQ event that issued it."
    )
    redeemed_at: str | None
    redeemed: TillSource | None = Field(description="The sale that redeemed it (first use).")
    discount_minor: int | None = Field(description="What that sale took off.")


class MoneyPosting(BaseModel):
    """One posting on a money account (a gift card, a voucher, a member's store credit)."""

    id: int
    occurred_at: str
    kind: str
    amount_minor: int = Field(description="Signed minor units: positive onto the account.")
    currency: str
    amount_text: str
    balance_after_minor: int = Field(description="The account's balance after it, in time order.")
    till: TillSource | None = None
    hq: HqSource | None = None


def _value_text(value_minor: int, percent_bp: int | None, currency: str) -> str:
    if percent_bp is None:
        return f"{money_text(value_minor, currency)} off"
    whole, rest = divmod(percent_bp, 100)
    percent = f"{whole}" if not rest else f"{whole}.{rest:02d}".rstrip("0")
    cap = f" (at most {money_text(value_minor, currency)})" if value_minor else ""
    return f"{percent} % off{cap}"


def _summary_fields(row: Row[Any], today: date) -> dict[str, Any]:
    expires = date.fromisoformat(row.expires_on) if row.expires_on else None
    return {
        "code": row.code,
        "status": row.status,
        "past_expiry": row.status == "issued" and expires is not None and expires < today,
        "value_minor": int(row.value_minor),
        "percent_bp": row.percent_bp,
        "min_spend_minor": int(row.min_spend_minor),
        "min_spend_text": money_text(int(row.min_spend_minor), row.currency)
        if row.min_spend_minor
        else "none",
        "currency": row.currency,
        "value_text": _value_text(int(row.value_minor), row.percent_bp, row.currency),
        "expires_on": expires,
        "member_id": row.member_id,
        "source": row.source,
        "issued_at": row.issued_at,
    }


def search_vouchers(
    conn: Connection,
    search: CodeSearch,
    *,
    status: str | None,
    member_id: str | None,
    today: date,
    limit: int,
    cursor: str | None,
) -> tuple[list[VoucherSummary], str | None]:
    """Vouchers matching the code search and filters, by code (keyset: a page costs the same
    wherever it is). A whole code is one primary-key lookup; the beginning of a code a range
    of it."""
    if search.kind == "invalid":
        return [], None
    after = decode_cursor(cursor, 1)
    query = select(vouchers)
    if search.kind == "code":
        query = query.where(vouchers.c.code == search.value)
    elif search.kind == "prefix" and search.value != "V-":
        # The alphabet has no LIKE wildcard, so the canonical prefix is a plain prefix.
        query = query.where(vouchers.c.code.like(f"{search.value}%"))
    if status:
        query = query.where(vouchers.c.status == status)
    if member_id:
        query = query.where(vouchers.c.member_id == member_id)
    if after is not None:
        query = query.where(vouchers.c.code > str(after[0]))
    rows = conn.execute(query.order_by(vouchers.c.code).limit(limit + 1)).all()
    page, next_cursor = page_of(rows, limit, lambda row: (row.code,))
    return [VoucherSummary(**_summary_fields(row, today)) for row in page], next_cursor


def voucher_detail(conn: Connection, code: str, today: date) -> VoucherDetail | None:
    row = conn.execute(select(vouchers).where(vouchers.c.code == code)).first()
    if row is None:
        return None
    issued_by: TillSource | HqSource | None = None
    if row.issued_terminal is not None and row.issued_seq is not None:
        key = (row.issued_terminal, int(row.issued_seq))
        issued_by = _till_sources(conn, {key})[key]
    elif row.hq_event_id is not None:
        issued_by = _hq_sources(conn, {int(row.hq_event_id)})[int(row.hq_event_id)]
    redeemed = None
    if row.redeemed_terminal is not None and row.redeemed_seq is not None:
        key = (row.redeemed_terminal, int(row.redeemed_seq))
        redeemed = _till_sources(conn, {key})[key]
    return VoucherDetail(
        **_summary_fields(row, today),
        issued_by=issued_by,
        redeemed_at=row.redeemed_at,
        redeemed=redeemed,
        discount_minor=int(row.discount_minor) if row.discount_minor is not None else None,
    )


# --- a money account's postings ------------------------------------------------------------


def account_history(
    conn: Connection, account: str, limit: int, cursor: str | None
) -> tuple[list[MoneyPosting], str | None]:
    """The account's postings newest first (when it happened, ties by arrival), each with
    the balance after it and the till entry or HQ event behind it: one range of the
    ``postings (account, id)`` index, the running balance a window sum in the same
    statement (so every page is right wherever it starts)."""
    after = decode_cursor(cursor, 2)
    running = (
        func.sum(postings.c.amount)
        .over(
            partition_by=postings.c.unit,
            order_by=(postings.c.occurred_at, postings.c.id),
            rows=(None, 0),
        )
        .label("balance_after")
    )
    history = (
        select(
            postings.c.id,
            postings.c.occurred_at,
            postings.c.kind,
            postings.c.amount,
            postings.c.unit,
            postings.c.terminal_id,
            postings.c.seq,
            postings.c.hq_event_id,
            running,
        )
        .where(postings.c.account == account)
        .subquery()
    )
    query = select(history)
    if after is not None:
        at, before_id = str(after[0]), after[1]
        if not isinstance(before_id, int):
            before_id = 0
        query = query.where(
            or_(
                history.c.occurred_at < at,
                and_(history.c.occurred_at == at, history.c.id < before_id),
            )
        )
    rows = conn.execute(
        query.order_by(history.c.occurred_at.desc(), history.c.id.desc()).limit(limit + 1)
    ).all()
    page, next_cursor = page_of(rows, limit, lambda row: (row.occurred_at, int(row.id)))
    tills = _till_sources(
        conn, {(row.terminal_id, int(row.seq)) for row in page if row.terminal_id is not None}
    )
    events = _hq_sources(
        conn, {int(row.hq_event_id) for row in page if row.hq_event_id is not None}
    )
    return [
        MoneyPosting(
            id=int(row.id),
            occurred_at=row.occurred_at,
            kind=row.kind,
            amount_minor=int(row.amount),
            currency=row.unit,
            amount_text=money_text(int(row.amount), row.unit),
            balance_after_minor=int(row.balance_after),
            till=tills.get((row.terminal_id, int(row.seq)))
            if row.terminal_id is not None
            else None,
            hq=events.get(int(row.hq_event_id)) if row.hq_event_id is not None else None,
        )
        for row in page
    ], next_cursor
