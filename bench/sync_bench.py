"""Sync server benchmarks: figures, not pass/fail.

    .venv/bin/python -m bench.sync_bench [--db sqlite|postgres|both] [--entries 50000]
        [--tills 4] [--catchup 10000] [--download 1000000] [--phases ingest,catchup,download]
        [--servers 1,2,4] [--concurrency N] [--cache DIR] [--pg URL] [--profile DIR]
        [--json FILE]

1. **Ingest + full reconciliation over HTTP.** Real tills (``terminal.till.service.Till`` on
   seeded till databases) journal genuine sales, returns, voids, enrolments, card replacements
   and shift closes with points; their records are pushed in batches of 500 to ``syncserver
   serve`` (a real uvicorn on 127.0.0.1, its own process), which stores and reconciles every
   entry into the ledger. Figure: entries/s end to end. Beside it, on the same database in the
   same run: a raw DB-API ``executemany`` of the same journal rows into an equivalent table,
   500 rows per durable commit — the floor no push can beat — and the ratio of the two.
   Afterwards ``ledger rebuild --check`` proves the ledger the run produced (timed too).
   ``--servers 1,2,4`` repeats the phase with 1, 2 and 4 server processes (replicas) on one
   database, the tills spread over them and pushing at once: the scale-out figures, each with
   its own rebuild check.
2. **Catch-up.** A till with 10,000 unsent entries runs ``SyncEngine.sync_once`` (push in
   batches, then pull) against a fresh server: time, entries/s.
3. **First download.** The server holds 1,000,000 members with cards (bulk-inserted); a fresh
   till pulls everything with ``SyncEngine.sync_once``: time, members/s, till database size.

``--json FILE`` also writes every figure (entries/s, raw rows/s and their ratio per database and
server count; catch-up; download) as JSON, so runs can be compared.

``--profile DIR`` instead runs phase 1 in-process (the ASGI app through Starlette's test
client: routing, validation, push and reconciliation, no sockets) under pyinstrument when it
is installed (cProfile otherwise) and writes the reports to DIR.

PostgreSQL comes from ``--pg`` or ``LOYALTILL_BENCH_PG`` / ``LOYALTILL_TEST_PG`` (a database
the bench may connect to for CREATE/DROP DATABASE); it must be on loopback. Every database the
bench creates (SQLite files in a temporary directory, ``loyaltill_bench_*`` on PostgreSQL) is
dropped when it ends. Generated till databases are kept only with ``--cache DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import gzip
import io
import json
import os
import pstats
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Column, Index, MetaData, Table, create_engine, func, select, text
from sqlalchemy.engine import make_url

from shared.codes import card_number_from_serial
from shared.journal import TenderMethod
from shared.protocol import MAX_PUSH_BATCH, PullResponse
from shared.runtime import claim_process, tune_garbage_collector
from syncserver.hq.imports import import_members
from syncserver.hq.rules import publish_rules
from syncserver.hq.setup import initialise
from syncserver.ledger.rebuild import rebuild_check
from syncserver.settings import utc_now
from syncserver.storage.counter import allocate_positions
from syncserver.storage.database import Database, normalize_url
from syncserver.storage.schema import exceptions, journal_entries, postings
from syncserver.storage.terminals import add_terminal
from syncserver.sync.pull import MAX_PULL_LIMIT
from terminal.config import TillConfig
from terminal.demo.seed import demo_card, seed_demo
from terminal.store import TillDatabase, open_database
from terminal.store.journal import iter_records, journal_tip
from terminal.sync.client import GZIP_LEVEL, SyncClient
from terminal.sync.engine import SyncEngine
from terminal.till.errors import TillError
from terminal.till.service import Till

GENERATOR_VERSION = 2
"""Bump when the workload changes, so cached till databases are not reused."""
PUSH = "/api/v1/sync/push"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
STORE_OPEN = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


# --- output -----------------------------------------------------------------------------------


def say(line: str = "") -> None:
    print(line, flush=True)


class ProgressLine:
    """One updating line on a terminal (stderr); a line every ~10 % otherwise."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, max(total, 1)
        self.start = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self._next_pct = 10
        self._last_draw = 0.0
        self._closed = False

    def update(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = max(total, 1)
        now = time.perf_counter()
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        pct = 100 * done // self.total
        message = (
            f"  {self.label}: {done:,}/{self.total:,} ({pct}%)  {elapsed:6.1f} s  {rate:,.0f}/s"
        )
        if self.tty:
            if now - self._last_draw > 0.1 or done >= self.total:
                sys.stderr.write("\r" + message.ljust(78))
                sys.stderr.flush()
                self._last_draw = now
        elif pct >= self._next_pct or done >= self.total:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
            self._next_pct = (pct // 10 + 1) * 10

    def done(self) -> None:
        if self.tty and not self._closed:
            sys.stderr.write("\n")
            sys.stderr.flush()
        self._closed = True


# --- generating genuine journals with real tills ------------------------------------------------


@dataclass
class TillData:
    terminal_id: str
    path: Path
    """The till's own SQLite database (its journal, caches and settings)."""

    def records(self) -> list[dict[str, Any]]:
        database = open_database(self.path)
        try:
            with database.read() as db:
                return list(iter_records(db))
        finally:
            database.close()


def _till_config(base: Path, terminal_id: str) -> TillConfig:
    return TillConfig(
        data_dir=base / terminal_id, timezone="Europe/Berlin", terminal_id=terminal_id
    )


class _Shop:
    """A cashier at one till: a deterministic mix of what a grocery till journals."""

    def __init__(self, base: Path, terminal_id: str, index: int, members: int) -> None:
        self.config = _till_config(base, terminal_id)
        self.database = open_database(self.config.database_path)
        seed_demo(self.database, self.config, members=members, products=300)
        # Generation only: the records are the same whether or not each sale waits for fsync.
        self.database.conn.execute("PRAGMA synchronous=OFF")
        self.now = STORE_OPEN + timedelta(seconds=index)
        self.till = Till(self.config, self.database, clock=lambda: self.now)
        self.till.sign_in("1", "1234")
        self.rng = random.Random(f"bench-{terminal_id}-{index}")
        self.index = index
        with self.database.read() as db:
            self.skus = [
                str(row[0])
                for row in db.execute(
                    "SELECT sku FROM products WHERE open_price = 0 ORDER BY sku"
                ).fetchall()
            ]
        self.cards = [demo_card(self.config, serial) for serial in range(1, members + 1)]
        self.member_sales: list[int] = []
        self.fresh = 0

    def tick(self) -> None:
        self.now += timedelta(seconds=self.rng.randint(20, 90))
        if self.now.hour >= 20:  # the store closes; open again next morning
            self.now = (self.now + timedelta(days=1)).replace(hour=7, minute=0)

    def entries(self) -> int:
        with self.database.read() as db:
            return journal_tip(db)[0]

    def sale(self, card: str | None, redeem: bool) -> None:
        basket = self.till.new_basket()
        for sku in self.rng.sample(self.skus, self.rng.randint(1, 6)):
            self.till.add_product(basket, sku, self.rng.randint(1, 3))
        if card is not None:
            try:
                self.till.attach_member(basket, card)
            except TillError:  # a card replaced meanwhile: sell without a member
                card = None
        if card is not None and redeem:
            with contextlib.suppress(TillError):  # nothing redeemable: a plain sale
                self.till.redeem(basket, None)
        self.till.add_tender(basket, TenderMethod.CASH, None)
        done = self.till.complete_sale(basket)
        if card is not None:
            self.member_sales.append(done.entry.seq)

    def return_one(self) -> bool:
        for seq in reversed(self.member_sales[-20:]):
            try:
                _, lines = self.till.find_sale(seq)
                line = next((ln for ln in lines if ln.returnable_quantity), None)
                if line is None:
                    continue
                self.till.return_items(seq, {line.line_no: 1})
            except TillError:
                continue
            return True
        return False

    def void_last(self) -> bool:
        if not self.member_sales:
            return False
        try:
            self.till.void_sale(self.member_sales[-1], "customer changed their mind")
        except TillError:
            return False
        self.member_sales.pop()
        return True

    def fresh_card(self) -> str:
        self.fresh += 1
        return card_number_from_serial(
            self.config.code_config(), 2_000_000 + self.index * 100_000 + self.fresh
        )

    def enrol(self) -> None:
        number = self.fresh_card()
        self.till.enrol(
            name=f"New member {number[-6:]}",
            phone=f"+49 170 {number[-8:]}",
            email=None,
            marketing_consent=self.rng.random() < 0.5,
            card_number=number,
        )
        self.cards.append(number)

    def replace_card(self) -> None:
        old = self.rng.choice(self.cards)
        new = self.fresh_card()
        try:
            self.till.replace_card(old, new, "lost")
        except TillError:
            return
        self.cards[self.cards.index(old)] = new

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.62:
            self.sale(self.rng.choice(self.cards), redeem=self.rng.random() < 0.15)
        elif roll < 0.80:
            self.sale(None, redeem=False)
        elif roll < 0.88:
            if not self.return_one():
                self.sale(self.rng.choice(self.cards), redeem=False)
        elif roll < 0.90:
            if not self.void_last():
                self.sale(None, redeem=False)
        elif roll < 0.94:
            self.enrol()
        elif roll < 0.941:
            self.replace_card()
        else:
            self.sale(self.rng.choice(self.cards), redeem=True)
        self.tick()

    def run(self, entries: int, progress: Callable[[int], None]) -> None:
        done = self.entries()
        while done < entries:
            if done % 400 == 399:  # a Z report now and then, like a real shift change
                self.till.close_shift()
            else:
                self.step()
            done = self.entries()
            progress(done)

    def close(self) -> None:
        self.database.close()


@dataclass
class TillSet:
    tills: list[TillData]
    members_csv: str
    """The demo store's members, as the server imports them (ids, cards, opening balances)."""

    @property
    def total(self) -> int:
        return sum(_count_entries(t.path) for t in self.tills)


def _count_entries(path: Path) -> int:
    database = open_database(path)
    try:
        with database.read() as db:
            return journal_tip(db)[0]
    finally:
        database.close()


def _members_csv(path: Path) -> str:
    """The members of a freshly seeded demo store, as HQ imports them."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["member_id", "name", "phone", "email", "tier", "card_number", "balance"])
    database = open_database(path)
    try:
        with database.read() as db:
            rows = db.execute(
                "SELECT m.member_id, m.name, m.phone, m.email, m.tier, c.card_number, "
                "m.server_balance FROM members m JOIN cards c ON c.member_key = m.member_key "
                "WHERE c.status = 'active' AND m.member_id IS NOT NULL ORDER BY m.member_id"
            ).fetchall()
    finally:
        database.close()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def generate_tills(
    base: Path, label: str, terminal_ids: Sequence[str], entries_each: int, members: int
) -> TillSet:
    """Till databases under ``base/label`` holding ``entries_each`` journal entries each
    (reused when a cache already has them)."""
    root = base / label
    stamp = root / "generated.json"
    meta = {
        "version": GENERATOR_VERSION,
        "tills": list(terminal_ids),
        "entries_each": entries_each,
        "members": members,
    }
    paths = [_till_config(root, tid).database_path for tid in terminal_ids]
    hq = _till_config(root, "HQ")
    if stamp.exists() and json.loads(stamp.read_text()) == meta:
        say(f"  reusing {len(paths)} till database(s) from {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        pristine = open_database(hq.database_path)  # the store as HQ knows it before the day
        try:
            seed_demo(pristine, hq, members=members, products=300)
        finally:
            pristine.close()
        bar = ProgressLine(f"tills journaling ({label})", entries_each * len(terminal_ids))
        for index, terminal_id in enumerate(terminal_ids):
            shop = _Shop(root, terminal_id, index, members)
            offset = index * entries_each

            def report(done: int, offset: int = offset) -> None:
                bar.update(offset + done)

            try:
                shop.run(entries_each, report)
            finally:
                shop.close()
        bar.done()
        stamp.write_text(json.dumps(meta))
    return TillSet(
        [TillData(tid, path) for tid, path in zip(terminal_ids, paths, strict=True)],
        _members_csv(hq.database_path),
    )


# --- databases ----------------------------------------------------------------------------------


@dataclass
class BenchDatabase:
    kind: str
    url: str
    drop: Callable[[], None]


def _pg_maintenance(url: str) -> Callable[[str], None]:
    engine = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")

    def execute(statement: str) -> None:
        with engine.connect() as conn:
            conn.execute(text(statement))

    return execute


def check_loopback(url: str) -> None:
    host = make_url(normalize_url(url)).host
    if host and host not in LOOPBACK:
        raise SystemExit(f"--pg must point at this machine (127.0.0.1), not {host}")


@contextlib.contextmanager
def fresh_database(kind: str, scratch: Path, pg_url: str | None) -> Iterator[BenchDatabase]:
    """An empty database, dropped afterwards: an SQLite file, or a new PostgreSQL database."""
    name = f"loyaltill_bench_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        path = scratch / f"{name}.sqlite3"

        def drop_sqlite() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        try:
            yield BenchDatabase(kind, f"sqlite:///{path}", drop_sqlite)
        finally:
            drop_sqlite()
        return
    if pg_url is None:
        raise SystemExit("PostgreSQL: pass --pg URL or set LOYALTILL_TEST_PG")
    execute = _pg_maintenance(pg_url)
    execute(f"CREATE DATABASE {name}")
    url = make_url(normalize_url(pg_url)).set(database=name).render_as_string(hide_password=False)
    try:
        yield BenchDatabase(kind, url, lambda: None)
    finally:
        execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def demo_rules_json() -> str:
    return files("shared.rules.examples").joinpath("demo_program.json").read_text("utf-8")


def prepare_server(url: str, members_csv: str | None, terminals: int) -> list[tuple[str, str]]:
    """Migrate, publish the demo rules, import the store's members; register the tills.
    Returns (terminal_id, token) in registration order: T0001, T0002, …"""
    database = Database(url)
    try:
        initialise(database)
        publish_rules(database, demo_rules_json())
        if members_csv:
            import_members(database, members_csv, actor="bench")
        out = []
        for index in range(terminals):
            with database.write() as conn:
                out.append(add_terminal(conn, "S001", f"Bench till {index + 1}", utc_now()))
        return out
    finally:
        database.dispose()


# --- the server under test ----------------------------------------------------------------------

_LISTENING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


@contextlib.contextmanager
def server_process(
    db_url: str, log_dir: Path, profile: tuple[str, Path] | None = None
) -> Iterator[str]:
    """``syncserver serve`` in its own process on a free loopback port; yields its URL.
    With ``profile=(py_spy, out)`` it runs under ``py-spy record`` (collapsed stacks)."""
    log_path = log_dir / f"server-{uuid.uuid4().hex[:8]}.log"
    prefix = []
    if profile is not None:
        spy, out = profile
        prefix = [spy, "record", "--idle", "--rate", "250", "--format", "raw", "-o", str(out), "--"]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                *prefix,
                sys.executable,
                "-m",
                "syncserver.cli",
                "serve",
                "--db",
                db_url,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--log-level",
                "info",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=dict(os.environ, LOYALTILL_SERVER_POOL_SIZE="8"),
        )
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None:
            found = _LISTENING.search(log_path.read_text())
            if found:
                url = found.group(1)
            elif process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("syncserver serve did not start:\n" + log_path.read_text())
            else:
                time.sleep(0.05)
        httpx.get(f"{url}/healthz", timeout=10).raise_for_status()
        yield url
    finally:
        if profile is not None:  # stop the server: py-spy then writes its report and exits
            for children in Path(f"/proc/{process.pid}/task").glob("*/children"):
                for child in children.read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(child), signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- 1. ingest + reconciliation over HTTP ------------------------------------------------------


@dataclass
class Batches:
    """Pre-encoded push bodies per till, in order (the client's JSON work is not measured)."""

    per_till: list[tuple[str, str, list[tuple[int, bytes]]]] = field(default_factory=list)
    gzipped: bool = False
    """Bodies are gzipped (sent with ``Content-Encoding: gzip``), as a till does when HQ
    takes it."""
    plain_bytes: int = 0
    compress_seconds: float = 0.0

    @property
    def entries(self) -> int:
        return sum(n for _, _, bodies in self.per_till for n, _ in bodies)

    @property
    def sent_bytes(self) -> int:
        return sum(len(body) for _, _, bodies in self.per_till for _, body in bodies)


def encode_batches(
    records: dict[str, list[dict[str, Any]]],
    tokens: Sequence[tuple[str, str]],
    *,
    gzipped: bool = False,
) -> Batches:
    out = Batches(gzipped=gzipped)
    for terminal_id, token in tokens:
        till_records = records[terminal_id]
        bodies = []
        for start in range(0, len(till_records), MAX_PUSH_BATCH):
            batch = till_records[start : start + MAX_PUSH_BATCH]
            body = json.dumps({"terminal_id": terminal_id, "entries": batch}).encode()
            out.plain_bytes += len(body)
            if gzipped:
                started = time.perf_counter()
                body = gzip.compress(body, compresslevel=GZIP_LEVEL)
                out.compress_seconds += time.perf_counter() - started
            bodies.append((len(batch), body))
        out.per_till.append((terminal_id, token, bodies))
    return out


def push_all(urls: Sequence[str], batches: Batches, concurrency: int, bar: ProgressLine) -> float:
    """Push every till's batches in order (``concurrency`` tills at a time, till i to server
    i mod len(urls)); seconds taken."""
    lock = threading.Lock()
    done = 0

    def one_till(url: str, terminal_id: str, token: str, bodies: list[tuple[int, bytes]]) -> None:
        nonlocal done
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if batches.gzipped:
            headers["Content-Encoding"] = "gzip"
        with httpx.Client(base_url=url, timeout=300) as client:
            for count, body in bodies:
                reply = client.post(PUSH, content=body, headers=headers)
                if reply.status_code != 200:
                    raise RuntimeError(f"{terminal_id}: HTTP {reply.status_code} {reply.text}")
                stored = reply.json()["stored"]
                if stored != count:
                    raise RuntimeError(f"{terminal_id}: stored {stored} of {count}")
                with lock:
                    done += count
                    bar.update(done)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [
            pool.submit(one_till, urls[index % len(urls)], *till)
            for index, till in enumerate(batches.per_till)
        ]
        for future in futures:
            future.result()
    elapsed = time.perf_counter() - start
    bar.done()
    return elapsed


def _raw_table(metadata: MetaData) -> Table:
    """journal_entries' columns and indexes, without the foreign key."""
    columns = [
        Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable, autoincrement=False)
        for c in journal_entries.columns
    ]
    table = Table("bench_raw_journal", metadata, *columns)
    Index("ix_bench_raw_journal_position", table.c.position)
    Index("ix_bench_raw_journal_entry_id", table.c.entry_id)
    Index("ix_bench_raw_journal_original", table.c.original_terminal, table.c.original_seq)
    return table


def raw_insert(url: str, records: dict[str, list[dict[str, Any]]]) -> tuple[int, float]:
    """The same journal rows, DB-API executemany, 500 rows per durable commit."""
    database = Database(url)
    metadata = MetaData()
    table = _raw_table(metadata)
    now = utc_now()
    rows: list[tuple[Any, ...]] = []
    for till_records in records.values():
        for record in till_records:
            original = record["payload"].get("original") if record["payload"] else None
            rows.append(
                (
                    record["terminal_id"],
                    record["seq"],
                    record["entry_id"],
                    record["payload"]["kind"],
                    record["occurred_at"],
                    record["hash"],
                    json.dumps(record, ensure_ascii=False, separators=(",", ":")),
                    None,
                    now if database.is_postgres else sqlite_stamp(now),
                    original["terminal_id"] if original else None,
                    original["seq"] if original else None,
                )
            )
    names = ", ".join(c.name for c in table.columns)
    marks = ", ".join(["%s" if database.is_postgres else "?"] * len(table.columns))
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
    try:
        metadata.create_all(database.engine)
        raw = database.engine.raw_connection()
        try:
            cursor = raw.cursor()
            start = time.perf_counter()
            for first in range(0, len(rows), MAX_PUSH_BATCH):
                if not database.is_postgres:
                    cursor.execute("BEGIN IMMEDIATE")
                cursor.executemany(sql, rows[first : first + MAX_PUSH_BATCH])
                if database.is_postgres:
                    raw.commit()
                else:
                    cursor.execute("COMMIT")
            elapsed = time.perf_counter() - start
            cursor.close()
        finally:
            raw.close()
        metadata.drop_all(database.engine)
    finally:
        database.dispose()
    return len(rows), elapsed


def ledger_summary(url: str) -> tuple[int, int, dict[str, int]]:
    database = Database(url)
    try:
        with database.read() as conn:
            stored = int(
                conn.execute(select(func.count()).select_from(journal_entries)).scalar_one()
            )
            posted = int(conn.execute(select(func.count()).select_from(postings)).scalar_one())
            kinds = {
                str(kind): int(count)
                for kind, count in conn.execute(
                    select(exceptions.c.kind, func.count()).group_by(exceptions.c.kind)
                )
            }
        return stored, posted, kinds
    finally:
        database.dispose()


@dataclass
class IngestResult:
    database: str
    servers: int
    entries: int
    seconds: float
    raw_entries: int
    raw_seconds: float
    gzipped: bool = False
    rebuild_ok: bool | None = None
    rebuild_seconds: float | None = None
    plain_bytes: int = 0
    sent_bytes: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "servers": self.servers,
            "entries": self.entries,
            "seconds": round(self.seconds, 3),
            "entries_per_s": round(self.rate),
            "raw_rows_per_s": round(self.raw_rate),
            "ratio": round(self.rate / self.raw_rate, 4),
            "gzip": self.gzipped,
            "body_bytes": self.plain_bytes,
            "sent_bytes": self.sent_bytes,
            "rebuild_check_ok": self.rebuild_ok,
            "rebuild_seconds": None
            if self.rebuild_seconds is None
            else round(self.rebuild_seconds, 2),
        }

    @property
    def rate(self) -> float:
        return self.entries / self.seconds

    @property
    def raw_rate(self) -> float:
        return self.raw_entries / self.raw_seconds


def bench_ingest(
    kind: str, tills: TillSet, args: argparse.Namespace, scratch: Path, servers: int
) -> IngestResult:
    records = {t.terminal_id: t.records() for t in tills.tills}
    total = sum(len(r) for r in records.values())
    # Replicas are only worth measuring with as many tills pushing at once.
    concurrency = max(args.concurrency or 1, servers)
    say(
        f"\n[{kind}] 1. ingest + reconciliation over HTTP: {total:,} entries from "
        f"{len(records)} tills, batches of {MAX_PUSH_BATCH}, {concurrency} pushing at "
        f"once, {servers} server process(es)"
    )
    with fresh_database(kind, scratch, args.pg) as db:
        tokens = prepare_server(db.url, tills.members_csv, len(records))
        batches = encode_batches(records, tokens, gzipped=args.gzip)
        if batches.gzipped:
            say(
                f"  bodies gzipped (level {GZIP_LEVEL}): {batches.plain_bytes / 2**20:,.1f} MiB "
                f"-> {batches.sent_bytes / 2**20:,.1f} MiB "
                f"({batches.plain_bytes / batches.sent_bytes:.1f}x), "
                f"{1000 * batches.compress_seconds / max(1, batches.entries) * MAX_PUSH_BATCH:.0f}"
                f" ms of the till's CPU per {MAX_PUSH_BATCH}-entry push"
            )
        with contextlib.ExitStack() as processes:
            urls = [
                processes.enter_context(server_process(db.url, scratch)) for _ in range(servers)
            ]
            seconds = push_all(urls, batches, concurrency, ProgressLine("push", total))
        stored, posted, kinds = ledger_summary(db.url)
        say(
            f"  push + reconcile: {total:,} entries in {seconds:.2f} s = "
            f"{total / seconds:,.0f} entries/s"
        )
        say(
            f"  ledger: {stored:,} entries stored, {posted:,} postings; exceptions: "
            + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none")
        )
        raw_entries, raw_seconds = raw_insert(db.url, records)
        say(
            f"  raw executemany of the same rows (500 per commit): {raw_seconds:.2f} s = "
            f"{raw_entries / raw_seconds:,.0f} rows/s"
        )
        say(f"  ratio push / raw insert: {(total / seconds) / (raw_entries / raw_seconds):.2f}")
        result = IngestResult(
            kind, servers, total, seconds, raw_entries, raw_seconds, batches.gzipped
        )
        result.sent_bytes, result.plain_bytes = batches.sent_bytes, batches.plain_bytes
        if args.check:
            database = Database(db.url)
            try:
                start = time.perf_counter()
                report = rebuild_check(database)
                elapsed = time.perf_counter() - start
            finally:
                database.dispose()
            verdict = "ok" if report.ok else "DIFFERENCES: " + "; ".join(report.differences[:3])
            say(
                f"  ledger rebuild --check: {verdict} ({report.entries:,} entries replayed, "
                f"{elapsed:.1f} s)"
            )
            result.rebuild_ok, result.rebuild_seconds = report.ok, elapsed
    return result


# --- 2. catch-up of a till with 10,000 unsent entries -----------------------------------------


class _PageLimitedClient(SyncClient):
    """The till's client, asking for pages the server serves: its default page size (5,000)
    is above the server's MAX_PULL_LIMIT (1,000), which the server refuses with a 422."""

    def pull(self, since: str, limit: int = MAX_PULL_LIMIT, tip: int | None = None) -> PullResponse:
        return super().pull(since, min(limit, MAX_PULL_LIMIT), tip=tip)


def _sync_engine(base: Path, terminal_id: str, path: Path, url: str, token: str) -> SyncEngine:
    config = TillConfig(
        data_dir=base, timezone="Europe/Berlin", terminal_id=terminal_id, server_url=url
    )
    return SyncEngine(config, open_database(path), _PageLimitedClient(url, token))


def _close_engine(engine: SyncEngine) -> None:
    engine.client.close()
    engine.database.close()


def bench_catchup(
    kind: str, till: TillSet, args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    data = till.tills[0]
    unsent = _count_entries(data.path)
    say(f"\n[{kind}] 2. catch-up: SyncEngine.sync_once from a till with {unsent:,} unsent entries")
    with fresh_database(kind, scratch, args.pg) as db:
        [(terminal_id, token)] = prepare_server(db.url, till.members_csv, 1)
        assert terminal_id == data.terminal_id, (terminal_id, data.terminal_id)
        copy = scratch / f"catchup-{uuid.uuid4().hex[:8]}"
        copy.mkdir()
        path = copy / "till.sqlite3"
        shutil.copyfile(data.path, path)
        with server_process(db.url, scratch) as url:
            engine = _sync_engine(copy, terminal_id, path, url, token)
            bars: dict[str, ProgressLine] = {"push": ProgressLine("push", unsent)}
            marks: dict[str, float] = {}

            def progress(what: str, done: int, total: int) -> None:
                if what not in bars:
                    for other in bars.values():
                        other.done()
                    bars[what] = ProgressLine(what, total)
                    bars[what].start = max(marks.values(), default=bars[what].start)
                bars[what].update(done, total)
                marks[what] = time.perf_counter()

            try:
                start = time.perf_counter()
                report = engine.sync_once(progress)
                elapsed = time.perf_counter() - start
            finally:
                for bar in bars.values():
                    bar.done()
                _close_engine(engine)
        push_s = marks.get("push", start) - start
        say(
            f"  sync_once: {elapsed:.2f} s in all; push of {report.pushed:,} entries "
            f"{push_s:.2f} s = {report.pushed / push_s:,.0f} entries/s; then pulled "
            f"{report.members_pulled:,} members in {elapsed - push_s:.2f} s"
        )
        shutil.rmtree(copy, ignore_errors=True)
    return {
        "database": kind,
        "entries": report.pushed,
        "seconds": round(elapsed, 3),
        "push_seconds": round(push_s, 3),
        "entries_per_s": round(report.pushed / push_s) if push_s else None,
    }


# --- 3. first download of 1,000,000 members ----------------------------------------------------


def _member_rows(count: int, now: datetime, first_position: int) -> Iterator[tuple[Any, ...]]:
    codes = TillConfig().code_config()
    first_names = ("Anna", "Ben", "Chloé", "David", "Elif", "Finn", "Greta", "Hamid", "Ines")
    last_names = ("Müller", "Schmidt", "Dubois", "García", "Rossi", "Nowak", "O'Brien")
    for n in range(1, count + 1):
        first, last = first_names[n % 9], last_names[n % 7]
        tier = "gold" if n % 50 == 0 else "silver" if n % 7 == 0 else "member"
        yield (
            f"M{n:010d}",
            f"{first} {last}",
            f"+49 151 {n:08d}",
            f"{first}.{last}.{n}@example.com".lower().replace("'", ""),
            tier,
            n % 3 == 0,
            now,
            first_position + n - 1,
            card_number_from_serial(codes, n),
        )


def seed_members(url: str, count: int) -> float:
    """``count`` members, each with an active card and a zero balance, in one transaction:
    COPY on PostgreSQL, executemany on SQLite. (The HQ import path validates and posts each
    member one by one; for a million that is a bulk job of its own.)"""
    database = Database(url)
    bar = ProgressLine("seed members", count)
    start = time.perf_counter()
    try:
        with database.write() as conn:
            now = utc_now()
            first = allocate_positions(conn, count)
            raw = conn.connection.driver_connection
            assert raw is not None
            chunk: list[tuple[Any, ...]] = []
            done = 0

            def flush() -> None:
                nonlocal done
                if database.is_postgres:
                    with raw.cursor() as cur:
                        with cur.copy(
                            "COPY members (member_id, name, phone, email, tier, "
                            "marketing_consent, created_at, change_seq) FROM STDIN"
                        ) as copy:
                            for row in chunk:
                                copy.write_row(row[:8])
                        with cur.copy(
                            "COPY cards (card_number, member_id, status, created_at) FROM STDIN"
                        ) as copy:
                            for row in chunk:
                                copy.write_row((row[8], row[0], "active", now))
                        with cur.copy(
                            "COPY member_balances (member_id, points) FROM STDIN"
                        ) as copy:
                            for row in chunk:
                                copy.write_row((row[0], 0))
                else:
                    stamp = sqlite_stamp(now)
                    raw.executemany(
                        "INSERT INTO members (member_id, name, phone, email, tier, "
                        "marketing_consent, created_at, change_seq) VALUES (?,?,?,?,?,?,?,?)",
                        [(*row[:6], stamp, row[7]) for row in chunk],
                    )
                    raw.executemany(
                        "INSERT INTO cards (card_number, member_id, status, created_at) "
                        "VALUES (?,?,?,?)",
                        [(row[8], row[0], "active", stamp) for row in chunk],
                    )
                    raw.executemany(
                        "INSERT INTO member_balances (member_id, points) VALUES (?, 0)",
                        [(row[0],) for row in chunk],
                    )
                done += len(chunk)
                chunk.clear()
                bar.update(done)

            for row in _member_rows(count, now, first):
                chunk.append(row)
                if len(chunk) == 20_000:
                    flush()
            if chunk:
                flush()
        if database.is_postgres:
            with database.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
    finally:
        bar.done()
        database.dispose()
    return time.perf_counter() - start


def sqlite_stamp(moment: datetime) -> str:
    """A timestamp as SQLAlchemy stores DateTime in SQLite (what the server reads back)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _size(path: Path) -> int:
    return sum(
        Path(f"{path}{suffix}").stat().st_size
        for suffix in ("", "-wal", "-shm")
        if Path(f"{path}{suffix}").exists()
    )


def bench_download(kind: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    count = args.download
    say(f"\n[{kind}] 3. first download: a fresh till pulls {count:,} members")
    with fresh_database(kind, scratch, args.pg) as db:
        [(terminal_id, token)] = prepare_server(db.url, None, 1)
        seeded = seed_members(db.url, count)
        say(f"  server seeded with {count:,} members + cards in {seeded:.1f} s (bulk insert)")
        home = scratch / f"download-{uuid.uuid4().hex[:8]}"
        home.mkdir()
        path = home / "till.sqlite3"
        with server_process(db.url, scratch) as url:
            engine = _sync_engine(home, terminal_id, path, url, token)
            bar = ProgressLine("pull", count)
            try:
                start = time.perf_counter()
                report = engine.sync_once(lambda _what, done, total: bar.update(done, total))
                elapsed = time.perf_counter() - start
            finally:
                bar.done()
                _close_engine(engine)
        size = _size(path)
        checkpointed = TillDatabase(path)
        try:
            checkpointed.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            with checkpointed.read() as till_db:
                cached = till_db.execute("SELECT COUNT(*) FROM members").fetchone()[0]
        finally:
            checkpointed.close()
        say(
            f"  pulled {report.members_pulled:,} members ({cached:,} in the till's cache) in "
            f"{elapsed:.1f} s = {report.members_pulled / elapsed:,.0f} members/s"
        )
        say(
            f"  till database: {size / 2**20:,.0f} MiB right after the pull (file + WAL), "
            f"{_size(path) / 2**20:,.0f} MiB after a checkpoint"
        )
        shutil.rmtree(home, ignore_errors=True)
    return {
        "database": kind,
        "members": report.members_pulled,
        "seconds": round(elapsed, 2),
        "members_per_s": round(report.members_pulled / elapsed),
        "till_mib_after_checkpoint": round(_size(path) / 2**20) if path.exists() else None,
    }


# --- profiling ----------------------------------------------------------------------------------


def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def summarise_stacks(raw: Path, focus: str, top: int = 30) -> str:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks, for the
    stacks that pass through ``focus`` (the push endpoint), idle waits included."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = focused = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        if not any(frame.startswith(focus + " ") for frame in frames):
            continue
        focused += count
        names = [re.sub(r":\d+\)$", ")", frame) for frame in frames]
        own[names[-1]] = own.get(names[-1], 0) + count
        for name in set(names):
            inclusive[name] = inclusive.get(name, 0) + count
    lines = [f"{focused} of {total} samples pass through {focus} (idle waits included)", ""]
    for title, table in (("inclusive", inclusive), ("self", own)):
        lines.append(f"top {top} by {title} samples:")
        for name, count in sorted(table.items(), key=lambda item: -item[1])[:top]:
            lines.append(f"  {100 * count / max(focused, 1):5.1f}%  {count:7d}  {name}")
        lines.append("")
    return "\n".join(lines)


def _push_in_process(url: str, batches: Batches) -> float:
    """What the endpoint does, on this thread: parse the body, push, serialise the reply."""
    from shared.protocol import PushRequest
    from syncserver.sync.push import push

    tune_garbage_collector()  # as `serve` does

    database = Database(url)
    try:
        start = time.perf_counter()
        for terminal_id, _token, bodies in batches.per_till:
            for _count, body in bodies:
                request = PushRequest.model_validate_json(body)
                push(database, terminal_id, request, utc_now).model_dump_json()
        return time.perf_counter() - start
    finally:
        database.dispose()


def checking_floor(records: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """CPU microseconds per entry of what any push that checks its entries does before the
    ledger: parse the request's JSON, write the canonical JSON and hash it, validate the
    entry (best of three passes over every entry)."""
    from shared.journal import HASH_VERIFIED, JournalEntry, entry_hash_and_body
    from shared.protocol import PushRequest

    bodies = [
        json.dumps({"terminal_id": till, "entries": rows[i : i + MAX_PUSH_BATCH]}).encode()
        for till, rows in records.items()
        for i in range(0, len(rows), MAX_PUSH_BATCH)
    ]
    flat = [row for body in bodies for row in PushRequest.model_validate_json(body).entries]
    hashes = [entry_hash_and_body(row)[0] for row in flat]

    def best(work: Callable[[], object]) -> float:
        times = []
        for _ in range(3):
            started = time.process_time()
            work()
            times.append(time.process_time() - started)
        return 1e6 * min(times) / max(1, len(flat))

    return {
        "json_parse": best(lambda: [PushRequest.model_validate_json(b) for b in bodies]),
        "canonical_json_and_hash": best(lambda: [entry_hash_and_body(r) for r in flat]),
        "validation": best(
            lambda: [
                JournalEntry.model_validate(r, context={HASH_VERIFIED: h})
                for r, h in zip(flat, hashes, strict=True)
            ]
        ),
    }


def profile_ingest(kind: str, tills: TillSet, args: argparse.Namespace, scratch: Path) -> None:
    """Phase 1 twice under profilers: the real server process under py-spy (every thread, idle
    waits included), then the push path in this process under pyinstrument (or cProfile)."""
    out_dir = Path(args.profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = {t.terminal_id: t.records() for t in tills.tills}
    total = sum(len(r) for r in records.values())
    say(f"\n[{kind}] profile: {total:,} entries")
    floor = checking_floor(records)
    say(
        "  per entry before any ledger work (CPU µs): "
        + ", ".join(f"{name.replace('_', ' ')} {us:.1f}" for name, us in floor.items())
        + f"; {sum(floor.values()):.1f} in all"
    )
    spy = _py_spy()
    if spy is None:
        say("  py-spy is not installed: skipping the server-process profile")
    else:
        with fresh_database(kind, scratch, args.pg) as db:
            tokens = prepare_server(db.url, tills.members_csv, len(records))
            batches = encode_batches(records, tokens)
            raw = out_dir / f"server-{kind}.collapsed"
            with server_process(db.url, scratch, profile=(spy, raw)) as url:
                seconds = push_all([url], batches, args.concurrency, ProgressLine("push", total))
            summary = summarise_stacks(raw, "push_entries")
            (out_dir / f"server-{kind}.txt").write_text(summary)
        say(
            f"  server under py-spy: {total / seconds:,.0f} entries/s; "
            f"{out_dir}/server-{kind}.txt (collapsed stacks: {raw.name})"
        )
    with fresh_database(kind, scratch, args.pg) as db:
        tokens = prepare_server(db.url, tills.members_csv, len(records))
        batches = encode_batches(records, tokens)
        try:
            from pyinstrument import Profiler
        except ImportError:
            profiler = cProfile.Profile()
            seconds = profiler.runcall(_push_in_process, db.url, batches)
            profiler.dump_stats(out_dir / f"push-{kind}.prof")  # for pstats / snakeviz
            summary_io = io.StringIO()
            pstats.Stats(profiler, stream=summary_io).sort_stats("cumulative").print_stats(60)
            report = out_dir / f"push-{kind}.txt"
            report.write_text(summary_io.getvalue())
        else:
            sampler = Profiler(interval=0.0005)
            sampler.start()
            seconds = _push_in_process(db.url, batches)
            sampler.stop()
            report = out_dir / f"push-{kind}.txt"
            report.write_text(sampler.output_text(unicode=True, color=False))
            (out_dir / f"push-{kind}.html").write_text(sampler.output_html())
    say(f"  in-process push path under the profiler: {total / seconds:,.0f} entries/s; {report}")
    with fresh_database(kind, scratch, args.pg) as db:
        # The same path without a profiler's overhead: what the server's own code costs,
        # without HTTP or the tills' processes sharing the CPU.
        tokens = prepare_server(db.url, tills.members_csv, len(records))
        seconds = _push_in_process(db.url, encode_batches(records, tokens))
    say(f"  in-process push path, no profiler: {total / seconds:,.0f} entries/s")


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sync_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--entries", type=int, default=50_000, help="phase 1: entries in all")
    parser.add_argument("--tills", type=int, default=4, help="phase 1: tills sharing them")
    parser.add_argument("--members", type=int, default=3000, help="members of the demo store")
    parser.add_argument("--catchup", type=int, default=10_000, help="phase 2: unsent entries")
    parser.add_argument("--download", type=int, default=1_000_000, help="phase 3: members")
    parser.add_argument(
        "--phases", default="ingest,catchup,download", help="comma-separated subset to run"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="phase 1: tills pushing at the same time (default: one per server process)",
    )
    parser.add_argument(
        "--servers",
        default="1",
        metavar="N[,N…]",
        help="phase 1: server processes (replicas) on the one database, tills spread over "
        "them; a list (1,2,4) runs phase 1 once per count: the scale-out figures",
    )
    parser.add_argument(
        "--json", metavar="FILE", help="also write the figures as JSON (to compare runs)"
    )
    parser.add_argument(
        "--gzip",
        action="store_true",
        help="phase 1: gzip the push bodies (Content-Encoding: gzip), as tills do when HQ takes it",
    )
    parser.add_argument(
        "--no-check", dest="check", action="store_false", help="skip ledger rebuild --check"
    )
    parser.add_argument("--cache", metavar="DIR", help="keep generated till databases here")
    parser.add_argument(
        "--pg",
        metavar="URL",
        default=os.environ.get("LOYALTILL_BENCH_PG") or os.environ.get("LOYALTILL_TEST_PG"),
        help="PostgreSQL on loopback the bench may create databases in",
    )
    parser.add_argument("--profile", metavar="DIR", help="profile phase 1 in-process instead")
    args = parser.parse_args(argv)
    args.kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    try:
        args.server_counts = [int(n) for n in str(args.servers).split(",") if n.strip()]
    except ValueError:
        parser.error(f"--servers takes counts like 1 or 1,2,4, not {args.servers!r}")
    if not args.server_counts or min(args.server_counts) < 1:
        parser.error("--servers needs at least one count of 1 or more")
    if args.tills < max(args.server_counts):
        parser.error("--tills must be at least the largest --servers count (tills per server)")
    args.phase_set = {p.strip() for p in args.phases.split(",") if p.strip()}
    unknown = args.phase_set - {"ingest", "catchup", "download"}
    if unknown:
        parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    if "postgres" in args.kinds:
        if not args.pg:
            parser.error("PostgreSQL needs --pg URL (or LOYALTILL_TEST_PG)")
        check_loopback(args.pg)
    return args


def write_json(
    path: Path,
    args: argparse.Namespace,
    ingest: Sequence[IngestResult],
    catchups: Sequence[dict[str, Any]],
    downloads: Sequence[dict[str, Any]],
) -> None:
    """The run's figures, to compare with another run's (``--json FILE``)."""
    summary = {
        "bench": "sync_bench",
        "at": utc_now().isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": {
            "entries": args.entries,
            "tills": args.tills,
            "members": args.members,
            "batch": MAX_PUSH_BATCH,
            "servers": args.server_counts,
        },
        "ingest": [result.as_json() for result in ingest],
        "catchup": list(catchups),
        "download": list(downloads),
    }
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    say(f"figures written to {path}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    claim_process()
    tune_garbage_collector()  # the rebuild checks run in this process, as `serve` would
    # A plain `kill` still drops the bench's databases and stops its server (finally blocks).
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    scratch = Path(tempfile.mkdtemp(prefix="loyaltill-sync-bench-"))
    cache = Path(args.cache) if args.cache else scratch / "tills"
    say(
        f"sync bench: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"databases: {', '.join(args.kinds)}"
    )
    try:
        ingest = catchup = None
        if "ingest" in args.phase_set or args.profile:
            per_till = -(-args.entries // args.tills)
            ids = [f"T{n:04d}" for n in range(1, args.tills + 1)]
            ingest = generate_tills(cache, "ingest", ids, per_till, args.members)
        if "catchup" in args.phase_set and not args.profile:
            catchup = generate_tills(cache, "catchup", ["T0001"], args.catchup, args.members)
        results: list[IngestResult] = []
        catchups: list[dict[str, Any]] = []
        downloads: list[dict[str, Any]] = []
        for kind in args.kinds:
            if args.profile:
                assert ingest is not None
                profile_ingest(kind, ingest, args, scratch)
                continue
            if ingest is not None:
                for servers in args.server_counts:
                    results.append(bench_ingest(kind, ingest, args, scratch, servers))
            if catchup is not None:
                catchups.append(bench_catchup(kind, catchup, args, scratch))
            if "download" in args.phase_set:
                downloads.append(bench_download(kind, args, scratch))
        if results:
            say("\nsummary (1. ingest + reconciliation over HTTP)")
            say(
                f"  {'database':<10} {'servers':>7} {'entries/s':>10} {'raw rows/s':>11} "
                f"{'ratio':>6} {'rebuild':>8}"
            )
            for result in results:
                verdict = {None: "-", True: "ok", False: "DIFFERS"}[result.rebuild_ok]
                say(
                    f"  {result.database:<10} {result.servers:>7} {result.rate:>10,.0f} "
                    f"{result.raw_rate:>11,.0f} {result.rate / result.raw_rate:>6.2f} "
                    f"{verdict:>8}"
                )
        if args.json:
            write_json(Path(args.json), args, results, catchups, downloads)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
