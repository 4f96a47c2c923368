"""One database, two engines: an SQLite file (embedded default) or PostgreSQL (production).

The code above this module does not care which. What differs is kept here:

* **Write transactions.** On PostgreSQL they run at READ COMMITTED and protect what they
  change with row locks (``SELECT … FOR UPDATE``), so several server processes can share the
  database. SQLite has one writer at a time: a write transaction starts with
  ``BEGIN IMMEDIATE``, which takes the write lock up front (waiting up to the busy timeout),
  so two writers never deadlock half-way; ``FOR UPDATE`` renders as nothing there.
* **Read transactions** see one snapshot: REPEATABLE READ on PostgreSQL, a deferred ``BEGIN``
  on SQLite in WAL mode. A pull page and the ``applied_through_seq`` sent with it agree.
* **Transient failures** (a PostgreSQL deadlock or serialization failure, SQLite still locked
  after the busy timeout) roll the transaction back; :func:`run_write` runs it again.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, Table, create_engine, event, exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.expression import Executable

from shared.rules import ProgramRules

__all__ = [
    "Database",
    "DatabaseBusyError",
    "UnsupportedDatabaseError",
    "bulk_insert",
    "driver_value",
    "exact_sum",
    "execute_many",
    "insert_ignore",
    "is_postgres",
    "normalize_url",
    "parse_url",
    "run_write",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_S = 15.0
_WRITE_OPTION = "loyaltill_write"
# PostgreSQL SQLSTATEs worth a retry: deadlock detected, serialization failure, lock not
# available (a bounded lock wait, see Database.write(lock_wait_ms=…), ran out).
_TRANSIENT_SQLSTATES = {"40P01", "40001", "55P03"}


class DatabaseBusyError(RuntimeError):
    """A write kept failing for a transient reason; the caller may retry later (503)."""


SUPPORTED_URLS = (
    "sqlite:///path/to/file.sqlite3 (SQLite, one server process) or "
    "postgresql://user@host/dbname (PostgreSQL)"
)
_DRIVERS = {"sqlite", "sqlite+pysqlite", "postgresql+psycopg"}
"""What the code runs on: SQLite's built-in driver, PostgreSQL through psycopg 3 (the COPY in
:func:`bulk_insert` is psycopg's own)."""
# libpq waits for the operating system (minutes) on a host that drops packets; a server
# or command that cannot reach its database should say so while someone is still watching.
_PG_CONNECT_TIMEOUT_S = 15


class UnsupportedDatabaseError(ValueError):
    """The URL is not one LoyalTill can use (not a URL, or another database); the message
    says which URLs are."""


def parse_url(url: str) -> URL:
    """``url`` checked before anything connects: ``postgresql://`` and ``postgres://`` mean
    psycopg 3; anything but SQLite and PostgreSQL is refused, naming what is supported."""
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError):
        shown = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)  # no password in messages
        raise UnsupportedDatabaseError(
            f"{shown!r} is not a database URL: use {SUPPORTED_URLS}"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in _DRIVERS:
        raise UnsupportedDatabaseError(
            f"unsupported database URL {parsed.render_as_string(hide_password=True)}: "
            f"LoyalTill runs on {SUPPORTED_URLS}"
        )
    return parsed


def normalize_url(url: str) -> str:
    """Accept the usual spellings: ``postgresql://`` and ``postgres://`` mean psycopg 3."""
    return parse_url(url).render_as_string(hide_password=False)


class Database:
    """An engine plus the two kinds of transaction the server uses."""

    def __init__(self, url: str, *, pool_size: int = 10, durable: bool = True) -> None:
        self.published_rules: dict[int, ProgramRules] = {}
        """Program rules versions read from this database (immutable once published)."""
        parsed = parse_url(url)  # refuses an unsupported URL before anything connects
        self.url = parsed.render_as_string(hide_password=False)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            self.engine = create_engine(
                self.url,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            )
            _configure_sqlite(self.engine, durable=durable)
        elif self.dialect == "postgresql":
            timeout = {"connect_timeout": _PG_CONNECT_TIMEOUT_S}
            connect_args = {} if "connect_timeout" in parsed.query else timeout
            self.engine = create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                connect_args=connect_args,
            )
        else:  # parse_url lets only these two through
            raise UnsupportedDatabaseError(f"unsupported database {parsed.drivername!r}")

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def write(self, *, lock_wait_ms: int | None = None) -> Iterator[Connection]:
        """One write transaction: commits when the block ends, rolls back on any exception.

        ``lock_wait_ms`` bounds how long it waits for locks held by other writers (default:
        the database's usual wait) — for small best-effort writes that must not hold up a
        request; waiting longer fails as a transient error (``run_write`` may retry)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE_OPTION: True})
            if lock_wait_ms is None:
                with conn.begin():
                    yield conn
            elif self.is_postgres:
                with conn.begin():
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_wait_ms)}")
                    yield conn
            else:
                raw = conn.connection.dbapi_connection
                assert raw is not None
                raw.execute(f"PRAGMA busy_timeout = {int(lock_wait_ms)}")
                try:
                    with conn.begin():
                        yield conn
                finally:
                    raw.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One consistent snapshot for reading several tables."""
        with self.engine.connect() as conn:
            if self.is_postgres:
                conn = conn.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine, *, durable: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN (pysqlite's own handling skips it for
        # SELECTs, which would break snapshot reads), and keep acknowledged pushes durable.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if durable:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
        else:  # a scratch database (ledger rebuild): speed over crash safety
            cursor.execute("PRAGMA journal_mode=MEMORY")
            cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def insert_ignore(conn: Connection, table: Table, values: Mapping[str, Any]) -> bool:
    """INSERT unless the key exists; True when the row was inserted.

    On PostgreSQL a concurrent insert of the same key makes this wait for that transaction,
    then do nothing — so of two tills enrolling the same card, exactly one gets it.
    """
    postgres = is_postgres(conn)
    stmt = _INSERT_IGNORE.get((postgres, table.name))
    if stmt is None:
        insert = pg_insert if postgres else sqlite_insert
        key = next(iter(table.primary_key.columns))
        # RETURNING rather than rowcount: drivers do not agree on rowcount for ON CONFLICT.
        stmt = _INSERT_IGNORE[(postgres, table.name)] = (
            insert(table).on_conflict_do_nothing().returning(key)
        )
    return conn.execute(stmt, dict(values)).first() is not None


_INSERT_IGNORE: dict[tuple[bool, str], Executable] = {}
"""Built once per dialect and table; the values come as parameters."""


def driver_value(conn: Connection, column: ColumnElement[Any], value: Any) -> Any:
    """``value`` as SQLAlchemy would hand it to the driver for ``column`` (on SQLite a
    datetime becomes SQLAlchemy's text form), for :func:`bulk_insert`."""
    process = column.type.bind_processor(conn.dialect)
    return process(value) if process is not None else value


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT many rows in one go, without SQLAlchemy's per-row work: COPY on PostgreSQL,
    executemany on SQLite. Values must already be in the driver's form (plain str/int/None, or
    :func:`driver_value`)."""
    if not rows:
        return
    if is_postgres(conn):
        # COPY: the fastest way into PostgreSQL, inside this transaction like any statement.
        driver = conn.connection.driver_connection
        assert driver is not None
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    mark = "?"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 (names from the schema)
        f"VALUES ({', '.join([mark] * len(columns))})"
    )
    conn.exec_driver_sql(sql, list(rows))


def execute_many(
    conn: Connection, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]
) -> None:
    """``conn.execute(statement, rows)`` without SQLAlchemy's per-row parameter work: the
    statement is compiled once per dialect and set of keys, and the rows go to the driver's
    executemany as they are (as tuples where the driver's parameters are positional). Values
    must already be in the driver's form (plain str/int/None, or :func:`driver_value`); every
    row has the first row's keys. The hot path's many-row UPDATEs and upserts use it.
    ``statement`` must live as long as the process (a module constant): its compiled SQL is
    kept, keyed by the statement."""
    if not rows:
        return
    keys = tuple(rows[0])
    cache_key = (conn.dialect.name, id(statement), keys)
    found = _DRIVER_SQL.get(cache_key)
    if found is None:
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(keys))
        assert isinstance(compiled, SQLCompiler)
        # The statement's own constants (a literal in an expression) are parameters too.
        every = compiled.construct_params(dict.fromkeys(keys))
        constants = {k: v for k, v in every.items() if k not in keys}
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        # The statement is kept with its SQL so its id() is never reused for another.
        found = _DRIVER_SQL[cache_key] = (statement, str(compiled), order, constants)
    _statement, sql, order, constants = found
    if order is None:
        conn.exec_driver_sql(sql, [{**constants, **row} for row in rows])
    else:
        conn.exec_driver_sql(
            sql,
            [
                tuple(row[name] if name in row else constants[name] for name in order)
                for row in rows
            ],
        )


_DRIVER_SQL: dict[
    tuple[str, int, tuple[str, ...]],
    tuple[ClauseElement, str, tuple[str, ...] | None, dict[str, Any]],
] = {}
"""Compiled SQL for :func:`execute_many`, per dialect, statement and keys."""


def exact_sum(conn: Connection, total: Executable, values: Executable) -> int:
    """``total`` (a ``SELECT SUM(…)``), or — where the database's own arithmetic overflows —
    the same sum taken in Python over ``values`` (a ``SELECT`` of the summed column).

    PostgreSQL sums BIGINTs as NUMERIC and never overflows; SQLite stops at 2^63 with an
    "integer overflow" error. Every balance is bounded (shared.bounds.MAX_BALANCE_POINTS),
    but a sum over millions of them is only bounded by their number, so HQ's figures never
    depend on that number staying small."""
    try:
        return int(conn.execute(total).scalar_one() or 0)
    except exc.OperationalError as error:
        if "integer overflow" not in str(error.orig):
            raise
    return sum(int(value) for value in conn.execute(values).scalars() if value is not None)


def _is_transient(error: exc.DBAPIError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _TRANSIENT_SQLSTATES:
        return True
    message = str(error.orig).lower()
    return "database is locked" in message or "database is busy" in message


def run_write(
    database: Database,
    work: Callable[[Connection], T],
    *,
    attempts: int = 6,
    lock_wait_ms: int | None = None,
) -> T:
    """Run ``work`` in a write transaction, again from scratch after a transient failure.

    ``work`` must be safe to repeat: everything it did in a failed attempt was rolled back.
    """
    for attempt in range(1, attempts + 1):
        try:
            with database.write(lock_wait_ms=lock_wait_ms) as conn:
                return work(conn)
        except exc.DBAPIError as error:
            if not _is_transient(error):
                raise
            if attempt == attempts:
                raise DatabaseBusyError(
                    f"the database stayed busy after {attempts} attempts"
                ) from error
            log.info("transient database error (attempt %d): %s", attempt, error.orig)
            time.sleep(min(0.5, 0.01 * 2**attempt) * (0.5 + random.random()))  # noqa: S311
    raise AssertionError("unreachable")
