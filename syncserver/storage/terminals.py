"""Registered tills: their token hash, revocation, how far their journal is acknowledged and
what they last reported about themselves (their journal tip, when they last pulled)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping, func, select, update

from shared.journal import GENESIS_HASH
from syncserver.security import hash_token, new_token
from syncserver.storage.schema import terminals

__all__ = [
    "TerminalRecord",
    "add_terminal",
    "get_terminal",
    "list_terminals",
    "lock_terminal",
    "page_of_terminals",
    "record_pull",
    "revoke_terminal",
    "terminal_by_token",
]

_ID_PREFIX = "T"
_ID_DIGITS = 4


@dataclass(frozen=True, slots=True)
class TerminalRecord:
    terminal_id: str
    store_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    acked_seq: int
    last_hash: str
    last_push_at: datetime | None
    tip_seq: int | None = None
    """The till's own journal tip as it reported it on its last pull (None: never reported)."""
    last_pull_at: datetime | None = None
    revoked_by: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def _record(row: RowMapping) -> TerminalRecord:
    tip = row["tip_seq"]
    return TerminalRecord(
        terminal_id=row["terminal_id"],
        store_id=row["store_id"],
        name=row["name"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        acked_seq=int(row["acked_seq"]),
        last_hash=row["last_hash"],
        last_push_at=row["last_push_at"],
        tip_seq=None if tip is None else int(tip),
        last_pull_at=row["last_pull_at"],
        revoked_by=row["revoked_by"],
    )


_COLUMNS = [c for c in terminals.c if c.name != "token_hash"]


def add_terminal(conn: Connection, store_id: str, name: str, now: datetime) -> tuple[str, str]:
    """Register a till; returns (terminal_id, token). The token is not stored, only its hash.

    Ids are ``T0001``, ``T0002`` …: short, because they are printed in receipt barcodes,
    which allow capital letters and digits only.
    """
    count = conn.execute(select(func.count()).select_from(terminals)).scalar_one()
    number = int(count) + 1
    while True:
        terminal_id = f"{_ID_PREFIX}{number:0{_ID_DIGITS}d}"
        exists = conn.execute(
            select(terminals.c.terminal_id).where(terminals.c.terminal_id == terminal_id)
        ).first()
        if exists is None:
            break
        number += 1
    token = new_token()
    conn.execute(
        terminals.insert().values(
            terminal_id=terminal_id,
            store_id=store_id,
            name=name,
            token_hash=hash_token(token),
            created_at=now,
            acked_seq=0,
            last_hash=GENESIS_HASH,
        )
    )
    return terminal_id, token


def list_terminals(conn: Connection) -> list[TerminalRecord]:
    rows = conn.execute(select(*_COLUMNS).order_by(terminals.c.terminal_id)).mappings()
    return [_record(row) for row in rows]


def page_of_terminals(
    conn: Connection, *, store_id: str | None, after: str | None, limit: int
) -> list[TerminalRecord]:
    """Up to ``limit`` tills in terminal id order after ``after`` (keyset), of one store or all."""
    query = select(*_COLUMNS).order_by(terminals.c.terminal_id).limit(limit)
    if store_id is not None:
        query = query.where(terminals.c.store_id == store_id)
    if after is not None:
        query = query.where(terminals.c.terminal_id > after)
    return [_record(row) for row in conn.execute(query).mappings()]


def get_terminal(conn: Connection, terminal_id: str) -> TerminalRecord | None:
    row = (
        conn.execute(select(*_COLUMNS).where(terminals.c.terminal_id == terminal_id))
        .mappings()
        .first()
    )
    return _record(row) if row else None


def terminal_by_token(conn: Connection, token: str) -> TerminalRecord | None:
    row = (
        conn.execute(select(*_COLUMNS).where(terminals.c.token_hash == hash_token(token)))
        .mappings()
        .first()
    )
    return _record(row) if row else None


def lock_terminal(conn: Connection, terminal_id: str) -> TerminalRecord | None:
    """The terminal's row, locked until the transaction ends: one push per till at a time,
    whichever server process receives it."""
    row = (
        conn.execute(
            select(*_COLUMNS).where(terminals.c.terminal_id == terminal_id).with_for_update()
        )
        .mappings()
        .first()
    )
    return _record(row) if row else None


def revoke_terminal(
    conn: Connection, terminal_id: str, now: datetime, by: str | None = None
) -> bool:
    """Refuse the till's token from now on; False when it is unknown or already revoked."""
    result = conn.execute(
        update(terminals)
        .where(terminals.c.terminal_id == terminal_id, terminals.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=by)
    )
    return bool(result.rowcount)


def record_pull(conn: Connection, terminal_id: str, now: datetime, tip_seq: int | None) -> None:
    """A pull happened: note when, and the journal tip the till reported (if it did)."""
    values: dict[str, object] = {"last_pull_at": now}
    if tip_seq is not None:
        values["tip_seq"] = tip_seq
    conn.execute(update(terminals).where(terminals.c.terminal_id == terminal_id).values(**values))
