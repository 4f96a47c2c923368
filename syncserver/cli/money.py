"""Amounts typed on the command line ("5.00") in the program's currency."""

from __future__ import annotations

import click

from shared.money import Money
from syncserver.storage.database import Database
from syncserver.storage.rules import latest_version, parse_rules

__all__ = ["parse_amount", "program_currency"]


def program_currency(database: Database) -> str:
    with database.read() as conn:
        found = latest_version(conn)
    if found is None or found.document is None:
        raise click.ClickException(
            "no program rules are published: load them first (syncserver program load FILE)"
        )
    return parse_rules(found.document).currency


def parse_amount(option: str, text: str, currency: str) -> int:
    """Minor units of ``text`` ("5.00"), or a one-line error naming the option."""
    try:
        minor = Money.parse(text, currency).minor
    except ValueError as error:
        raise click.ClickException(f"{option} {text!r}: {error}") from None
    if minor < 0:
        raise click.ClickException(f"{option} {text!r}: an amount cannot be negative")
    return minor
