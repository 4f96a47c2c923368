"""The fault soak: real tills and real servers under a storm of faults, then the proofs.

One run per database (SQLite file, or PostgreSQL in a throwaway cluster the soak owns):

* HQ is set up through ``syncserver``'s CLI and served by real ``syncserver serve`` processes
  (:class:`tests.sync.harness.ServerProcess`): one on SQLite, two replicas on PostgreSQL with
  the tills spread across them.
* Each till is a seeded demo till on its own SQLite file (``tests.sync.harness.SyncedTill``,
  on the real clock), registered with ``terminal add``. Everything it sends goes through its
  own fault proxy (tests/sync/fault_proxy.py), one per server, so the soak can cut, stall,
  garble and duplicate any request and knows when a request is still in flight.

The soak runs in *epochs*. In a till epoch every till does one thing at the same time as the
others: a sync round with network faults scripted into its proxy; an attack with batches
(an already stored batch resent, an overlapping one, batch k+1 before batch k, an old request
replayed byte for byte with the till's token, one batch sent to two servers at the same
moment); a real till process (``tests/soak/till_child.py``) selling until SIGKILL; or a real
``till sync --once`` SIGKILLed by a proxy trigger when its push arrives, is forwarded, is
answered, or when a pull page was delivered. In a server epoch every till sells and syncs
while a trigger SIGKILLs a server the moment a push has been forwarded to it (then it is
started again), or restarts the PostgreSQL cluster at that moment (``-m immediate``, a crash,
or ``-m fast``). The first epochs cover every kind of fault once; then the seeded RNG mixes
them until the fault budget is spent.

Along the way every answer is checked against docs/protocol.md: a round succeeds or fails as
"offline" (never a conflict or a refusal, and never succeeds when a fault cut it); an attack
gets exactly the acknowledgement, gap or duplicate count the protocol promises (exact, because
each till's proxies are idle before it); a killed till restarts with a verifying journal that
holds every sale it reported committed, unchanged.

At the end, once every till has synced cleanly: for every till, ``till journal verify``
passes, HQ's stored entries equal its journal (same seqs and hashes: none lost, none
doubled), HQ's ``journal_entries`` chain verifies, no entry is stored twice, every posting set
sums to zero, no honest till raised a chain conflict, every till shows HQ's balances, and
``ledger rebuild --check`` is green. Any breach is a violation; ``bench/soak.py`` exits
non-zero on one, the pytest slice fails.

Nothing here measures or assumes time: waits are for conditions, with generous deadlines.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text

from shared.journal import verify_chain
from shared.protocol import MAX_PUSH_BATCH
from syncserver.ledger.rebuild import rebuild_check
from syncserver.storage.database import Database, normalize_url
from syncserver.storage.schema import exceptions, journal_entries, postings
from terminal.cli.main import till as till_cli
from terminal.store import open_database
from terminal.store.journal import journal_tip, verify_journal
from terminal.store.settings import get_setting
from terminal.sync.client import SyncClient
from terminal.sync.engine import SyncEngine
from terminal.sync.errors import SyncError, SyncOfflineError
from terminal.till.errors import TillError
from tests.server.tills import members_csv_from_till
from tests.soak.pg_cluster import ThrowawayCluster
from tests.sync.fault_proxy import (
    EVERY_FAULT,
    AnyFault,
    ExtraFault,
    Fault,
    FaultProxy,
    Stage,
    Trigger,
)
from tests.sync.harness import Hq, ServerProcess, SyncedTill, catalog_csv_of, till_views

__all__ = [
    "ATTACKS",
    "KINDS",
    "PG_RESTART",
    "Check",
    "SoakOptions",
    "SoakResult",
    "format_result",
    "run_soak",
]


def push_json(body: bytes) -> Any:
    """A push body as JSON, gunzipped first when the till compressed it."""
    return json.loads(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)


ROOT = Path(__file__).resolve().parents[2]
PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"
PUSH_BATCH = 7
"""Entries per push of the in-process tills: a round is many requests a fault can hit."""
PULL_LIMIT = 5
DEADLINE_S = 180.0
"""Generous bound for any single wait on a condition (a process, a restart, a reply)."""

NETWORK: dict[AnyFault, str] = {
    Fault.RESET: "network: request cut mid-body (RST)",
    ExtraFault.TRUNCATE_REQUEST: "network: request cut mid-body (FIN)",
    Fault.HOLD: "network: request stalled, delivered late",
    Fault.DUPLICATE: "network: request delivered twice",
    ExtraFault.STALL_REPLY: "network: reply stalled (till times out)",
    Fault.TRUNCATE: "network: reply truncated",
    Fault.GARBLE: "network: reply garbled (cut, consistent length)",
    ExtraFault.RESET_REPLY: "network: reply reset mid-body (RST)",
}
ATTACKS: dict[str, str] = {
    "duplicate": "batch: stored batch resent",
    "overlap": "batch: overlapping batch (old + new)",
    "reorder": "batch: batch k+1 sent before batch k",
    "replay": "batch: old request replayed byte for byte",
    "race": "batch: one batch to two servers at once",
}
SERVER_KILL = "process: server SIGKILL mid-push"
TILL_KILL_SALE = "process: till SIGKILL mid-sale"
TILL_KILL_SYNC = "process: till SIGKILL mid-sync"
PG_RESTART = "database: PostgreSQL restart under load"
KINDS = [*NETWORK.values(), *ATTACKS.values(), SERVER_KILL, TILL_KILL_SALE, TILL_KILL_SYNC]
"""Every kind of fault; PG_RESTART too on PostgreSQL."""

KILL_SYNC_POINTS: list[tuple[Stage, str]] = [
    (Stage.ARRIVED, PUSH),
    (Stage.FORWARDED, PUSH),
    (Stage.REPLIED, PUSH),
    (Stage.DELIVERED, PULL),
]
DISRUPTIVE = set(EVERY_FAULT) - {Fault.DUPLICATE}


@dataclass
class SoakOptions:
    kind: str
    """sqlite or postgres"""
    faults: int
    seed: int
    work_dir: Path
    tills: int = 4
    client_timeout_s: float = 1.0
    """The in-process tills' read timeout: what a stalled request or reply costs them."""
    max_seconds: float = 4 * 3600.0
    """Stop injecting after this long (then sync, check and report as usual)."""
    say: Callable[[str], None] = field(default=lambda _line: None)
    progress: Callable[[int, int], None] = field(default=lambda _done, _target: None)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class SoakResult:
    kind: str
    tills: int = 0
    servers: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    entries: int = 0
    elapsed_s: float = 0.0
    epochs: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    checks: list[Check] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    kill_landings: Counter[str] = field(default_factory=Counter)
    attack_replies_checked: int = 0
    server_starts: int = 0
    pg_restarts: int = 0
    server_errors: Counter[str] = field(default_factory=Counter)
    stopped_early: str = ""

    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())

    @property
    def ok(self) -> bool:
        return not self.violations and all(check.ok for check in self.checks)


class _ViolationError(Exception):
    pass


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _till_command() -> list[str]:
    """The real ``till`` command line (the console script beside this Python)."""
    script = Path(sys.executable).parent / "till"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from terminal.cli.main import main; main()"]


def _child_env() -> dict[str, str]:
    """This environment without LOYALTILL_* settings (they would override the till config)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LOYALTILL_")}


_CLEAN_ENV: dict[str, str | None] = {k: None for k in os.environ if k.startswith("LOYALTILL_")}
"""For Click's runner: no LOYALTILL_* settings from this environment (they override the config)."""


def _parse_reply(raw: bytes) -> tuple[int | None, Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    first = head.split(b"\r\n", 1)[0].split(b" ")
    status = int(first[1]) if len(first) >= 2 and first[1].isdigit() else None
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None


class _Till:
    """One soak till: the in-process till and engine (through its home proxy), its proxies
    (one per server), its config file for the real ``till`` CLI, what its killed processes
    reported committed."""

    def __init__(
        self,
        base: Path,
        index: int,
        terminal_id: str,
        token: str,
        proxies: list[FaultProxy],
        home: int,
        seed: str,
        timeout: httpx.Timeout,
    ) -> None:
        self.index = index
        self.terminal_id = terminal_id
        self.token = token
        self.proxies = proxies
        self.home = home
        self.rng = random.Random(seed)
        self.driver = SyncedTill(
            base,
            terminal_id,
            token,
            proxies[home].url,
            index,
            timeout=timeout,
            push_batch=PUSH_BATCH,
            pull_limit=PULL_LIMIT,
        )
        self.driver.till.clock = _utc_now  # real time, like the till processes
        self.config_path = base / f"{terminal_id}.toml"
        self.config_path.write_text(
            "[till]\n"
            f'data_dir = "{self.driver.config.data_dir}"\n'
            f'terminal_id = "{terminal_id}"\n'
            'timezone = "Europe/Berlin"\n'
            f'server_url = "{proxies[home].url}"\n'
            f'server_token = "{token}"\n',
            encoding="utf-8",
        )
        self.reported: dict[int, str] = {}
        """seq -> hash of every sale a till process reported committed before its SIGKILL."""

    @property
    def proxy(self) -> FaultProxy:
        return self.proxies[self.home]

    @property
    def data_dir(self) -> Path:
        return self.driver.config.data_dir

    def tip(self) -> int:
        return self.driver.last_seq()

    def wait_idle(self) -> None:
        for proxy in self.proxies:
            proxy.wait_idle(DEADLINE_S)


class _Soak:
    def __init__(self, options: SoakOptions, db_url: str, cluster: ThrowawayCluster | None):
        self.options = options
        self.cluster = cluster
        self.rng = random.Random(f"{options.seed}-{options.kind}")
        self.result = SoakResult(options.kind)
        self.base = options.work_dir
        self.database = Database(db_url)
        hq_dir = self.base / "hq"
        hq_dir.mkdir(parents=True, exist_ok=True)
        self.hq = Hq(self.database, hq_dir)
        replicas = 2 if options.kind == "postgres" else 1
        self.servers = [ServerProcess(db_url, hq_dir, f"server{n + 1}") for n in range(replicas)]
        self.server_up = [threading.Event() for _ in self.servers]
        self.pg_up = threading.Event()
        self.pg_up.set()
        self.tills: list[_Till] = []
        self.proxies: list[FaultProxy] = []
        self._lock = threading.Lock()
        self._restarts: list[threading.Thread] = []
        self.timeout = httpx.Timeout(options.client_timeout_s, connect=options.client_timeout_s)

    # --- bookkeeping --------------------------------------------------------------------------

    def count(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.result.faults[kind] += n

    def retry(self, reason: str) -> None:
        with self._lock:
            self.result.retries[reason] += 1

    def violation(self, message: str) -> None:
        with self._lock:
            self.result.violations.append(message)
        self.options.say(f"  VIOLATION: {message}")

    def all_up(self) -> None:
        """Wait (bounded) until every server runs and PostgreSQL accepts connections."""
        for event in [*self.server_up, self.pg_up]:
            if not event.wait(DEADLINE_S):
                raise _ViolationError("a server or PostgreSQL did not come back in time")

    # --- setting up ---------------------------------------------------------------------------

    def setup(self) -> None:
        say = self.options.say
        self.hq.setup()
        say(f"  starting {len(self.servers)} syncserver process(es)")
        with ThreadPoolExecutor(max_workers=len(self.servers)) as pool:
            urls = list(pool.map(lambda server: server.start(), self.servers))
        for event in self.server_up:
            event.set()
        for index in range(self.options.tills):
            terminal_id, token = self.hq.add_terminal(f"Soak till {index + 1}")
            proxies = [FaultProxy(url, hold_limit_s=30) for url in urls]
            self.proxies.extend(proxies)
            self.tills.append(
                _Till(
                    self.base / "tills",
                    index,
                    terminal_id,
                    token,
                    proxies,
                    index % len(self.servers),
                    f"{self.options.seed}-{self.options.kind}-{index}",
                    self.timeout,
                )
            )
        self.hq.import_members(members_csv_from_till(self.tills[0].driver))
        self.hq.import_catalog(catalog_csv_of(self.tills[0].driver))
        self.result.tills = len(self.tills)
        self.result.servers = len(self.servers)

    def close(self) -> None:
        for thread in self._restarts:
            thread.join(timeout=DEADLINE_S)
        for till in self.tills:
            with contextlib.suppress(Exception):
                till.driver.close()
        for proxy in self.proxies:
            proxy.calm()
            proxy.close()
        for server in self.servers:
            server.stop()
        self.database.dispose()

    # --- what tills do ------------------------------------------------------------------------

    def sell(self, till: _Till, operations: int) -> None:
        """Cashier work in the in-process till: member sales (some redeeming), anonymous
        sales, returns, voids, enrolments, a card replacement now and then, shift closes."""
        driver, rng = till.driver, till.rng
        for _ in range(operations):
            roll = rng.random()
            try:
                if roll < 0.5:
                    driver.sale(rng.choice(driver.cards), redeem=rng.random() < 0.3)
                elif roll < 0.65:
                    driver.sale(None)
                elif roll < 0.75:
                    driver.return_one() or driver.sale(None)
                elif roll < 0.81:
                    driver.void_last() or driver.sale(None)
                elif roll < 0.93:
                    driver.enrol()
                elif roll < 0.95:
                    driver.replace_card(rng.choice(driver.cards))
                else:
                    driver.till.close_shift()
            except TillError:  # a card blocked by HQ meanwhile, nothing to redeem, …
                driver.sale(None)

    def round(self, till: _Till, engine: SyncEngine | None = None) -> bool:
        """One sync round; True when it succeeded, False when it failed as "offline". Any
        other outcome (a conflict, a refusal, a gap the engine gave up on) is a violation."""
        try:
            (engine or till.driver.engine).sync_once()
            return True
        except SyncOfflineError:
            return False
        except SyncError as error:
            raise _ViolationError(
                f"{till.terminal_id}: honest sync answered {type(error).__name__}: {error.message}"
            ) from None

    def load_round(self, till: _Till, attempts: int = 12) -> None:
        """Sell a little, then sync until a round succeeds (bounded); after a failed round
        wait until every server and the database are up again."""
        self.sell(till, till.rng.randint(1, 6))
        try:
            for _ in range(attempts):
                if self.round(till):
                    return
                self.retry("sync round failed (server or database down), retried")
                self.all_up()
        finally:
            till.wait_idle()

    def load_rounds(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            (f"{t.terminal_id} load", functools.partial(self.load_round, t)) for t in self.tills
        ]

    def act_network(self, till: _Till, fault: AnyFault | None = None) -> None:
        """Sync rounds with network faults aimed by the till's proxy: the given fault on the
        round's first push; else 1–3 rounds, each with a random fault on a random push, pull
        page or request of the round."""
        self.sell(till, till.rng.randint(1, 6))
        rounds = 1 if fault is not None else till.rng.randint(1, 3)
        for _ in range(rounds):
            chosen = fault or till.rng.choice(EVERY_FAULT)
            path = PUSH if fault is not None else till.rng.choice([PUSH, PUSH, PULL, ""])
            skip = 0 if fault is not None else till.rng.randint(0, 2 if path else 4)
            mark = till.proxy.mark
            till.proxy.target(path, *[Fault.PASS] * skip, chosen)
            try:
                succeeded = self.round(till)
            finally:
                till.proxy.clear_script()
                till.proxy.wait_idle(DEADLINE_S)
            applied = [f for f in till.proxy.faults_since(mark) if f is not Fault.PASS]
            for hit in applied:
                self.count(NETWORK[hit])
            if succeeded and set(applied) & DISRUPTIVE:
                raise _ViolationError(
                    f"{till.terminal_id}: a round succeeded although "
                    f"{', '.join(f.value for f in applied)} cut it"
                )
            if not succeeded:
                self.retry("sync round cut by a network fault, retried")
                if till.rng.random() < 0.5 and not self.round(till):
                    self.retry("sync round failed without a fault (client timeout), retried")
                till.proxy.wait_idle(DEADLINE_S)

    def act_kill_sale(self, till: _Till) -> None:
        """A real till process sells until SIGKILL; then, as after a restart, its journal
        must verify and hold every sale it reported committed, unchanged."""
        before = till.tip()
        log = (self.base / "logs" / f"{till.terminal_id}-sale.log").open("ab")
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.soak.till_child",
                str(till.data_dir),
                till.terminal_id,
                str(till.rng.randrange(1 << 30)),
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=_child_env(),
        )
        log.close()
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert child.stdout is not None
            for line in child.stdout:
                lines.put(line.strip())
            lines.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        seen: list[str] = []
        wanted = till.rng.randint(1, 5)
        try:
            deadline = time.monotonic() + DEADLINE_S
            while sum(line.startswith("sale ") for line in seen) < wanted:
                try:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise _ViolationError(
                        f"{till.terminal_id}: the till process sold nothing"
                    ) from None
                if line is None:
                    raise _ViolationError(
                        f"{till.terminal_id}: the till process died by itself "
                        f"(exit {child.wait()}); see {self.base / 'logs'}"
                    )
                seen.append(line)
            # Any moment is a valid moment to die: spread the kill over the sale cycle.
            threading.Event().wait(till.rng.uniform(0, 0.04))
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=DEADLINE_S)
            reader.join(timeout=DEADLINE_S)
            assert child.stdout is not None
            child.stdout.close()
        while (line := lines.get_nowait() if not lines.empty() else None) is not None:
            seen.append(line)
        self.count(TILL_KILL_SALE)
        committed = {
            int(parts[1]): parts[2]
            for parts in (line.split() for line in seen if line.startswith("sale "))
        }
        till.reported.update(committed)
        last = max(committed, default=before)
        tip = self.check_till_journal(till, "after SIGKILL mid-sale")
        if tip < last:
            raise _ViolationError(
                f"{till.terminal_id}: sale {last} was committed, the journal ends at {tip}"
            )
        if tip == last:
            landing = "between sales" if seen[-1].startswith("sale ") else "mid-sale, before commit"
        elif tip == last + 1 and seen[-1] == "begin":
            landing = "mid-sale, after commit (not yet reported)"
        else:
            raise _ViolationError(
                f"{till.terminal_id}: journal ends at {tip} after sale {last}: unexplained entries"
            )
        with self._lock:
            self.result.kill_landings[landing] += 1

    def check_till_journal(self, till: _Till, when: str) -> int:
        """Open the till's database afresh (a restart), verify its chain and the sales its
        processes reported; its tip."""
        database = open_database(till.driver.config.database_path)
        try:
            report = verify_journal(database.db)
            if not report.ok:
                raise _ViolationError(
                    f"{till.terminal_id}: journal broken {when}: {report.first_break}"
                )
            with database.read() as db:
                tip = journal_tip(db)[0]
                for seq, hash_ in till.reported.items():
                    row = db.execute("SELECT hash FROM journal WHERE seq = ?", [seq]).fetchone()
                    if row is None or row[0] != hash_:
                        raise _ViolationError(
                            f"{till.terminal_id}: committed sale {seq} is "
                            + ("gone" if row is None else "changed")
                            + f" {when}"
                        )
            return tip
        finally:
            database.close()

    def act_kill_sync(self, till: _Till, point: tuple[Stage, str] | None = None) -> None:
        """``till sync --once`` (the real CLI, its own process) SIGKILLed by a proxy trigger:
        when its push reached the proxy, reached the server, was answered, or when a pull page
        was delivered (the till is applying it)."""
        self.sell(till, till.rng.randint(2, 8))
        stage, path = point or till.rng.choice(KILL_SYNC_POINTS)
        pid: list[int] = []
        started = threading.Event()

        def kill() -> None:
            if started.wait(DEADLINE_S) and pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid[0], signal.SIGKILL)

        trigger = Trigger(stage, kill, path=path)
        till.proxy.arm(trigger)
        try:
            child = subprocess.Popen(
                [*_till_command(), "sync", "--once", "--quiet", "--config", str(till.config_path)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_child_env(),
            )
            pid.append(child.pid)
            started.set()
            try:
                _out, err = child.communicate(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()
                raise _ViolationError(f"{till.terminal_id}: till sync --once hung") from None
        finally:
            started.set()
            till.proxy.disarm(trigger)
            fired = not trigger.cancel()
            if fired:
                trigger.fired.wait(DEADLINE_S)
            till.proxy.wait_idle(DEADLINE_S)
        if "Traceback" in err:
            raise _ViolationError(f"{till.terminal_id}: till sync --once crashed:\n{err[-3000:]}")
        with till.driver.database.read() as db:
            state = get_setting(db, "sync_state")
        if state not in (None, "online", "offline"):
            raise _ViolationError(
                f"{till.terminal_id}: till sync --once left the till {state!r}: {err}"
            )
        if fired and child.returncode == -signal.SIGKILL:
            self.count(TILL_KILL_SYNC)
            with self._lock:
                self.result.kill_landings[f"sync: {stage.value} ({path.rsplit('/', 1)[-1]})"] += 1
        elif child.returncode == 1 and "sync failed" in err:
            self.retry("till sync --once failed (offline), retried later")
        elif child.returncode != 0:
            raise _ViolationError(
                f"{till.terminal_id}: till sync --once exited {child.returncode}: {err[-2000:]}"
            )
        self.check_till_journal(till, "after SIGKILL mid-sync")

    # --- attacks with batches -------------------------------------------------------------------

    def _records(self, till: _Till, first: int, last: int) -> list[dict[str, Any]]:
        return [r for r in till.driver.records(since=first - 1) if r["seq"] <= last]

    def _post(
        self, proxy: FaultProxy, till: _Till, records: list[dict[str, Any]]
    ) -> tuple[int | None, Any]:
        body = {"terminal_id": till.terminal_id, "entries": records}
        try:
            with httpx.Client(base_url=proxy.url, timeout=DEADLINE_S) as client:
                reply = client.post(
                    PUSH, json=body, headers={"Authorization": f"Bearer {till.token}"}
                )
        except httpx.TransportError:
            return None, None
        try:
            return reply.status_code, reply.json()
        except ValueError:
            return reply.status_code, None

    def expect(
        self,
        till: _Till,
        what: str,
        reply: tuple[int | None, Any],
        first: int,
        last: int,
        acked: int,
    ) -> bool:
        """The protocol's answer to a push of seqs first..last when HQ had acknowledged
        ``acked`` and nothing else was in flight for this till. False: a transient answer
        (busy, server unreachable), to be retried; a wrong answer is a violation."""
        status, body = reply
        if status is None or status == 503:
            self.retry(f"attack got a transient answer ({status or 'no reply'}), retried")
            return False
        if not isinstance(body, dict):
            body = {}
        error = body.get("error") or {}
        if first > acked + 1:
            if status == 409 and error.get("code") == "gap" and error.get("acked_seq") == acked:
                with self._lock:
                    self.result.attack_replies_checked += 1
                return True
            raise _ViolationError(
                f"{till.terminal_id}: {what} {first}..{last} with HQ at {acked}: expected 409 "
                f"gap acked_seq={acked}, got {status} {body}"
            )
        stored = max(0, last - acked)
        want = (200, stored, last - first + 1 - stored, max(acked, last))
        got = (status, body.get("stored"), body.get("duplicates"), body.get("acked_seq"))
        if got != want:
            raise _ViolationError(
                f"{till.terminal_id}: {what} {first}..{last} with HQ at {acked}: expected "
                f"(status, stored, duplicates, acked_seq) = {want}, got {got}: {body}"
            )
        with self._lock:
            self.result.attack_replies_checked += 1
        return True

    def _clean_sync(self, till: _Till) -> None:
        for _ in range(6):
            if self.round(till):
                till.wait_idle()
                return
            self.retry("sync round failed without a fault (client timeout), retried")
        till.wait_idle()

    def act_attack(self, till: _Till, kind: str | None = None) -> None:
        """Batches a till's sync client would never send in this order, with its token,
        through its (idle, fault-free) proxies; each answer must be the protocol's."""
        kind = kind or till.rng.choice(list(ATTACKS))
        rng = till.rng
        till.wait_idle()
        for _ in range(8):  # bounded: topping up what the attack needs, transient answers
            acked = self.hq.acked(till.terminal_id)
            if (kind in ("duplicate", "overlap", "replay") and acked == 0) or (
                kind == "replay" and not any(path == PUSH for _, path, _ in till.proxy.recorded)
            ):
                self.sell(till, rng.randint(1, 4))
                self._clean_sync(till)
                continue
            wanted = {"overlap": 1, "reorder": 2, "race": 1}.get(kind, 0)
            if till.tip() - acked < wanted:
                self.sell(till, wanted + rng.randint(0, 8))
                continue
            if self._attack(till, kind, acked, till.tip()):
                self.count(ATTACKS[kind])
                return
            self.all_up()
        raise _ViolationError(f"{till.terminal_id}: attack {kind!r} never got a definite answer")

    def _attack(self, till: _Till, kind: str, acked: int, tip: int) -> bool:
        rng = till.rng
        proxy = till.proxy
        if kind == "duplicate":
            last = rng.randint(1, acked)
            first = rng.randint(max(1, last - 19), last)
            reply = self._post(proxy, till, self._records(till, first, last))
            return self.expect(till, "a resent batch", reply, first, last, acked)
        if kind == "overlap":
            first = rng.randint(max(1, acked - 5), max(1, acked))
            last = rng.randint(acked + 1, min(tip, acked + 8))
            reply = self._post(proxy, till, self._records(till, first, last))
            return self.expect(till, "an overlapping batch", reply, first, last, acked)
        if kind == "reorder":
            size = rng.randint(1, max(1, min(6, (tip - acked) // 2)))
            k = (acked + 1, acked + size)
            k1 = (acked + size + 1, min(tip, acked + 2 * size))
            steps = [(k1, acked, "batch k+1 before k"), (k, acked, "batch k"),
                     (k1, acked + size, "batch k+1 after k")]  # fmt: skip
            for (first, last), hq_at, what in steps:
                reply = self._post(proxy, till, self._records(till, first, last))
                if not self.expect(till, what, reply, first, last, hq_at):
                    return False
            return True
        if kind == "replay":
            pushes = [raw for _, path, raw in proxy.recorded if path == PUSH]
            raw = rng.choice(pushes)
            seqs = [e["seq"] for e in push_json(raw.partition(b"\r\n\r\n")[2])["entries"]]
            try:
                reply = _parse_reply(proxy.send_upstream(raw))
            except OSError:
                reply = (None, None)
            return self.expect(till, "a replayed request", reply, seqs[0], seqs[-1], acked)
        assert kind == "race"
        first = rng.randint(max(1, acked - 3), acked + 1)
        last = rng.randint(acked + 1, min(tip, acked + 10))
        records = self._records(till, first, last)
        targets = till.proxies if len(till.proxies) > 1 else [proxy, proxy]
        barrier = threading.Barrier(len(targets))
        replies: list[tuple[int | None, Any]] = []

        def send(target: FaultProxy) -> None:
            barrier.wait(timeout=DEADLINE_S)
            reply = self._post(target, till, records)
            with self._lock:
                replies.append(reply)

        threads = [threading.Thread(target=send, args=(t,)) for t in targets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=DEADLINE_S)
        if any(status in (None, 503) for status, _ in replies):
            self.retry("attack got a transient answer, retried")
            return False
        new = last - acked
        stored = [(body or {}).get("stored") for _, body in replies]
        ok = (
            len(replies) == len(targets)
            and all(status == 200 for status, _ in replies)
            and sum(s or 0 for s in stored) == new
            and all(
                (body or {}).get("stored", 0) + (body or {}).get("duplicates", 0) == len(records)
                and (body or {}).get("acked_seq") == max(acked, last)
                for _, body in replies
            )
        )
        if not ok:
            raise _ViolationError(
                f"{till.terminal_id}: batch {first}..{last} sent to {len(targets)} servers at "
                f"once with HQ at {acked}: expected {new} new entries stored exactly once, got "
                f"{replies}"
            )
        with self._lock:
            self.result.attack_replies_checked += len(replies)
        return True

    # --- epochs ---------------------------------------------------------------------------------

    def _guard(self, what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except _ViolationError as violation:
            self.violation(str(violation))
        except Exception:
            self.violation(f"{what}: unexpected error\n{traceback.format_exc()}")

    def _parallel(self, actions: list[tuple[str, Callable[[], None]]]) -> None:
        with ThreadPoolExecutor(max_workers=len(actions)) as pool:
            futures = [pool.submit(self._guard, what, action) for what, action in actions]
            for future in futures:
                future.result()

    def epoch_tills(self, plan: list[tuple[str, Any]]) -> None:
        actions: list[tuple[str, Callable[[], None]]] = []
        for till, (action, arg) in zip(self.tills, plan, strict=True):
            label = f"{till.terminal_id} {action}"
            if action == "network":
                actions.append((label, functools.partial(self.act_network, till, arg)))
            elif action == "attack":
                actions.append((label, functools.partial(self.act_attack, till, arg)))
            elif action == "kill_sale":
                actions.append((label, functools.partial(self.act_kill_sale, till)))
            else:
                actions.append((label, functools.partial(self.act_kill_sync, till, arg)))
        self._parallel(actions)

    def _restart_server(
        self,
        index: int,
        done: threading.Event,
        trigger: Trigger | None = None,
        acked_before: int | None = None,
    ) -> None:
        try:
            if trigger is not None and trigger.request is not None:
                self._kill_landing(trigger.request[1], acked_before)
            url = self.servers[index].start()
            for till in self.tills:
                till.proxies[index].set_upstream(url)
        except Exception:
            self.violation(f"restarting server {index + 1}:\n{traceback.format_exc()}")
        finally:
            self.server_up[index].set()
            done.set()

    @staticmethod
    def _batch_span(body: bytes) -> tuple[str, int] | None:
        try:
            batch = push_json(body)
            return str(batch["terminal_id"]), int(batch["entries"][-1]["seq"])
        except (ValueError, KeyError, IndexError, TypeError):
            return None

    def _kill_landing(self, body: bytes, acked_before: int | None) -> None:
        """Did the push the server died under commit? Read before anyone can push again."""
        span = self._batch_span(body)
        if span is None or acked_before is None:
            return
        terminal_id, last = span
        if acked_before >= last:
            landing = "server: its push held only duplicates"
        elif self.hq.acked(terminal_id) >= last:
            landing = "server: after its push committed (reply lost)"
        else:
            landing = "server: before its push committed (rolled back)"
        with self._lock:
            self.result.kill_landings[landing] += 1

    def epoch_server_kill(self) -> None:
        """Every till sells and syncs; the moment a push has been forwarded to server S it
        is SIGKILLed (after 0–30 ms: before, during or after its commit), then restarted."""
        index = self.rng.randrange(len(self.servers))
        delay = self.rng.uniform(0, 0.03)
        restarted = threading.Event()
        holder: list[Trigger] = []

        def kill() -> None:
            request = holder[0].request
            span = self._batch_span(request[1]) if request is not None else None
            acked_before = self.hq.acked(span[0]) if span is not None else None
            threading.Event().wait(delay)
            self.server_up[index].clear()
            self.servers[index].kill()
            thread = threading.Thread(
                target=self._restart_server, args=(index, restarted, holder[0], acked_before)
            )
            self._restarts.append(thread)
            thread.start()

        trigger = Trigger(Stage.FORWARDED, kill, path=PUSH)
        holder.append(trigger)
        for till in self.tills:
            till.proxies[index].arm(trigger)
        try:
            self._parallel(self.load_rounds())
        finally:
            for till in self.tills:
                till.proxies[index].disarm(trigger)
        if not trigger.cancel():
            trigger.fired.wait(DEADLINE_S)
            if not restarted.wait(DEADLINE_S):
                raise _ViolationError(f"server {index + 1} did not restart")
            self.count(SERVER_KILL)

    def epoch_pg_restart(self) -> None:
        """Every till sells and syncs; the moment a push has been forwarded to a server, the
        PostgreSQL cluster restarts (``immediate``: a crash; ``fast``: sessions aborted)."""
        assert self.cluster is not None
        cluster = self.cluster
        mode = self.rng.choice(["immediate", "fast"])
        done = threading.Event()

        def restart() -> None:
            try:
                cluster.restart(mode)
            except Exception:
                self.violation(f"restarting PostgreSQL:\n{traceback.format_exc()}")
            finally:
                self.pg_up.set()
                done.set()

        def begin() -> None:
            self.pg_up.clear()
            thread = threading.Thread(target=restart)
            self._restarts.append(thread)
            thread.start()

        trigger = Trigger(Stage.FORWARDED, begin, path=PUSH)
        for proxy in self.proxies:
            proxy.arm(trigger)
        try:
            self._parallel(self.load_rounds())
        finally:
            for proxy in self.proxies:
                proxy.disarm(trigger)
        if not trigger.cancel():
            trigger.fired.wait(DEADLINE_S)
            if not done.wait(DEADLINE_S):
                raise _ViolationError("PostgreSQL did not restart")
            self.count(PG_RESTART)

    def check_servers(self) -> None:
        for index, server in enumerate(self.servers):
            if server.crashed:
                self.violation(f"server {index + 1} died by itself; see {server.logs[-1]}")
                self.server_up[index].clear()
                self._restart_server(index, threading.Event())

    # --- the run ----------------------------------------------------------------------------------

    def coverage(self) -> Iterator[str | list[tuple[str, Any]]]:
        """Every kind of fault first (each on a round's first push, so it surely lands), then
        nothing: the RNG takes over."""
        items: list[tuple[str, Any]] = [
            *(("network", f) for f in EVERY_FAULT),
            *(("attack", a) for a in ATTACKS),
            ("kill_sale", None),
            *(("kill_sync", p) for p in KILL_SYNC_POINTS),
        ]
        width = len(self.tills)
        epochs = [items[i : i + width] for i in range(0, len(items), width)]
        for number, plan in enumerate(epochs):
            rest = [self.random_action(self.tills[len(plan) + n]) for n in range(width - len(plan))]
            yield plan + rest
            if number == 0:
                yield "server_kill"
            if number == 1 and self.cluster is not None:
                yield "pg_restart"

    def random_action(self, till: _Till) -> tuple[str, Any]:
        roll = till.rng.random()
        if roll < 0.45:
            return ("network", None)
        if roll < 0.73:
            return ("attack", None)
        if roll < 0.86:
            return ("kill_sale", None)
        return ("kill_sync", None)

    def run(self) -> None:
        options = self.options
        started = time.monotonic()
        target = options.faults
        first = self.coverage()
        max_epochs = 2 * target + 100
        for epoch in range(max_epochs):
            if time.monotonic() - started > options.max_seconds:
                self.result.stopped_early = f"time limit ({options.max_seconds:.0f} s) reached"
                break
            step = next(first, None)
            if step is None:
                if self.result.total_faults >= target:
                    break
                roll = self.rng.random()
                if roll < 0.13:
                    step = "server_kill"
                elif roll < 0.19 and self.cluster is not None:
                    step = "pg_restart"
                else:
                    step = [self.random_action(till) for till in self.tills]
            self.check_servers()
            if step == "server_kill":
                self._guard("server kill", self.epoch_server_kill)
            elif step == "pg_restart":
                self._guard("PostgreSQL restart", self.epoch_pg_restart)
            else:
                assert isinstance(step, list)
                self.epoch_tills(step)
            self.result.epochs = epoch + 1
            options.progress(self.result.total_faults, target)
        else:
            self.result.stopped_early = f"epoch limit ({max_epochs}) reached"

    # --- the end: converge, then prove ----------------------------------------------------------

    def converge(self) -> None:
        """No more faults: every till pushes everything and pulls everything (patient client,
        bounded attempts), then pulls once more to see what the others pushed after."""
        for proxy in self.proxies:
            proxy.calm()
        for till in self.tills:
            till.wait_idle()
        self.check_servers()
        self.all_up()
        patient = httpx.Timeout(60.0, connect=10.0)
        for sweep in range(2):
            for till in self.tills:
                with SyncClient(till.proxy.url, till.token, timeout=patient) as client:
                    engine = SyncEngine(
                        till.driver.config, till.driver.database, client, push_batch=MAX_PUSH_BATCH
                    )
                    for _ in range(10):
                        if self.round(till, engine):
                            break
                        self.retry("final sync round failed, retried")
                        self.all_up()
                    else:
                        raise _ViolationError(
                            f"{till.terminal_id}: no clean sync at the end (sweep {sweep})"
                        )

    def prove(self) -> None:
        result = self.result
        checks = result.checks

        def check(name: str, problems: list[str]) -> None:
            checks.append(Check(name, not problems, "; ".join(problems[:5])))

        ids = [till.terminal_id for till in self.tills]

        problems = []
        for till in self.tills:  # the real command, run in this process (Click's runner)
            run = CliRunner().invoke(
                till_cli, ["journal", "verify", "--config", str(till.config_path)], env=_CLEAN_ENV
            )
            if run.exit_code != 0:
                problems.append(f"{till.terminal_id}: {run.output.strip()[-500:]}")
            elif json.loads(run.stdout).get("entries") != till.tip():
                problems.append(
                    f"{till.terminal_id}: verified {run.stdout.strip()}, tip {till.tip()}"
                )
        check("every till's journal verifies (till journal verify)", problems)

        problems = []
        entries = 0
        for till in self.tills:
            journal = [(r["seq"], r["hash"]) for r in till.driver.records()]
            stored = self.hq.stored_hashes(till.terminal_id)
            entries += len(stored)
            if stored != journal:
                have = {s for s, _ in stored}
                missing = [s for s, _ in journal if s not in have]
                differ = [s for (s, h) in journal if s in have and (s, h) not in set(stored)]
                problems.append(
                    f"{till.terminal_id}: HQ holds {len(stored)}, till {len(journal)}; "
                    f"missing {missing[:10]}, different {differ[:10]}"
                )
            acked = self.hq.acked(till.terminal_id)
            if not acked == till.driver.engine.acked_seq() == len(journal):
                problems.append(
                    f"{till.terminal_id}: acked at HQ {acked}, at the till "
                    f"{till.driver.engine.acked_seq()}, journal {len(journal)}"
                )
        result.entries = entries
        check(
            "HQ holds every till's journal exactly: same seqs and hashes, none lost or doubled",
            problems,
        )

        problems = []
        for till in self.tills:
            try:
                self.check_till_journal(till, "at the end")
            except _ViolationError as violation:
                problems.append(str(violation))
        reported = sum(len(till.reported) for till in self.tills)
        check(
            f"every sale a killed till reported committed is journaled unchanged ({reported})",
            problems,
        )

        problems = []
        with self.database.read() as conn:
            for terminal_id in ids:
                records = [
                    json.loads(row.record)
                    for row in conn.execute(
                        select(journal_entries.c.record)
                        .where(journal_entries.c.terminal_id == terminal_id)
                        .order_by(journal_entries.c.seq)
                    )
                ]
                chain = verify_chain(records)
                if not chain.ok or chain.checked != len(records):
                    problems.append(f"{terminal_id}: {chain.first_break}")
        check("HQ's journal_entries chain verifies for every till", problems)

        with self.database.read() as conn:
            twice = conn.execute(
                select(journal_entries.c.entry_id)
                .group_by(journal_entries.c.entry_id)
                .having(func.count() > 1)
            ).all()
            source = (
                postings.c.terminal_id,
                postings.c.seq,
                postings.c.hq_event_id,
                postings.c.unit,
            )
            unbalanced = conn.execute(
                select(*source).group_by(*source).having(func.sum(postings.c.amount) != 0)
            ).all()
            conflicts = conn.execute(
                select(exceptions.c.terminal_id, exceptions.c.seq).where(
                    exceptions.c.kind == "chain_conflict"
                )
            ).all()
        check("no journal entry stored twice at HQ", [str(row) for row in twice])
        check(
            "every entry's and HQ event's postings sum to zero per unit",
            [str(r) for r in unbalanced],
        )
        check("no chain-conflict alarm from an honest till", [str(r) for r in conflicts])

        server = self.hq.balances()
        problems = []
        for till in self.tills:
            views = till_views(till.driver.database)
            wrong = {m: (v, server.get(m)) for m, v in views.items() if server.get(m) != v}
            if wrong:
                problems.append(f"{till.terminal_id}: (till, HQ) {dict(list(wrong.items())[:5])}")
        check("every till shows HQ's balances after its last pull", problems)

        report = rebuild_check(self.database)
        check(
            f"ledger rebuild --check ({report.entries:,} entries, {report.postings:,} postings)",
            report.differences,
        )

        problems = [
            f"server {n + 1} died by itself" for n, s in enumerate(self.servers) if s.crashed
        ]
        check("no server process died unless the soak killed it", problems)

    def figures(self) -> None:
        result = self.result
        for proxy in self.proxies:
            result.requests += len(proxy.stats.log)
            result.statuses.update(proxy.stats.statuses)
        result.server_starts = sum(server.starts for server in self.servers)
        result.pg_restarts = self.cluster.restarts if self.cluster is not None else 0
        for server in self.servers:
            result.server_errors.update(server.tracebacks())


@contextlib.contextmanager
def _database_url(options: SoakOptions) -> Iterator[tuple[str, ThrowawayCluster | None]]:
    if options.kind == "sqlite":
        yield f"sqlite:///{options.work_dir / 'hq.sqlite3'}", None
        return
    with ThrowawayCluster() as cluster:
        engine = create_engine(normalize_url(cluster.maintenance_url), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("CREATE DATABASE loyaltill_soak"))
        finally:
            engine.dispose()
        yield cluster.url_for("loyaltill_soak"), cluster


def run_soak(options: SoakOptions) -> SoakResult:
    """One soak on one database; never raises for a violation (see ``SoakResult.ok``)."""
    options.work_dir.mkdir(parents=True, exist_ok=True)
    (options.work_dir / "logs").mkdir(exist_ok=True)
    (options.work_dir / "tills").mkdir(exist_ok=True)
    started = time.monotonic()
    with _database_url(options) as (url, cluster):
        soak = _Soak(options, url, cluster)
        try:
            soak.setup()
            soak.run()
            soak._guard("final sync", soak.converge)
            soak._guard("final checks", soak.prove)
        finally:
            soak.figures()
            soak.close()
    result = soak.result
    result.elapsed_s = time.monotonic() - started
    if result.total_faults < options.faults:
        result.violations.append(
            f"only {result.total_faults} of {options.faults} faults injected"
            + (f" ({result.stopped_early})" if result.stopped_early else "")
        )
    return result


def clean_work_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def format_result(result: SoakResult) -> str:
    """The figures and the checks of one soak, as printed by bench/soak.py."""
    lines = [
        f"[{result.kind}] {result.tills} tills, {result.servers} server process(es)"
        + (" on one PostgreSQL (tills spread across them)" if result.servers > 1 else ""),
        f"  faults injected: {result.total_faults:,} in {result.epochs} epochs",
    ]
    width = max((len(kind) for kind in result.faults), default=0)
    for kind in [*KINDS, PG_RESTART]:
        if kind in result.faults:
            lines.append(f"    {kind:<{width}}  {result.faults[kind]:6,}")
    if result.kill_landings:
        lines.append("  where the till SIGKILLs landed:")
        for where, count in sorted(result.kill_landings.items()):
            lines.append(f"    {where:<{width}}  {count:6,}")
    lines.append(
        f"  entries synced: {result.entries:,} (HQ holds each till's journal exactly, "
        "see the checks)"
    )
    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(result.statuses.items()))
    lines.append(f"  requests through the fault proxies: {result.requests:,} (replies {statuses})")
    lines.append(
        f"  attack replies checked against the protocol: {result.attack_replies_checked:,}"
    )
    lines.append(f"  retries: {sum(result.retries.values()):,}")
    for reason, count in result.retries.most_common():
        lines.append(f"    {reason:<{width}}  {count:6,}")
    lines.append(
        f"  server processes started: {result.server_starts:,}; PostgreSQL restarts: "
        f"{result.pg_restarts:,}"
    )
    if result.server_errors:
        lines.append(
            f"  tracebacks in the server logs: {sum(result.server_errors.values()):,} "
            "(an incident the app's handler logs, uvicorn logs again)"
        )
        for message, count in result.server_errors.most_common(5):
            lines.append(f"    {count:5,} × {message[:150]}")
    lines.append(f"  elapsed: {result.elapsed_s:,.1f} s")
    lines.append("  checks:")
    for check in result.checks:
        lines.append(f"    {'ok  ' if check.ok else 'FAIL'} {check.name}")
        if check.detail:
            lines.append(f"         {check.detail[:2000]}")
    if result.violations:
        lines.append(f"  VIOLATIONS ({len(result.violations)}):")
        for violation in result.violations[:20]:
            lines.append("    - " + violation.replace("\n", "\n      ")[:4000])
    lines.append(f"  verdict: {'OK' if result.ok else 'FAILED'}")
    return "\n".join(lines)
