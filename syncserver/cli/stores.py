"""``syncserver store …``: the shops the tills belong to — name and address (printed on
receipts), time zone (HQ shows times in it) and country (phone numbers without a +).

A store is added before its tills (``syncserver terminal add --store S001``); ``till setup``
gives each till its store's details. Every change writes an audit row (actor ``cli``).
"""

from __future__ import annotations

from typing import Any

import click

from syncserver.cli import _database, _echo_json, db_option
from syncserver.hq.setup import CLI
from syncserver.hq.stores import StoreChanges, StoreFields, change_store, create_store, store_page
from syncserver.settings import as_utc
from syncserver.storage.stores import StoreRecord

__all__ = ["stores"]

_PAGE = 500


def store_json(record: StoreRecord) -> dict[str, Any]:
    return {
        "store_id": record.store_id,
        "name": record.name,
        "address": list(record.address),
        "timezone": record.timezone,
        "country": record.country,
        "tax_id": record.tax_id,
        "created_at": as_utc(record.created_at).isoformat(),
        "updated_at": as_utc(record.updated_at).isoformat(),
    }


@click.group("store")
def stores() -> None:
    """Stores: name, address, time zone and country (add one before its tills)."""


@stores.command("add")
@db_option
@click.argument("store_id")
@click.option("--name", required=True, help='What customers see, e.g. "Harbour Grocers".')
@click.option(
    "--address",
    "address",
    multiple=True,
    help="A receipt header line; repeat for each line, top to bottom.",
)
@click.option(
    "--timezone",
    required=True,
    help="IANA time zone, e.g. Europe/Berlin: HQ shows the store's times in it.",
)
@click.option("--country", default=None, help="ISO 3166 code, e.g. DE: phone numbers without +.")
@click.option("--tax-id", "tax_id", default=None, help="Printed on receipts where required.")
def store_add(
    db_url: str | None,
    store_id: str,
    name: str,
    address: tuple[str, ...],
    timezone: str,
    country: str | None,
    tax_id: str | None,
) -> None:
    """Add a store; prints it as JSON."""
    fields = StoreFields(store_id, name, address, timezone, country, tax_id)
    with _database(db_url) as database:
        created = create_store(database, CLI, fields)
    _echo_json(store_json(created))


@stores.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def store_list(db_url: str | None, as_json: bool) -> None:
    """Every store, by id."""
    records: list[StoreRecord] = []
    with _database(db_url) as database, database.read() as conn:
        after = None
        while True:
            page = store_page(conn, after=after, limit=_PAGE)
            records.extend(page)
            if len(page) < _PAGE:
                break
            after = page[-1].store_id
    if as_json:
        _echo_json([store_json(r) for r in records])
        return
    click.echo(f"{'STORE':<10} {'COUNTRY':<7} {'TIME ZONE':<20} NAME / ADDRESS")
    for r in records:
        where = ", ".join(r.address)
        click.echo(
            f"{r.store_id:<10} {r.country or '-':<7} {r.timezone:<20} {r.name}"
            + (f" — {where}" if where else "")
        )


@stores.command("update")
@db_option
@click.argument("store_id")
@click.option("--name", default=None)
@click.option(
    "--address",
    "address",
    multiple=True,
    help="Replaces every address line; repeat for each line.",
)
@click.option("--timezone", default=None)
@click.option("--country", default=None, help='ISO 3166 code; "" clears it.')
@click.option("--tax-id", "tax_id", default=None, help='"" clears it.')
def store_update(
    db_url: str | None,
    store_id: str,
    name: str | None,
    address: tuple[str, ...],
    timezone: str | None,
    country: str | None,
    tax_id: str | None,
) -> None:
    """Change a store: only the options given. Tills print the new name and address once
    set up again (syncserver terminal code T…, then till setup)."""
    changes = StoreChanges(
        name=name,
        address=address or None,
        timezone=timezone,
        country=country,
        tax_id=tax_id,
    )
    with _database(db_url) as database:
        changed = change_store(database, CLI, store_id, changes)
    _echo_json(store_json(changed))
