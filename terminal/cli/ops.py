"""Scriptable till operations: the same journal entries the TUI writes, for integrations
and tests. Each prints one JSON object; a refusal prints the reason and exits 1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from shared.journal import Enrolment, Sale, TenderMethod
from shared.money import Money
from terminal.cli.context import config_option, emit_json, fail, load, open_till, print_queue_for
from terminal.store.contact import hq_online
from terminal.store.settings import get_setting
from terminal.till.errors import TillError
from terminal.till.service import Till

cashier_options = [
    click.option("--cashier", envvar="LOYALTILL_CASHIER", required=True, help="Cashier number."),
    click.option("--pin", envvar="LOYALTILL_PIN", required=True, help="Cashier PIN."),
]


F = TypeVar("F", bound=Callable[..., Any])


def _with_cashier(f: F) -> F:
    for option in reversed(cashier_options):
        f = option(f)
    return f


def parse_tender(spec: str, currency: str) -> tuple[TenderMethod, int | None, str | None]:
    """``--tender`` as (method, amount or None for what is due, gift card number or None):
    ``cash:20.00``, ``card:5.00``, ``store_credit:3.00``, ``gift:CARD:10.00``."""
    method, _, rest = spec.partition(":")
    card_number = None
    if method in ("gift", "gift_card"):
        card_number, _, rest = rest.partition(":")
        if not card_number:
            fail(f"--tender {spec!r}: expected gift:CARD:AMOUNT, e.g. gift:6039…:10.00")
        method = TenderMethod.GIFT_CARD.value
    try:
        tender_method = TenderMethod(method)
    except ValueError:
        offered = [m.value for m in TenderMethod if m is not TenderMethod.VOUCHER]
        fail(f"--tender {spec!r}: method must be one of {offered} (or gift:CARD:AMOUNT)")
    try:
        amount = Money.parse(rest, currency).minor if rest else None
    except ValueError as error:
        fail(f"--tender {spec!r}: {error}")
    return tender_method, amount, card_number


def connect_live_lookups(till: Till) -> None:
    """Let a scripted command ask HQ about a gift card or a voucher beyond the offline caps
    (when the till is set up to sync); without a server it stays within them."""
    config = till.config
    if config.server_url and config.server_token:
        from terminal.sync.client import SyncClient

        client = SyncClient(config.server_url, config.server_token)
        till.hq_gift_card = client.gift_card
        till.hq_voucher = client.voucher


def _sign_in(till: Till, cashier: str, pin: str) -> None:
    try:
        till.sign_in(cashier, pin)
    except TillError as error:
        fail(str(error))


@click.command()
@config_option
@_with_cashier
@click.option("--card", help="Member card number (attaches the member).")
@click.option("--line", "lines", multiple=True, required=True, help="SKU:QTY or SKU:QTY:PRICE.")
@click.option(
    "--tender",
    "tenders",
    multiple=True,
    required=True,
    help="METHOD:AMOUNT, e.g. cash:20.00; gift:CARD:AMOUNT pays from a gift card or credit "
    "slip; store_credit:AMOUNT from the member's store credit (AMOUNT empty: what is due).",
)
@click.option(
    "--voucher",
    "vouchers",
    multiple=True,
    metavar="CODE",
    help="A voucher code to take off the sale (repeatable), after any points redeemed.",
)
@click.option(
    "--reward",
    "rewards",
    multiple=True,
    metavar="ID",
    help="A reward from the program's catalog the member buys with points (repeatable), "
    "after the points and any vouchers: taken off the sale, or a voucher on the receipt.",
)
@click.option(
    "--redeem",
    metavar="POINTS",
    help="Points to redeem, as at the till's redeem prompt: a number, 0 = none, "
    "'' (empty) or max = as many as allowed.",
)
def sale(
    config_path: Path | None,
    cashier: str,
    pin: str,
    card: str | None,
    lines: tuple[str, ...],
    tenders: tuple[str, ...],
    redeem: str | None,
    vouchers: tuple[str, ...],
    rewards: tuple[str, ...],
) -> None:
    """Ring up and complete a sale; the receipt is queued (and printed if a printer is set).

    Vouchers, gift cards and store credit are checked as at the till's screen: offline
    against what the till knows, asking HQ live beyond the offline caps when the till syncs
    (docs/till-stored-value.md)."""
    config = load(config_path)
    till, _ = open_till(config)
    connect_live_lookups(till)
    _sign_in(till, cashier, pin)
    basket = till.new_basket()
    try:
        for spec in lines:
            parts = spec.split(":")
            if len(parts) not in (2, 3) or not parts[1].isdigit():
                fail(f"--line {spec!r}: expected SKU:QTY or SKU:QTY:PRICE")
            price = Money.parse(parts[2], config.currency).minor if len(parts) == 3 else None
            till.add_product(basket, parts[0], int(parts[1]), price)
        if card:
            till.attach_member(basket, card)
        if redeem is not None:
            till.redeem_typed(basket, redeem)
        for code in vouchers:
            till.add_voucher(basket, code)
        for reward_id in rewards:
            till.buy_reward(basket, reward_id)
        for spec in tenders:
            tender_method, amount, card_number = parse_tender(spec, config.currency)
            till.add_tender(basket, tender_method, amount, card_number=card_number)
        done = till.complete_sale(basket)
    except TillError as error:
        fail(str(error))
    except ValueError as error:
        fail(str(error))
    payload = done.entry.payload
    assert isinstance(payload, Sale)
    printed = print_queue_for(till).print_job(done.print_job_id)
    emit_json(
        {
            "seq": done.entry.seq,
            "receipt_no": payload.receipt_no,
            "total_minor": payload.total_minor,
            "change_minor": done.change_minor,
            "points_earned": payload.points_earned,
            "points_redeemed": payload.points_redeemed,
            "vouchers": [
                {"code": v.code, "discount_minor": v.discount_minor} for v in payload.vouchers
            ],
            "rewards": [
                {
                    "reward_id": r.reward_id,
                    "points": r.points,
                    "discount_minor": r.discount_minor,
                    "voucher_code": r.voucher_code,
                }
                for r in payload.rewards
            ],
            "campaign_vouchers": [
                {"campaign_id": c.campaign_id, "voucher_code": c.voucher_code}
                for c in payload.campaign_vouchers
            ],
            "balance": done.balance_after,
            "printed": printed.ok,
            "print_message": printed.message,
        }
    )


@click.command()
@config_option
@_with_cashier
@click.option("--name", required=True)
@click.option("--phone", help="With + and country code, or as dialled in the till's country.")
@click.option("--email")
@click.option("--consent/--no-consent", default=False, help="Marketing consent given.")
@click.option("--card", required=True, help="The blank card to assign.")
def enrol(
    config_path: Path | None,
    cashier: str,
    pin: str,
    name: str,
    phone: str | None,
    email: str | None,
    consent: bool,
    card: str,
) -> None:
    """Enrol a member (works offline) and assign their card. The phone and email are checked
    and printed as stored (E.164 phone, email domain in lower case)."""
    config = load(config_path)
    till, _ = open_till(config)
    _sign_in(till, cashier, pin)
    try:
        entry, view = till.enrol(
            name=name, phone=phone, email=email, marketing_consent=consent, card_number=card
        )
    except TillError as error:
        fail(str(error))
    stored = entry.payload
    assert isinstance(stored, Enrolment)
    emit_json(
        {
            "seq": entry.seq,
            "member_key": view.member_key,
            "card": view.card_number,
            "phone": stored.phone,
            "email": stored.email,
        }
    )


@click.command()
@config_option
@click.argument("card")
def balance(config_path: Path | None, card: str) -> None:
    """A member's balance as this till sees it (server balance + unsent entries), with their
    tier by name, its perks, progress to the next tier and the next points to expire."""
    config = load(config_path)
    till, _ = open_till(config)
    try:
        view = till.member_view(card)
    except TillError as error:
        fail(str(error))
    standing = view.standing
    said: dict[str, Any] = {}
    if standing is not None:
        said = {
            "tier_name": standing.name,
            "perks": list(standing.perks),
            "progress": standing.progress or None,
            "grace": standing.grace_text or None,
            "expiring": standing.expiring_text or None,
        }
    emit_json({"card": card, "name": view.name, "tier": view.tier, "balance": view.balance, **said})


@click.command()
@config_option
def status(config_path: Path | None) -> None:
    """The till's state as JSON: journal tip, unsent entries, print queue, rules version.

    ``online`` is true only when a sync with HQ succeeded within the last minute. A till that
    was never set up is reported as such (exit 1); no database is created."""
    config = load(config_path)
    if not config.database_path.exists():
        where = f" --config {config_path}" if config_path else ""
        if config.server_url and config.server_token:
            step = f"run `till sync{where} --once` for its first download"
        else:
            step = "set it up with `till setup --server URL --code CODE`, then `till sync --once`"
        fail(f"no till database at {config.database_path} yet: {step}")
    till, database = open_till(config)
    state = till.status()
    with database.read() as db:
        state["online"] = hq_online(db, datetime.now(UTC))
        state["last_contact"] = get_setting(db, "last_contact_at")
    emit_json(state)
