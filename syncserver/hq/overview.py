"""The HQ overview: the figures on the dashboard's home page and ``GET /api/v1/overview``.

Pure read queries (each takes a connection), plus :class:`OverviewCache`, which keeps the
expensive ones from running on every page view of a large program.

What each figure means:

* **Members**: every row of ``members``. **Active in the last N days**: members whose
  ``last_active_at`` is at or after *now - N days*: the time of their latest visit, i.e. the
  latest till entry naming them — a sale with or without points, a return, their enrolment,
  a card issued or replaced (ISO text like ``postings.occurred_at``; recorded by
  ``LedgerContext.visited``, stamped by ``LedgerContext.finish``, never moved backwards).
  HQ imports and adjustments do not make a member active.
* **Points outstanding** (the liability): the sum of every member's balance
  (``member_balances``), overdrawn members included (their negative balance is owed *to* the
  program). Its **money value** uses the point value of the newest published rules version:
  ``redemption.points`` points are worth ``redemption.value_minor`` minor units of the
  program's currency. The product is exact when it is a whole number of minor units and
  rounded to the nearest minor unit otherwise (``Rounding.HALF_UP``: halves away from zero).
* **Points issued / redeemed per day** (last :data:`SERIES_DAYS` days, UTC days, today
  included): the day's movement of two program accounts, by the postings' ``occurred_at``
  (when the sale happened at the till, not when it reached HQ):

  - *issued* = minus the sum of postings on ``program:issued``: points earned at tills
    (kind ``earn``), less the earn of sales voided that day (kind ``void``; a voided sale
    never happened);
  - *redeemed* = the sum of postings on ``program:redeemed`` and ``program:rewards``: points
    spent at tills (kinds ``redeem`` and ``reward``, the points discount and rewards bought),
    less voided ones (``void``) and less redeemed points a return gave back to the member
    (``restore``; a return gives no reward points back);
  - *reversed* (shown beside them, not in the chart) = the sum on ``program:reversed``:
    earned points that returns took back. The ledger keeps these off ``program:issued``, so
    *issued* is not reduced by returns.

  HQ adjustments, imports and write-offs (``program:adjusted`` / ``program:written_off``)
  are in none of the three. Summed over all days, each series equals its accounts' balance.
* **Open exceptions**: ``exceptions`` with status ``open``, in total and by kind.
* **Tills offline**: registered, not revoked, and whose last contact (the later of
  ``last_push_at`` and ``last_pull_at``) is more than :data:`OFFLINE_AFTER` ago, or never.

Cost with 1,000,000 members (``bench/hq_bench.py``: 5.4 million postings over 120 days; p50
SQLite / PostgreSQL): member total 7 / 40 ms (a count over one index), active in 30 days
14 / 59 ms and in 90 days 23 / 80 ms (ranges of the ``last_active_at`` index), points
outstanding 51 / 46 ms (one pass over ``member_balances``), issued/redeemed per day 750 / 500 ms
(a month of postings, 1.3 million rows, through the ``occurred_at`` index, then grouped).
Together about 0.9 / 1.2 s: too slow for every page view. So :class:`OverviewCache` keeps
them once they have proved slow (> :data:`SLOW_MS`) for :data:`CACHE_MAX_AGE`, then serves
the old figures while one background thread computes new ones, and the page shows their age
(cached page view: about 6 / 9 ms). Only the first view after a server start waits for them.
Where they are cheap (a small program, the tests) they are computed on every view.
Open exceptions, offline tills and the point value are small indexed reads, always live.

* **Money liability** (:func:`money_figures`, per currency — a program has one): what the
  program owes in money, from the ``stored_values`` balances (the sums of their postings):
  gift cards and credit slips (``giftcard:<number>``), members' store credit
  (``credit:<member>``), and the value of open vouchers — fixed-value vouchers still
  ``issued`` and not past their last day (a percent voucher has no value until a basket
  gives it one: those are counted, not valued). **Breakage**, shown beside it and never
  added to it: *expired voucher value* is the balance of ``program:voucher_breakage``
  (vouchers the nightly run expired and fixed vouchers' unused remainders); *dormant gift
  card value* is the balance of active cards with a positive balance and no use (or, never
  used, activation) for :data:`DORMANT_MONTHS` months — still owed, the card still works.
  One pass over ``stored_values``, a grouped read of ``vouchers`` and one account's range
  of the ``postings (account, id)`` index: with a million cards they are heavy, so they are
  computed and cached with the other heavy figures.

* **Points expiring in the next 12 months** (:func:`syncserver.hq.tiers.expiry_forecast`):
  per calendar month, the current one first, the points of every member's lots whose last
  usable day falls in it (debts taken off the soonest first, as the member page shows them).
  It reads every book with something expiring in the window — a full read at a million
  members (``bench/expiry_forecast_bench.py``) — so it has its own slot in the cache, kept
  for :data:`FORECAST_MAX_AGE` (lots change slowly, and the expiry run is daily). A large
  program (more than :data:`FORECAST_INLINE_BOOKS` books in the window) never computes it in
  a request: the first view starts it in the background and says so.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from sqlalchemy import Connection, case, func, or_, select

from shared.journal import format_utc
from shared.money import Money, Rounding, round_fraction
from shared.points.lots import add_months
from syncserver.hq.terminals import OFFLINE_AFTER
from syncserver.hq.tiers import (
    current_rules,
    expiry_forecast,
    expiry_sentence,
    forecast_horizon,
)
from syncserver.ledger.accounts import ISSUED, REDEEMED, REVERSED, REWARDS, VOUCHER_BREAKAGE
from syncserver.settings import as_utc, utc_now
from syncserver.storage.database import Database, exact_sum
from syncserver.storage.rules import parse_rules
from syncserver.storage.schema import (
    exceptions,
    member_balances,
    member_lots,
    members,
    postings,
    rules_versions,
    stored_values,
    terminals,
    vouchers,
)

__all__ = [
    "ACTIVE_WINDOWS",
    "CACHE_MAX_AGE",
    "DORMANT_MONTHS",
    "FORECAST_INLINE_BOOKS",
    "FORECAST_MAX_AGE",
    "OFFLINE_AFTER",
    "OVERVIEW_CACHE",
    "SERIES_DAYS",
    "SLOW_MS",
    "DayFigures",
    "ExceptionCount",
    "Figures",
    "ForecastFigures",
    "MoneyFigures",
    "OfflineTill",
    "Overview",
    "OverviewCache",
    "PointValue",
    "active_members",
    "compute_figures",
    "compute_forecast",
    "daily_series",
    "load_overview",
    "money_figures",
    "offline_tills",
    "open_exceptions",
    "point_value",
    "points_outstanding",
    "series_days",
    "total_members",
]

log = logging.getLogger(__name__)

ACTIVE_WINDOWS = (30, 90)
"""Days for the "active members" figures."""
SERIES_DAYS = 30
"""Days in the issued/redeemed series (UTC days, today included)."""
SLOW_MS = 200.0
"""The heavy figures are cached once computing them took longer than this."""
CACHE_MAX_AGE = timedelta(seconds=60)
"""How old cached heavy figures may get before a background refresh starts."""
FORECAST_MAX_AGE = timedelta(minutes=10)
"""How old a slow expiry forecast may get before a background refresh starts."""
FORECAST_INLINE_BOOKS = 20_000
"""With more books than this to read, the first forecast is computed in the background."""
OPEN = "open"
DORMANT_MONTHS = 24
"""A gift card unused for this many months counts as dormant (breakage)."""


# --- the figures ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PointValue:
    """``points`` points are worth ``value_minor`` minor units of ``currency`` (the
    redemption rate of rules version ``rules_version``)."""

    points: int
    value_minor: int
    currency: str
    rules_version: int

    def value_of(self, points: int) -> Money:
        """The money value of ``points``, rounded to the nearest minor unit (halves away
        from zero); exact whenever it is a whole number of minor units."""
        exact = Fraction(points * self.value_minor, self.points)
        return Money(round_fraction(exact, Rounding.HALF_UP), self.currency)


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: date
    """A UTC day."""
    issued: int
    redeemed: int
    reversed: int


@dataclass(frozen=True, slots=True)
class ExceptionCount:
    kind: str
    count: int


@dataclass(frozen=True, slots=True)
class OfflineTill:
    terminal_id: str
    store_id: str
    name: str
    last_contact: datetime | None
    """The later of its last push and last pull (UTC); None when it never made contact."""


@dataclass(frozen=True, slots=True)
class MoneyFigures:
    """Money owed and breakage in one currency (minor units); see the module docstring."""

    currency: str
    gift_cards_minor: int = 0
    """Gift cards and credit slips."""
    store_credit_minor: int = 0
    open_vouchers_minor: int = 0
    """Fixed-value vouchers issued and not past their last day."""
    open_percent_vouchers: int = 0
    """Percent vouchers issued and not past their last day (no value until used)."""
    voucher_breakage_minor: int = 0
    """Expired voucher value (``program:voucher_breakage``)."""
    dormant_minor: int = 0
    """Active gift cards' positive balance unused for :data:`DORMANT_MONTHS` months."""
    dormant_cards: int = 0

    @property
    def total_minor(self) -> int:
        return self.gift_cards_minor + self.store_credit_minor + self.open_vouchers_minor


@dataclass(frozen=True, slots=True)
class Figures:
    """The expensive figures, computed together in one snapshot (and cached together)."""

    computed_at: datetime
    cost_ms: float
    """How long computing them took."""
    members_total: int
    active: dict[int, int]
    """Active members by window in days (:data:`ACTIVE_WINDOWS`)."""
    points_outstanding: int
    days: list[DayFigures]
    money: tuple[MoneyFigures, ...] = ()
    """Money liability and breakage per currency (by code; a program has one)."""


@dataclass(frozen=True, slots=True)
class ForecastFigures:
    """Points expiring per calendar month over the next 12 (the current month first)."""

    computed_at: datetime
    cost_ms: float
    months: list[tuple[str, int]]
    """("2026-12", points), oldest first."""
    books: int
    """Members' books read."""


@dataclass(frozen=True, slots=True)
class Overview:
    figures: Figures
    cached: bool
    """True when ``figures`` came from the cache rather than from this request."""
    age: timedelta
    """How old ``figures`` are."""
    point_value: PointValue | None
    """None until a rules version is published."""
    open_exceptions: list[ExceptionCount]
    offline_tills: list[OfflineTill]
    now: datetime = field(default_factory=utc_now)
    forecast: ForecastFigures | None = None
    """None while a large program's first forecast is being computed in the background."""
    forecast_cached: bool = False
    expiry_rule: str | None = None
    """The newest rules' expiry rule in words; None until a version is published."""

    @property
    def liability(self) -> Money | None:
        if self.point_value is None:
            return None
        return self.point_value.value_of(self.figures.points_outstanding)

    @property
    def open_exceptions_total(self) -> int:
        return sum(item.count for item in self.open_exceptions)


# --- the queries ------------------------------------------------------------------------------


def total_members(conn: Connection) -> int:
    """Every member (an index-only count: the narrowest index, never the rows)."""
    return int(conn.execute(select(func.count()).select_from(members)).scalar_one())


def active_members(conn: Connection, since: datetime) -> int:
    """Members whose latest till activity is at or after ``since``: a range of the
    ``last_active_at`` index (ISO text in UTC, so text order is time order)."""
    query = (
        select(func.count())
        .select_from(members)
        .where(members.c.last_active_at >= format_utc(since))
    )
    return int(conn.execute(query).scalar_one())


def points_outstanding(conn: Connection) -> int:
    """The sum of all member balances: points the program owes its members."""
    query = select(func.coalesce(func.sum(member_balances.c.points), 0))
    return exact_sum(conn, query, select(member_balances.c.points))


def point_value(conn: Connection) -> PointValue | None:
    """The redemption rate of the newest published rules version (the one tills use)."""
    row = conn.execute(
        select(rules_versions.c.version, rules_versions.c.document)
        .order_by(rules_versions.c.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    rules = parse_rules(row.document)
    return PointValue(
        points=rules.redemption.points,
        value_minor=rules.redemption.value_minor,
        currency=rules.currency,
        rules_version=int(row.version),
    )


def series_days(now: datetime, days: int = SERIES_DAYS) -> list[date]:
    """The UTC days of the series, oldest first, ending with today."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


_SERIES_ACCOUNTS = (ISSUED, REDEEMED, REWARDS, REVERSED)


def daily_series(conn: Connection, days: Sequence[date]) -> list[DayFigures]:
    """Issued, redeemed and reversed points per UTC day over ``days`` (consecutive, oldest
    first), from one range of the ``postings.occurred_at`` index; see the module docstring
    for what each counts. Days without postings are zeros."""
    if not days:
        return []
    start = format_utc(datetime.combine(days[0], datetime.min.time(), UTC))
    end = format_utc(datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), UTC))
    day = func.substr(postings.c.occurred_at, 1, 10)
    rows = conn.execute(
        select(day.label("day"), postings.c.account, func.sum(postings.c.amount).label("total"))
        .where(
            postings.c.occurred_at >= start,
            postings.c.occurred_at < end,
            # ``|| ''`` keeps the planner on the occurred_at range: the program
            # accounts' ``(account, id)`` ranges are their whole history, not 30 days.
            (postings.c.account + "").in_(_SERIES_ACCOUNTS),
        )
        .group_by(day, postings.c.account)
    )
    totals: dict[tuple[str, str], int] = {(row.day, row.account): int(row.total) for row in rows}
    out = []
    for each in days:
        key = each.isoformat()
        out.append(
            DayFigures(
                day=each,
                issued=-totals.get((key, ISSUED), 0),
                redeemed=totals.get((key, REDEEMED), 0) + totals.get((key, REWARDS), 0),
                reversed=totals.get((key, REVERSED), 0),
            )
        )
    return out


def open_exceptions(conn: Connection) -> list[ExceptionCount]:
    """Open exceptions by kind, most first (the ``(status, kind)`` index)."""
    count = func.count()
    rows = conn.execute(
        select(exceptions.c.kind, count.label("n"))
        .where(exceptions.c.status == OPEN)
        .group_by(exceptions.c.kind)
    )
    found = [ExceptionCount(row.kind, int(row.n)) for row in rows]
    return sorted(found, key=lambda item: (-item.count, item.kind))


def offline_tills(
    conn: Connection, now: datetime, after: timedelta = OFFLINE_AFTER
) -> list[OfflineTill]:
    """Tills not revoked whose last contact is older than ``after`` (or never), those never
    heard from first, then the longest silent. The terminals table is small (one row per
    till), so the later of the two times is taken here rather than in dialect-specific SQL."""
    rows = conn.execute(
        select(
            terminals.c.terminal_id,
            terminals.c.store_id,
            terminals.c.name,
            terminals.c.last_push_at,
            terminals.c.last_pull_at,
        ).where(terminals.c.revoked_at.is_(None))
    )
    cutoff = now - after
    out = []
    for row in rows:
        seen = [t for t in (as_utc(row.last_push_at), as_utc(row.last_pull_at)) if t is not None]
        last = max(seen) if seen else None
        if last is None or last < cutoff:
            out.append(OfflineTill(row.terminal_id, row.store_id, row.name, last))
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(out, key=lambda t: (t.last_contact or never, t.terminal_id))


def money_figures(conn: Connection, now: datetime) -> tuple[MoneyFigures, ...]:
    """Money liability and breakage per currency, as of ``now`` (UTC days)."""
    today = now.astimezone(UTC).date()
    dormant_before = add_months(today, -DORMANT_MONTHS).isoformat()
    found: dict[str, dict[str, int]] = {}

    def add(currency: str, field_name: str, amount: int) -> None:
        figures = found.setdefault(currency, {})
        figures[field_name] = figures.get(field_name, 0) + amount

    last_use = func.coalesce(stored_values.c.last_used_at, stored_values.c.activated_at)
    dormant = (
        (stored_values.c.kind == "giftcard")
        & (stored_values.c.status == "active")
        & (stored_values.c.balance_minor > 0)
        & (last_use < dormant_before)
    )
    # Sums of BIGINT as exact integers: every balance is bounded (docs/journal.md), and a
    # sum of them stays far below 2^63.
    for row in conn.execute(
        select(
            stored_values.c.kind,
            stored_values.c.currency,
            func.coalesce(func.sum(stored_values.c.balance_minor), 0).label("total"),
            func.coalesce(
                func.sum(case((dormant, stored_values.c.balance_minor), else_=0)), 0
            ).label("dormant"),
            func.coalesce(func.sum(case((dormant, 1), else_=0)), 0).label("dormant_cards"),
        ).group_by(stored_values.c.kind, stored_values.c.currency)
    ):
        kind_field = "gift_cards_minor" if row.kind == "giftcard" else "store_credit_minor"
        add(row.currency, kind_field, int(row.total))
        add(row.currency, "dormant_minor", int(row.dormant))
        add(row.currency, "dormant_cards", int(row.dormant_cards))
    still_open = (vouchers.c.status == "issued") & or_(
        vouchers.c.expires_on.is_(None), vouchers.c.expires_on >= today.isoformat()
    )
    fixed = vouchers.c.percent_bp.is_(None)
    for open_row in conn.execute(
        select(
            vouchers.c.currency,
            func.coalesce(func.sum(case((fixed, vouchers.c.value_minor), else_=0)), 0).label(
                "value"
            ),
            func.coalesce(func.sum(case((fixed, 0), else_=1)), 0).label("percent"),
        )
        .where(still_open)
        .group_by(vouchers.c.currency)
    ):
        add(open_row.currency, "open_vouchers_minor", int(open_row.value))
        add(open_row.currency, "open_percent_vouchers", int(open_row.percent))
    for breakage_row in conn.execute(
        select(postings.c.unit, func.sum(postings.c.amount).label("total"))
        .where(postings.c.account == VOUCHER_BREAKAGE)
        .group_by(postings.c.unit)
    ):
        add(breakage_row.unit, "voucher_breakage_minor", int(breakage_row.total))
    return tuple(
        MoneyFigures(currency=currency, **figures) for currency, figures in sorted(found.items())
    )


def compute_figures(database: Database, now: datetime | None = None) -> Figures:
    """The expensive figures, in one read snapshot."""
    started = time.perf_counter()
    moment = now or utc_now()
    with database.read() as conn:
        total = total_members(conn)
        active = {
            days: active_members(conn, moment - timedelta(days=days)) for days in ACTIVE_WINDOWS
        }
        outstanding = points_outstanding(conn)
        days = daily_series(conn, series_days(moment))
        money = money_figures(conn, moment)
    return Figures(
        computed_at=moment,
        cost_ms=(time.perf_counter() - started) * 1000,
        members_total=total,
        active=active,
        points_outstanding=outstanding,
        days=days,
        money=money,
    )


def compute_forecast(database: Database, now: datetime | None = None) -> ForecastFigures:
    """The expiry forecast, in one read snapshot."""
    started = time.perf_counter()
    moment = now or utc_now()
    with database.read() as conn:
        forecast = expiry_forecast(conn, moment.astimezone(UTC).date())
    return ForecastFigures(
        computed_at=moment,
        cost_ms=(time.perf_counter() - started) * 1000,
        months=forecast.months,
        books=forecast.books,
    )


def _forecast_books(database: Database, now: datetime) -> int:
    """How many books a forecast would read: a count over the ``next_expiry`` index."""
    horizon = forecast_horizon(now.astimezone(UTC).date())
    with database.read() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(member_lots)
            .where(member_lots.c.next_expiry.is_not(None), member_lots.c.next_expiry < horizon)
        ).scalar_one()
    return int(count)


# --- the cache --------------------------------------------------------------------------------


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    figures: Figures | None = None
    refreshing: bool = False
    forecast: ForecastFigures | None = None
    forecast_refreshing: bool = False


class OverviewCache:
    """The heavy figures of each database, kept while computing them is slow.

    * Cheap last time (``cost_ms`` < ``slow_ms``): computed again for every request, so a small
      program always sees live numbers.
    * Slow last time and younger than ``max_age``: served from memory.
    * Slow and older: served from memory while one background thread computes them again
      (``background=False`` recomputes in the request instead).
    * Nothing yet: the first request computes them; concurrent first requests wait for it
      rather than each running the same expensive queries.

    The cache is per process (each replica keeps its own) and per :class:`Database`.
    """

    def __init__(
        self,
        *,
        slow_ms: float = SLOW_MS,
        max_age: timedelta = CACHE_MAX_AGE,
        clock: Callable[[], datetime] = utc_now,
        background: bool = True,
        forecast_max_age: timedelta = FORECAST_MAX_AGE,
        forecast_inline_books: int = FORECAST_INLINE_BOOKS,
    ) -> None:
        self.slow_ms = slow_ms
        self.max_age = max_age
        self.forecast_max_age = forecast_max_age
        self.forecast_inline_books = forecast_inline_books
        self.clock = clock
        self.background = background
        self._slots: weakref.WeakKeyDictionary[Database, _Slot] = weakref.WeakKeyDictionary()
        self._guard = threading.Lock()

    def _slot(self, database: Database) -> _Slot:
        with self._guard:
            slot = self._slots.get(database)
            if slot is None:
                slot = self._slots[database] = _Slot()
            return slot

    def get(self, database: Database) -> tuple[Figures, bool]:
        """The figures and whether they came from the cache."""
        slot = self._slot(database)
        current = slot.figures
        if current is None:
            with slot.lock:  # the first computation: one at a time
                if slot.figures is None:
                    slot.figures = compute_figures(database, self.clock())
                    return slot.figures, False
                current = slot.figures
        if current.cost_ms < self.slow_ms:
            fresh = compute_figures(database, self.clock())
            slot.figures = fresh
            return fresh, False
        if self.clock() - current.computed_at < self.max_age:
            return current, True
        if not self.background:
            fresh = compute_figures(database, self.clock())
            slot.figures = fresh
            return fresh, False
        self._refresh_in_background(database, slot)
        return current, True

    def _refresh_in_background(self, database: Database, slot: _Slot) -> None:
        with slot.lock:
            if slot.refreshing:
                return
            slot.refreshing = True

        def refresh() -> None:
            try:
                slot.figures = compute_figures(database, self.clock())
            except Exception:  # the next request tries again; the page keeps the old figures
                log.exception("refreshing the overview figures failed")
            finally:
                slot.refreshing = False

        threading.Thread(target=refresh, name="overview-refresh", daemon=True).start()

    def forecast(self, database: Database) -> tuple[ForecastFigures | None, bool]:
        """The expiry forecast and whether it came from the cache; None while a large
        program's first one is computed in the background. Kept like the heavy figures,
        but for ``forecast_max_age``."""
        slot = self._slot(database)
        current = slot.forecast
        if current is None:
            if self.background and _forecast_books(database, self.clock()) > (
                self.forecast_inline_books
            ):
                self._refresh_forecast_in_background(database, slot)
                # Pending for this request even if the thread is already done: what the
                # page says must not depend on how fast the thread ran.
                return None, False
            with slot.lock:
                if slot.forecast is None:
                    slot.forecast = compute_forecast(database, self.clock())
                    return slot.forecast, False
                current = slot.forecast
        if current.cost_ms < self.slow_ms:
            fresh = compute_forecast(database, self.clock())
            slot.forecast = fresh
            return fresh, False
        if self.clock() - current.computed_at < self.forecast_max_age:
            return current, True
        if not self.background:
            fresh = compute_forecast(database, self.clock())
            slot.forecast = fresh
            return fresh, False
        self._refresh_forecast_in_background(database, slot)
        return current, True

    def _refresh_forecast_in_background(self, database: Database, slot: _Slot) -> None:
        with slot.lock:
            if slot.forecast_refreshing:
                return
            slot.forecast_refreshing = True

        def refresh() -> None:
            try:
                slot.forecast = compute_forecast(database, self.clock())
            except Exception:  # the next request tries again; the page keeps the old forecast
                log.exception("computing the expiry forecast failed")
            finally:
                slot.forecast_refreshing = False

        threading.Thread(target=refresh, name="expiry-forecast", daemon=True).start()

    def clear(self, database: Database) -> None:
        with self._guard:
            self._slots.pop(database, None)


OVERVIEW_CACHE = OverviewCache()
"""The server's one cache (per process)."""


def load_overview(database: Database, cache: OverviewCache = OVERVIEW_CACHE) -> Overview:
    """Everything the overview shows: the heavy figures through ``cache``, the rest live."""
    figures, cached = cache.get(database)
    forecast, forecast_cached = cache.forecast(database)
    now = cache.clock()
    with database.read() as conn:
        value = point_value(conn)
        by_kind = open_exceptions(conn)
        offline = offline_tills(conn, now)
        rules = current_rules(conn)
    return Overview(
        figures=figures,
        cached=cached,
        age=max(timedelta(0), now - figures.computed_at),
        point_value=value,
        open_exceptions=by_kind,
        offline_tills=offline,
        now=now,
        forecast=forecast,
        forecast_cached=forecast_cached,
        expiry_rule=expiry_sentence(rules[1].expiry) if rules else None,
    )
