"""``syncserver``'s root group: a failure in any command is one line and an exit code.

The mechanism and the exit codes are the till's (:mod:`terminal.cli.errors`); this adds the
server's own failures and names the database a command was using.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from syncserver.hq.imports import CsvImportError
from syncserver.storage.database import DatabaseBusyError, UnsupportedDatabaseError, parse_url
from terminal.cli.errors import (
    DATABASE_PATH,
    DATABASE_URL,
    EXIT_CONFIG,
    EXIT_IO,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    OperationalFailure,
    OperationalGroup,
    failure,
    os_error_reason,
)

__all__ = [
    "EXIT_IO",
    "ServerGroup",
    "failure",
    "os_error_reason",
    "remember_database",
    "settings_failure",
]

_WHERE = "--db or LOYALTILL_SERVER_DB"


class ServerGroup(OperationalGroup):
    program = "syncserver"
    prefix = "Error: "  # as click's own errors and every other refusal of this CLI
    database_hint = f"check that PostgreSQL is running and reachable, and the URL ({_WHERE})"

    def describe(self, error: Exception, meta: Mapping[str, Any]) -> tuple[str, int] | None:
        if isinstance(error, UnsupportedDatabaseError):
            return f"{error} ({_WHERE})", EXIT_CONFIG
        if isinstance(error, DatabaseBusyError):
            return f"{error}: other writers hold it; try again in a moment", EXIT_UNAVAILABLE
        if isinstance(error, CsvImportError):
            return str(error), EXIT_REFUSED
        return super().describe(error, meta)


def settings_failure(error: ValidationError) -> OperationalFailure:
    """A refused server setting (an option or ``LOYALTILL_SERVER_*``), as one line."""
    problems = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        source = _WHERE if field == "db" else f"LOYALTILL_SERVER_{field.upper()}"
        problems.append(f"{field} ({source}): {message}")
    return failure(EXIT_CONFIG, "invalid setting " + "; ".join(problems))


def remember_database(url: str) -> None:
    """Note the database this command uses, so a failure can name it (password hidden)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return
    parsed = parse_url(url)
    ctx.meta[DATABASE_URL] = make_url(url).render_as_string(hide_password=True)  # as typed
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        ctx.meta[DATABASE_PATH] = Path(parsed.database).absolute()
