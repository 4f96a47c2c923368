"""Points lots: which points a member holds, since when, until when (docs/rules.md, "Points
expiry"; docs/ledger.md, "Expiry and late entries").

Every credit of points to a member opens a *lot* (earned on a day, usable through
``expires_on``); every debit consumes lots oldest first (FIFO). An expiry run moves what is
left of the lots whose day has passed to the ``expired`` account.

Tills are offline for hours or days, so entries reach HQ out of time order, sometimes after
an expiry run has already happened. The book keeps the answer the same whatever the arrival
order, by two rules:

1. **A debit uses the lots as they stood at the debit's time.** A debit on day *d* may take
   from every lot still alive on *d* (``expires_on`` on or after *d*), oldest first — also
   from the part an expiry run has already expired, since that run could not know the points
   had been spent: that part is *un-expired* (moved back from ``expired``) and consumed. So a
   redemption made offline before the expiry date is never refused or overdrawn by a run
   that happened to reach HQ first.
2. **A debit no lot can cover is a debt, dated.** A later credit pays it off only if the new
   lot was alive on the debt's day; a lot that had already expired by then stays a lot (and
   the next run expires it), exactly as if it had arrived first.

An expiry never takes a member below zero by points they owed while the points were alive:
what is left of an expiring lot first pays the debts it was alive for (as a credit would,
rule 2) and only the rest expires. A debt dated after the lot's last day is the overdraft
of a debit made when those points were already gone; the lot does not pay it, so the result
is the same whether the run reached HQ before or after that debit.

The book is a pure value: every operation returns a new book and what moved, and the caller
posts the movements (the server's ledger, the till's display).
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from shared.rules.model import ExpiryRules

__all__ = [
    "Consumption",
    "Debt",
    "Expiry",
    "Lot",
    "LotBook",
    "LotInvariantError",
    "add_months",
    "lot_expiry",
]


class LotInvariantError(ValueError):
    """A book whose figures do not add up (a bug or a tampered record)."""


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day (31 Jan + 1
    month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def lot_expiry(rules: ExpiryRules, earned_on: date) -> date | None:
    """The last day points earned on ``earned_on`` can be used, or None (never, or — in
    ``inactivity`` mode — not until the member stops visiting)."""
    if rules.mode == "months_after_earn":
        assert rules.months is not None  # checked by ExpiryRules
        return add_months(earned_on, rules.months)
    if rules.mode == "end_of_year":
        return date(earned_on.year + rules.years, 12, 31)
    return None


@dataclass(frozen=True, slots=True)
class Lot:
    """Points credited on one day by one entry or HQ event (``ref``)."""

    earned_on: date
    expires_on: date | None
    """The last day the lot can be used; None while it does not expire."""
    amount: int
    remaining: int
    """Points of the lot the member still holds."""
    expired: int
    """Points of the lot an expiry run moved to ``expired`` (a late debit can take them back)."""
    ref: str

    def alive_on(self, day: date) -> bool:
        return self.expires_on is None or day <= self.expires_on

    @property
    def order(self) -> tuple[date, str]:
        """FIFO order: oldest first; the same day by the source's reference, so the order
        does not depend on which entry reached HQ first."""
        return (self.earned_on, self.ref)


@dataclass(frozen=True, slots=True)
class Debt:
    """Points debited on ``on`` that no lot covered (an overdraft)."""

    on: date
    amount: int


@dataclass(frozen=True, slots=True)
class Consumption:
    """What one debit did to the book."""

    taken: tuple[tuple[str, int], ...]
    """(lot ref, points) in the order taken."""
    unexpired: int
    """Points moved back from ``expired`` to cover the debit (rule 1): post them before the
    debit itself."""
    debt: int
    """Points no lot covered."""


@dataclass(frozen=True, slots=True)
class Expiry:
    """What one expiry run did to one member's book."""

    expired: int
    """Points to post from the member to ``expired``."""
    lots: tuple[tuple[str, date, int], ...]
    """(lot ref, expires_on, points expired) per lot."""
    paid_debt: int = 0
    """Points of expiring lots that paid debts they were alive for instead of expiring."""


@dataclass(frozen=True)
class LotBook:
    """One member's lots (FIFO order), debts, and last visit (``inactivity`` mode)."""

    lots: tuple[Lot, ...] = ()
    debts: tuple[Debt, ...] = ()
    last_visit: date | None = None
    _check: bool = field(default=True, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._check:
            self.check_lots()

    # --- invariants ------------------------------------------------------------------------

    def check_lots(self) -> None:
        """Every figure non-negative, each lot's parts within its amount, FIFO order kept."""
        for lot in self.lots:
            if lot.remaining < 0 or lot.expired < 0 or lot.amount <= 0:
                raise LotInvariantError(f"lot {lot.ref}: negative figures {lot}")
            if lot.remaining + lot.expired > lot.amount:
                raise LotInvariantError(f"lot {lot.ref}: remaining + expired exceed its amount")
            if lot.expired and lot.expires_on is None:
                raise LotInvariantError(f"lot {lot.ref}: expired points but no expiry date")
        orders = [lot.order for lot in self.lots]
        if orders != sorted(orders):
            raise LotInvariantError("lots are not in FIFO order")
        if any(debt.amount <= 0 for debt in self.debts):
            raise LotInvariantError("a debt must be positive")

    # --- figures ---------------------------------------------------------------------------

    @property
    def balance(self) -> int:
        """What the member holds: the lots' remaining points less the debts. Always equals
        the member's balance in the ledger."""
        return sum(lot.remaining for lot in self.lots) - sum(d.amount for d in self.debts)

    @property
    def total_expired(self) -> int:
        return sum(lot.expired for lot in self.lots)

    def next_expiry(self, rules: ExpiryRules) -> date | None:
        """The earliest day on which some of the member's points are last usable."""
        if rules.mode == "inactivity":
            if self.last_visit is None or rules.months is None:
                return None
            if not any(lot.remaining and lot.expires_on is None for lot in self.lots):
                return None
            return add_months(self.last_visit, rules.months)
        days = [lot.expires_on for lot in self.lots if lot.remaining and lot.expires_on]
        return min(days, default=None)

    def expiring(self, rules: ExpiryRules, *, limit: int = 12) -> tuple[tuple[date, int], ...]:
        """Points by the day they expire, soonest first (at most ``limit`` days), as the till
        and HQ show them ("1,200 pts expire on 31 Jan"). Debts are taken off the soonest."""
        by_day: dict[date, int] = {}
        if rules.mode == "inactivity":
            day = self.next_expiry(rules)
            if day is not None:
                by_day[day] = sum(lot.remaining for lot in self.lots if lot.expires_on is None)
        else:
            for lot in self.lots:
                if lot.remaining and lot.expires_on is not None:
                    by_day[lot.expires_on] = by_day.get(lot.expires_on, 0) + lot.remaining
        owed = sum(d.amount for d in self.debts)
        out: list[tuple[date, int]] = []
        for day in sorted(by_day):
            points = by_day[day]
            paid = min(owed, points)
            owed -= paid
            if points - paid > 0:
                out.append((day, points - paid))
        return tuple(out[:limit])

    # --- operations ------------------------------------------------------------------------

    def credit(self, on: date, amount: int, expires_on: date | None, ref: str) -> LotBook:
        """Points credited on ``on`` (earned, restored, adjusted up): a new lot, which first
        pays the debts it was alive for (rule 2)."""
        if amount <= 0:
            raise ValueError(f"a credit must be positive, not {amount}")
        left = amount
        debts: list[Debt] = []
        for debt in self.debts:
            if left and (expires_on is None or debt.on <= expires_on):
                paid = min(left, debt.amount)
                left -= paid
                if debt.amount > paid:
                    debts.append(Debt(debt.on, debt.amount - paid))
            else:
                debts.append(debt)
        lots = sorted((*self.lots, Lot(on, expires_on, amount, left, 0, ref)), key=_fifo)
        return replace(self, lots=_pruned(lots), debts=tuple(debts))

    def debit(self, on: date, amount: int) -> tuple[LotBook, Consumption]:
        """Points debited on ``on`` (redeemed, reversed, adjusted down): FIFO over the lots
        alive on ``on``, taking back expired points where needed (rule 1); the rest is a
        dated debt."""
        if amount <= 0:
            raise ValueError(f"a debit must be positive, not {amount}")
        left = amount
        taken: list[tuple[str, int]] = []
        unexpired = 0
        lots: list[Lot] = []
        for lot in self.lots:
            if left and lot.alive_on(on) and (lot.remaining or lot.expired):
                from_remaining = min(left, lot.remaining)
                from_expired = min(left - from_remaining, lot.expired)
                took = from_remaining + from_expired
                left -= took
                unexpired += from_expired
                taken.append((lot.ref, took))
                lot = replace(
                    lot,
                    remaining=lot.remaining - from_remaining,
                    expired=lot.expired - from_expired,
                )
            lots.append(lot)
        debts = self.debts
        if left:
            debts = tuple(sorted((*debts, Debt(on, left)), key=lambda d: d.on))
        book = replace(self, lots=_pruned(lots), debts=debts)
        return book, Consumption(tuple(taken), unexpired, left)

    def visit(self, on: date, rules: ExpiryRules) -> tuple[LotBook, int]:
        """A visit on ``on``. In ``inactivity`` mode it extends every lot; a visit that reaches
        HQ after a run expired points it would have saved takes them back. Returns the book
        and the points un-expired (post them from ``expired`` back to the member)."""
        if rules.mode != "inactivity" or rules.months is None:
            return self, 0
        if self.last_visit is not None and on <= self.last_visit:
            return self, 0
        unexpired = 0
        lots = []
        for lot in self.lots:
            # A lot expired on a day on or after this visit would still be alive.
            if lot.expires_on is not None and lot.expires_on >= on and lot.earned_on <= on:
                unexpired += lot.expired
                lot = replace(
                    lot, remaining=lot.remaining + lot.expired, expired=0, expires_on=None
                )
            lots.append(lot)
        return replace(self, lots=_pruned(lots), last_visit=on), unexpired

    def expire(self, as_of: date, rules: ExpiryRules) -> tuple[LotBook, Expiry]:
        """Expire what was last usable before ``as_of``. Idempotent: a second run with the same
        (or an earlier) date finds nothing."""
        lots = list(self.lots)
        if rules.mode == "inactivity":
            day = self.next_expiry(rules)
            if day is None or day >= as_of:
                return self, Expiry(0, ())
            lots = [replace(lot, expires_on=day) if lot.expires_on is None else lot for lot in lots]
        due = [i for i, lot in enumerate(lots) if lot.remaining and _due(lot, as_of)]
        if not due:
            return self, Expiry(0, ())
        debts = list(self.debts)
        paid_debt = 0
        expired_total = 0
        moved: list[tuple[str, date, int]] = []
        for i in due:
            lot = lots[i]
            assert lot.expires_on is not None
            # What is left of the lot first pays the debts it was alive for, oldest first,
            # exactly as a credit does (rule 2): those points were owed before they expired.
            # A debt dated after the lot's last day is not paid from it: the points were
            # already gone when it was incurred, and paying it would make the result depend
            # on whether the run reached HQ before or after the debit.
            left = lot.remaining
            for k, debt in enumerate(debts):
                if left and debt.amount and debt.on <= lot.expires_on:
                    paid = min(left, debt.amount)
                    left -= paid
                    paid_debt += paid
                    debts[k] = Debt(debt.on, debt.amount - paid)
            debts = [debt for debt in debts if debt.amount]
            expired_total += left
            if left:
                moved.append((lot.ref, lot.expires_on, left))
            lots[i] = replace(lot, remaining=0, expired=lot.expired + left)
        book = replace(self, lots=_pruned(lots), debts=tuple(debts))
        return book, Expiry(expired_total, tuple(moved), paid_debt)

    # --- storage ---------------------------------------------------------------------------

    def to_json(self) -> str:
        """Compact JSON (HQ keeps one row per member)."""
        return json.dumps(
            {
                "l": [
                    [
                        lot.earned_on.isoformat(),
                        lot.expires_on.isoformat() if lot.expires_on else None,
                        lot.amount,
                        lot.remaining,
                        lot.expired,
                        lot.ref,
                    ]
                    for lot in self.lots
                ],
                "d": [[d.on.isoformat(), d.amount] for d in self.debts],
                "v": self.last_visit.isoformat() if self.last_visit else None,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes | None) -> LotBook:
        if not text:
            return cls()
        data: dict[str, Any] = json.loads(text)
        return cls(
            lots=tuple(
                Lot(
                    date.fromisoformat(row[0]),
                    date.fromisoformat(row[1]) if row[1] else None,
                    int(row[2]),
                    int(row[3]),
                    int(row[4]),
                    str(row[5]),
                )
                for row in data.get("l", ())
            ),
            debts=tuple(
                Debt(date.fromisoformat(on), int(amount)) for on, amount in data.get("d", ())
            ),
            last_visit=date.fromisoformat(data["v"]) if data.get("v") else None,
        )

    @classmethod
    def opening(cls, lots: Iterable[tuple[date, date | None, int, str]]) -> LotBook:
        """A book from (earned_on, expires_on, points, ref) credits, e.g. for an import."""
        book = cls()
        for earned_on, expires_on, points, ref in lots:
            if points > 0:
                book = book.credit(earned_on, points, expires_on, ref)
        return book


def _due(lot: Lot, as_of: date) -> bool:
    return lot.expires_on is not None and lot.expires_on < as_of


def _pruned(lots: Sequence[Lot]) -> tuple[Lot, ...]:
    """Drop lots that are used up: nothing left and nothing expired a late debit could take
    back."""
    return tuple(lot for lot in lots if lot.remaining or lot.expired)


def _fifo(lot: Lot) -> tuple[date, str]:
    return lot.order
