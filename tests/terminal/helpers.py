from __future__ import annotations

from terminal.store import TillDatabase
from terminal.store.catalog import Product


def journal_count(database: TillDatabase) -> int:
    with database.read() as db:
        return int(db.execute("SELECT COUNT(*) FROM journal").fetchone()[0])


def products(database: TillDatabase, category: str | None = None) -> list[Product]:
    with database.read() as db:
        sql = (
            "SELECT sku, description, category, price_minor, tax_rate_bp, open_price FROM products"
        )
        args: list[str] = []
        sql += " WHERE open_price = 0"
        if category:
            sql += " AND category = ?"
            args.append(category)
        rows = db.execute(sql + " ORDER BY sku", args).fetchall()
    return [Product(r[0], r[1], r[2], int(r[3]), int(r[4]), bool(r[5])) for r in rows]
