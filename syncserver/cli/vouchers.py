"""``syncserver vouchers …``: issue single-use vouchers in bulk, void one (docs/vouchers.md).

``issue`` prints one code per line on stdout (progress on stderr), so its output can be piped
into a mail merge or a print job. Every action is an HQ event with an audit row (actor
``cli``).
"""

from __future__ import annotations

from datetime import date

import click

from syncserver.cli import _database, db_option
from syncserver.cli.money import parse_amount, program_currency
from syncserver.hq.setup import CLI
from syncserver.hq.vouchers import MAX_ISSUE, issue_vouchers, void_voucher

__all__ = ["vouchers"]

MAX_COUNT = 1_000_000
"""Vouchers one command issues at most (in HQ events of ``MAX_ISSUE`` each)."""


@click.group("vouchers")
def vouchers() -> None:
    """Single-use vouchers: issue in bulk, void (docs/vouchers.md)."""


@vouchers.command("issue")
@db_option
@click.option(
    "--value", "value", default=None, help='Amount off, e.g. "5.00" (a cap with --percent).'
)
@click.option("--count", type=click.IntRange(1, MAX_COUNT), required=True, help="How many codes.")
@click.option("--percent", default=None, help='Percentage off instead, e.g. "10" or "12.5".')
@click.option("--min-spend", "min_spend", default="0", help='Minimum basket, e.g. "20.00".')
@click.option("--expires", default=None, metavar="YYYY-MM-DD", help="The last day it can be used.")
@click.option("--member", default=None, help="Only this member (id) may use them.")
def vouchers_issue(
    db_url: str | None,
    value: str | None,
    count: int,
    percent: str | None,
    min_spend: str,
    expires: str | None,
    member: str | None,
) -> None:
    """Issue COUNT vouchers; prints one code per line."""
    expires_on = None
    if expires is not None:
        try:
            expires_on = date.fromisoformat(expires)
        except ValueError:
            raise click.ClickException(
                f"--expires {expires!r} is not a date; write it as YYYY-MM-DD"
            ) from None
    percent_bp = _percent(percent) if percent is not None else None
    if value is None and percent_bp is None:
        raise click.ClickException("give --value (e.g. --value 5.00) or --percent (e.g. 10)")
    with _database(db_url) as database:
        currency = program_currency(database)
        value_minor = parse_amount("--value", value, currency) if value is not None else 0
        min_spend_minor = parse_amount("--min-spend", min_spend, currency)
        done = 0
        while done < count:
            batch = min(MAX_ISSUE, count - done)
            codes = issue_vouchers(
                database,
                count=batch,
                value_minor=value_minor,
                percent_bp=percent_bp,
                min_spend_minor=min_spend_minor,
                expires_on=expires_on,
                member_id=member,
                actor=CLI,
            )
            click.echo("\n".join(codes))
            done += batch
            if count > MAX_ISSUE:
                click.echo(f"  {done:,} of {count:,} vouchers issued", err=True)


def _percent(text: str) -> int:
    """ "12.5" -> 1250 basis points, exactly."""
    whole, _, part = text.strip().partition(".")
    if not whole.isdigit() or (part and not part.isdigit()) or len(part) > 2:
        raise click.ClickException(f"--percent {text!r}: write a percentage like 10 or 12.5")
    bp = int(whole) * 100 + int((part or "0").ljust(2, "0"))
    if not 1 <= bp <= 10_000:
        raise click.ClickException(f"--percent {text!r}: between 0.01 and 100")
    return bp


@vouchers.command("void")
@db_option
@click.argument("code")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
def vouchers_void(db_url: str | None, code: str, reason: str) -> None:
    """Void an unused voucher: tills refuse it after their next pull."""
    with _database(db_url) as database:
        void_voucher(database, code, reason, CLI)
    click.echo(f"voided {code.upper()}")


@vouchers.command("expire")
@db_option
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="Default: today.")
def vouchers_expire(db_url: str | None, as_of: str | None) -> None:
    """Expire unused vouchers whose last day is before --as-of (idempotent).

    Their value goes to program:voucher_breakage. `syncserver serve` runs this daily."""
    from syncserver.cli import _as_of, _settings
    from syncserver.ledger.periodic import run_voucher_expiry

    day = _as_of(as_of, _settings(db_url))
    with _database(db_url) as database:
        result = run_voucher_expiry(database, day, CLI)
    click.echo(result.summary())
