"""Opening the till database: durable pragmas, one writer at a time, migrations.

Every connection runs with ``journal_mode=WAL`` and ``synchronous=FULL`` (docs/design.md,
invariant 1): a transaction that returned from COMMIT survives a power cut. Writes take
``BEGIN IMMEDIATE`` so the TUI, its workers and a scripted ``till sale`` in another process
queue on SQLite's lock instead of failing half-way.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from terminal.store.migrations import apply_migrations, ensure_indexes
from terminal.store.triggers import ensure_journal_triggers

__all__ = ["TillDatabase", "open_database"]

BUSY_TIMEOUT_MS = 10_000


class TillDatabase:
    """One connection to the till database, shared by the UI thread and its workers."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        self._lock = threading.RLock()
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{self.path}: SQLite refused WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """One durable transaction: everything inside commits together or not at all."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite_utils.Database]:
        """Reads from any thread; the lock keeps them off a write in progress on this
        connection (other processes see the last committed state, as WAL promises)."""
        with self._lock:
            yield self.db

    def pragma(self, name: str) -> object:
        with self._lock:
            return self.conn.execute(f"PRAGMA {name}").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def open_database(path: Path | str) -> TillDatabase:
    """Open (creating if needed) and migrate the till database at ``path``, and make sure the
        journal's guards are in place (see :mod:`terminal.store.triggers`): a database whose
        triggers were dropped or weakened gets them back before anything writes to it. So do the
    search indexes a first download defers, should the till have died during one."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    database = TillDatabase(path)
    try:
        with database.write() as db:
            apply_migrations(db)
            ensure_indexes(db)
            ensure_journal_triggers(db)
    except BaseException:
        database.close()
        raise
    return database
