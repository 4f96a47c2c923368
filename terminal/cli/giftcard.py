"""``till giftcard``: sell, top up and look up gift cards (docs/till-stored-value.md).

Each prints one JSON object; a refusal prints the reason and exits 1, having journaled
nothing."""

from __future__ import annotations

from pathlib import Path

import click

from shared.journal import GiftCardLoad, TenderMethod
from shared.money import Money
from terminal.cli.context import config_option, emit_json, fail, load, open_till, print_queue_for
from terminal.cli.ops import _sign_in, _with_cashier, connect_live_lookups, parse_tender
from terminal.till.errors import TillError
from terminal.till.results import SaleDone
from terminal.till.service import Till

__all__ = ["giftcard"]


@click.group()
def giftcard() -> None:
    """Gift cards: sell (activate), top up, check a balance."""


_card_option = click.option("--card", required=True, help="The gift card's number.")
_amount_option = click.option("--amount", required=True, help="The amount to load, e.g. 25.00.")
_tender_option = click.option(
    "--tender",
    "tenders",
    multiple=True,
    required=True,
    help="METHOD:AMOUNT paid for it: cash or card (AMOUNT empty: the rest); cash gives change.",
)


def _load(
    config_path: Path | None,
    cashier: str,
    pin: str,
    card: str,
    amount: str,
    tenders: tuple[str, ...],
    *,
    activation: bool,
) -> None:
    config = load(config_path)
    till, _ = open_till(config)
    connect_live_lookups(till)
    _sign_in(till, cashier, pin)
    try:
        minor = Money.parse(amount, config.currency).minor
    except ValueError as error:
        fail(f"--amount {amount!r}: {error}")
    taken: list[tuple[TenderMethod, int | None]] = []
    for spec in tenders:
        method, value, _ = parse_tender(spec, config.currency)
        taken.append((method, value))
    try:
        load_card = till.sell_gift_card if activation else till.top_up_gift_card
        done = load_card(card, minor, taken)
    except TillError as error:
        fail(str(error))
    _emit(till, done)


def _emit(till: Till, done: SaleDone) -> None:
    payload = done.entry.payload
    assert isinstance(payload, GiftCardLoad)
    view = till.gift_card_balance(payload.card_number)
    printed = print_queue_for(till).print_job(done.print_job_id)
    emit_json(
        {
            "seq": done.entry.seq,
            "receipt_no": payload.receipt_no,
            "card": view.masked,
            "activation": payload.activation,
            "amount_minor": payload.amount_minor,
            "change_minor": done.change_minor,
            "balance_minor": view.balance_minor,
            "printed": printed.ok,
            "print_message": printed.message,
        }
    )


@giftcard.command()
@config_option
@_with_cashier
@_card_option
@_amount_option
@_tender_option
def sell(
    config_path: Path | None,
    cashier: str,
    pin: str,
    card: str,
    amount: str,
    tenders: tuple[str, ...],
) -> None:
    """Sell and activate a new gift card (works offline); the receipt is queued."""
    _load(config_path, cashier, pin, card, amount, tenders, activation=True)


@giftcard.command()
@config_option
@_with_cashier
@_card_option
@_amount_option
@_tender_option
def topup(
    config_path: Path | None,
    cashier: str,
    pin: str,
    card: str,
    amount: str,
    tenders: tuple[str, ...],
) -> None:
    """Add money to an active gift card this till knows."""
    _load(config_path, cashier, pin, card, amount, tenders, activation=False)


@giftcard.command()
@config_option
@click.argument("card")
def balance(config_path: Path | None, card: str) -> None:
    """A gift card's balance as this till sees it: HQ's balance at the last pull plus this
    till's entries HQ has not applied (like `till balance`), and its status."""
    config = load(config_path)
    till, _ = open_till(config)
    try:
        view = till.gift_card_balance(card)
    except TillError as error:
        fail(str(error))
    if view.status == "unknown":
        fail(f"gift card {view.masked} is not known to this till — sync with HQ, or sell it first")
    emit_json(
        {
            "card": view.masked,
            "status": view.status,
            "blocked_reason": view.blocked_reason,
            "balance_minor": view.balance_minor,
            "balance": Money(view.balance_minor, config.currency).format(),
            "hq_balance_minor": view.hq_balance_minor,
            "unsent_minor": view.unsent_minor,
        }
    )
