"""Cashiers and their PINs. PINs are stored only as salted scrypt hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlite_utils

__all__ = ["Cashier", "add_cashier", "check_pin"]

# scrypt with these costs takes ~20-40 ms: fine once per sign-in, expensive to brute-force
# 10,000 four-digit PINs from a stolen database file.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


@dataclass(frozen=True, slots=True)
class Cashier:
    cashier_id: str
    name: str
    role: str


def _hash(pin: str, salt: bytes) -> str:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, **_SCRYPT).hex()


def add_cashier(
    db: sqlite_utils.Database, cashier_id: str, name: str, pin: str, role: str = "cashier"
) -> None:
    if not (pin.isdigit() and 4 <= len(pin) <= 8):
        raise ValueError("a PIN is 4 to 8 digits")
    salt = secrets.token_bytes(16)
    db.execute(
        "INSERT OR REPLACE INTO cashiers (cashier_id, name, pin_salt, pin_hash, role) "
        "VALUES (?, ?, ?, ?, ?)",
        [cashier_id, name, salt.hex(), _hash(pin, salt), role],
    )


def check_pin(db: sqlite_utils.Database, cashier_id: str, pin: str) -> Cashier | None:
    row = db.execute(
        "SELECT cashier_id, name, pin_salt, pin_hash, role FROM cashiers WHERE cashier_id = ?",
        [cashier_id],
    ).fetchone()
    if row is None:
        _hash(pin, b"0" * 16)  # same cost either way: no timing hint that the id exists
        return None
    if not hmac.compare_digest(_hash(pin, bytes.fromhex(row[2])), row[3]):
        return None
    return Cashier(row[0], row[1], row[4])
