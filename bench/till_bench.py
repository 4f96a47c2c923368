"""Till benchmarks: figures, not pass/fail.

    .venv/bin/python -m bench.till_bench [--members 1000000] [--sales 500]

1. Sale commit (journal entry + points effects + print job + fsync, WAL, synchronous=FULL)
   p50/p99, beside a raw durable SQLite commit of a row of the same size in the same run.
2. Card scan → member panel data (classify + member lookup + balance + offers) with
   N members cached.
3. Start-up to the first usable screen (sign-in), in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from shared.journal import TenderMethod
from terminal.config import TillConfig
from terminal.demo.seed import demo_card, seed_demo
from terminal.store import open_database
from terminal.till.service import Till


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1000:7.3f} ms   p99 {p99 * 1000:7.3f} ms   (n={len(ordered)})"


def timed(fn: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def bench_commits(data: Path, sales: int) -> None:
    config = TillConfig(data_dir=data / "commit", timezone="Europe/Berlin")
    database = open_database(config.database_path)
    seed_demo(database, config, members=1000, products=100)
    till = Till(config, database, clock=lambda: datetime.now(UTC))
    till.sign_in("1", "1234")
    skus = [r[0] for r in database.conn.execute("SELECT sku FROM products LIMIT 5")]
    record_size = 0

    def one_sale() -> None:
        nonlocal record_size
        basket = till.new_basket()
        for sku in skus:
            till.add_product(basket, sku)
        till.attach_member(basket, demo_card(config, 1 + len(skus)))
        till.add_tender(basket, TenderMethod.CASH, basket.total_minor + 1000)
        done = till.complete_sale(basket)
        record_size = len(done.entry.to_canonical_json())

    # The durable commit only (everything before it is in-memory work, timed separately).
    commit_samples: list[float] = []
    for _ in range(sales):
        basket = till.new_basket()
        for sku in skus:
            till.add_product(basket, sku)
        till.attach_member(basket, demo_card(config, 7))
        till.add_tender(basket, TenderMethod.CASH, basket.total_minor + 1000)
        start = time.perf_counter()
        done = till.complete_sale(basket)
        commit_samples.append(time.perf_counter() - start)
        record_size = len(done.entry.to_canonical_json())
    whole = timed(one_sale, max(50, sales // 5))

    raw_path = data / "raw.sqlite3"
    conn = sqlite3.connect(raw_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    body = "x" * record_size

    def raw_commit() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", [body])
        conn.execute("COMMIT")

    raw = timed(raw_commit, sales)
    print(f"sale entry size: {record_size} bytes (canonical JSON)")
    print(f"raw durable SQLite commit      {percentiles(raw)}")
    print(f"complete_sale (commit path)    {percentiles(commit_samples)}")
    print(f"whole sale incl. basket+earn   {percentiles(whole)}")
    database.close()


def bench_lookup(data: Path, members: int) -> None:
    config = TillConfig(data_dir=data / "lookup", timezone="Europe/Berlin")
    database = open_database(config.database_path)
    start = time.perf_counter()
    last = [0.0]

    def progress(what: str, done: int, total: int) -> None:
        if what == "members" and time.perf_counter() - last[0] > 2:
            last[0] = time.perf_counter()
            print(f"  seeding {done:,}/{total:,} members", file=sys.stderr)

    seed_demo(database, config, members=members, products=50, progress=progress)
    print(f"seeded {members:,} members in {time.perf_counter() - start:.1f} s")
    till = Till(config, database, clock=lambda: datetime.now(UTC))
    cards = [demo_card(config, 1 + (i * 7919) % members) for i in range(2000)]
    position = iter(range(10**9))

    def scan() -> None:
        card = cards[next(position) % len(cards)]
        code = till.classify(card)
        till.member_view(code.number)  # type: ignore[union-attr]

    samples = timed(scan, len(cards))
    print(f"card scan -> member panel data ({members:,} members)  {percentiles(samples)}")
    database.close()


STARTUP_PROBE = r"""
import asyncio, sys, time
start = float(sys.argv[1])
from terminal.config import TillConfig
from terminal.store import open_database
from terminal.till.service import Till
from terminal.till.printing import PrintQueue
from terminal.ui.app import TillApp
config = TillConfig(data_dir=sys.argv[2], timezone="Europe/Berlin")
till = Till(config, open_database(config.database_path))
app = TillApp(till, PrintQueue(till, None))
async def main():
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        print(time.time() - start)
asyncio.run(main())
"""


def bench_startup(data: Path, runs: int = 5) -> None:
    config = TillConfig(data_dir=data / "startup", timezone="Europe/Berlin")
    database = open_database(config.database_path)
    seed_demo(database, config, members=3000, products=300)
    database.close()
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", STARTUP_PROBE, str(time.time()), str(config.data_dir)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "TEXTUAL": ""},
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    print(f"start-up to first usable screen   {percentiles(samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--sales", type=int, default=500)
    parser.add_argument(
        "--skip", action="append", default=[], choices=["commit", "lookup", "startup"]
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loyaltill-bench-") as tmp:
        data = Path(tmp)
        if "commit" not in args.skip:
            bench_commits(data, args.sales)
        if "lookup" not in args.skip:
            bench_lookup(data, args.members)
        if "startup" not in args.skip:
            bench_startup(data)


if __name__ == "__main__":
    main()
