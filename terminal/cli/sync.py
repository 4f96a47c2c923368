"""``till sync``: push the journal to HQ and pull members, rules and catalog.

``--once`` does one round and prints it as JSON (for scripts). Without it the command keeps
the till in sync until it is stopped (Ctrl+C, or SIGTERM from a service manager), with the
TUI's own background worker (terminal/sync/worker.py): a round every ``--interval`` seconds,
backing off with jitter while HQ is unreachable, and checking back only slowly after a
refusal no resend mends (docs/design.md, invariant 9).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType

import click

from shared.runtime import tune_garbage_collector
from terminal.cli.context import config_option, emit_json, fail, load, open_till_database
from terminal.config import TillConfig
from terminal.store import TillDatabase
from terminal.sync.client import SyncClient
from terminal.sync.engine import SyncEngine, SyncReport
from terminal.sync.errors import SyncError
from terminal.sync.worker import SyncWorker

STOP_WAIT_S = 60.0
"""How long a stop waits for a round in flight (bounded by the client's own timeouts)."""


@click.command()
@config_option
@click.option("--once", is_flag=True, help="One round, print it as JSON, then exit (scripts).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.5, max=3600),
    default=15.0,
    show_default=True,
    help="Seconds between rounds when HQ answers (without --once).",
)
@click.option("--quiet", is_flag=True, help="No progress on stderr; only failures.")
def sync(config_path: Path | None, once: bool, interval: float, quiet: bool) -> None:
    """Push unsent entries (in batches, resuming from HQ's acknowledged seq), then pull.

    Without --once: keep syncing until stopped (Ctrl+C or SIGTERM), one line per round
    that moved something or changed state."""
    config = load(config_path)
    if not (config.server_url and config.server_token):
        fail("no HQ configured: set server_url and server_token (LOYALTILL_SERVER_URL/TOKEN)", 2)
    database = open_till_database(config)  # refuses another till's database
    tune_garbage_collector()  # a first download writes a million members
    try:
        if once:
            _sync_once(config, database, quiet)
        else:
            _sync_continuously(config, database, interval, quiet)
    finally:
        database.close()


def _sync_once(config: TillConfig, database: TillDatabase, quiet: bool) -> None:
    def progress(what: str, done: int, total: int) -> None:
        if not quiet:
            percent = 100 * done // total if total else 100
            click.echo(f"\r{what}: {done:,}/{total:,} ({percent}%)   ", nl=False, err=True)

    with _client(config) as client:
        engine = SyncEngine(config, database, client)
        try:
            report = engine.sync_once(progress)
        except SyncError as error:
            if not quiet:
                click.echo("", err=True)
            fail(_failure(error, engine.unsent()))
    if not quiet:
        click.echo("", err=True)
    emit_json(_report_json(report, engine.unsent()))
    sys.stdout.flush()


def _sync_continuously(
    config: TillConfig, database: TillDatabase, interval: float, quiet: bool
) -> None:
    stop = threading.Event()
    with _client(config) as client:
        engine = SyncEngine(config, database, client)
        quiet_since_ok = {"ok": False}

        def said(report: SyncReport | None, error: SyncError | None) -> None:
            """A line per failed round, and per round that moved something or recovered."""
            if error is not None:
                _say(f"{_failure(error, engine.unsent())}; next try {worker.next_try()}")
                quiet_since_ok["ok"] = False
                return
            assert report is not None
            moved = report.pushed or report.members_pulled or report.rules_pulled
            if not quiet and (moved or not quiet_since_ok["ok"]):
                _say(_summary(report, engine.unsent()))
            quiet_since_ok["ok"] = True

        worker = _CliWorker(engine, interval_s=interval, on_result=said)
        if not quiet:
            _say(f"syncing with {config.server_url} every {interval:g} s — Ctrl+C stops")
        with _stopped_by_signals(stop):
            worker.start()
            while not stop.wait(1.0):
                if not worker.running:  # never expected: the worker outlives any round
                    fail("the sync worker stopped unexpectedly")
            if not quiet:
                _say("stopping: finishing the round in progress …")
            worker.stop(STOP_WAIT_S)
        if worker.running:
            fail(f"a sync round did not finish within {STOP_WAIT_S:g} s; stopped anyway")
    if not quiet:
        _say(f"stopped; {engine.unsent()} entries unsent")


def _client(config: TillConfig) -> SyncClient:
    assert config.server_url is not None  # checked by the command
    assert config.server_token is not None
    return SyncClient(config.server_url, config.server_token)


class _CliWorker(SyncWorker):
    def next_try(self) -> str:
        """When the worker tries again after the round that just failed (its callback runs
        before it draws the jittered wait: this is the ceiling of that draw)."""
        if self.stalled:
            return f"in {self.backoff_cap_s:g} s"
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** min(self.failures, 30))
        return f"within {ceiling:g} s"


@contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM (a service manager) and SIGINT (Ctrl+C) end the loop cleanly."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        signum: signal.signal(signum, handler) for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _say(line: str) -> None:
    click.echo(f"{datetime.now():%H:%M:%S} {line}")
    sys.stdout.flush()


def _failure(error: SyncError, unsent: int) -> str:
    left = f"({unsent} entries still unsent)"
    if error.state == "alarm":
        # Loud on purpose: HQ and this till disagree about the journal itself.
        return f"JOURNAL ALARM — sync stopped: {error.message} {left}"
    if error.state == "refused":
        return f"sync refused: {error.message} {left}"
    return f"sync failed: {error.message} {left}"


def _summary(report: SyncReport, unsent: int) -> str:
    parts = [f"pushed {report.pushed}"]
    if report.duplicates:
        parts.append(f"{report.duplicates} already at HQ")
    parts.append(f"pulled {report.members_pulled} members")
    if report.rules_pulled:
        parts.append("new rules")
    if report.exceptions:
        parts.append(f"{len(report.exceptions)} exceptions at HQ")
    return f"synced: {', '.join(parts)}; {unsent} unsent (HQ has up to seq {report.acked_seq})"


def _report_json(report: SyncReport, unsent: int) -> dict[str, object]:
    return {
        "pushed": report.pushed,
        "duplicates": report.duplicates,
        "acked_seq": report.acked_seq,
        "unsent": unsent,
        "members_pulled": report.members_pulled,
        "rules_pulled": report.rules_pulled,
        "exceptions": [e.model_dump() for e in report.exceptions],
    }
