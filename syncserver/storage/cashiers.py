"""Till staff: each store's cashiers and supervisors, with their PIN as a salted hash only.

Every change takes the next position of the one change counter (syncserver.storage.counter)
as its ``change_seq``, last in its transaction, so the store's tills receive it on their next
pull exactly like a product or member change. Nothing here returns the PIN's salt or hash
except :func:`cashier_states`, which builds what a till pulls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, or_, select, update

from shared.protocol import CashierState
from syncserver.storage.counter import allocate_positions
from syncserver.storage.schema import cashiers

__all__ = [
    "CashierRecord",
    "cashier_page",
    "cashier_states",
    "get_cashier",
    "insert_cashier",
    "update_cashier",
]


@dataclass(frozen=True, slots=True)
class CashierRecord:
    """A cashier as HQ shows them: never the PIN, its salt or its hash."""

    cashier_id: str
    store_id: str
    name: str
    role: str
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


_COLUMNS = (
    cashiers.c.cashier_id,
    cashiers.c.store_id,
    cashiers.c.name,
    cashiers.c.role,
    cashiers.c.created_at,
    cashiers.c.updated_at,
    cashiers.c.disabled_at,
)


def _record(row: RowMapping) -> CashierRecord:
    return CashierRecord(
        cashier_id=row["cashier_id"],
        store_id=row["store_id"],
        name=row["name"],
        role=row["role"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        disabled_at=row["disabled_at"],
    )


def get_cashier(conn: Connection, cashier_id: str, *, lock: bool = False) -> CashierRecord | None:
    """One cashier; ``lock``: hold their row until the transaction ends (a change to them)."""
    query = select(*_COLUMNS).where(cashiers.c.cashier_id == cashier_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return _record(row) if row else None


def cashier_page(
    conn: Connection, *, store_id: str | None, after: tuple[str, str] | None, limit: int
) -> list[CashierRecord]:
    """Up to ``limit`` cashiers in (store, id) order after ``after`` (keyset), of one store or
    all of them."""
    query = select(*_COLUMNS).order_by(cashiers.c.store_id, cashiers.c.cashier_id).limit(limit)
    if store_id is not None:
        query = query.where(cashiers.c.store_id == store_id)
    if after is not None:
        store, cashier = after
        query = query.where(
            or_(
                cashiers.c.store_id > store,
                and_(cashiers.c.store_id == store, cashiers.c.cashier_id > cashier),
            )
        )
    return [_record(row) for row in conn.execute(query).mappings()]


def insert_cashier(
    conn: Connection,
    *,
    cashier_id: str,
    store_id: str,
    name: str,
    role: str,
    pin_scheme: str,
    pin_salt: str,
    pin_hash: str,
    now: datetime,
) -> None:
    """Add a cashier. Call last in the write transaction: the change position it takes holds
    the counter row until COMMIT (syncserver.storage.counter)."""
    conn.execute(
        cashiers.insert().values(
            cashier_id=cashier_id,
            store_id=store_id,
            name=name,
            role=role,
            pin_scheme=pin_scheme,
            pin_salt=pin_salt,
            pin_hash=pin_hash,
            created_at=now,
            updated_at=now,
            disabled_at=None,
            change_seq=allocate_positions(conn, 1),
        )
    )


def update_cashier(conn: Connection, cashier_id: str, now: datetime, **values: Any) -> None:
    """Change a cashier (``disabled_at``, ``pin_*`` …) and give them the next change position,
    so their store's tills pull the change. Call last in the write transaction."""
    conn.execute(
        update(cashiers)
        .where(cashiers.c.cashier_id == cashier_id)
        .values(**values, updated_at=now, change_seq=allocate_positions(conn, 1))
    )


def cashier_states(conn: Connection, cashier_ids: Sequence[str]) -> list[CashierState]:
    """What a till pulls about these cashiers (PIN hash included), in change order."""
    if not cashier_ids:
        return []
    rows = conn.execute(
        select(cashiers)
        .where(cashiers.c.cashier_id.in_(list(cashier_ids)))
        .order_by(cashiers.c.change_seq)
    ).mappings()
    return [
        CashierState(
            cashier_id=row["cashier_id"],
            name=row["name"],
            role=row["role"],
            pin_scheme=row["pin_scheme"],
            pin_salt=row["pin_salt"],
            pin_hash=row["pin_hash"],
            disabled=row["disabled_at"] is not None,
        )
        for row in rows
    ]
