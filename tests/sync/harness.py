"""Real parts for the till <-> server tests: an HQ (server database, its admin CLI, a real
uvicorn on loopback) and tills (``Till`` on its own SQLite file) syncing through
``SyncClient``/``SyncEngine``, plus the checks that prove invariants 3 and 4.

``ServerProcess`` is ``syncserver serve`` as a supervisor runs it — its own process, which
the fault soak (tests/soak) SIGKILLs and starts again."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from shared.protocol import MAX_PUSH_BATCH
from syncserver.cli import main as syncserver
from syncserver.embedded import serve_in_thread
from syncserver.ledger.rebuild import rebuild_check
from syncserver.storage.database import Database
from syncserver.storage.schema import (
    exceptions,
    journal_entries,
    member_balances,
    members,
    postings,
    stored_values,
    terminals,
    vouchers,
)
from terminal.store import TillDatabase
from terminal.store.journal import journal_tip
from terminal.store.members import member_balance, member_by_key
from terminal.sync.client import SyncClient
from terminal.sync.engine import PULL_LIMIT, SyncEngine, SyncReport
from terminal.sync.errors import SyncOfflineError
from tests.server.helpers import demo_rules_json
from tests.server.tills import TillDriver

PATIENT = httpx.Timeout(60.0, connect=30.0)
"""Client timeouts for tests without held requests: a busy machine answers late, not wrong.
Tests that hold requests on purpose (fault proxies) pass their own short timeout."""


def run_cli(*args: str) -> Result:
    result = CliRunner().invoke(syncserver, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@dataclass
class Hq:
    """The sync server: its database, its CLI and a real uvicorn (restartable on its port)."""

    database: Database
    base: Path
    admin_token: str = ""
    url: str = ""
    _server: ExitStack = field(default_factory=ExitStack)
    _port: int = 0
    _tills: list[SyncedTill] = field(default_factory=list)

    @property
    def db(self) -> tuple[str, str]:
        return ("--db", self.database.url)

    def cli(self, *args: str) -> Result:
        return run_cli(*args, *self.db)

    def setup(self) -> None:
        """``syncserver init`` and ``program load`` of the demo rules, through the CLI."""
        created = json.loads(self.cli("init").stdout)
        self.admin_token = created["admin"]["token"]
        self.cli("store", "add", "S001", "--name", "Harbour Grocers", "--timezone", "UTC")
        rules = self.base / "demo_program.json"
        rules.write_text(demo_rules_json(), encoding="utf-8")
        assert "published" in self.cli("program", "load", str(rules)).stdout

    def start(self) -> str:
        self.url = self._server.enter_context(serve_in_thread(self.database, port=self._port))
        self._port = int(self.url.rsplit(":", 1)[1])
        return self.url

    def stop(self) -> None:
        self._server.close()

    def add_terminal(self, name: str, store: str = "S001") -> tuple[str, str]:
        added = json.loads(self.cli("terminal", "add", "--store", store, "--name", name).stdout)
        return added["terminal_id"], added["token"]

    def open_till(
        self, base: Path, index: int = 0, url: str | None = None, **options: Any
    ) -> SyncedTill:
        """A seeded demo till registered with `terminal add`, syncing to ``url`` (default:
        the server itself); closed when the HQ stops."""
        terminal_id, token = self.add_terminal(f"Till {index + 1}")
        till = SyncedTill(base, terminal_id, token, url or self.url, index, **options)
        self._tills.append(till)
        return till

    def close_tills(self) -> None:
        while self._tills:
            self._tills.pop().close()

    def import_members(self, text: str) -> None:
        path = self.base / "members.csv"
        path.write_text(text, encoding="utf-8")
        assert "imported" in self.cli("members", "import", str(path)).stdout

    def import_catalog(self, text: str) -> None:
        path = self.base / "catalog.csv"
        path.write_text(text, encoding="utf-8")
        self.cli("catalog", "import", str(path))

    # --- what the server holds ------------------------------------------------------------

    def acked(self, terminal_id: str) -> int:
        with self.database.read() as conn:
            return int(
                conn.execute(
                    select(terminals.c.acked_seq).where(terminals.c.terminal_id == terminal_id)
                ).scalar_one()
            )

    def balances(self) -> dict[str, int]:
        with self.database.read() as conn:
            rows = conn.execute(select(member_balances.c.member_id, member_balances.c.points))
            return {row.member_id: int(row.points) for row in rows}

    def stored_hashes(self, terminal_id: str) -> list[tuple[int, str]]:
        with self.database.read() as conn:
            rows = conn.execute(
                select(journal_entries.c.seq, journal_entries.c.hash)
                .where(journal_entries.c.terminal_id == terminal_id)
                .order_by(journal_entries.c.seq)
            )
            return [(int(row.seq), row.hash) for row in rows]

    def exceptions(self, terminal_ids: list[str]) -> list[tuple[str, str, int, str | None, int]]:
        """(kind, terminal, seq, member, amount) raised for these tills' entries."""
        with self.database.read() as conn:
            rows = conn.execute(
                select(
                    exceptions.c.kind,
                    exceptions.c.terminal_id,
                    exceptions.c.seq,
                    exceptions.c.member_id,
                    exceptions.c.amount,
                ).where(exceptions.c.terminal_id.in_(terminal_ids))
            )
            return sorted(
                (r.kind, r.terminal_id, int(r.seq), r.member_id, int(r.amount)) for r in rows
            )

    def gift_card_balances(self, numbers: list[str]) -> dict[str, int]:
        """Gift card number -> HQ's balance (minor units), for the cards HQ holds."""
        accounts = {f"giftcard:{number}": number for number in numbers}
        with self.database.read() as conn:
            rows = conn.execute(
                select(stored_values.c.account, stored_values.c.balance_minor).where(
                    stored_values.c.account.in_(list(accounts))
                )
            )
            return {accounts[row.account]: int(row.balance_minor) for row in rows}

    def voucher_states(self, codes: list[str]) -> dict[str, str]:
        """Voucher code -> its status at HQ (issued, redeemed, expired, voided)."""
        with self.database.read() as conn:
            rows = conn.execute(
                select(vouchers.c.code, vouchers.c.status).where(vouchers.c.code.in_(codes))
            )
            return {row.code: row.status for row in rows}

    def local_member_ids(self) -> dict[str, str]:
        """local_member_id -> server member_id, for members enrolled at a till."""
        with self.database.read() as conn:
            rows = conn.execute(
                select(members.c.local_member_id, members.c.member_id).where(
                    members.c.local_member_id.is_not(None)
                )
            )
            return {row.local_member_id: row.member_id for row in rows}


@contextlib.contextmanager
def running_hq(database: Database, base: Path) -> Iterator[Hq]:
    hq = Hq(database, base)
    hq.setup()
    hq.start()
    try:
        yield hq
    finally:
        hq.close_tills()
        hq.stop()


class SyncedTill(TillDriver):
    """A seeded demo till (tests.server.tills) with a sync client pointed at ``url``
    (the server, or a fault proxy in front of it)."""

    def __init__(
        self,
        base: Path,
        terminal_id: str,
        token: str,
        url: str,
        index: int = 0,
        *,
        timeout: httpx.Timeout = PATIENT,
        push_batch: int = MAX_PUSH_BATCH,
        pull_limit: int = PULL_LIMIT,
    ) -> None:
        super().__init__(base, terminal_id, index)
        self.token = token
        self.client = SyncClient(url, token, timeout=timeout)
        self.engine = SyncEngine(
            self.config, self.database, self.client, push_batch=push_batch, pull_limit=pull_limit
        )

    @classmethod
    def reopen(cls, till: SyncedTill, url: str) -> SyncedTill:
        """The same till (its database file as it is now) in a new process, as it were."""
        return cls(till.config.data_dir.parent, till.terminal_id, till.token, url, till.index)

    def last_seq(self) -> int:
        with self.database.read() as db:
            return journal_tip(db)[0]

    def sync_until_done(self, deadline_s: float = 120.0) -> SyncReport:
        """Sync until a round succeeds: faults may still cut some rounds, and a till with a
        short timeout may give up on a slow reply. Bounded by a generous deadline, not a
        count of tries: a busy machine may need many."""
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                return self.engine.sync_once()
            except SyncOfflineError as error:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{self.terminal_id}: no clean sync in {deadline_s:.0f} s: {error.message}"
                    ) from error

    def pull_until_done(self, deadline_s: float = 120.0) -> None:
        """A whole pull, as :meth:`sync_until_done` (a short timeout may cost tries)."""
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                self.engine.pull_all(SyncReport())
                return
            except SyncOfflineError as error:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{self.terminal_id}: no clean pull in {deadline_s:.0f} s: {error.message}"
                    ) from error

    def views(self) -> dict[str, int]:
        return till_views(self.database)

    def close(self) -> None:
        self.client.close()
        super().close()


def till_config_file(tmp_path: Path, till: SyncedTill, url: str) -> Path:
    """A ``till.toml`` for ``till`` pointing at HQ ``url`` (for the ``till`` command line)."""
    path = tmp_path / "till.toml"
    path.write_text(
        "[till]\n"
        f'data_dir = "{till.config.data_dir}"\n'
        f'terminal_id = "{till.terminal_id}"\n'
        'timezone = "Europe/Berlin"\n'
        f'server_url = "{url}"\n'
        f'server_token = "{till.token}"\n',
        encoding="utf-8",
    )
    return path


def till_views(database: TillDatabase) -> dict[str, int]:
    """The balance a till shows for each member HQ knows (server id -> points)."""
    with database.read() as db:
        keys = [
            row[0]
            for row in db.execute(
                "SELECT member_key FROM members WHERE member_id IS NOT NULL"
            ).fetchall()
        ]
        out = {}
        for key in keys:
            member = member_by_key(db, key)
            assert member is not None
            assert member.member_id is not None
            out[member.member_id] = member_balance(db, member)
    return out


def unsent_effects(database: TillDatabase, acked: int) -> dict[str, int]:
    """Server member id -> points this till moved in its entries after ``acked``."""
    with database.read() as db:
        rows = db.execute(
            "SELECT m.member_id, SUM(e.delta) FROM points_effects e "
            "JOIN members m ON m.member_key = e.member_key "
            "WHERE e.seq > ? AND m.member_id IS NOT NULL GROUP BY m.member_id",
            [acked],
        ).fetchall()
    return {str(member_id): int(total) for member_id, total in rows}


def catalog_csv_of(till: TillDriver) -> str:
    """The till's seeded products as ``syncserver catalog import`` reads them."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sku", "description", "category", "price_minor", "tax_rate_bp", "open_price"])
    with till.database.read() as db:
        for row in db.execute(
            "SELECT sku, description, category, price_minor, tax_rate_bp, open_price "
            "FROM products ORDER BY sku"
        ).fetchall():
            writer.writerow(row)
    return out.getvalue()


def assert_stored_once(hq: Hq, terminal_id: str, records: list[dict[str, Any]]) -> None:
    """HQ acknowledged the whole journal and holds each entry once, exactly as journaled."""
    assert hq.acked(terminal_id) == len(records)
    assert hq.stored_hashes(terminal_id) == [(r["seq"], r["hash"]) for r in records]


def assert_ledger_sound(hq: Hq) -> None:
    """No entry stored twice (under another seq), every entry's and HQ event's postings sum
    to zero per unit, and ``ledger rebuild --check`` reproduces the live ledger exactly."""
    with hq.database.read() as conn:
        twice = conn.execute(
            select(journal_entries.c.entry_id)
            .group_by(journal_entries.c.entry_id)
            .having(func.count() > 1)
        ).all()
        assert twice == [], "an entry is stored twice"
        source = (postings.c.terminal_id, postings.c.seq, postings.c.hq_event_id, postings.c.unit)
        unbalanced = conn.execute(
            select(*source).group_by(*source).having(func.sum(postings.c.amount) != 0)
        ).all()
        assert unbalanced == []
    report = rebuild_check(hq.database)
    assert report.ok, report.differences


def assert_converged(hq: Hq, tills: list[SyncedTill]) -> None:
    """Invariants 3 and 4 after every till's last clean sync: each entry at HQ exactly once
    and exactly as journaled, a sound ledger, and balances as the tills show them."""
    for till in tills:
        records = till.records()
        assert till.last_seq() == till.engine.acked_seq() == len(records)
        assert_stored_once(hq, till.terminal_id, records)
    server = hq.balances()
    for till in tills:
        till.pull_until_done()
        views = till.views()
        assert views == {m: server[m] for m in views}, till.terminal_id
    assert_ledger_sound(hq)


def wait_for(
    predicate: Callable[[], bool], what: str, timeout_s: float = 60.0, interval_s: float = 0.02
) -> None:
    """Poll until ``predicate()`` holds; fail naming ``what`` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


_LISTENING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


class ServerProcess:
    """``syncserver serve --db URL`` in its own process on a free loopback port, its log in
    ``log_dir``. ``kill()`` is SIGKILL (no shutdown, no cleanup); ``start()`` after a kill or
    a stop runs a new process, on a new port (callers follow it: ``FaultProxy.set_upstream``).
    ``crashed`` tells a process that died although nobody stopped it."""

    def __init__(self, db_url: str, log_dir: Path, name: str = "server") -> None:
        self.db_url = db_url
        self.log_dir = log_dir
        self.name = name
        self.url = ""
        self.starts = 0
        self.logs: list[Path] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped_on_purpose = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def crashed(self) -> bool:
        return (
            self._process is not None
            and self._process.poll() is not None
            and not self._stopped_on_purpose
        )

    def start(self, timeout_s: float = 120.0) -> str:
        """Start a new process and wait (bounded) until it answers ``/healthz``."""
        assert not self.alive, f"{self.name} is already running"
        self.starts += 1
        log_path = self.log_dir / f"{self.name}-{self.starts}-{uuid.uuid4().hex[:6]}.log"
        self.logs.append(log_path)
        with log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "syncserver.cli",
                    "serve",
                    "--db",
                    self.db_url,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--log-level",
                    "info",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=dict(os.environ, LOYALTILL_SERVER_POOL_SIZE="8"),
            )
        self._stopped_on_purpose = False
        deadline = time.monotonic() + timeout_s
        url = None
        while url is None:
            found = _LISTENING.search(log_path.read_text(errors="replace"))
            if found:
                url = found.group(1)
            elif self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"{self.name}: syncserver serve did not start:\n"
                    + log_path.read_text(errors="replace")[-4000:]
                )
            else:
                time.sleep(0.05)
        while True:  # listening; healthy once its database answers too
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=60).status_code == 200:
                    break
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.name}: {url}/healthz did not answer 200")
            time.sleep(0.1)
        self.url = url
        return url

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        process = self._process
        if process is None:
            return
        self._stopped_on_purpose = True
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), SIGKILL if it takes too long."""
        process = self._process
        if process is None:
            return
        self._stopped_on_purpose = True
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tracebacks(self) -> list[str]:
        """Tracebacks the server logged, in every log it wrote (each start has its own)."""
        found: list[str] = []
        for path in self.logs:
            text = path.read_text(errors="replace") if path.exists() else ""
            for block in text.split("Traceback (most recent call last):")[1:]:
                lines = [line for line in block.splitlines() if line.strip()]
                tail = next(
                    (line for line in lines if not line.startswith((" ", "\t"))), "(no message)"
                )
                found.append(tail.strip())
        return found
