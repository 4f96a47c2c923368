"""Properties of the lot book (shared/points/lots.py; docs/rules.md, "Points expiry").

Every operation is checked against the postings it implies: a credit posts +P, a debit −D
(after posting back the points it un-expires), an expiry run −X to ``expired``, a visit the
points it un-expires. Whatever sequence of operations ran, the book's lots less its debts are
the member's balance in those postings, and its expired points are what the postings put in
``expired``. Then the late-entry rules: the final balance and total expired do not depend on
the order in which dated entries reach HQ relative to the expiry runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from hypothesis import given, note
from hypothesis import strategies as st

from shared.points.lots import Expiry, LotBook, add_months, lot_expiry
from shared.rules.model import ExpiryRules

START = date(2025, 1, 1)
DAYS = 3 * 366
"""Every date of an example falls in the three years from START."""

# --- strategies ----------------------------------------------------------------------------

dated_rules = st.one_of(
    st.builds(
        lambda months: ExpiryRules(mode="months_after_earn", months=months),
        st.integers(1, 18),
    ),
    st.builds(lambda years: ExpiryRules(mode="end_of_year", years=years), st.integers(0, 2)),
)
"""Rules where each lot has its own date (the order property's subject)."""

any_rules = st.one_of(
    dated_rules,
    st.just(ExpiryRules()),
    st.builds(lambda months: ExpiryRules(mode="inactivity", months=months), st.integers(1, 6)),
)

days = st.integers(0, DAYS - 1).map(lambda n: START + timedelta(days=n))
points = st.integers(1, 400)


@dataclass(frozen=True)
class Entry:
    """A dated till entry or HQ event as it reaches the book."""

    kind: Literal["credit", "debit", "visit"]
    on: date
    amount: int = 0
    ref: str = ""


@dataclass(frozen=True)
class Run:
    """An expiry run."""

    as_of: date


Op = Entry | Run


@st.composite
def operations(draw: st.DrawFn, *, visits: bool) -> list[Op]:
    """Credits (unique refs), debits, expiry runs, and (``visits``) visits, in any order."""
    kinds = ["credit", "credit", "debit", "run"] + (["visit"] if visits else [])
    ops: list[Op] = []
    for index, kind in enumerate(draw(st.lists(st.sampled_from(kinds), max_size=30))):
        on = draw(days)
        if kind == "run":
            ops.append(Run(on))
        elif kind == "visit":
            ops.append(Entry("visit", on))
        elif kind == "debit":
            ops.append(Entry("debit", on, draw(points), f"r{index:03d}"))
        else:
            ops.append(Entry("credit", on, draw(points), f"r{index:03d}"))
    return ops


# --- the book beside its postings ----------------------------------------------------------


@dataclass
class Postings:
    """What the caller posted: the member's balance and the ``expired`` account."""

    balance: int = 0
    expired: int = 0


def apply(
    book: LotBook, op: Op, rules: ExpiryRules, posted: Postings
) -> tuple[LotBook, Expiry | None]:
    """One operation, with the checks that hold for every single step."""
    before = book
    if isinstance(op, Run):
        book, expiry = book.expire(op.as_of, rules)
        assert expiry.expired >= 0
        assert expiry.paid_debt >= 0
        assert sum(points for _, _, points in expiry.lots) == expiry.expired
        # Never below zero by what was owed while the points were alive: only a debt dated
        # after the day of the points the run expires (a debit made when they were already
        # gone) can leave the member lower than min(0, before).
        days_expired = [day for _, day, _ in expiry.lots]
        late = sum(d.amount for d in before.debts if days_expired and d.on > min(days_expired))
        assert book.balance >= min(0, before.balance) - late
        posted.balance -= expiry.expired
        posted.expired += expiry.expired
        # Idempotent: the same run again, or an earlier one, finds nothing.
        for as_of in (op.as_of, op.as_of - timedelta(days=1)):
            again, nothing = book.expire(as_of, rules)
            assert nothing == Expiry(0, ())
            assert again == book
        return book, expiry
    if op.kind == "credit":
        book = book.credit(op.on, op.amount, lot_expiry(rules, op.on), op.ref)
        posted.balance += op.amount
    elif op.kind == "visit":
        book, unexpired = book.visit(op.on, rules)
        assert unexpired >= 0
        posted.balance += unexpired
        posted.expired -= unexpired
    else:
        book, used = book.debit(op.on, op.amount)
        assert_fifo(before, book, op.on, op.amount, used.taken, used.unexpired, used.debt)
        posted.balance += used.unexpired - op.amount
        posted.expired -= used.unexpired
    return book, None


def assert_fifo(
    before: LotBook,
    after: LotBook,
    on: date,
    amount: int,
    taken: tuple[tuple[str, int], ...],
    unexpired: int,
    debt: int,
) -> None:
    """A debit takes each point once: from lots alive on its day, never more than a lot
    held, oldest first, and exactly the debit less what became a debt."""
    lots = {lot.ref: lot for lot in before.lots}
    left = {lot.ref: lot for lot in after.lots}
    assert 0 <= debt <= amount
    assert sum(points for _, points in taken) == amount - debt
    assert len({ref for ref, _ in taken}) == len(taken), "a lot taken twice by one debit"
    for ref, points in taken:
        lot = lots[ref]
        assert lot.alive_on(on), f"took from {ref}, not alive on {on}"
        assert 0 < points <= lot.remaining + lot.expired
        now = left.get(ref)
        held = (now.remaining + now.expired) if now else 0
        assert held == lot.remaining + lot.expired - points, f"{ref} lost other points"
    assert 0 <= unexpired <= sum(lot.expired for lot in before.lots)
    # Oldest first: every usable lot older than the newest one taken is used up.
    if taken:
        newest = lots[taken[-1][0]].order
        assert [ref for ref, _ in taken] == sorted(
            (ref for ref, _ in taken), key=lambda ref: lots[ref].order
        )
        for lot in before.lots:
            if lot.alive_on(on) and lot.order < newest:
                assert lot.ref in dict(taken) or not (lot.remaining or lot.expired)
                if lot.ref in left:
                    assert not left[lot.ref].remaining
                    assert not left[lot.ref].expired
    if debt:  # a debt only when nothing alive was left to take
        assert not any(lot.alive_on(on) and (lot.remaining or lot.expired) for lot in after.lots)
    # Lots not taken are untouched.
    for ref, lot in lots.items():
        if ref not in dict(taken):
            assert left.get(ref) == lot


def run_all(ops: list[Op], rules: ExpiryRules) -> tuple[LotBook, Postings]:
    book, posted = LotBook(), Postings()
    for op in ops:
        book, _ = apply(book, op, rules, posted)
        book.check_lots()
        if rules.mode != "inactivity":
            # No point waits in a lot while a debt it could pay is open: a debit takes every
            # live lot before owing, a credit and an expiring lot pay what they were alive for.
            for lot in book.lots:
                assert not (lot.remaining and any(lot.alive_on(d.on) for d in book.debts))
        assert book.balance == posted.balance
        assert book.total_expired == posted.expired
    return book, posted


# --- properties ----------------------------------------------------------------------------


@given(rules=any_rules, ops=operations(visits=True))
def test_lots_less_debts_are_the_balance_the_postings_imply(
    rules: ExpiryRules, ops: list[Op]
) -> None:
    """After any sequence: FIFO never double-spends, no lot below zero, lots − debts ==
    the posted balance, expired points == what was posted to ``expired``, and every run is
    idempotent and never takes the member below min(0, before) but by debts incurred after
    the expired points' day."""
    book, posted = run_all(ops, rules)
    assert book.balance == posted.balance
    assert LotBook.from_json(book.to_json()) == book


@given(rules=any_rules, ops=operations(visits=True), as_of=days)
def test_an_expiry_run_is_idempotent(rules: ExpiryRules, ops: list[Op], as_of: date) -> None:
    book, _ = run_all(ops, rules)
    once, first = book.expire(as_of, rules)
    twice, second = once.expire(as_of, rules)
    assert twice == once
    assert second == Expiry(0, ())
    assert once.balance == book.balance - first.expired
    if not book.debts:
        assert once.balance >= 0


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[ExpiryRules, list[Entry], list[date], list[Op]]:
    """Dated credits and debits in the order they reach HQ (their time order, or any other),
    expiry runs in as_of order, and one interleaving of the two."""
    rules = draw(dated_rules)
    ops = draw(operations(visits=False))
    entries = [op for op in ops if isinstance(op, Entry)]
    if draw(st.booleans()):
        entries.sort(key=lambda e: (e.on, e.ref))
    else:
        entries = list(draw(st.permutations(entries)))
    runs = sorted({op.as_of for op in ops if isinstance(op, Run)})
    # Each run goes in at some point of the arrival order; runs keep their as_of order.
    cuts = sorted(draw(st.lists(st.integers(0, len(entries)), min_size=len(runs))))[: len(runs)]
    arrival: list[Op] = []
    position = 0
    for run, cut in zip(runs, cuts, strict=True):
        arrival += entries[position:cut]
        arrival.append(Run(run))
        position = cut
    arrival += entries[position:]
    return rules, entries, runs, arrival


def in_time_order(entries: list[Entry], runs: list[date]) -> list[Op]:
    """The order things happened in: the run on as_of expires what was last usable before
    as_of, so it comes after every entry dated before as_of and before those of as_of."""
    ops: list[tuple[date, int, Op]] = [(e.on, 1, e) for e in entries]
    ops += [(as_of, 0, Run(as_of)) for as_of in runs]
    return [op for _, _, op in sorted(ops, key=lambda item: (item[0], item[1]))]


@given(arrivals())
def test_expiry_commutes_with_the_order_entries_arrive_in(
    case: tuple[ExpiryRules, list[Entry], list[date], list[Op]],
) -> None:
    """Whether a dated entry reaches HQ before or after an expiry run makes no difference:
    the final balance, the total expired and every posting add up to the same as when every
    entry arrived before every run — and, for entries arriving in time order, as when each
    arrived on its day, between the runs. (The last run is repeated at the end, as the next
    daily run does, to expire what a late credit brought in already expired.)

    Entries keep their own arrival order here: FIFO is decided on arrival. An older lot that
    reaches HQ after a debit (or a credit paying a debt) already used a newer one does not
    take its place, so which of the two lots' points expire can depend on the order in which
    *entries* arrive — documented in docs/rules.md, "Late entries"."""
    rules, entries, runs, arrival = case
    catch_up: list[Op] = [Run(runs[-1])] if runs else []
    expected, expected_posted = run_all([*entries, *map(Run, runs), *catch_up], rules)
    note(f"entries first: {expected}")
    got, got_posted = run_all(arrival + catch_up, rules)
    note(f"as arrived: {got}")
    assert (got.balance, got.total_expired) == (expected.balance, expected.total_expired)
    assert got_posted == expected_posted
    if entries == sorted(entries, key=lambda e: (e.on, e.ref)):
        timely, timely_posted = run_all(in_time_order(entries, runs) + catch_up, rules)
        assert (timely.balance, timely.total_expired) == (got.balance, got.total_expired)
        assert timely_posted == got_posted


@given(rules=dated_rules, ops=operations(visits=False))
def test_with_daily_runs_an_expiry_never_takes_a_member_below_zero(
    rules: ExpiryRules, ops: list[Op]
) -> None:
    """Entries as they happened and a run every day (at least the day after each lot's last
    day, the only days a daily run finds something): no run takes a member in credit below
    zero, nor one in debt further down. (With runs missed, a debit made after the points'
    day can meet them still unexpired: that overdraft then shows when the run catches up —
    the same figures as with daily runs, see the commutation property above.)"""
    entries = [op for op in ops if isinstance(op, Entry)]
    runs = {op.as_of for op in ops if isinstance(op, Run)}
    for entry in entries:
        last = lot_expiry(rules, entry.on)
        if entry.kind == "credit" and last is not None:
            runs.add(last + timedelta(days=1))
    book, posted = LotBook(), Postings()
    for op in in_time_order(entries, sorted(runs)):
        before = book.balance
        book, _ = apply(book, op, rules, posted)
        if isinstance(op, Run):
            assert book.balance >= min(0, before)


# --- examples ------------------------------------------------------------------------------

YEAR = ExpiryRules(mode="months_after_earn", months=12)


def test_fifo_takes_the_oldest_lot_first() -> None:
    """100 earned in January and 150 in March; redeeming 120 uses up January's lot and 20 of
    March's (the issue's example)."""
    book = LotBook().credit(date(2025, 1, 10), 100, lot_expiry(YEAR, date(2025, 1, 10)), "jan")
    book = book.credit(date(2025, 3, 5), 150, lot_expiry(YEAR, date(2025, 3, 5)), "mar")
    book, used = book.debit(date(2025, 4, 1), 120)
    assert used.taken == (("jan", 100), ("mar", 20))
    assert used.debt == 0
    assert [(lot.ref, lot.remaining) for lot in book.lots] == [("mar", 130)]


def test_a_redemption_that_arrives_after_the_run_takes_back_what_it_expired() -> None:
    """Rule 1: the till redeemed offline on the lot's last day; the run reached HQ first."""
    earned = date(2025, 1, 10)
    book = LotBook().credit(earned, 100, lot_expiry(YEAR, earned), "jan")
    book, expiry = book.expire(date(2026, 1, 11), YEAR)
    assert expiry.expired == 100
    assert book.balance == 0
    book, used = book.debit(date(2026, 1, 10), 60)
    assert used.unexpired == 60
    assert used.debt == 0
    assert (book.balance, book.total_expired) == (0, 40)


def test_month_arithmetic_clamps_to_the_last_day() -> None:
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 3, 15), -3) == date(2024, 12, 15)
