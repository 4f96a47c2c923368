"""The overview's expiry forecast over a large program: figures, not pass/fail.

    .venv/bin/python -m bench.expiry_forecast_bench --members 1000000 --db sqlite|postgres|both
        [--repeat 3] [--pg URL] [--seed 7]

A fresh server database (an SQLite file in a temporary directory, or a new
``loyaltill_forecastbench_*`` PostgreSQL database, dropped at the end) gets the demo rules with
points expiring 12 months after they are earned, and N members, each with a points book
(``member_lots``) made by the real :class:`shared.points.lots.LotBook`: 0–6 earnings over the
last 400 days, a redemption now and then, and today's expiry run. Then
:func:`syncserver.hq.tiers.expiry_forecast` — what the overview's background cache runs — is
timed ``--repeat`` times: the books it read, the time, books per second.

PostgreSQL comes from ``--pg`` or ``LOYALTILL_BENCH_PG`` / ``LOYALTILL_TEST_PG`` (loopback
only). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shared.points.lots import LotBook, lot_expiry
from shared.rules import ProgramRules
from shared.rules.model import ExpiryRules
from syncserver.hq.rules import publish_rules
from syncserver.hq.setup import initialise
from syncserver.hq.tiers import expiry_forecast
from syncserver.settings import utc_now
from syncserver.storage.database import Database, normalize_url

EXPIRY = ExpiryRules(mode="months_after_earn", months=12)
CHUNK = 10_000


def say(line: str) -> None:
    print(line, flush=True)


def _rules_json() -> str:
    document: dict[str, Any] = json.loads(
        files("shared.rules.examples").joinpath("demo_program.json").read_text("utf-8")
    )
    document["version"] = 4
    document["expiry"] = {"mode": "months_after_earn", "months": 12}
    return ProgramRules.model_validate(document).to_json()


def _book(generator: random.Random, today: date) -> LotBook:
    book = LotBook()
    for n in range(generator.randint(0, 6)):
        day = today - timedelta(days=generator.randint(0, 400))
        book = book.credit(day, generator.randint(5, 400), lot_expiry(EXPIRY, day), f"T0001#{n}")
    if book.lots and generator.random() < 0.3:
        book, _ = book.debit(today - timedelta(days=generator.randint(0, 30)), 50)
    book, _ = book.expire(today, EXPIRY)
    return book


def _rows(count: int, seed: int, today: date) -> Iterator[tuple[str, str, str | None, int]]:
    """(member_id, book JSON, next_expiry, balance) for every member."""
    generator = random.Random(seed)
    for n in range(1, count + 1):
        book = _book(generator, today)
        day = book.next_expiry(EXPIRY)
        yield f"M{n:010d}", book.to_json(), day.isoformat() if day else None, book.balance


def seed(database: Database, count: int, seed_value: int, today: date) -> float:
    """Members and their books in bulk (COPY on PostgreSQL, executemany on SQLite)."""
    started = time.perf_counter()
    now = utc_now()
    chunk: list[tuple[str, str, str | None, int]] = []
    done = 0

    def flush() -> None:
        nonlocal done
        with database.write() as conn:
            raw: Any = conn.connection.driver_connection
            members = [(m, f"Member {m}", False, now, 0) for m, *_ in chunk]
            if database.is_postgres:
                with raw.cursor() as cur:
                    with cur.copy(
                        "COPY members (member_id, name, marketing_consent, created_at, "
                        "change_seq) FROM STDIN"
                    ) as copy:
                        for row in members:
                            copy.write_row(row)
                    with cur.copy("COPY member_balances (member_id, points) FROM STDIN") as copy:
                        for member_id, _, _, balance in chunk:
                            copy.write_row((member_id, balance))
                    with cur.copy(
                        "COPY member_lots (member_id, book, next_expiry) FROM STDIN"
                    ) as copy:
                        for member_id, book, next_expiry, _ in chunk:
                            copy.write_row((member_id, book, next_expiry))
            else:
                stamp = now.isoformat(sep=" ")
                raw.executemany(
                    "INSERT INTO members (member_id, name, marketing_consent, created_at, "
                    "change_seq) VALUES (?,?,?,?,?)",
                    [(m, name, consent, stamp, seq) for m, name, consent, _, seq in members],
                )
                raw.executemany(
                    "INSERT INTO member_balances (member_id, points) VALUES (?,?)",
                    [(member_id, balance) for member_id, _, _, balance in chunk],
                )
                raw.executemany(
                    "INSERT INTO member_lots (member_id, book, next_expiry) VALUES (?,?,?)",
                    [(member_id, book, day) for member_id, book, day, _ in chunk],
                )
        done += len(chunk)
        chunk.clear()
        sys.stderr.write(f"\r  seeding: {done:,}/{count:,}")
        sys.stderr.flush()

    for row in _rows(count, seed_value, today):
        chunk.append(row)
        if len(chunk) >= CHUNK:
            flush()
    if chunk:
        flush()
    sys.stderr.write("\n")
    if database.is_postgres:
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE member_lots"))
    return time.perf_counter() - started


@contextmanager
def fresh(kind: str, scratch: Path, pg_url: str | None) -> Iterator[Database]:
    name = f"loyaltill_forecastbench_{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        database = Database(f"sqlite:///{scratch / (name + '.sqlite3')}")
        try:
            yield database
        finally:
            database.dispose()
        return
    if pg_url is None:
        raise SystemExit("PostgreSQL: pass --pg URL or set LOYALTILL_BENCH_PG/LOYALTILL_TEST_PG")
    url = make_url(normalize_url(pg_url))
    if url.host not in (None, "127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing a PostgreSQL that is not on loopback: {url.host}")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    database = Database(url.set(database=name).render_as_string(hide_password=False))
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def run(kind: str, args: argparse.Namespace, scratch: Path) -> None:
    today = utc_now().date()
    with fresh(kind, scratch, args.pg) as database:
        initialise(database)
        publish_rules(database, _rules_json())
        seconds = seed(database, args.members, args.seed, today)
        say(f"{kind}: seeded {args.members:,} members and their books in {seconds:.1f} s")
        times = []
        books = total = 0
        for _ in range(args.repeat):
            started = time.perf_counter()
            with database.read() as conn:
                forecast = expiry_forecast(conn, today)
            times.append(time.perf_counter() - started)
            books, total = forecast.books, forecast.total
        best, middle = min(times), statistics.median(times)
        say(
            f"{kind}: expiry forecast over {args.members:,} members: {books:,} books read, "
            f"{total:,} points expiring in 12 months; p50 {middle:.1f} s, best {best:.1f} s "
            f"({books / middle:,.0f} books/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pg", default=os.environ.get("LOYALTILL_BENCH_PG") or os.environ.get("LOYALTILL_TEST_PG")
    )
    args = parser.parse_args()
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    with tempfile.TemporaryDirectory(prefix="loyaltill-forecast-") as scratch:
        for kind in kinds:
            run(kind, args, Path(scratch))


if __name__ == "__main__":
    main()
