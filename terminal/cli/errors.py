"""One line, never a traceback: how both command lines answer operational failures.

:class:`OperationalGroup` is the root group of ``till`` (here) and ``syncserver``
(:mod:`syncserver.cli.errors`), so every sub-command — including ones added later — gets
this without doing anything. An exception that escapes a command becomes one line on stderr
and an exit code that says what kind of failure it was:

====  ================================================================================
1     refused: the command understood the request and the answer is no (the command's own
      message: an unknown user, a CSV or rules file it cannot import, …)
2     usage or configuration: a bad option, an invalid config file, an unsupported
      database URL
65    a database file that is not SQLite or is damaged; a file not in the expected encoding
69    the database is down, unreachable or locked
70    internal error (a bug): the line names the file holding the full traceback
74    a file or directory cannot be read or written (permissions, not a directory, …)
====  ================================================================================

65, 69, 70 and 74 are the BSD ``sysexits.h`` codes (EX_DATAERR, EX_UNAVAILABLE,
EX_SOFTWARE, EX_IOERR) that service managers and scripts already know.

An unknown exception is a bug: a cashier or a store manager gets one line, and the full
traceback goes to a private temporary file, because the failure may not repeat and whoever
fixes it needs the traceback from the first time. ``LOYALTILL_TRACEBACK=1`` lets the
exception through unchanged (for developers); ``till -vv`` also logs it.

The sqlite3 and SQLAlchemy errors are recognised without importing SQLAlchemy: an error
from it can only exist once it is loaded, and the till does not load it otherwise. This
module lives with the till's command line because the till must not import the server's
packages; it imports nothing else from the till.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import sqlite3
import sys
import tempfile
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, ClassVar

import click

__all__ = [
    "DATABASE_PATH",
    "DATABASE_URL",
    "DATA_DIR",
    "EXIT_CONFIG",
    "EXIT_DATA",
    "EXIT_INTERNAL",
    "EXIT_IO",
    "EXIT_REFUSED",
    "EXIT_UNAVAILABLE",
    "OperationalFailure",
    "OperationalGroup",
    "TillGroup",
    "blocking_file",
    "failure",
    "os_error_reason",
]

log = logging.getLogger(__name__)

EXIT_REFUSED = 1
EXIT_CONFIG = 2
EXIT_DATA = 65
EXIT_UNAVAILABLE = 69
EXIT_INTERNAL = 70
EXIT_IO = 74

TRACEBACK_ENV = "LOYALTILL_TRACEBACK"

# Keys in click's ``Context.meta`` (one dict shared by a command and its parent groups):
# the command that opens a database records which, so a failure can name it.
DATABASE_PATH = "loyaltill.database_path"
"""The SQLite file being used (a Path)."""
DATABASE_URL = "loyaltill.database_url"
"""The database URL being used, password hidden (a str)."""


class OperationalFailure(click.ClickException):
    """One line for the user and the exit code for scripts (one subclass per code: click
    reads ``exit_code`` from the class)."""

    def __init__(self, message: str, prefix: str = "Error: ") -> None:
        super().__init__(message)
        self.prefix = prefix

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"{self.prefix}{self.format_message()}", err=file is None, file=file)


class _Refused(OperationalFailure):
    exit_code = EXIT_REFUSED


class _Config(OperationalFailure):
    exit_code = EXIT_CONFIG


class _Data(OperationalFailure):
    exit_code = EXIT_DATA


class _Unavailable(OperationalFailure):
    exit_code = EXIT_UNAVAILABLE


class _Internal(OperationalFailure):
    exit_code = EXIT_INTERNAL


class _IO(OperationalFailure):
    exit_code = EXIT_IO


_BY_CODE: dict[int, type[OperationalFailure]] = {
    kind.exit_code: kind for kind in (_Refused, _Config, _Data, _Unavailable, _Internal, _IO)
}


def failure(exit_code: int, message: str, prefix: str = "Error: ") -> OperationalFailure:
    """The exception that shows ``message`` as one line and exits with ``exit_code``."""
    return _BY_CODE[exit_code](message, prefix)


def one_line(text: object) -> str:
    """Driver messages come over several lines (psycopg adds hints on their own line)."""
    parts = [part.strip() for part in str(text).splitlines() if part.strip()]
    return " ".join(
        part if index == len(parts) - 1 or part[-1] in ".?!:;," else part + "."
        for index, part in enumerate(parts)
    )


def blocking_file(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is a file (so nothing below it can
    be created), else None."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


_ERRNO_HINTS = {
    errno.EACCES: "check the owner and permissions",
    errno.EPERM: "check the owner and permissions",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EISDIR: "it is a directory, not a file",
}


def os_error_reason(error: OSError, path: Path) -> str:
    """Why ``path`` could not be used, in the user's terms where we can tell."""
    blocker = blocking_file(path)
    if blocker is not None:
        return f"{blocker} is a file, not a directory"
    if error.errno == errno.EEXIST and path.exists() and not path.is_dir():
        return f"{path} is a file, not a directory"
    reason = error.strerror or str(error) or type(error).__name__
    hint = _ERRNO_HINTS.get(error.errno or 0)
    return f"{reason} ({hint})" if hint else reason


def describe_os_error(error: OSError) -> str:
    """``cannot use PATH: why`` for any OSError, naming the path when it has one."""
    if error.filename is None:
        return f"system error: {error.strerror or error or type(error).__name__}"
    path = Path(os.fsdecode(error.filename))
    return f"cannot use {path}: {os_error_reason(error, path)}"


def describe_sqlite_open(path: Path | None) -> str:
    """Why SQLite said "unable to open database file" for ``path``."""
    if path is None:
        return "its directory must exist and be writable"
    if path.is_dir():
        return f"{path} is a directory"
    blocker = blocking_file(path)
    if blocker is not None:
        return f"{blocker} is a file, not a directory"
    if not path.parent.exists():
        return f"the directory {path.parent} does not exist"
    return f"the directory {path.parent} must be writable (SQLite keeps its journal there)"


def sqlite_failure(error: sqlite3.Error, path: Path | None) -> tuple[str, int] | None:
    """The message and exit code for an SQLite error about the file itself, else None."""
    text = one_line(error)
    low = text.lower()
    name = f" {path}" if path is not None else ""
    if "unable to open database file" in low:
        return f"cannot open the SQLite database{name}: {describe_sqlite_open(path)}", EXIT_IO
    if "file is not a database" in low or "malformed" in low:
        what = str(path) if path is not None else "the database file"
        return (
            f"{what} is not an SQLite database or is damaged ({text}): restore it from a "
            "backup or use another file",
            EXIT_DATA,
        )
    if "readonly" in low or "read-only" in low:
        return f"the SQLite database{name} is read-only: check its owner and permissions", EXIT_IO
    if "locked" in low or "busy" in low:
        return (
            f"the SQLite database{name} is locked by another process: try again in a moment",
            EXIT_UNAVAILABLE,
        )
    if "disk i/o error" in low or "disk is full" in low:
        return f"the SQLite database{name} cannot be written: {text}", EXIT_IO
    return None


def sqlalchemy_failure(
    error: Exception, meta: Mapping[str, Any], hint: str
) -> tuple[str, int] | None:
    """SQLAlchemy's errors for a database that cannot be used, if SQLAlchemy is loaded."""
    sa = sys.modules.get("sqlalchemy.exc")
    if sa is None:
        return None
    where = f" {meta[DATABASE_URL]}" if DATABASE_URL in meta else ""
    if isinstance(error, sa.NoSuchModuleError) or (
        isinstance(error, sa.ArgumentError) and "URL" in str(error)
    ):
        return f"cannot use the database URL{where}: {one_line(error)}", EXIT_CONFIG
    if isinstance(error, sa.DBAPIError) and isinstance(error.orig, sqlite3.Error):
        return sqlite_failure(error.orig, meta.get(DATABASE_PATH))
    if isinstance(error, sa.OperationalError | sa.InterfaceError):
        return (
            f"cannot use the database{where}: {one_line(error.orig)} — {hint}",
            EXIT_UNAVAILABLE,
        )
    if isinstance(error, sa.TimeoutError):
        return f"the database{where} has no free connection: {one_line(error)}", EXIT_UNAVAILABLE
    return None


def internal_failure(error: BaseException, program: str) -> str:
    """The line for a bug; the traceback goes to a private temporary file."""
    log.debug("internal error", exc_info=error)
    summary = one_line(error)[:200]
    what = f"{type(error).__name__}: {summary}" if summary else type(error).__name__
    try:
        fd, name = tempfile.mkstemp(prefix=f"{program}-error-", suffix=".txt")  # mode 0600
        # The command without its options: those may hold a PIN or a token.
        words = itertools.takewhile(lambda arg: not arg.startswith("-"), sys.argv[1:])
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"{' '.join([program, *words])}\n\n")
            out.write("".join(traceback.format_exception(error)))
        where = f"the full traceback is in {name}"
    except OSError:
        where = f"run it again with {TRACEBACK_ENV}=1 to see the traceback"
    return f"internal error ({what}); {where} — please report it"


class OperationalGroup(click.Group):
    """A root group that turns an escaping exception into one line and an exit code."""

    program: ClassVar[str] = "loyaltill"
    prefix: ClassVar[str] = "Error: "
    database_hint: ClassVar[str] = "check that the database is running and reachable"

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except OSError as error:
            if error.errno == errno.EPIPE:  # click quiets a closed pipe (`… | head`) itself
                raise
            raise self.failure(error, ctx) from error
        except Exception as error:
            raise self.failure(error, ctx) from error

    def failure(self, error: Exception, ctx: click.Context) -> Exception:
        if os.environ.get(TRACEBACK_ENV):
            return error
        known = self.describe(error, ctx.meta)
        if known is None:
            return failure(EXIT_INTERNAL, internal_failure(error, self.program), self.prefix)
        message, code = known
        return failure(code, message, self.prefix)

    def describe(self, error: Exception, meta: Mapping[str, Any]) -> tuple[str, int] | None:
        """The message and exit code for a known operational failure; None for a bug."""
        known = sqlalchemy_failure(error, meta, self.database_hint)
        if known is not None:
            return known
        if isinstance(error, sqlite3.Error):
            return sqlite_failure(error, meta.get(DATABASE_PATH))
        if isinstance(error, UnicodeDecodeError):
            return (
                f"a file is not {error.encoding} text ({error.reason} at byte {error.start}): "
                "save it as UTF-8",
                EXIT_DATA,
            )
        if isinstance(error, OSError):
            return describe_os_error(error), EXIT_IO
        return None


DATA_DIR = "loyaltill.data_dir"
"""The till's data directory (a Path), recorded by :func:`terminal.cli.context.load`."""


class TillGroup(OperationalGroup):
    """``till``'s root group: failures under the data directory name it and the setting."""

    program = "till"
    prefix = "till: "

    def describe(self, error: Exception, meta: Mapping[str, Any]) -> tuple[str, int] | None:
        data_dir: Path | None = meta.get(DATA_DIR)
        if data_dir is not None:
            setting = "set data_dir (config file or LOYALTILL_DATA_DIR) to a writable directory"
            if isinstance(error, OSError) and error.filename is not None:
                path = Path(os.fsdecode(error.filename))
                if path == data_dir or data_dir in path.parents or path in data_dir.parents:
                    reason = os_error_reason(error, path)
                    message = f"the data directory {data_dir} cannot be used: {reason} — {setting}"
                    return message, EXIT_IO
            if isinstance(error, sqlite3.Error) and "unable to open" in str(error).lower():
                known = sqlite_failure(error, meta.get(DATABASE_PATH))
                if known is not None:
                    return f"{known[0]} — {setting}", known[1]
        return super().describe(error, meta)
