"""Shared plumbing for ``till`` commands: config loading and opening the till."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from terminal.cli.errors import DATA_DIR, DATABASE_PATH, EXIT_CONFIG
from terminal.config import ConfigError, TillConfig, load_config
from terminal.store import TillDatabase
from terminal.store.identity import IdentityMismatchError, open_for_config
from terminal.till.printing import PrintQueue, ReceiptSink
from terminal.till.service import Till

__all__ = [
    "config_option",
    "emit_json",
    "fail",
    "load",
    "open_till",
    "open_till_database",
    "print_queue_for",
]

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LOYALTILL_CONFIG",
    help="TOML config file (LOYALTILL_* environment variables override it).",
)


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"till: {message}", err=True)
    sys.exit(code)


def load(config_path: Path | None) -> TillConfig:
    try:
        config = load_config(config_path)
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    except OSError as error:  # a directory, no permission, a path through a file
        fail(f"cannot read config file {config_path}: {error.strerror or error}", EXIT_CONFIG)
    except UnicodeDecodeError as error:
        fail(
            f"config file {config_path} is not UTF-8 text ({error.reason} at byte "
            f"{error.start}): save it as UTF-8",
            EXIT_CONFIG,
        )
    # What TillGroup names when the data directory or the database cannot be used.
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[DATA_DIR] = config.data_dir
        ctx.meta[DATABASE_PATH] = config.database_path
    return config


def open_till_database(config: TillConfig) -> TillDatabase:
    """The till database of ``config``, refused (one line, exit 2, nothing written) when it
    was created by another till or store (terminal.store.identity)."""
    try:
        return open_for_config(config)
    except IdentityMismatchError as error:
        fail(str(error), 2)


def open_till(config: TillConfig) -> tuple[Till, TillDatabase]:
    database = open_till_database(config)
    return Till(config, database), database


def print_queue_for(till: Till) -> PrintQueue:
    """The print queue wired to the configured printer (none: receipts wait in the queue)."""
    url = till.config.printer_url
    factory: Callable[[], ReceiptSink] | None = None
    if url:
        from hardware.printing import ReceiptPrinter

        def factory() -> ReceiptSink:
            return ReceiptPrinter(
                url, profile=till.config.printer_profile, timeout_s=till.config.printer_timeout_s
            )

    return PrintQueue(till, factory)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, sort_keys=True, default=str))
