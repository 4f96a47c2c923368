"""The ledger side of points lots and tiers (docs/ledger.md, "Points lots and expiry" and
"Tiers").

:class:`MemberPoints` is what one write transaction (a :class:`LedgerContext`) knows about
the members it touches beyond their balances: each member's lot book (``member_lots``), the
day-by-day qualifying figures it adds (``member_activity``) and the members' tier status
(``members.tier*``, ``tier_changes``). Like postings, all of it is kept in memory and written
in bulk by :meth:`MemberPoints.flush`; every member it holds is locked by the transaction
(``member_balances`` row lock), so nothing read here can change under it until COMMIT.

The functions below are called by reconciliation (a sale, a return, a void) and by the HQ
events of the daily runs (``tier_review``, ``points_expiry``). They are pure functions of the
entry or event, the rules version it names and the ledger as it stands at that point in
position order — so ``ledger rebuild`` reproduces them exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.journal import JournalEntry, Return, Sale, Void, format_utc
from shared.points.lots import LotBook, lot_expiry
from shared.points.tiers import (
    describe_total,
    next_review,
    qualifying_window,
    rank,
    review,
    review_window,
    upgrade_for,
    upgrade_reason,
)
from shared.rules import ProgramRules
from shared.rules.model import ExpiryRules, TierQualification
from syncserver.ledger.accounts import EXPIRED, PostingKind, member_account, pair
from syncserver.ledger.earn_check import check_earn
from syncserver.storage.database import bulk_insert, execute_many, is_postgres
from syncserver.storage.members import bulk_update
from syncserver.storage.postings import PostingSource
from syncserver.storage.schema import member_activity, member_lots, members, tier_changes

if TYPE_CHECKING:
    from syncserver.ledger.context import LedgerContext

__all__ = [
    "OPENING_REF",
    "Activity",
    "MemberPoints",
    "TierStatus",
    "after_return",
    "after_sale",
    "after_void",
    "apply_expiry",
    "apply_review",
    "day_of",
    "lot_ref",
    "original_rules_version",
    "sale_rules_version",
]

OPENING_REF = "(opening)"
"""The lot a member's points become when they had points before lots existed (migration
0005): one lot of the whole balance, dated the day of the first entry that touches them.
"(" sorts before every entry and event reference, so on its day it is used first (FIFO)."""

PAGE = 2000
"""Members per page of a daily run: one lock statement, one read and a few bulk writes each."""

_READ_AHEAD = timedelta(days=31)
"""How far past a window :meth:`MemberPoints.totals` reads: a batch's later sales."""
_EVER = ("0000-01-01", "9999-12-31")
"""The range of ISO days a member created by this transaction has all of (none stored)."""


def day_of(occurred_at: str) -> date:
    """The UTC day of a ledger timestamp (``format_utc`` text)."""
    return date.fromisoformat(occurred_at[:10])


def lot_ref(source: PostingSource) -> str:
    """A lot's reference: "T0001#12" for a till entry, "hq:<event id>" for an HQ event."""
    if source.terminal_id is not None:
        return f"{source.terminal_id}#{source.seq}"
    return f"hq:{source.hq_event_id}"


@dataclass(frozen=True, slots=True)
class TierStatus:
    tier: str | None
    since: str | None
    review_on: str | None
    grace: bool


@dataclass(frozen=True, slots=True)
class Activity:
    points: int = 0
    spend_minor: int = 0
    visits: int = 0

    def __add__(self, other: Activity) -> Activity:
        return Activity(
            self.points + other.points,
            self.spend_minor + other.spend_minor,
            self.visits + other.visits,
        )

    def total(self, q: TierQualification) -> int:
        if q.metric == "spend":
            return self.spend_minor
        if q.metric == "visits":
            return self.visits
        return self.points


class MemberPoints:
    """Lot books, activity and tier status of the members one transaction touches."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._books: dict[str, LotBook] = {}
        self._stored: set[str] = set()
        """Members that have a ``member_lots`` row."""
        self._openings: dict[str, int] = {}
        """Members without a book whose balance was not zero (see :data:`OPENING_REF`)."""
        self._dirty: dict[str, ExpiryRules] = {}
        """Books to write, with the expiry rules their ``next_expiry`` is computed by."""
        self._activity: dict[tuple[str, str], Activity] = {}
        """Activity not yet written, by (member, ISO day)."""
        self._known_days: dict[str, dict[str, Activity]] = {}
        """Activity per member and ISO day over ``_known_range`` (stored plus unwritten): what
        the tier checks add up, read once per batch instead of once per sale."""
        self._known_range: dict[str, tuple[str, str]] = {}
        self._loaded: dict[str, None] = {}
        """Members locked by this transaction, in the order they were locked."""
        self._tiers: dict[str, TierStatus] = {}
        self._tiers_dirty: set[str] = set()
        self._changes: list[dict[str, Any]] = []
        self.read_books = True
        """False while a run that never touches lots (the tier review) locks members."""

    # --- books ------------------------------------------------------------------------------

    def load(self, balances: Mapping[str, int]) -> None:
        """Read the books of members just locked (one statement); ``balances`` are theirs."""
        self._loaded.update(dict.fromkeys(balances))
        wanted = sorted(m for m in balances if m not in self._books and m not in self._openings)
        if not wanted or not self.read_books:
            return
        # Their tier status too, in the same round: every member sale asks for it.
        self.load_tiers(wanted)
        rows = self.conn.execute(
            select(member_lots.c.member_id, member_lots.c.book).where(
                member_lots.c.member_id.in_(wanted)
            )
        )
        for row in rows:
            self._books[row.member_id] = LotBook.from_json(row.book)
            self._stored.add(row.member_id)
        for member_id in wanted:
            if member_id not in self._books:
                if balances[member_id]:
                    self._openings[member_id] = balances[member_id]
                else:
                    self._books[member_id] = LotBook()

    def new_member(self, member_id: str) -> None:
        self._books.setdefault(member_id, LotBook())
        # Nothing stored yet: no activity to read.
        self._known_days.setdefault(member_id, {})
        self._known_range.setdefault(member_id, _EVER)

    def book(self, member_id: str, day: date, expiry: ExpiryRules) -> LotBook:
        """The member's book (locked by the caller). A member whose points predate lots gets
        one opening lot of their balance dated ``day`` (or a debt, below zero)."""
        book = self._books.get(member_id)
        if book is not None:
            return book
        if member_id in self._stored:  # written and forgotten (a long run): read it again
            text = self.conn.execute(
                select(member_lots.c.book).where(member_lots.c.member_id == member_id)
            ).scalar_one()
            book = self._books[member_id] = LotBook.from_json(text)
            return book
        opening = self._openings.pop(member_id, 0)
        book = LotBook()
        if opening > 0:
            book = book.credit(day, opening, lot_expiry(expiry, day), OPENING_REF)
        elif opening < 0:
            book, _used = book.debit(day, -opening)
        self._books[member_id] = book
        self._dirty[member_id] = expiry
        return book

    def set_book(self, member_id: str, book: LotBook, expiry: ExpiryRules) -> None:
        self._books[member_id] = book
        self._dirty[member_id] = expiry

    # --- activity -----------------------------------------------------------------------------

    def add_activity(self, member_id: str, day: date, delta: Activity) -> None:
        iso = day.isoformat()
        key = (member_id, iso)
        self._activity[key] = self._activity.get(key, Activity()) + delta
        known = self._known_range.get(member_id)
        if known is not None and known[0] <= iso < known[1]:
            days = self._known_days[member_id]
            days[iso] = days.get(iso, Activity()) + delta

    def totals(self, windows: Mapping[str, tuple[date, date]]) -> dict[str, Activity]:
        """Each member's activity over its window [start, end). A member whose days this
        transaction has not read yet (over that window) is read in one grouped statement,
        together with every other member it holds (a batch's later sales then need no
        statement), a month beyond the window so those sales' windows are covered too."""
        spans = {m: (start.isoformat(), end.isoformat()) for m, (start, end) in windows.items()}
        missing = [m for m, span in spans.items() if not self._covers(m, *span)]
        if missing:
            low = min(windows[m][0] for m in missing)
            high = max(windows[m][1] for m in missing) + _READ_AHEAD
            extra = [m for m in self._loaded if m not in self._known_range]
            self._read_activity(sorted({*missing, *extra}), low.isoformat(), high.isoformat())
        out: dict[str, Activity] = {}
        for member_id, (start, end) in spans.items():
            total = Activity()
            for day, activity in self._known_days[member_id].items():
                if start <= day < end:
                    total = total + activity
            out[member_id] = total
        return out

    def _covers(self, member_id: str, start: str, end: str) -> bool:
        known = self._known_range.get(member_id)
        return known is not None and known[0] <= start and end <= known[1]

    def _read_activity(self, member_ids: Sequence[str], low: str, high: str) -> None:
        """Stored days in [low, high) plus this transaction's unwritten ones, per member."""
        days: dict[str, dict[str, Activity]] = {m: {} for m in member_ids}
        for start in range(0, len(member_ids), PAGE):
            rows = self.conn.execute(
                select(
                    member_activity.c.member_id,
                    member_activity.c.day,
                    member_activity.c.points,
                    member_activity.c.spend_minor,
                    member_activity.c.visits,
                ).where(
                    member_activity.c.member_id.in_(member_ids[start : start + PAGE]),
                    member_activity.c.day >= low,
                    member_activity.c.day < high,
                )
            )
            for r in rows:
                days[r.member_id][r.day] = Activity(
                    int(r.points), int(r.spend_minor), int(r.visits)
                )
        for (member_id, day), activity in self._activity.items():
            if member_id in days and low <= day < high:
                days[member_id][day] = days[member_id].get(day, Activity()) + activity
        for member_id in member_ids:
            self._known_days[member_id] = days[member_id]
            self._known_range[member_id] = (low, high)

    # --- tiers --------------------------------------------------------------------------------

    def load_tiers(self, member_ids: Iterable[str]) -> None:
        wanted = sorted({m for m in member_ids if m not in self._tiers})
        for start in range(0, len(wanted), PAGE):
            rows = self.conn.execute(
                select(
                    members.c.member_id,
                    members.c.tier,
                    members.c.tier_since,
                    members.c.tier_review_on,
                    members.c.tier_grace,
                ).where(members.c.member_id.in_(wanted[start : start + PAGE]))
            )
            for r in rows:
                self._tiers[r.member_id] = TierStatus(
                    r.tier, r.tier_since, r.tier_review_on, bool(r.tier_grace)
                )

    def tier(self, member_id: str) -> TierStatus:
        if member_id not in self._tiers:
            self.load_tiers([member_id])
        return self._tiers.get(member_id, TierStatus(None, None, None, False))

    def set_tier(
        self,
        member_id: str,
        status: TierStatus,
        *,
        kind: str,
        reason: str,
        effective_on: date,
        source: PostingSource,
    ) -> None:
        before = self.tier(member_id)
        self._tiers[member_id] = status
        self._tiers_dirty.add(member_id)
        self._changes.append(
            {
                "member_id": member_id,
                "kind": kind,
                "from_tier": before.tier,
                "to_tier": status.tier,
                "reason": reason[:500],
                "effective_on": effective_on.isoformat(),
                "terminal_id": source.terminal_id,
                "seq": source.seq,
                "hq_event_id": source.hq_event_id,
            }
        )

    def tiers_held_on(self, member_id: str, day: date) -> set[str | None]:
        """The tiers the member held at some time on ``day``, by the tier history: the one
        the day began with and any it changed to that day (the current one when nothing
        changed since)."""
        self.flush_changes()
        rows = self.conn.execute(
            select(tier_changes.c.from_tier, tier_changes.c.to_tier, tier_changes.c.effective_on)
            .where(
                tier_changes.c.member_id == member_id,
                tier_changes.c.effective_on >= day.isoformat(),
            )
            .order_by(tier_changes.c.effective_on, tier_changes.c.id)
        ).all()
        if not rows:
            return {self.tier(member_id).tier}
        held: set[str | None] = {rows[0].from_tier}
        held.update(r.to_tier for r in rows if r.effective_on == day.isoformat())
        return held

    # --- writing ------------------------------------------------------------------------------

    def flush_changes(self) -> None:
        if self._changes:
            # COPY on PostgreSQL: a review writes a row per member reviewed.
            bulk_insert(
                self.conn,
                tier_changes,
                _CHANGE_COLUMNS,
                [tuple(change[c] for c in _CHANGE_COLUMNS) for change in self._changes],
            )
            self._changes = []

    def flush(self) -> None:
        """Write books, activity and tier status changed so far (bulk statements)."""
        conn = self.conn
        if self._dirty:
            updates: list[dict[str, Any]] = []
            inserts: list[dict[str, Any]] = []
            for member_id in sorted(self._dirty):
                book = self._books[member_id]
                nxt = book.next_expiry(self._dirty[member_id])
                row = {
                    "l_member": member_id,
                    "l_book": book.to_json(),
                    "l_next": nxt.isoformat() if nxt else None,
                }
                (updates if member_id in self._stored else inserts).append(row)
            if updates and not bulk_update(
                conn,
                _BULK_BOOKS,
                {
                    "ids": [r["l_member"] for r in updates],
                    "books": [r["l_book"] for r in updates],
                    "nexts": [r["l_next"] for r in updates],
                },
            ):
                execute_many(conn, _UPDATE_BOOK, updates)
            if inserts:
                execute_many(
                    conn,
                    _INSERT_BOOK,
                    [
                        {
                            "member_id": r["l_member"],
                            "book": r["l_book"],
                            "next_expiry": r["l_next"],
                        }
                        for r in inserts
                    ],
                )
                self._stored.update(r["l_member"] for r in inserts)
            self._dirty.clear()
        if self._activity:
            execute_many(
                conn,
                _ADD_ACTIVITY[is_postgres(conn)],
                [
                    {
                        "member_id": member_id,
                        "day": day,
                        "points": a.points,
                        "spend_minor": a.spend_minor,
                        "visits": a.visits,
                    }
                    for (member_id, day), a in sorted(self._activity.items())
                ],
            )
            self._activity.clear()
        ids = sorted(self._tiers_dirty)
        arrays: dict[str, list[Any]] = {
            "ids": ids,
            "tiers": [self._tiers[m].tier for m in ids],
            "since": [self._tiers[m].since for m in ids],
            "review": [self._tiers[m].review_on for m in ids],
            "grace": [self._tiers[m].grace for m in ids],
        }
        if ids and bulk_update(conn, _BULK_TIERS, arrays):
            self._tiers_dirty.clear()
        if self._tiers_dirty:
            execute_many(
                conn,
                _UPDATE_TIER,
                [
                    {
                        "t_member": member_id,
                        "t_tier": self._tiers[member_id].tier,
                        "t_since": self._tiers[member_id].since,
                        "t_review": self._tiers[member_id].review_on,
                        "t_grace": self._tiers[member_id].grace,
                    }
                    for member_id in sorted(self._tiers_dirty)
                ],
            )
            self._tiers_dirty.clear()
        self.flush_changes()

    def forget(self, member_ids: Iterable[str]) -> None:
        """Drop written state of members a long run is done with (memory, not locks)."""
        for member_id in member_ids:
            self._known_days.pop(member_id, None)
            self._known_range.pop(member_id, None)
            self._loaded.pop(member_id, None)
            if member_id not in self._dirty:
                self._books.pop(member_id, None)
            if member_id not in self._tiers_dirty:
                self._tiers.pop(member_id, None)


_CHANGE_COLUMNS = (
    "member_id",
    "kind",
    "from_tier",
    "to_tier",
    "reason",
    "effective_on",
    "terminal_id",
    "seq",
    "hq_event_id",
)
_BULK_BOOKS = (
    "UPDATE member_lots AS t SET book = v.book, next_expiry = v.next_expiry "
    "FROM unnest(%(ids)b::text[], %(books)b::text[], %(nexts)b::text[]) "
    "AS v(member_id, book, next_expiry) WHERE t.member_id = v.member_id"
)
_BULK_TIERS = (
    "UPDATE members AS t SET tier = v.tier, tier_since = v.since, "
    "tier_review_on = v.review, tier_grace = v.grace "
    "FROM unnest(%(ids)s::text[], %(tiers)s::text[], %(since)s::text[], %(review)s::text[], "
    "%(grace)s::bool[]) AS v(member_id, tier, since, review, grace) "
    "WHERE t.member_id = v.member_id"
)


def _add_activity(insert: Callable[[Table], Any]) -> Any:
    stmt = insert(member_activity)
    return stmt.on_conflict_do_update(
        index_elements=[member_activity.c.member_id, member_activity.c.day],
        set_={
            "points": member_activity.c.points + stmt.excluded.points,
            "spend_minor": member_activity.c.spend_minor + stmt.excluded.spend_minor,
            "visits": member_activity.c.visits + stmt.excluded.visits,
        },
    )


_ADD_ACTIVITY = {False: _add_activity(sqlite_insert), True: _add_activity(pg_insert)}
"""Add a day's figures to a member's activity, by dialect (is it PostgreSQL?)."""
_INSERT_BOOK = member_lots.insert()
_UPDATE_BOOK = (
    update(member_lots)
    .where(member_lots.c.member_id == bindparam("l_member"))
    .values(book=bindparam("l_book"), next_expiry=bindparam("l_next"))
)
_UPDATE_TIER = (
    update(members)
    .where(members.c.member_id == bindparam("t_member"))
    .values(
        tier=bindparam("t_tier"),
        tier_since=bindparam("t_since"),
        tier_review_on=bindparam("t_review"),
        tier_grace=bindparam("t_grace"),
    )
)


# --- which rules ----------------------------------------------------------------------------


def sale_rules_version(sale: Sale) -> int | None:
    """The rules version a sale names: the one it earned with, else the one it redeemed with,
    else the first reward's."""
    if sale.earned is not None:
        return sale.earned.rules_version
    if sale.redeemed is not None:
        return sale.redeemed.rules_version
    if sale.rewards:
        return sale.rewards[0].rules_version
    return None


def _original_sale(ctx: LedgerContext, entry: JournalEntry, ref: Any) -> Sale | None:
    """The stored sale a return or void refers to (as far as ``entry`` may see it)."""
    if ref.terminal_id == entry.terminal_id and ref.seq > entry.seq:
        return None
    stored = ctx.stored_entry(ref.terminal_id, ref.seq)
    if stored is None or stored.entry_id != ref.entry_id or stored.kind != "sale":
        return None
    found = ctx.journal_entry(ref.terminal_id, ref.seq)
    payload = found.payload if found is not None else None
    return payload if isinstance(payload, Sale) else None


def original_rules_version(ctx: LedgerContext, entry: JournalEntry) -> int | None:
    """A return's or void's rules version: its original sale's (None when HQ lacks it)."""
    payload = entry.payload
    if not isinstance(payload, Return | Void):
        return None
    original = _original_sale(ctx, entry, payload.original)
    return sale_rules_version(original) if original is not None else None


# --- till entries -----------------------------------------------------------------------------


def after_sale(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    sale: Sale,
    member_id: str,
    rules: ProgramRules | None,
) -> None:
    """A member sale was posted: its activity, then the tier checks and an upgrade."""
    day = day_of(format_utc(entry.occurred_at))
    points = ctx.points
    points.add_activity(member_id, day, Activity(sale.points_earned, sale.total_minor, 1))
    ctx.changed(member_id)
    if rules is None:
        return
    held = points.tier(member_id)
    _check_tier_used(ctx, source, entry, sale, member_id, rules, held, day)
    held_rank = rank(rules, held.tier)
    if sale.tier_upgrade is None and all(rank(rules, t.code) <= held_rank for t in rules.tiers):
        return  # nothing to reach: no query for the qualifying total
    q = rules.tier_qualification
    total = points.totals({member_id: qualifying_window(q, day)})[member_id].total(q)
    reached = upgrade_for(rules, held.tier, total)
    if reached is not None:
        review_on = next_review(q, day)
        points.set_tier(
            member_id,
            TierStatus(reached.code, day.isoformat(), review_on.isoformat(), False),
            kind="upgrade",
            reason=upgrade_reason(rules, reached, total, day),
            effective_on=day,
            source=source,
        )
    claim = sale.tier_upgrade
    if claim is None:
        return
    now_tier = points.tier(member_id).tier
    if rank(rules, now_tier) >= rank(rules, claim.to_tier):
        return
    claimed = rules.tier(claim.to_tier)
    threshold = claimed.threshold_points if claimed is not None else claim.threshold
    current = rules.tier(now_tier) if now_tier else None
    ctx.raise_exception(
        "tier_mismatch",
        source,
        member_id,
        threshold - total,
        f"sale {source.label()} moved member {member_id} up to {claim.to_tier} "
        f"(till: {describe_total(rules, claim.qualifying_total)} of "
        f"{describe_total(rules, claim.threshold)}); HQ counts "
        f"{describe_total(rules, total)} of {describe_total(rules, threshold)} on "
        f"{day.isoformat()}: the member stays {current.name if current else now_tier or 'no tier'}",
    )


def _check_tier_used(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    sale: Sale,
    member_id: str,
    rules: ProgramRules,
    held: TierStatus,
    day: date,
) -> None:
    """The tier the till earned with (``Sale.tier``) against the tier HQ held for the member
    on the sale's day: where they differ and the points would too, ``tier_mismatch`` with
    the points difference. The till's figure stays posted."""
    if sale.tier is None or sale.earned is None or sale.tier == held.tier:
        return
    held_that_day = ctx.points.tiers_held_on(member_id, day)
    if sale.tier in held_that_day:
        return
    hq_tier = held.tier if held.tier in held_that_day else sorted(held_that_day, key=str)[0]
    with_till = check_earn(entry, sale, rules, tier=sale.tier)
    with_hq = check_earn(entry, sale, rules, tier=hq_tier)
    if with_till is None or with_hq is None:
        return
    difference = with_till.server_points - with_hq.server_points
    if difference == 0:
        return
    ctx.raise_exception(
        "tier_mismatch",
        source,
        member_id,
        difference,
        f"sale {source.label()} earned with tier {sale.tier}, but HQ holds member {member_id} "
        f"in {hq_tier or 'no tier'} on {day.isoformat()}: {with_till.server_points} points "
        f"with {sale.tier}, {with_hq.server_points} with {hq_tier or 'no tier'}",
    )


def after_return(ctx: LedgerContext, entry: JournalEntry, ret: Return, member_id: str) -> None:
    """A return takes its points and refund off the member's qualifying figures (its day)."""
    day = day_of(format_utc(entry.occurred_at))
    ctx.points.add_activity(member_id, day, Activity(-ret.points_reversed, -ret.refund_minor, 0))


def after_void(
    ctx: LedgerContext, entry: JournalEntry, void: Void, member_ids: Sequence[str]
) -> None:
    """A void undoes its sale's activity: earned points, spend and the visit (its day)."""
    original = _original_sale(ctx, entry, void.original)
    if original is None or original.member is None:
        return
    day = day_of(format_utc(entry.occurred_at))
    for member_id in member_ids:
        ctx.points.add_activity(
            member_id,
            day,
            Activity(-original.points_earned, -original.total_minor, -1),
        )


# --- HQ runs ------------------------------------------------------------------------------------

Progress = Callable[[int], None]


def _pages(ctx: LedgerContext, due: Callable[[str, int], list[str]]) -> Iterable[list[str]]:
    """Pages of due member ids, in id order (keyset: ``due(after, limit)``)."""
    after = ""
    while True:
        ids = due(after, PAGE)
        if not ids:
            return
        yield ids
        after = ids[-1]


def apply_expiry(
    ctx: LedgerContext,
    source: PostingSource,
    as_of: date,
    rules: ProgramRules | None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Expire what was last usable before ``as_of`` for every member whose ``next_expiry``
    has passed (an index range): member -> expired per member. The book expires only what
    the member did not owe while the points were usable (docs/rules.md, "Late entries").
    Returns counts: members, points."""
    expiry = rules.expiry if rules is not None else ExpiryRules()
    occurred_at = f"{as_of.isoformat()}T00:00:00.000000Z"
    cutoff = as_of.isoformat()

    def due(after: str, limit: int) -> list[str]:
        return list(
            ctx.conn.execute(
                select(member_lots.c.member_id)
                .where(member_lots.c.next_expiry < cutoff, member_lots.c.member_id > after)
                .order_by(member_lots.c.member_id)
                .limit(limit)
            ).scalars()
        )

    counts = {"members": 0, "points": 0, "seen": 0}
    for ids in _pages(ctx, due):
        ctx.lock_members(ids)
        for member_id in ids:
            book = ctx.points.book(member_id, as_of, expiry)
            book, done = book.expire(as_of, expiry)
            ctx.points.set_book(member_id, book, expiry)
            if done.expired:
                legs = pair(EXPIRED, member_account(member_id), done.expired, PostingKind.EXPIRE)
                ctx.post_raw(source, legs, occurred_at)
                counts["members"] += 1
                counts["points"] += done.expired
            ctx.changed(member_id)
        ctx.flush()
        ctx.points.forget(ids)
        counts["seen"] += len(ids)
        if progress is not None:
            progress(counts["seen"])
    return counts


def apply_review(
    ctx: LedgerContext,
    source: PostingSource,
    as_of: date,
    rules: ProgramRules | None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Review every member whose review date has come (``tier_review_on <= as_of``, an index
    range) with :func:`shared.points.tiers.review` over the window just ended. A member whose
    next review is also already due (a run days late) is reviewed again, so a second run
    with the same ``as_of`` finds nobody. Returns counts: reviewed, down, kept, grace, up."""
    counts = {"reviewed": 0, "down": 0, "kept": 0, "grace": 0, "up": 0}
    if rules is None:
        return counts
    q = rules.tier_qualification
    cutoff = as_of.isoformat()

    def due(after: str, limit: int) -> list[str]:
        return list(
            ctx.conn.execute(
                select(members.c.member_id)
                .where(and_(members.c.tier_review_on <= cutoff, members.c.member_id > after))
                .order_by(members.c.member_id)
                .limit(limit)
            ).scalars()
        )

    seen = 0
    ctx.points.read_books = False  # a review moves no points
    for ids in _pages(ctx, due):
        ctx.lock_members(ids)
        ctx.points.load_tiers(ids)
        pending = {m: ctx.points.tier(m) for m in ids}
        first = dict(pending)
        final: dict[str, TierStatus] = {}
        while pending:
            windows = {
                m: review_window(q, date.fromisoformat(s.review_on))
                for m, s in pending.items()
                if s.review_on is not None
            }
            totals = ctx.points.totals(windows)
            again: dict[str, TierStatus] = {}
            for member_id, status in pending.items():
                if status.review_on is None or status.review_on > cutoff:
                    continue
                review_on = date.fromisoformat(status.review_on)
                outcome = review(
                    rules,
                    status.tier,
                    in_grace=status.grace,
                    review_on=review_on,
                    total=totals[member_id].total(q),
                )
                # Kept or moved: the tier counts from this review; on grace: from before.
                after = TierStatus(
                    outcome.tier,
                    status.since if outcome.grace else review_on.isoformat(),
                    outcome.next_review.isoformat() if outcome.next_review else None,
                    outcome.grace,
                )
                ctx.points.set_tier(
                    member_id,
                    after,
                    kind="review",
                    reason=outcome.reason,
                    effective_on=review_on,
                    source=source,
                )
                ctx.changed(member_id)
                final[member_id] = after
                if after.review_on is not None and after.review_on <= cutoff:
                    again[member_id] = after
            pending = again
        for member_id, after in final.items():
            # Counted once per member, by where the run left them.
            counts["reviewed"] += 1
            old_rank, new_rank = rank(rules, first[member_id].tier), rank(rules, after.tier)
            if new_rank < old_rank:
                counts["down"] += 1
            elif new_rank > old_rank:
                counts["up"] += 1
            elif after.grace:
                counts["grace"] += 1
            else:
                counts["kept"] += 1
        ctx.flush()
        ctx.points.forget(ids)
        seen += len(ids)
        if progress is not None:
            progress(seen)
    return counts


def any_due(conn: Connection, kind: str, as_of: date) -> bool:
    """Whether a run of ``kind`` with ``as_of`` would find anybody (one index probe)."""
    cutoff = as_of.isoformat()
    if kind == "tier_review":
        query = select(members.c.member_id).where(members.c.tier_review_on <= cutoff)
    else:
        query = select(member_lots.c.member_id).where(member_lots.c.next_expiry < cutoff)
    return conn.execute(query.limit(1)).first() is not None


def due_count(conn: Connection, kind: str, as_of: date) -> int:
    """How many members a run would look at (for a progress bar)."""
    cutoff = as_of.isoformat()
    if kind == "tier_review":
        query = select(func.count()).where(members.c.tier_review_on <= cutoff)
    else:
        query = select(func.count()).where(member_lots.c.next_expiry < cutoff)
    return int(conn.execute(query).scalar_one())
