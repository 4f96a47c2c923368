"""HQ manages till staff: each store's cashiers and supervisors — adding one, disabling and
enabling, resetting a PIN — each write with its audit row in the same transaction, and the
list (which never holds PIN material).

A PIN is hashed here (shared.pins, scrypt) before the transaction starts, so the slow hash
never holds the database's write lock; only the salt and hash are stored. Each change takes a
change position (syncserver.storage.cashiers), so the store's tills pull it.

Errors are the API's own (``syncserver.errors``), so the JSON API, the dashboard and the CLI
show the same message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Final

from sqlalchemy import Connection, exc

from shared.pins import PIN_SCHEME, new_pin_hash, valid_pin
from shared.text import check_safe_text
from syncserver.errors import ConflictError, MalformedError, NotFoundError
from syncserver.hq.stores import check_store_id
from syncserver.settings import as_utc, utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.cashiers import (
    CashierRecord,
    cashier_page,
    get_cashier,
    insert_cashier,
    update_cashier,
)
from syncserver.storage.database import Database, run_write
from syncserver.storage.stores import get_store

__all__ = [
    "ROLES",
    "add_cashier",
    "clean_cashier_id",
    "disable_cashier",
    "enable_cashier",
    "find_cashier",
    "list_cashiers",
    "reset_pin",
]

ROLES: Final = ("cashier", "supervisor")
"""A supervisor may also do what needs a supervisor at the till (close the till program)."""

_ID = re.compile(r"[A-Za-z0-9]{1,16}")
MAX_NAME = 200


def clean_cashier_id(cashier_id: str) -> str:
    value = cashier_id.strip()
    if not _ID.fullmatch(value):
        raise MalformedError(
            "cashier id: 1–16 letters or digits (e.g. 7): what the cashier types at the till "
            "to sign in"
        )
    return value


def _clean_name(name: str) -> str:
    try:
        value = " ".join(check_safe_text(name).split())
    except ValueError as error:
        raise MalformedError(f"name: {error}") from None
    if not value:
        raise MalformedError("name: give the cashier's name as staff know it (e.g. Ann Weber)")
    if len(value) > MAX_NAME:
        raise MalformedError(f"name: {MAX_NAME} characters at most")
    return value


def _clean_role(role: str) -> str:
    if role not in ROLES:
        raise MalformedError(f"role: {role!r} is not a till role; choose cashier or supervisor")
    return role


def _hashed(pin: str) -> tuple[str, str]:
    if not valid_pin(pin):
        raise MalformedError("pin: 4 to 8 digits (e.g. 4711)")
    return new_pin_hash(pin)


def find_cashier(conn: Connection, cashier_id: str, *, lock: bool = False) -> CashierRecord:
    record = get_cashier(conn, cashier_id, lock=lock)
    if record is None:
        raise NotFoundError(
            f"no cashier {cashier_id}: check the id on the Cashiers page or with `cashier list`"
        )
    return record


def list_cashiers(
    conn: Connection,
    *,
    store_id: str | None = None,
    after: tuple[str, str] | None = None,
    limit: int = 50,
) -> list[CashierRecord]:
    """Up to ``limit`` cashiers in (store, id) order after ``after``, of one store or all."""
    return cashier_page(conn, store_id=store_id or None, after=after, limit=limit)


def add_cashier(
    database: Database,
    actor: Actor,
    *,
    store_id: str,
    cashier_id: str,
    name: str,
    pin: str,
    role: str = "cashier",
) -> CashierRecord:
    """Add a cashier to a store. Their tills receive them on the next pull; the PIN is kept
    only as a salted hash."""
    store, ident, label, level = (
        check_store_id(store_id),
        clean_cashier_id(cashier_id),
        _clean_name(name),
        _clean_role(role),
    )
    salt, digest = _hashed(pin)

    def work(conn: Connection) -> CashierRecord:
        now = utc_now()
        existing = get_cashier(conn, ident)
        if existing is not None:
            raise _taken(existing)
        if get_store(conn, store) is None:
            # Refused, not invented: a typo (S01) would give cashiers no till ever sees.
            raise MalformedError(
                f"store {store} is not set up at HQ: add the store first (syncserver store add "
                f"{store} …), then its cashiers"
            )
        record_action(
            conn,
            actor,
            "cashier.add",
            now,
            target_kind="cashier",
            target_id=ident,
            detail={"store_id": store, "name": label, "role": level},
        )
        insert_cashier(
            conn,
            cashier_id=ident,
            store_id=store,
            name=label,
            role=level,
            pin_scheme=PIN_SCHEME,
            pin_salt=salt,
            pin_hash=digest,
            now=now,
        )
        return find_cashier(conn, ident)

    try:
        return run_write(database, work)
    except exc.IntegrityError:  # added by someone else at the same moment
        with database.read() as conn:
            existing = get_cashier(conn, ident)
        if existing is None:
            raise
        raise _taken(existing) from None


def _taken(existing: CashierRecord) -> ConflictError:
    return ConflictError(
        f"cashier {existing.cashier_id} already exists ({existing.name}, store "
        f"{existing.store_id}): choose another id — ids are unique across all stores"
    )


def _change(
    database: Database,
    actor: Actor,
    cashier_id: str,
    action: str,
    must_be: str | None,
    values: Callable[[datetime], dict[str, object]],
) -> CashierRecord:
    """Lock the cashier, refuse unless it is ``must_be`` (enabled, disabled) first, write the
    audit row, then the change with its position (last)."""
    ident = cashier_id.strip()

    def work(conn: Connection) -> CashierRecord:
        now = utc_now()
        record = find_cashier(conn, ident, lock=True)
        if must_be == "enabled" and record.disabled_at is not None:
            when = as_utc(record.disabled_at).strftime("%Y-%m-%d %H:%M UTC")
            raise ConflictError(f"cashier {ident} is already disabled (since {when})")
        if must_be == "disabled" and record.disabled_at is None:
            raise ConflictError(f"cashier {ident} is not disabled: they can sign in already")
        record_action(
            conn,
            actor,
            action,
            now,
            target_kind="cashier",
            target_id=ident,
            detail={"store_id": record.store_id, "name": record.name},
        )
        update_cashier(conn, ident, now, **values(now))
        return find_cashier(conn, ident)

    return run_write(database, work)


def disable_cashier(database: Database, actor: Actor, cashier_id: str) -> CashierRecord:
    """The cashier can no longer sign in at their store's tills once those pull (a till with
    them signed in signs them out). 409 when already disabled."""
    return _change(
        database, actor, cashier_id, "cashier.disable", "enabled", lambda now: {"disabled_at": now}
    )


def enable_cashier(database: Database, actor: Actor, cashier_id: str) -> CashierRecord:
    """Undo a disable: the cashier signs in again (same PIN) once the tills pull."""
    return _change(
        database, actor, cashier_id, "cashier.enable", "disabled", lambda _: {"disabled_at": None}
    )


def reset_pin(database: Database, actor: Actor, cashier_id: str, pin: str) -> CashierRecord:
    """A new PIN for the cashier (a new salt too); the old one stops working at each till on
    its next pull."""
    salt, digest = _hashed(pin)
    return _change(
        database,
        actor,
        cashier_id,
        "cashier.pin_reset",
        None,
        lambda _: {"pin_scheme": PIN_SCHEME, "pin_salt": salt, "pin_hash": digest},
    )
