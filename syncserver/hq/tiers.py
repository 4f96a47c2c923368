"""What HQ reads about tiers and points lots: a member's tier status and tier history, the
member's lots, and the overview's expiry forecast (docs/hq.md, "Tiers and points lots").

Everything here reads what the ledger keeps (syncserver.ledger, docs/ledger.md): the tier
columns of ``members``, ``tier_changes``, ``member_activity`` and ``member_lots`` (one
:class:`~shared.points.lots.LotBook` per member). The figures are computed with the same
functions the till and the review use (``shared.points.tiers``), against the newest published
rules version — the one tills pull and reviews apply.

Cost: a member's status is a primary-key read plus one range of ``member_activity``'s
primary key (member, day) over the qualifying window; the history is a keyset range of
``tier_changes (member_id, id)``; the lots are one row. The expiry forecast is the one full
read: every book whose earliest expiry falls inside the next 12 months (the
``member_lots.next_expiry`` index range), parsed in Python — about 10 µs a book.
``bench/expiry_forecast_bench.py`` with 1,000,000 members (836,470 books to read): 8–9 s on
PostgreSQL, 32–48 s on SQLite (a 2-core machine busy with other work). The overview
therefore computes it in its background cache (syncserver.hq.overview), never per request
on a large program.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Connection, func, select

from shared.points.lots import LotBook, add_months
from shared.points.tiers import describe_total, progress, qualifying_window
from shared.rules.model import ExpiryRules, ProgramRules, TierQualification
from syncserver.api.pagination import Page, decode_cursor, page_of
from syncserver.storage.rules import latest_version
from syncserver.storage.schema import member_activity, member_lots, members, tier_changes

__all__ = [
    "FORECAST_MONTHS",
    "ExpiringView",
    "ExpiryMonth",
    "Forecast",
    "LotView",
    "LotsPage",
    "QualifyingFigure",
    "TierChangeView",
    "TierHistoryPage",
    "TierProgress",
    "TierStatus",
    "current_rules",
    "expiry_forecast",
    "expiry_sentence",
    "forecast_horizon",
    "forecast_months",
    "forecast_of_book",
    "lot_source",
    "member_lots_page",
    "member_tiers",
    "month_label",
    "qualification_sentence",
    "qualifying_total",
    "tier_history",
    "tier_status",
]

log = logging.getLogger(__name__)

FORECAST_MONTHS = 12
"""The overview forecasts this many calendar months, the current one first."""

Metric = Literal["points", "spend", "visits"]


# ------------------------------------------------------------------------------------------
# Rules in plain language (the program summary, the member page and the overview say the same)

_METRIC_WORDS = {"points": "points earned", "spend": "spend", "visits": "visits"}


def qualification_sentence(q: TierQualification) -> str:
    """ "Tiers: by points earned in the last 12 months; review with 3 months' grace"."""
    if q.period == "calendar_year":
        window, review = "in the calendar year", "review on 1 January"
    else:
        months = q.window_months
        window = f"in the last {months} month{'s' if months != 1 else ''}"
        review = f"review {months} month{'s' if months != 1 else ''} after a tier is reached"
    grace = (
        f"with {q.grace_months} month{'s' if q.grace_months != 1 else ''}' grace"
        if q.grace_months
        else "without grace"
    )
    sentence = f"Tiers: by {_METRIC_WORDS[q.metric]} {window}; {review}, {grace}"
    if q.one_tier_down:
        sentence += "; at most one tier down per review"
    return sentence + "."


def _ordinal_year(years: int) -> str:
    if years == 0:
        return "of the year they are earned"
    if years == 1:
        return "of the year after they are earned"
    return f"{years} years after the year they are earned"


def expiry_sentence(rules: ExpiryRules) -> str:
    """ "Points expire 12 months after they are earned", "Points never expire", …"""
    months = rules.months or 0
    plural = "s" if months != 1 else ""
    if rules.mode == "months_after_earn":
        return f"Points expire {months} month{plural} after they are earned."
    if rules.mode == "end_of_year":
        return f"Points expire on 31 December {_ordinal_year(rules.years)}."
    if rules.mode == "inactivity":
        return (
            f"All of a member's points expire {months} month{plural} after their last visit "
            "(any visit extends them)."
        )
    return "Points never expire."


# ------------------------------------------------------------------------------------------
# Result models (API responses and what the dashboard renders)


class QualifyingFigure(BaseModel):
    """What counts towards a tier now: the metric summed over the qualifying window."""

    metric: Metric
    window_start: date = Field(description="First day of the window (inclusive).")
    window_end: date = Field(description="Last day of the window (inclusive): today, UTC.")
    total: int = Field(description="In the metric's unit: points, minor units, or visits.")
    text: str = Field(description='For people: "2,512 pts in the last 12 months".')


class TierProgress(BaseModel):
    next_tier: str | None = Field(description="The next tier's code; null at the top.")
    next_tier_name: str | None = None
    threshold: int | None = Field(default=None, description="The next tier's threshold.")
    threshold_text: str | None = Field(default=None, description='e.g. "2,500 pts", "€500.00".')
    needed: int = Field(description="Still needed in the window (0 at the top).")
    percent: int = Field(ge=0, le=100, description="Of the next tier's threshold, 0–100.")
    text: str = Field(description='"488 pts to Gold", "top tier".')


class TierStatus(BaseModel):
    """A member's tier now and how it is held (docs/rules.md, "Tiers")."""

    member_id: str
    tier: str | None = Field(description="The tier code HQ holds for the member.")
    tier_name: str | None = Field(description="Its name in the newest rules (else the code).")
    perks: list[str] = []
    since: date | None = Field(description="The day the tier was reached or last kept.")
    review_on: date | None = Field(
        description="The next review (null: the base tier or no tier, nothing to review)."
    )
    grace: bool = Field(description="Held on grace: reviewed again (and then moved) on review_on.")
    grace_until: date | None = Field(description="When on grace: the day the grace ends.")
    rules_version: int | None = Field(description="The rules version the figures use.")
    qualification: str | None = Field(
        description='The program\'s rule, e.g. "Tiers: by points earned in the last 12 months; …".'
    )
    qualifying: QualifyingFigure | None = None
    progress: TierProgress | None = None


class TierChangeView(BaseModel):
    """One row of the member's tier history."""

    id: int
    effective_on: date
    kind: str = Field(description="upgrade, review, import or set.")
    from_tier: str | None
    from_name: str | None
    to_tier: str | None
    to_name: str | None
    reason: str = Field(description='e.g. "qualified: 2,512 of 2,500 pts in 12 months".')
    terminal_id: str | None = Field(description="The till entry that caused it, if any.")
    seq: int | None
    hq_event_id: int | None = Field(description="The HQ event (a review, an import), if any.")


class TierHistoryPage(Page[TierChangeView]):
    """The member's tier status, and their tier changes newest first (keyset by id)."""

    status: TierStatus


class LotView(BaseModel):
    """Points credited on one day by one till entry or HQ event."""

    earned_on: date
    expires_on: date | None = Field(description="Last usable day; null while it does not expire.")
    amount: int = Field(description="Points the lot was credited with.")
    remaining: int = Field(description="Points of it the member still holds.")
    expired: int = Field(description="Points of it an expiry run moved to program:expired.")
    ref: str = Field(description='Its source: "T0001#12" (a till entry) or "hq:5" (an HQ event).')


class ExpiringView(BaseModel):
    on: date = Field(description="The last day these points can be used.")
    points: int


class LotsPage(Page[LotView]):
    """The member's lots, oldest (used first) first, keyset-paginated; the summary covers all
    of them."""

    balance: int = Field(description="What the lots hold, less what the member owes.")
    owed: int = Field(description="Points debited that no lot covered (an overdraft).")
    next_expiry: date | None = Field(description="The earliest day some points are last usable.")
    expiring: list[ExpiringView] = Field(
        description="Points by the day they expire, soonest first (at most 12 days)."
    )
    expiry_rule: str | None = Field(description="The program's expiry rule, in words.")


class ExpiryMonth(BaseModel):
    month: str = Field(description='A calendar month, "2027-01".', pattern=r"^\d{4}-\d{2}$")
    points: int = Field(description="Points whose last usable day falls in that month.")


# ------------------------------------------------------------------------------------------
# Reads


def current_rules(conn: Connection) -> tuple[int, ProgramRules] | None:
    """The newest published rules version: the one tills pull and reviews apply."""
    latest = latest_version(conn)
    return None if latest is None else (latest.version, latest.rules)


def qualifying_total(
    conn: Connection, member_id: str, metric: Metric, start: date, end: date
) -> int:
    """The member's ``metric`` summed over days in [start, end): one range of
    ``member_activity``'s primary key."""
    column = {
        "points": member_activity.c.points,
        "spend": member_activity.c.spend_minor,
        "visits": member_activity.c.visits,
    }[metric]
    total = conn.execute(
        select(func.coalesce(func.sum(column), 0)).where(
            member_activity.c.member_id == member_id,
            member_activity.c.day >= start.isoformat(),
            member_activity.c.day < end.isoformat(),
        )
    ).scalar_one()
    return int(total)


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _window_words(q: TierQualification) -> str:
    if q.period == "calendar_year":
        return "this calendar year"
    return f"the last {q.window_months} month{'s' if q.window_months != 1 else ''}"


def tier_status(conn: Connection, member_id: str, today: date) -> TierStatus | None:
    """The member's tier, how it is held, and progress to the next one as of ``today``;
    None when there is no such member."""
    row = conn.execute(
        select(
            members.c.tier,
            members.c.tier_since,
            members.c.tier_review_on,
            members.c.tier_grace,
        ).where(members.c.member_id == member_id)
    ).first()
    if row is None:
        return None
    code: str | None = row.tier or None
    review_on = _day(row.tier_review_on)
    grace = bool(row.tier_grace)
    found = current_rules(conn)
    status = TierStatus(
        member_id=member_id,
        tier=code,
        tier_name=code,
        since=_day(row.tier_since),
        review_on=review_on,
        grace=grace,
        grace_until=review_on if grace else None,
        rules_version=None,
        qualification=None,
    )
    if found is None:
        return status
    version, rules = found
    tier = rules.tier(code) if code else None
    q = rules.tier_qualification
    start, end = qualifying_window(q, today)
    total = qualifying_total(conn, member_id, q.metric, start, end)
    qualifying = QualifyingFigure(
        metric=q.metric,
        window_start=start,
        window_end=today,
        total=total,
        text=f"{describe_total(rules, total)} in {_window_words(q)}",
    )
    ahead = progress(rules, code, total, today)
    target = ahead.next_tier
    percent = 100
    if target is not None and target.threshold_points > 0:
        percent = min(100, total * 100 // target.threshold_points)
    return status.model_copy(
        update={
            "tier_name": tier.name if tier else code,
            "perks": list(tier.perks) if tier else [],
            "rules_version": version,
            "qualification": qualification_sentence(q) if rules.tiers else None,
            "qualifying": qualifying if rules.tiers else None,
            "progress": TierProgress(
                next_tier=target.code if target else None,
                next_tier_name=target.name if target else None,
                threshold=target.threshold_points if target else None,
                threshold_text=describe_total(rules, target.threshold_points) if target else None,
                needed=ahead.needed,
                percent=percent,
                text=ahead.text,
            )
            if rules.tiers
            else None,
        }
    )


def _names(conn: Connection) -> dict[str, str]:
    found = current_rules(conn)
    return {t.code: t.name for t in found[1].tiers} if found else {}


def tier_history(
    conn: Connection, member_id: str, limit: int, cursor: str | None
) -> tuple[list[TierChangeView], str | None]:
    """The member's tier changes, newest first: a keyset range of ``(member_id, id)``."""
    after = decode_cursor(cursor, 1)
    query = select(tier_changes).where(tier_changes.c.member_id == member_id)
    if after is not None:
        if not isinstance(after[0], int):
            after = [0]
        query = query.where(tier_changes.c.id < int(after[0]))
    rows = conn.execute(query.order_by(tier_changes.c.id.desc()).limit(limit + 1)).all()
    page, next_cursor = page_of(rows, limit, lambda row: (int(row.id),))
    names = _names(conn) if page else {}

    def name(code: str | None) -> str | None:
        return names.get(code, code) if code else None

    return [
        TierChangeView(
            id=int(row.id),
            effective_on=_day(row.effective_on) or date.min,
            kind=row.kind,
            from_tier=row.from_tier,
            from_name=name(row.from_tier),
            to_tier=row.to_tier,
            to_name=name(row.to_tier),
            reason=row.reason,
            terminal_id=row.terminal_id,
            seq=None if row.seq is None else int(row.seq),
            hq_event_id=None if row.hq_event_id is None else int(row.hq_event_id),
        )
        for row in page
    ], next_cursor


def member_tiers(
    conn: Connection, member_id: str, today: date, limit: int, cursor: str | None
) -> TierHistoryPage | None:
    status = tier_status(conn, member_id, today)
    if status is None:
        return None
    items, next_cursor = tier_history(conn, member_id, limit, cursor)
    return TierHistoryPage(items=items, next_cursor=next_cursor, status=status)


def _book(conn: Connection, member_id: str) -> LotBook:
    text = conn.execute(
        select(member_lots.c.book).where(member_lots.c.member_id == member_id)
    ).scalar_one_or_none()
    return LotBook.from_json(text)


def member_lots_page(
    conn: Connection, member_id: str, limit: int, cursor: str | None
) -> LotsPage | None:
    """The member's lots in FIFO order (the next redemption takes the first), a page at a
    time by (earned_on, ref); None when there is no such member. A member the ledger has not
    given a book yet has no lots."""
    exists = conn.execute(
        select(members.c.member_id).where(members.c.member_id == member_id)
    ).first()
    if exists is None:
        return None
    book = _book(conn, member_id)
    after = decode_cursor(cursor, 2)
    lots = list(book.lots)
    if after is not None:
        key = (str(after[0]), str(after[1]))
        lots = [lot for lot in lots if (lot.earned_on.isoformat(), lot.ref) > key]
    page, next_cursor = page_of(
        lots[: limit + 1], limit, lambda lot: (lot.earned_on.isoformat(), lot.ref)
    )
    found = current_rules(conn)
    expiry = found[1].expiry if found else ExpiryRules()
    return LotsPage(
        items=[
            LotView(
                earned_on=lot.earned_on,
                expires_on=lot.expires_on,
                amount=lot.amount,
                remaining=lot.remaining,
                expired=lot.expired,
                ref=lot.ref,
            )
            for lot in page
        ],
        next_cursor=next_cursor,
        balance=book.balance,
        owed=sum(debt.amount for debt in book.debts),
        next_expiry=book.next_expiry(expiry),
        expiring=[ExpiringView(on=on, points=points) for on, points in book.expiring(expiry)],
        expiry_rule=expiry_sentence(expiry) if found else None,
    )


_TILL_REF = re.compile(r"^([A-Za-z0-9_.-]{1,16})#(\d{1,19})$")


def lot_source(ref: str) -> tuple[str, int] | None:
    """(terminal, seq) of a lot credited by a till entry ("T0001#12"), else None."""
    found = _TILL_REF.fullmatch(ref)
    return (found.group(1), int(found.group(2))) if found else None


# ------------------------------------------------------------------------------------------
# The expiry forecast (overview)


def forecast_months(today: date, count: int = FORECAST_MONTHS) -> list[str]:
    """The calendar months of the forecast, "2026-12" first."""
    first = today.replace(day=1)
    return [add_months(first, n).isoformat()[:7] for n in range(count)]


def forecast_horizon(today: date, count: int = FORECAST_MONTHS) -> str:
    """The first day after the forecast's months (ISO): books expiring before it are read."""
    return add_months(today.replace(day=1), count).isoformat()


def forecast_of_book(
    text: str, months: Sequence[str], expiry: ExpiryRules, today: date
) -> dict[str, int]:
    """Points of one stored book (``member_lots.book``) by the month they expire, within
    ``months``: what :meth:`LotBook.expiring` says, summed by month. Points whose day has
    passed but which no run has expired yet (it runs daily) count in the first month.

    Read straight from the JSON for speed: a forecast reads every book. ``inactivity`` mode
    (where the day depends on the last visit) goes through LotBook itself."""
    if expiry.mode == "inactivity":
        by_day = LotBook.from_json(text).expiring(expiry, limit=1_000_000)
        by_month: dict[str, int] = {}
        for day, points in by_day:
            month = max(day.isoformat()[:7], months[0])
            if month <= months[-1]:
                by_month[month] = by_month.get(month, 0) + points
        return by_month
    data: dict[str, Any] = json.loads(text)
    months_held: dict[str, int] = {}
    for lot in data.get("l", ()):
        # [earned_on, expires_on, amount, remaining, expired, ref]
        if lot[3] and lot[1]:
            month = lot[1][:7]
            months_held[month] = months_held.get(month, 0) + int(lot[3])
    # Debts are taken off the soonest points first (as LotBook.expiring does, by day; the
    # soonest days are in the soonest months, so doing it by month gives the same sums).
    owed = sum(int(amount) for _, amount in data.get("d", ()))
    out: dict[str, int] = {}
    for month in sorted(months_held):
        points = months_held[month]
        paid = min(owed, points)
        owed -= paid
        left = points - paid
        key = max(month, months[0])
        if left > 0 and key <= months[-1]:
            out[key] = out.get(key, 0) + left
    return out


@dataclass(frozen=True, slots=True)
class Forecast:
    """Points expiring per month over the next :data:`FORECAST_MONTHS` months."""

    months: list[tuple[str, int]]
    books: int
    """Books read (members with something expiring in the window)."""

    @property
    def total(self) -> int:
        return sum(points for _, points in self.months)


def expiry_forecast(conn: Connection, today: date, expiry: ExpiryRules | None = None) -> Forecast:
    """Points expiring in each of the next 12 calendar months (the current one first), from
    every member's book whose earliest expiry is before the window's end (the
    ``member_lots.next_expiry`` index range; streamed, so a million books never sit in
    memory at once). ``expiry``: the rules' (default: the newest published version's)."""
    months = forecast_months(today)
    if expiry is None:
        found = current_rules(conn)
        expiry = found[1].expiry if found else ExpiryRules()
    horizon = forecast_horizon(today)
    rows = conn.execute(
        select(member_lots.c.book)
        .where(member_lots.c.next_expiry.is_not(None), member_lots.c.next_expiry < horizon)
        .execution_options(yield_per=5000)  # streamed: a server-side cursor on PostgreSQL
    )
    totals = dict.fromkeys(months, 0)
    books = unreadable = 0
    for (text,) in rows:
        books += 1
        try:
            by_month = forecast_of_book(text, months, expiry, today)
        except (ValueError, LookupError, TypeError):
            # A book the ledger could not have written (``ledger rebuild --check`` names
            # it): one member missing from a forecast beats no forecast at all.
            unreadable += 1
            continue
        for month, points in by_month.items():
            totals[month] += points
    if unreadable:
        log.warning("expiry forecast: %d points books could not be read", unreadable)
    return Forecast(months=[(m, totals[m]) for m in months], books=books)


def month_label(month: str) -> str:
    """ "2027-01" -> "Jan 2027"."""
    return datetime.strptime(month + "-01", "%Y-%m-%d").strftime("%b %Y")
