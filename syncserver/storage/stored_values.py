"""Stored value: gift cards, credit slips and members' store credit (docs/giftcards.md).

One ``stored_values`` row per money account (``giftcard:<number>`` or ``credit:<member>``):
its kind, status and ``balance_minor``, the sum of the account's postings (moved in the same
transaction as the postings, under the row's lock; ``ledger rebuild --check`` compares).
Every write leaves the account's ``change_seq`` to be stamped at the end of the transaction
(:func:`stamp_stored_values`), like members, so tills pull the card again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, bindparam, select, update

from shared.protocol import StoredValueState
from syncserver.storage.database import insert_ignore
from syncserver.storage.schema import stored_values

__all__ = [
    "ACTIVE",
    "BLOCKED",
    "StoredValueKind",
    "StoredValueRow",
    "add_to_stored_balances",
    "credit_balances",
    "insert_stored_value",
    "lock_stored_value",
    "stamp_stored_values",
    "stored_value_row",
    "stored_value_states",
    "update_stored_value",
]

ACTIVE = "active"
BLOCKED = "blocked"

StoredValueKind = Literal["giftcard", "credit"]


@dataclass(frozen=True, slots=True)
class StoredValueRow:
    account: str
    kind: str
    card_number: str | None
    member_id: str | None
    currency: str
    balance_minor: int
    status: str
    blocked_reason: str | None
    moved_to: str | None
    activated_at: str | None
    last_used_at: str | None

    @property
    def blocked(self) -> bool:
        return self.status == BLOCKED


def _row(found: Any) -> StoredValueRow:
    return StoredValueRow(
        account=found.account,
        kind=found.kind,
        card_number=found.card_number,
        member_id=found.member_id,
        currency=found.currency,
        balance_minor=int(found.balance_minor),
        status=found.status,
        blocked_reason=found.blocked_reason,
        moved_to=found.moved_to,
        activated_at=found.activated_at,
        last_used_at=found.last_used_at,
    )


def stored_value_row(conn: Connection, account: str) -> StoredValueRow | None:
    found = conn.execute(select(stored_values).where(stored_values.c.account == account)).first()
    return _row(found) if found is not None else None


def lock_stored_value(conn: Connection, account: str) -> StoredValueRow | None:
    """The row, locked until COMMIT (its balance and status change only under this lock)."""
    found = conn.execute(
        select(stored_values).where(stored_values.c.account == account).with_for_update()
    ).first()
    return _row(found) if found is not None else None


def insert_stored_value(
    conn: Connection,
    *,
    account: str,
    kind: StoredValueKind,
    currency: str,
    card_number: str | None = None,
    member_id: str | None = None,
    activated_at: str | None = None,
) -> bool:
    """A new account at balance 0; False when it exists already."""
    return insert_ignore(
        conn,
        stored_values,
        {
            "account": account,
            "kind": kind,
            "card_number": card_number,
            "member_id": member_id,
            "currency": currency,
            "balance_minor": 0,
            "status": ACTIVE,
            "blocked_reason": None,
            "moved_to": None,
            "activated_at": activated_at,
            "last_used_at": None,
            "change_seq": 0,
        },
    )


def update_stored_value(conn: Connection, account: str, **values: Any) -> None:
    conn.execute(update(stored_values).where(stored_values.c.account == account).values(values))


def add_to_stored_balances(conn: Connection, deltas: Mapping[str, int]) -> None:
    """Move balances of rows this transaction has locked (in account order)."""
    for account in sorted(deltas):
        if deltas[account]:
            conn.execute(
                update(stored_values)
                .where(stored_values.c.account == account)
                .values(balance_minor=stored_values.c.balance_minor + deltas[account])
            )


_STAMP = (
    update(stored_values)
    .where(stored_values.c.account == bindparam("s_account"))
    .values(change_seq=bindparam("s_position"))
)


def stamp_stored_values(conn: Connection, accounts: Sequence[str], first_position: int) -> None:
    """Give each changed account the next change_seq (the pull cursor): one executemany."""
    if accounts:
        conn.execute(
            _STAMP,
            [
                {"s_account": account, "s_position": first_position + n}
                for n, account in enumerate(accounts)
            ],
        )


def stored_value_states(conn: Connection, accounts: Sequence[str]) -> list[StoredValueState]:
    """Gift cards and credit slips as tills know them, in the order given."""
    if not accounts:
        return []
    rows = {
        row.account: row
        for row in conn.execute(
            select(stored_values).where(stored_values.c.account.in_(list(accounts)))
        )
    }
    return [
        StoredValueState(
            card_number=rows[a].card_number or a.split(":", 1)[1],
            balance_minor=int(rows[a].balance_minor),
            status="blocked" if rows[a].status == BLOCKED else "active",
            blocked_reason=rows[a].blocked_reason,
        )
        for a in accounts
        if a in rows
    ]


def credit_balances(
    conn: Connection,
    member_ids: Sequence[str] | Callable[[ColumnElement[Any]], ColumnElement[bool]],
) -> dict[str, int]:
    """Members' store credit (minor units), for those who have an account. ``member_ids``:
    the ids, or what restricts a member id column to them (a subquery)."""
    column = stored_values.c.member_id
    if callable(member_ids):
        chosen = member_ids(column)
    elif member_ids:
        chosen = column.in_(list(member_ids))
    else:
        return {}
    rows = conn.execute(
        select(column, stored_values.c.balance_minor).where(
            stored_values.c.kind == "credit", chosen
        )
    )
    return {row.member_id: int(row.balance_minor) for row in rows}
