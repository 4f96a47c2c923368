"""Registered tills: their token hash, revocation, how far their journal is acknowledged and
what they last reported about themselves (their journal tip, when they last pulled)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, RowMapping, delete, func, select, update

from shared.journal import GENESIS_HASH
from syncserver.security import hash_token, new_token
from syncserver.storage.schema import terminal_codes, terminals

__all__ = [
    "CODE_LIFETIME",
    "SetupCode",
    "TerminalRecord",
    "add_terminal",
    "get_terminal",
    "issue_code",
    "list_terminals",
    "lock_terminal",
    "normalize_code",
    "page_of_terminals",
    "record_pull",
    "revoke_terminal",
    "rotate_token",
    "setup_code",
    "terminal_by_token",
    "use_code",
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


# --- One-time set-up codes ---------------------------------------------------------------------
#
# ``terminal add`` prints a code that ``till setup`` trades for the till's identity and a fresh
# token (POST /api/v1/terminals/claim). Someone types it at the till, so it avoids look-alike
# characters (0/O, 1/I/L) and comes in groups of four; 16 characters of a 31-letter alphabet
# are 79 bits, far beyond guessing within the claim's failure budget and the code's 24 hours.
# HQ keeps only its SHA-256, like a token.

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_GROUPS = 4
CODE_GROUP_LENGTH = 4
CODE_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class SetupCode:
    terminal_id: str
    expires_at: datetime
    used_at: datetime | None


def _new_code() -> str:
    groups = (
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH))
        for _ in range(CODE_GROUPS)
    )
    return "-".join(groups)


def normalize_code(text: str) -> str | None:
    """The code's characters as HQ hashes them (upper case, no spaces or dashes), or None
    when ``text`` cannot be a set-up code at all."""
    cleaned = "".join(ch for ch in text.upper() if ch not in " -\t")
    if len(cleaned) != CODE_GROUPS * CODE_GROUP_LENGTH:
        return None
    if any(ch not in CODE_ALPHABET for ch in cleaned):
        return None
    return cleaned


def issue_code(conn: Connection, terminal_id: str, now: datetime) -> tuple[str, datetime]:
    """A new set-up code for the till, valid for CODE_LIFETIME; its unused earlier codes stop
    working. Returns (code, expires_at); only the code's hash is stored."""
    conn.execute(
        delete(terminal_codes).where(
            terminal_codes.c.terminal_id == terminal_id, terminal_codes.c.used_at.is_(None)
        )
    )
    code = _new_code()
    normal = normalize_code(code)
    assert normal is not None
    expires = now + CODE_LIFETIME
    conn.execute(
        terminal_codes.insert().values(
            code_hash=hash_token(normal),
            terminal_id=terminal_id,
            created_at=now,
            expires_at=expires,
        )
    )
    return code, expires


def setup_code(conn: Connection, normal_code: str, *, lock: bool = False) -> SetupCode | None:
    """The stored code (by its normalised text), locked for the transaction with ``lock``."""
    query = select(
        terminal_codes.c.terminal_id, terminal_codes.c.expires_at, terminal_codes.c.used_at
    ).where(terminal_codes.c.code_hash == hash_token(normal_code))
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        return None
    return SetupCode(row.terminal_id, row.expires_at, row.used_at)


def use_code(conn: Connection, normal_code: str, now: datetime) -> bool:
    """Mark the code used; False when it was used already (by a claim at the same moment)."""
    result = conn.execute(
        update(terminal_codes)
        .where(
            terminal_codes.c.code_hash == hash_token(normal_code),
            terminal_codes.c.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return bool(result.rowcount)


def rotate_token(conn: Connection, terminal_id: str) -> str:
    """A new token for the till; the one before stops working at once. Returns it (only its
    hash is stored)."""
    token = new_token()
    conn.execute(
        update(terminals)
        .where(terminals.c.terminal_id == terminal_id)
        .values(token_hash=hash_token(token))
    )
    return token
