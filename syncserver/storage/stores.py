"""Stores: what HQ knows about each shop — its name and address (printed on receipts), its
time zone (HQ shows times in it) and country (the region of phone numbers written without a
+). Tills receive it when they are set up (``till setup``).

Each write takes a ``change_seq`` from the one change counter, last in its transaction
(syncserver.storage.counter), like every other row tills may pull.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping, select, update

from shared.protocol import StoreInfo
from syncserver.storage.counter import allocate_positions
from syncserver.storage.schema import stores

__all__ = [
    "StoreRecord",
    "add_store",
    "get_store",
    "page_of_stores",
    "store_info",
    "store_timezones",
    "update_store",
]


@dataclass(frozen=True, slots=True)
class StoreRecord:
    store_id: str
    name: str
    address: tuple[str, ...]
    """Receipt header lines, top to bottom."""
    timezone: str
    country: str | None
    tax_id: str | None
    created_at: datetime
    updated_at: datetime
    change_seq: int


def _record(row: RowMapping) -> StoreRecord:
    address = str(row["address"] or "")
    return StoreRecord(
        store_id=row["store_id"],
        name=row["name"],
        address=tuple(address.split("\n")) if address else (),
        timezone=row["timezone"],
        country=row["country"],
        tax_id=row["tax_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        change_seq=int(row["change_seq"]),
    )


def store_info(record: StoreRecord) -> StoreInfo:
    """The store as a till receives it (protocol model)."""
    return StoreInfo(
        store_id=record.store_id,
        name=record.name,
        address=list(record.address),
        timezone=record.timezone,
        country=record.country,
        tax_id=record.tax_id,
    )


def get_store(conn: Connection, store_id: str) -> StoreRecord | None:
    row = conn.execute(select(stores).where(stores.c.store_id == store_id)).mappings().first()
    return _record(row) if row else None


def page_of_stores(conn: Connection, *, after: str | None, limit: int) -> list[StoreRecord]:
    """Up to ``limit`` stores in store id order after ``after`` (keyset)."""
    query = select(stores).order_by(stores.c.store_id).limit(limit)
    if after is not None:
        query = query.where(stores.c.store_id > after)
    return [_record(row) for row in conn.execute(query).mappings()]


def store_timezones(conn: Connection) -> dict[str, str]:
    """Every store's time zone by store id (HQ pages show a till's times in its store's)."""
    rows = conn.execute(select(stores.c.store_id, stores.c.timezone))
    return {row.store_id: row.timezone for row in rows}


def add_store(
    conn: Connection,
    *,
    store_id: str,
    name: str,
    address: tuple[str, ...],
    timezone: str,
    country: str | None,
    tax_id: str | None,
    now: datetime,
) -> None:
    """Insert a store (the caller checked the values and that the id is free)."""
    conn.execute(
        stores.insert().values(
            store_id=store_id,
            name=name,
            address="\n".join(address),
            timezone=timezone,
            country=country,
            tax_id=tax_id,
            created_at=now,
            updated_at=now,
            # Taken last: the counter's row stays locked until this transaction commits.
            change_seq=allocate_positions(conn, 1),
        )
    )


def update_store(
    conn: Connection, store_id: str, changes: dict[str, object], now: datetime
) -> bool:
    """Change some of a store's fields (``address`` as a tuple of lines); False when there is
    no such store."""
    values = dict(changes)
    if "address" in values:
        lines = values["address"]
        assert isinstance(lines, tuple)
        values["address"] = "\n".join(str(line) for line in lines)
    result = conn.execute(
        update(stores)
        .where(stores.c.store_id == store_id)
        .values(**values, updated_at=now, change_seq=allocate_positions(conn, 1))
    )
    return bool(result.rowcount)
