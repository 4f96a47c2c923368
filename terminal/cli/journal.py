"""``till journal``: verify the hash chain, export entries."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from shared.journal import CanonicalJSONError, canonical_json
from terminal.cli.context import config_option, emit_json, fail, load, open_till_database
from terminal.store.journal import MalformedRecordError, iter_records, verify_journal


@click.group()
def journal() -> None:
    """The till's append-only, hash-chained journal."""


@journal.command()
@config_option
def verify(config_path: Path | None) -> None:
    """Re-check every entry's hash and link; exit 1 naming the first broken link."""
    config = load(config_path)
    database = open_till_database(config)
    report = verify_journal(database.db)
    if report.first_break is not None:
        fail(f"journal broken after {report.checked} good entries: {report.first_break}")
    emit_json({"ok": True, "entries": report.checked, "last_hash": report.last_hash})


@journal.command()
@config_option
@click.option("--since", "since_seq", type=int, default=0, help="Only entries after this seq.")
def export(config_path: Path | None, since_seq: int) -> None:
    """Every entry after --since as JSON lines (canonical JSON, hash included)."""
    config = load(config_path)
    database = open_till_database(config)
    out = sys.stdout.buffer
    try:
        for record in iter_records(database.db, since_seq=since_seq):
            out.write(canonical_json(record) + b"\n")
    except MalformedRecordError as error:
        out.flush()  # what was readable is out; say where it stopped
        fail(f"{error}: the export stops before it — run `till journal verify` and call HQ")
    except (CanonicalJSONError, UnicodeError) as error:
        out.flush()
        fail(f"an entry cannot be exported as canonical JSON ({error}): run `till journal verify`")
