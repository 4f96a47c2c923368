"""``syncserver cashier …``: the staff who sign in at the tills, per store.

A PIN given with ``--pin`` or typed at the hidden prompt is hashed at once; HQ keeps only the
salted hash, and nothing this group prints holds the PIN, its salt or its hash. The store's
tills receive each change on their next sync. Every change writes an audit row (actor
``cli``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from shared.pins import PIN_RULE, valid_pin
from syncserver.cli import _database, _echo_json, db_option
from syncserver.hq.cashiers import (
    ROLES,
    add_cashier,
    disable_cashier,
    enable_cashier,
    list_cashiers,
    reset_pin,
)
from syncserver.hq.setup import CLI
from syncserver.settings import as_utc
from syncserver.storage.cashiers import CashierRecord

__all__ = ["cashier"]

_PAGE = 500


def cashier_json(record: CashierRecord) -> dict[str, Any]:
    return {
        "cashier_id": record.cashier_id,
        "store_id": record.store_id,
        "name": record.name,
        "role": record.role,
        "active": not record.disabled,
        "created_at": as_utc(record.created_at).isoformat(),
        "updated_at": as_utc(record.updated_at).isoformat(),
        "disabled_at": _iso(record.disabled_at),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat()


def _pin(value: str | None) -> str:
    """``--pin``, or asked twice at a hidden prompt (so it is not left in the shell history)."""
    if value is None:
        # On stderr, like every message here: stdout stays the JSON a script reads.
        value = click.prompt(
            "New PIN (4 to 8 digits)",
            hide_input=True,
            confirmation_prompt="Repeat the PIN",
            err=True,
        )
    if not valid_pin(value):
        raise click.BadParameter(PIN_RULE + " (e.g. 4711)", param_hint="'--pin'")
    return value


# Built, not decorated: the annotation lets mypy type it across the import cycle with
# syncserver.cli, which adds this group to ``main`` after defining the helpers used here.
cashier: click.Group = click.Group(
    "cashier",
    help="Till staff per store: cashiers and supervisors, their PINs (hashed) and disabling.",
)


@cashier.command("add")
@db_option
@click.option("--store", "store_id", required=True, help="The store, e.g. S001.")
@click.option("--id", "cashier_id", required=True, help="What they type to sign in, e.g. 7.")
@click.option("--name", required=True, help="Their name as staff know it.")
@click.option("--pin", default=None, help="4 to 8 digits; asked (hidden) when left out.")
@click.option("--role", type=click.Choice(ROLES), default="cashier", show_default=True)
def cashier_add(
    db_url: str | None, store_id: str, cashier_id: str, name: str, pin: str | None, role: str
) -> None:
    """Add a cashier to a store; its tills receive them on their next sync."""
    secret = _pin(pin)
    with _database(db_url) as database:
        added = add_cashier(
            database,
            CLI,
            store_id=store_id,
            cashier_id=cashier_id,
            name=name,
            pin=secret,
            role=role,
        )
    click.echo(
        f"cashier {added.cashier_id} ({added.name}, {added.role}) added to store "
        f"{added.store_id}: its tills pick them up on their next sync",
        err=True,
    )
    _echo_json(cashier_json(added))


@cashier.command("list")
@db_option
@click.option("--store", "store_id", default=None, help="Only this store's cashiers.")
def cashier_list(db_url: str | None, store_id: str | None) -> None:
    """Cashiers as JSON, by store and id (no PIN material)."""
    records: list[CashierRecord] = []
    with _database(db_url) as database, database.read() as conn:
        after: tuple[str, str] | None = None
        while True:
            page = list_cashiers(conn, store_id=store_id, after=after, limit=_PAGE)
            records.extend(page)
            if len(page) < _PAGE:
                break
            after = (page[-1].store_id, page[-1].cashier_id)
    _echo_json([cashier_json(r) for r in records])


@cashier.command("disable")
@db_option
@click.argument("cashier_id")
def cashier_disable(db_url: str | None, cashier_id: str) -> None:
    """Stop a cashier signing in; a till where they are signed in signs them out on its next
    sync."""
    with _database(db_url) as database:
        record = disable_cashier(database, CLI, cashier_id)
    click.echo(
        f"cashier {record.cashier_id} ({record.name}) disabled: store {record.store_id}'s tills "
        "refuse them from their next sync"
    )


@cashier.command("enable")
@db_option
@click.argument("cashier_id")
def cashier_enable(db_url: str | None, cashier_id: str) -> None:
    """Let a disabled cashier sign in again (with the PIN they had)."""
    with _database(db_url) as database:
        record = enable_cashier(database, CLI, cashier_id)
    click.echo(
        f"cashier {record.cashier_id} ({record.name}) enabled: they can sign in at store "
        f"{record.store_id}'s tills after their next sync"
    )


@cashier.command("pin")
@db_option
@click.option("--pin", default=None, help="The new PIN; asked (hidden, twice) when left out.")
@click.argument("cashier_id")
def cashier_pin(db_url: str | None, pin: str | None, cashier_id: str) -> None:
    """Give a cashier a new PIN; the old one stops working at each till on its next sync."""
    secret = _pin(pin)
    with _database(db_url) as database:
        record = reset_pin(database, CLI, cashier_id, secret)
    click.echo(
        f"cashier {record.cashier_id} ({record.name}) has a new PIN: store {record.store_id}'s "
        "tills take it on their next sync"
    )
