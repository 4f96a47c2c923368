"""``syncserver giftcards …``: show a gift card, block a lost one, move its balance to a new
card (docs/giftcards.md). Every change is an HQ event with an audit row (actor ``cli``)."""

from __future__ import annotations

import click

from syncserver.cli import _database, db_option
from syncserver.errors import NotFoundError
from syncserver.hq.giftcards import block_gift_card, move_gift_card, parse_card_number
from syncserver.hq.setup import CLI
from syncserver.ledger.accounts import giftcard_account
from syncserver.ledger.stored_value import money_text
from syncserver.storage.stored_values import stored_value_row

__all__ = ["giftcards"]


@click.group("giftcards")
def giftcards() -> None:
    """Gift cards and credit slips: show, block, move (docs/giftcards.md)."""


@giftcards.command("show")
@db_option
@click.argument("number")
def giftcards_show(db_url: str | None, number: str) -> None:
    """A card's balance and status."""
    with _database(db_url) as database:
        card = parse_card_number(number)
        with database.read() as conn:
            row = stored_value_row(conn, giftcard_account(card))
        if row is None:
            raise NotFoundError(f"HQ has no gift card {card}: check the number")
    click.echo(f"card        {card}")
    click.echo(f"balance     {money_text(row.balance_minor, row.currency)}")
    status = row.status + (f" ({row.blocked_reason})" if row.blocked_reason else "")
    click.echo(f"status      {status}")
    if row.moved_to:
        click.echo(f"moved to    {row.moved_to}")
    click.echo(f"activated   {row.activated_at or '—'}")
    click.echo(f"last used   {row.last_used_at or '—'}")


@giftcards.command("block")
@db_option
@click.argument("number")
@click.option("--reason", required=True, help='Why, e.g. "reported lost".')
def giftcards_block(db_url: str | None, number: str, reason: str) -> None:
    """Block a card: tills refuse it after their next pull."""
    with _database(db_url) as database:
        block_gift_card(database, number, reason, CLI)
    click.echo(f"blocked gift card {number}")


@giftcards.command("move")
@db_option
@click.argument("old")
@click.argument("new")
@click.option("--reason", required=True, help='Why, e.g. "card lost".')
def giftcards_move(db_url: str | None, old: str, new: str, reason: str) -> None:
    """Move OLD's whole balance to the new card NEW and block OLD."""
    with _database(db_url) as database:
        move_gift_card(database, old, new, reason, CLI)
    click.echo(f"moved the balance of {old} to {new}; {old} is blocked")
