"""``till sync``: push the journal to HQ and pull members, rules and catalog."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from terminal.cli.context import config_option, emit_json, fail, load
from terminal.store import open_database
from terminal.sync.client import SyncClient
from terminal.sync.engine import SyncEngine
from terminal.sync.errors import SyncError


@click.command()
@config_option
@click.option("--once", is_flag=True, required=True, help="One round, then exit (for scripts).")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def sync(config_path: Path | None, once: bool, quiet: bool) -> None:
    """Push unsent entries (in batches, resuming from HQ's acknowledged seq), then pull."""
    config = load(config_path)
    if not (config.server_url and config.server_token):
        fail("no HQ configured: set server_url and server_token (LOYALTILL_SERVER_URL/TOKEN)", 2)
    database = open_database(config.database_path)

    def progress(what: str, done: int, total: int) -> None:
        if not quiet:
            percent = 100 * done // total if total else 100
            click.echo(f"\r{what}: {done:,}/{total:,} ({percent}%)   ", nl=False, err=True)

    try:
        with SyncClient(config.server_url, config.server_token) as client:
            engine = SyncEngine(config, database, client)
            try:
                report = engine.sync_once(progress)
            except SyncError as error:
                if not quiet:
                    click.echo("", err=True)
                unsent = f"({engine.unsent()} entries still unsent)"
                if error.state == "alarm":
                    # Loud on purpose: HQ and this till disagree about the journal itself.
                    fail(f"JOURNAL ALARM — sync stopped: {error.message} {unsent}")
                if error.state == "refused":
                    fail(f"sync refused: {error.message} {unsent}")
                fail(f"sync failed: {error.message} {unsent}")
        if not quiet:
            click.echo("", err=True)
        emit_json(
            {
                "pushed": report.pushed,
                "duplicates": report.duplicates,
                "acked_seq": report.acked_seq,
                "unsent": engine.unsent(),
                "members_pulled": report.members_pulled,
                "rules_pulled": report.rules_pulled,
                "exceptions": [e.model_dump() for e in report.exceptions],
            }
        )
        sys.stdout.flush()
    finally:
        database.close()
