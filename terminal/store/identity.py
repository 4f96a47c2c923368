"""Which till a till database belongs to.

A till's journal is numbered and chained per terminal (docs/journal.md): opened by another
till's configuration, its entries would be pushed under the wrong terminal id (HQ refuses
them as another till's, or worse, takes them for a truncated journal) and its cached members
and cashiers would be another store's. So the database remembers the terminal id and store
it was first opened with (``settings``), and a configuration that names another till or
store is refused before anything is written — not even a migration.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from terminal.config import TillConfig
from terminal.store.database import TillDatabase, open_database
from terminal.store.settings import get_setting, set_setting

__all__ = [
    "IdentityMismatchError",
    "TillIdentity",
    "check_identity",
    "open_for_config",
    "read_identity",
]

TERMINAL_KEY = "identity_terminal_id"
STORE_KEY = "identity_store_id"


@dataclass(frozen=True, slots=True)
class TillIdentity:
    terminal_id: str
    store_id: str


class IdentityMismatchError(Exception):
    """The configuration names another till or store than the database was created with."""


def read_identity(path: Path) -> TillIdentity | None:
    """The identity stored in the database at ``path``, read without writing anything (a
    read-only connection); None when there is no database or it has no identity yet."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return None  # opening it for real reports what is wrong with it
    try:
        rows = dict(
            conn.execute(
                "SELECT key, value FROM settings WHERE key IN (?, ?)", [TERMINAL_KEY, STORE_KEY]
            ).fetchall()
        )
    except sqlite3.Error:
        return None  # a new or pre-identity database: no settings table, or not yet
    finally:
        conn.close()
    if TERMINAL_KEY not in rows or STORE_KEY not in rows:
        return None
    return TillIdentity(str(rows[TERMINAL_KEY]), str(rows[STORE_KEY]))


def _refusal(path: Path, stored: TillIdentity, config: TillConfig) -> IdentityMismatchError:
    return IdentityMismatchError(
        f"{path} belongs to till {stored.terminal_id} of store {stored.store_id}, but the "
        f"configuration is for till {config.terminal_id} of store {config.store_id}: give "
        "this till its own data_dir (or use that till's configuration); nothing was changed"
    )


def check_identity(config: TillConfig) -> None:
    """Refuse (:class:`IdentityMismatchError`) a configuration for another till or store than
    the one its database was created with. Reads only."""
    stored = read_identity(config.database_path)
    if stored is not None and stored != TillIdentity(config.terminal_id, config.store_id):
        raise _refusal(config.database_path, stored, config)


def open_for_config(config: TillConfig) -> TillDatabase:
    """Open (creating and migrating if needed) the till database of ``config`` after checking
    it belongs to this till; a database without an identity yet takes this one."""
    check_identity(config)
    database = open_database(config.database_path)
    try:
        with database.write() as db:
            terminal = get_setting(db, TERMINAL_KEY)
            store = get_setting(db, STORE_KEY)
            if terminal is None or store is None:
                set_setting(db, TERMINAL_KEY, config.terminal_id)
                set_setting(db, STORE_KEY, config.store_id)
            elif (terminal, store) != (config.terminal_id, config.store_id):
                # Another process took it for another till between the check and here.
                raise _refusal(config.database_path, TillIdentity(terminal, store), config)
    except BaseException:
        database.close()
        raise
    return database
