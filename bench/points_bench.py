"""Points expiry and tier review benchmark: figures, not pass/fail.

    .venv/bin/python -m bench.points_bench --members 1000000 --db sqlite|postgres|both
        [--pg URL] [--seed 7] [--json FILE]

1. **Seeding.** A fresh server database (``syncserver init``'s ``initialise``; on PostgreSQL a
   new ``loyaltill_bench_*`` database, dropped at the end) gets the demo program with tiers
   (Silver 2,500 / Gold 10,000 points in a rolling 12 months, a month's grace, one tier down)
   and points that expire 12 months after they were earned. Then N members, in bulk (COPY on
   PostgreSQL, executemany on SQLite; not the push path), each with a genuine lot book
   (``shared.points.lots``: 0–9 earnings and maybe a redemption over the last 13 months),
   ``member_balances`` equal to the book's balance, ``member_lots.next_expiry`` as the ledger
   keeps it, and the day-by-day ``member_activity`` the tier figures sum. Books come from a
   few thousand generated histories (each member one of them), so seeding is bound by the
   inserts. Members in Silver or Gold have a review date spread over a year around the run's
   day: about one in twelve is due, as on the first run after a month without one.
2. **The runs.** ``points expire`` (``run_points_expiry``) and ``tiers review``
   (``run_tier_review``) as of the seeding day, each timed with progress on stderr, then run
   again to show the idempotent second run ("nothing due"). Printed: members due, seconds,
   members/s and rows written/s (postings and books for expiry; tier changes and member rows
   for the review).

PostgreSQL comes from ``--pg`` or ``LOYALTILL_BENCH_PG`` / ``LOYALTILL_TEST_PG`` (loopback
only). Nothing here asserts a time; the issue's target is ≤ 60 s a run at 1,000,000 members.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from bench.sync_bench import ProgressLine, check_loopback, demo_rules_json, fresh_database, say
from shared.points.lots import LotBook, lot_expiry
from shared.points.tiers import qualifying_window, tier_for
from shared.rules import ProgramRules
from syncserver.hq.rules import publish_rules
from syncserver.hq.setup import initialise
from syncserver.ledger.periodic import RunResult, run_points_expiry, run_tier_review
from syncserver.settings import utc_now
from syncserver.storage.audit import Actor
from syncserver.storage.counter import allocate_positions
from syncserver.storage.database import Database, bulk_insert
from syncserver.storage.schema import (
    member_activity,
    member_balances,
    member_lots,
    members,
    postings,
    tier_changes,
)

HISTORIES = 4096
"""Distinct member histories; each member is one of them."""
HISTORY_DAYS = 395
"""About 13 months: the oldest lots are past their 12 months."""
BATCH = 20_000
ACTOR = Actor("bench", via="cli")


def bench_rules() -> str:
    """The demo program with tier qualification and 12-month expiry."""
    document = json.loads(demo_rules_json())
    document["version"] += 1
    document["tier_qualification"] = {
        "metric": "points",
        "period": "rolling",
        "window_months": 12,
        "grace_months": 1,
        "one_tier_down": True,
    }
    document["expiry"] = {"mode": "months_after_earn", "months": 12}
    return json.dumps(document)


# --- member histories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    book: str
    balance: int
    next_expiry: str | None
    activity: tuple[tuple[str, int, int, int], ...]
    """(day, points, spend_minor, visits)"""
    tier: str
    """The tier the last 12 months' points reach."""


def make_histories(rules: ProgramRules, as_of: date, rng: random.Random) -> list[History]:
    """Earnings of 20–900 points on random days of the last 13 months (a few members earn
    a lot, so Silver and Gold exist), and now and then a redemption, through the real book."""
    out = []
    for n in range(HISTORIES):
        book = LotBook()
        by_day: dict[date, list[int]] = {}
        heavy = rng.random() < 0.25
        for k in range(rng.randint(0, 9)):
            day = as_of - timedelta(days=rng.randint(1, HISTORY_DAYS))
            points = rng.randint(200, 2500) if heavy else rng.randint(20, 900)
            book = book.credit(day, points, lot_expiry(rules.expiry, day), f"T{n:04d}#{k}")
            spent = by_day.setdefault(day, [0, 0, 0])
            spent[0] += points
            spent[1] += points * 100
            spent[2] += 1
        if book.balance > 400 and rng.random() < 0.3:
            day = as_of - timedelta(days=rng.randint(1, 60))
            book, _used = book.debit(day, rng.choice((200, 300, 400)))
        window = qualifying_window(rules.tier_qualification, as_of)
        total = sum(p for day, (p, _s, _v) in by_day.items() if window[0] <= day < window[1])
        reached = tier_for(rules, total)
        next_expiry = book.next_expiry(rules.expiry)
        out.append(
            History(
                book.to_json(),
                book.balance,
                next_expiry.isoformat() if next_expiry else None,
                tuple((day.isoformat(), p, s, v) for day, (p, s, v) in sorted(by_day.items())),
                reached.code if reached else "member",
            )
        )
    return out


# --- seeding ------------------------------------------------------------------------------------


@dataclass
class Seeded:
    members: int
    activity_rows: int
    seconds: float


def seed(database: Database, count: int, as_of: date, seed_value: int) -> Seeded:
    rng = random.Random(seed_value)
    initialise(database)
    publish_rules(database, bench_rules())
    rules = ProgramRules.from_json(bench_rules())
    histories = make_histories(rules, as_of, rng)
    bar = ProgressLine("seed members", count)
    start = time.perf_counter()
    activity_rows = 0
    try:
        with database.write() as conn:
            now = utc_now()
            stamp = now if database.is_postgres else now.strftime("%Y-%m-%d %H:%M:%S.%f")
            first = allocate_positions(conn, count)
            done = 0
            while done < count:
                size = min(BATCH, count - done)
                people, balances, lots, days = [], [], [], []
                for n in range(done + 1, done + size + 1):
                    member_id = f"M{n:010d}"
                    history = histories[rng.randrange(HISTORIES)]
                    tiered = history.tier != "member"
                    review_on = as_of + timedelta(days=rng.randint(-30, 335)) if tiered else None
                    people.append(
                        (
                            member_id,
                            f"Member {n}",
                            history.tier,
                            False,
                            stamp,
                            first + n - 1,
                            (review_on - timedelta(days=365)).isoformat() if review_on else None,
                            review_on.isoformat() if review_on else None,
                            False,
                        )
                    )
                    balances.append((member_id, history.balance))
                    lots.append((member_id, history.book, history.next_expiry))
                    days += [(member_id, *row) for row in history.activity]
                bulk_insert(
                    conn,
                    members,
                    (
                        "member_id",
                        "name",
                        "tier",
                        "marketing_consent",
                        "created_at",
                        "change_seq",
                        "tier_since",
                        "tier_review_on",
                        "tier_grace",
                    ),
                    people,
                )
                bulk_insert(conn, member_balances, ("member_id", "points"), balances)
                bulk_insert(conn, member_lots, ("member_id", "book", "next_expiry"), lots)
                bulk_insert(
                    conn,
                    member_activity,
                    ("member_id", "day", "points", "spend_minor", "visits"),
                    days,
                )
                activity_rows += len(days)
                done += size
                bar.update(done)
        if database.is_postgres:
            with database.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
    finally:
        bar.done()
    return Seeded(count, activity_rows, time.perf_counter() - start)


# --- the runs -----------------------------------------------------------------------------------


@dataclass
class RunFigures:
    due: int
    seconds: float
    members_per_s: float
    rows: int
    rows_per_s: float
    summary: str
    second_run_seconds: float
    second_run: str


def _count(database: Database, query: Any) -> int:
    with database.read() as conn:
        return int(conn.execute(query).scalar_one())


def timed_run(
    database: Database,
    label: str,
    run: Callable[..., RunResult],
    as_of: date,
    due: int,
    rows: Callable[[], int],
) -> RunFigures:
    bar = ProgressLine(label, due)
    before = rows()
    start = time.perf_counter()
    try:
        result = run(database, as_of, ACTOR, progress=lambda done, total: bar.update(done, total))
    finally:
        bar.done()
    seconds = time.perf_counter() - start
    written = rows() - before
    start = time.perf_counter()
    again = run(database, as_of, ACTOR)
    second = time.perf_counter() - start
    return RunFigures(
        due,
        round(seconds, 2),
        round(due / seconds, 1) if seconds else 0.0,
        written,
        round(written / seconds, 1) if seconds else 0.0,
        result.summary(),
        round(second, 3),
        again.summary(),
    )


def bench_one(kind: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    as_of = date.today()
    say(f"\n{kind}: {args.members:,} members")
    with fresh_database(kind, scratch, args.pg) as bench_db:
        database = Database(bench_db.url)
        try:
            seeded = seed(database, args.members, as_of, args.seed)
            say(
                f"  seeded {seeded.members:,} members, {seeded.activity_rows:,} activity rows "
                f"in {seeded.seconds:.1f} s"
            )
            expiry_due = _count(
                database,
                select(func.count()).where(member_lots.c.next_expiry < as_of.isoformat()),
            )
            expiry = timed_run(
                database,
                "points expire",
                run_points_expiry,
                as_of,
                expiry_due,
                # Two postings and one book per member that lost points (books of members
                # whose lots only paid debts are rewritten too, and not counted).
                lambda: 3 * _count(database, select(func.count()).select_from(postings)) // 2,
            )
            review_due = _count(
                database,
                select(func.count()).where(members.c.tier_review_on <= as_of.isoformat()),
            )
            review = timed_run(
                database,
                "tiers review",
                run_tier_review,
                as_of,
                review_due,
                # A tier change and a member row per member reviewed.
                lambda: 2 * _count(database, select(func.count()).select_from(tier_changes)),
            )
        finally:
            database.dispose()
    for name, figures in (("points expire", expiry), ("tiers review", review)):
        say(
            f"  {name:<14} {figures.due:>9,} due  {figures.seconds:>8.2f} s  "
            f"{figures.members_per_s:>10,.0f} members/s  {figures.rows_per_s:>10,.0f} rows/s"
        )
        say(f"  {'':<14} {figures.summary}")
        say(f"  {'':<14} again: {figures.second_run} ({figures.second_run_seconds:.3f} s)")
    return {
        "db": kind,
        "members": args.members,
        "as_of": as_of.isoformat(),
        "seed": asdict(seeded),
        "points_expire": asdict(expiry),
        "tiers_review": asdict(review),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.points_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument(
        "--pg", default=os.environ.get("LOYALTILL_BENCH_PG") or os.environ.get("LOYALTILL_TEST_PG")
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.members < 1:
        parser.error("--members must be at least 1")
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    if "postgres" in kinds:
        if not args.pg:
            parser.error("PostgreSQL: pass --pg URL or set LOYALTILL_TEST_PG")
        check_loopback(args.pg)
    results = []
    with tempfile.TemporaryDirectory(prefix="points-bench-") as scratch:
        for kind in kinds:
            results.append(bench_one(kind, args, Path(scratch)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        say(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
