"""Products, departments, the program rules versions and offers, as cached at the till."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from shared.rules import ProgramRules

__all__ = ["Offer", "Product", "current_rules", "offers_for", "product_by_sku", "save_rules"]


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    description: str
    category: str
    price_minor: int
    tax_rate_bp: int
    open_price: bool
    """A department key: the cashier keys in the price."""


@dataclass(frozen=True, slots=True)
class Offer:
    offer_id: str
    title: str
    description: str


def product_by_sku(db: sqlite_utils.Database, sku: str) -> Product | None:
    row = db.execute(
        "SELECT sku, description, category, price_minor, tax_rate_bp, open_price "
        "FROM products WHERE sku = ?",
        [sku],
    ).fetchone()
    return Product(row[0], row[1], row[2], int(row[3]), int(row[4]), bool(row[5])) if row else None


def departments(db: sqlite_utils.Database) -> list[Product]:
    rows = db.execute(
        "SELECT sku, description, category, price_minor, tax_rate_bp, open_price "
        "FROM products WHERE open_price = 1 ORDER BY sku"
    ).fetchall()
    return [Product(r[0], r[1], r[2], int(r[3]), int(r[4]), True) for r in rows]


def save_rules(db: sqlite_utils.Database, rules: ProgramRules) -> None:
    db.execute(
        "INSERT OR REPLACE INTO rules (version, program_id, document) VALUES (?, ?, ?)",
        [rules.version, rules.program_id, rules.to_json()],
    )


def current_rules(db: sqlite_utils.Database) -> ProgramRules | None:
    row = db.execute("SELECT document FROM rules ORDER BY version DESC LIMIT 1").fetchone()
    return ProgramRules.from_json(row[0]) if row else None


def rules_version(db: sqlite_utils.Database, version: int) -> ProgramRules | None:
    row = db.execute("SELECT document FROM rules WHERE version = ?", [version]).fetchone()
    return ProgramRules.from_json(row[0]) if row else None


def offers_for(db: sqlite_utils.Database, tier: str | None, today: str) -> list[Offer]:
    rows = db.execute(
        "SELECT offer_id, title, description FROM offers "
        "WHERE (tier IS NULL OR tier = ?) AND (valid_until IS NULL OR valid_until >= ?) "
        "ORDER BY offer_id",
        [tier, today],
    ).fetchall()
    return [Offer(r[0], r[1], r[2]) for r in rows]
