"""The till's cashiers and their PINs, kept only as salted scrypt hashes (shared.pins).

HQ manages a store's cashiers and the till receives them in the pull (origin ``hq``, HQ's
copy wins, possibly disabled); the demo seeder and tests add some here directly (origin
``local``). Either way the till checks PINs offline, against the hash.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from shared.pins import PIN_RULE, PIN_SCHEME, burn_one_hash, new_pin_hash, pin_matches, valid_pin
from shared.protocol import CashierState

__all__ = [
    "Cashier",
    "add_cashier",
    "apply_hq_cashier",
    "cashier_enabled",
    "check_pin",
    "enabled_cashier_count",
]


@dataclass(frozen=True, slots=True)
class Cashier:
    cashier_id: str
    name: str
    role: str


def add_cashier(
    db: sqlite_utils.Database, cashier_id: str, name: str, pin: str, role: str = "cashier"
) -> None:
    """A cashier created on this till (the demo, tests), enabled, replacing any with the id."""
    if not valid_pin(pin):
        raise ValueError(PIN_RULE)
    salt, digest = new_pin_hash(pin)
    db.execute(
        "INSERT INTO cashiers (cashier_id, name, pin_salt, pin_hash, role, pin_scheme, disabled, "
        "origin) VALUES (?, ?, ?, ?, ?, ?, 0, 'local') ON CONFLICT(cashier_id) DO UPDATE SET "
        "name=excluded.name, pin_salt=excluded.pin_salt, pin_hash=excluded.pin_hash, "
        "role=excluded.role, pin_scheme=excluded.pin_scheme, disabled=0, origin='local'",
        [cashier_id, name, salt, digest, role, PIN_SCHEME],
    )


def apply_hq_cashier(db: sqlite_utils.Database, cashier: CashierState) -> None:
    """Take HQ's copy of a cashier (from a pull): name, role, PIN hash, disabled flag. Part of
    the pulled page's transaction, so a page is applied whole or not at all."""
    db.execute(
        "INSERT INTO cashiers (cashier_id, name, pin_salt, pin_hash, role, pin_scheme, disabled, "
        "origin) VALUES (?, ?, ?, ?, ?, ?, ?, 'hq') ON CONFLICT(cashier_id) DO UPDATE SET "
        "name=excluded.name, pin_salt=excluded.pin_salt, pin_hash=excluded.pin_hash, "
        "role=excluded.role, pin_scheme=excluded.pin_scheme, disabled=excluded.disabled, "
        "origin='hq'",
        [
            cashier.cashier_id,
            cashier.name,
            cashier.pin_salt,
            cashier.pin_hash,
            cashier.role,
            cashier.pin_scheme,
            int(cashier.disabled),
        ],
    )


def check_pin(db: sqlite_utils.Database, cashier_id: str, pin: str) -> Cashier | None:
    """The cashier, when ``pin`` is theirs and they are not disabled; else None.

    Every answer costs one hash — an unknown id, a disabled cashier, a wrong PIN — so how long
    it takes tells nothing about which it was.
    """
    row = db.execute(
        "SELECT cashier_id, name, role, pin_scheme, pin_salt, pin_hash, disabled "
        "FROM cashiers WHERE cashier_id = ?",
        [cashier_id],
    ).fetchone()
    if row is None:
        burn_one_hash(pin)
        return None
    matches = pin_matches(pin, str(row[3]), str(row[4]), str(row[5]))
    if not matches or row[6]:
        return None
    return Cashier(str(row[0]), str(row[1]), str(row[2]))


def cashier_enabled(db: sqlite_utils.Database, cashier_id: str) -> bool:
    """Whether the cashier exists on this till and may sign in (HQ has not disabled them)."""
    row = db.execute("SELECT disabled FROM cashiers WHERE cashier_id = ?", [cashier_id]).fetchone()
    return row is not None and not row[0]


def enabled_cashier_count(db: sqlite_utils.Database) -> int:
    """How many cashiers could sign in here (0: the sign-in screen says how to add one)."""
    return int(db.execute("SELECT COUNT(*) FROM cashiers WHERE disabled = 0").fetchone()[0])
