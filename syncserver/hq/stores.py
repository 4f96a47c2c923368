"""HQ's stores: adding one, changing one and listing them — each write with its audit row in
the same transaction.

A store must exist before a till is registered for it (``syncserver terminal add``): the
till receives the store's name, address, time zone and country when it is set up
(``till setup``). Errors are the API's own (``syncserver.errors``), so the JSON API, the
dashboard and the CLI show the same message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, exc

from syncserver.errors import ConflictError, MalformedError, NotFoundError
from syncserver.settings import utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.database import Database, run_write
from syncserver.storage.stores import (
    StoreRecord,
    add_store,
    get_store,
    page_of_stores,
    update_store,
)

__all__ = [
    "STORE_ID",
    "StoreChanges",
    "StoreFields",
    "change_store",
    "check_store_id",
    "create_store",
    "find_store",
    "store_page",
]

STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
MAX_ADDRESS_LINES = 6
"""A receipt header has room for a few lines, not a letter."""


@dataclass(frozen=True, slots=True)
class StoreFields:
    """A new store as given (unchecked)."""

    store_id: str
    name: str
    address: Sequence[str] = ()
    timezone: str = "UTC"
    country: str | None = None
    tax_id: str | None = None


@dataclass(frozen=True, slots=True)
class StoreChanges:
    """What to change in a store; None leaves a field as it is (an empty text clears the
    country or the tax id; an empty address list clears the address)."""

    name: str | None = None
    address: Sequence[str] | None = None
    timezone: str | None = None
    country: str | None = None
    tax_id: str | None = None


def check_store_id(store_id: str) -> str:
    store = store_id.strip()
    if not STORE_ID.match(store):
        raise MalformedError(
            "store: 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(e.g. S001) — the same store id as in the till's configuration"
        )
    return store


def _name(name: str) -> str:
    label = " ".join(name.split())
    if not label:
        raise MalformedError("name: give the store the name customers see (e.g. Harbour Grocers)")
    if len(label) > 200:
        raise MalformedError("name: 200 characters at most")
    return label


def _address(lines: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(" ".join(line.split()) for line in lines)
    cleaned = tuple(line for line in cleaned if line)
    if len(cleaned) > MAX_ADDRESS_LINES:
        raise MalformedError(f"address: {MAX_ADDRESS_LINES} lines at most (one --address each)")
    for line in cleaned:
        if len(line) > 100:
            raise MalformedError(f"address: a line is 100 characters at most ({line[:20]}…)")
    return cleaned


def _timezone(value: str) -> str:
    zone = value.strip()
    try:
        ZoneInfo(zone)
        # A store is somewhere: an Area/Location name (or UTC). Aliases such as "localtime",
        # "Factory" or "Etc/GMT+5" open too, but mean the server's zone, nothing or a fixed
        # offset with the sign inverted — none of them a place with its summer time.
        if zone != "UTC" and ("/" not in zone or zone.startswith(("Etc/", "posix/", "right/"))):
            raise ValueError(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise MalformedError(
            f"timezone: unknown time zone {zone!r}: use an IANA name such as Europe/Berlin, "
            "America/New_York or UTC"
        ) from None
    return zone


def _country(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    country = value.strip()
    if not _COUNTRY.match(country):
        raise MalformedError(
            f"country: {country!r} is not an ISO 3166 code: two capital letters, e.g. DE, GB, US"
        )
    return country


def _tax_id(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    tax_id = " ".join(value.split())
    if len(tax_id) > 64:
        raise MalformedError("tax id: 64 characters at most")
    return tax_id


def find_store(conn: Connection, store_id: str) -> StoreRecord:
    record = get_store(conn, store_id)
    if record is None:
        raise NotFoundError(f"no store {store_id}: add it with syncserver store add {store_id}")
    return record


def store_page(conn: Connection, *, after: str | None = None, limit: int = 50) -> list[StoreRecord]:
    return page_of_stores(conn, after=after, limit=limit)


def create_store(database: Database, actor: Actor, fields: StoreFields) -> StoreRecord:
    """Add a store; 409 when the id is taken."""
    store_id = check_store_id(fields.store_id)
    name, address = _name(fields.name), _address(fields.address)
    timezone, country = _timezone(fields.timezone), _country(fields.country)
    tax_id = _tax_id(fields.tax_id)

    def work(conn: Connection) -> StoreRecord:
        now = utc_now()
        if get_store(conn, store_id) is not None:
            raise ConflictError(
                f"store {store_id} already exists: change it with syncserver store update "
                f"{store_id}"
            )
        record_action(
            conn,
            actor,
            "store.add",
            now,
            target_kind="store",
            target_id=store_id,
            detail={
                "name": name,
                "address": list(address),
                "timezone": timezone,
                "country": country,
                "tax_id": tax_id,
            },
        )
        add_store(
            conn,
            store_id=store_id,
            name=name,
            address=address,
            timezone=timezone,
            country=country,
            tax_id=tax_id,
            now=now,
        )
        created = get_store(conn, store_id)
        assert created is not None
        return created

    try:
        return run_write(database, work)
    except exc.IntegrityError:
        # Two adds of the same id at once: the loser finds it taken.
        raise ConflictError(f"store {store_id} already exists") from None


def change_store(
    database: Database, actor: Actor, store_id: str, changes: StoreChanges
) -> StoreRecord:
    """Change a store's fields; 404 when there is no such store. Tills get the new name and
    address the next time they are set up (``till setup``)."""
    values: dict[str, object] = {}
    if changes.name is not None:
        values["name"] = _name(changes.name)
    if changes.address is not None:
        values["address"] = _address(changes.address)
    if changes.timezone is not None:
        values["timezone"] = _timezone(changes.timezone)
    if changes.country is not None:
        values["country"] = _country(changes.country)
    if changes.tax_id is not None:
        values["tax_id"] = _tax_id(changes.tax_id)
    if not values:
        raise MalformedError(
            "nothing to change: give at least one of name, address, timezone, country, tax id"
        )

    def work(conn: Connection) -> StoreRecord:
        now = utc_now()
        before = find_store(conn, store_id)
        record_action(
            conn,
            actor,
            "store.update",
            now,
            target_kind="store",
            target_id=store_id,
            detail={
                key: list(value) if isinstance(value, tuple) else value
                for key, value in values.items()
            }
            | {"before": {key: _plain(getattr(before, key)) for key in values}},
        )
        update_store(conn, store_id, values, now)
        after = get_store(conn, store_id)
        assert after is not None
        return after

    return run_write(database, work)


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value
