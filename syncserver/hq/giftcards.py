"""HQ's gift-card actions (docs/giftcards.md): block a lost card, move its balance to a new
card. Each is one HQ event in one transaction with its audit row; the web pages, the API and
``syncserver giftcards`` call these. Errors are the API's own (``syncserver.errors``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from shared.codes import luhn_valid
from shared.journal import format_utc
from syncserver.errors import ConflictError, MalformedError, NotFoundError
from syncserver.hq._events import Planned, run_event
from syncserver.ledger.accounts import giftcard_account
from syncserver.ledger.context import LedgerContext
from syncserver.ledger.hq_events import GiftCardBlock, GiftCardMove
from syncserver.storage.audit import Actor
from syncserver.storage.database import Database
from syncserver.storage.stored_values import stored_value_row

__all__ = ["block_gift_card", "move_gift_card", "parse_card_number"]


def parse_card_number(text: str) -> str:
    """A gift card number as typed (spaces allowed), checked: digits with a Luhn check digit."""
    number = "".join(text.split())
    if not (number.isascii() and number.isdigit() and 12 <= len(number) <= 19):
        raise MalformedError(f"{text!r} is not a gift card number (12 to 19 digits)")
    if not luhn_valid(number):
        raise MalformedError(f"{number} is not a gift card number: check digit wrong, retype it")
    return number


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not 3 <= len(text) <= 200:
        raise MalformedError("a reason is required (3 to 200 characters): say why")
    return text


def block_gift_card(database: Database, card_number: str, reason: str, actor: Actor) -> None:
    """Block a card (lost, stolen): tills refuse it after their next pull; a payment with
    it that reaches HQ later raises ``giftcard_blocked``."""
    number, why = parse_card_number(card_number), _reason(reason)

    def build(conn: Connection, ctx: LedgerContext, now: datetime) -> Planned[None]:
        row = stored_value_row(conn, giftcard_account(number))
        if row is None:
            raise NotFoundError(f"HQ has no gift card {number}")
        if row.blocked:
            raise ConflictError(f"gift card {number} is already blocked ({row.blocked_reason})")
        event = GiftCardBlock(occurred_at=format_utc(now), card_number=number, reason=why)
        return event, {"card_number": number, "reason": why}, None

    run_event(database, actor, build, ("giftcard.block", "giftcard", number))


def move_gift_card(
    database: Database, old_number: str, new_number: str, reason: str, actor: Actor
) -> None:
    """Move a card's whole balance to a new card (from HQ's stock) and block the old one."""
    old, new, why = parse_card_number(old_number), parse_card_number(new_number), _reason(reason)
    if old == new:
        raise MalformedError("the new card must be a different card")

    def build(conn: Connection, ctx: LedgerContext, now: datetime) -> Planned[None]:
        for account in sorted((giftcard_account(old), giftcard_account(new))):
            ctx.stored_value(account)  # lock both, in a fixed order
        row = ctx.stored_value(giftcard_account(old))
        if row is None:
            raise NotFoundError(f"HQ has no gift card {old}")
        if row.moved_to is not None:
            raise ConflictError(f"gift card {old} was already moved to {row.moved_to}")
        if ctx.stored_value(giftcard_account(new)) is not None:
            raise ConflictError(f"gift card {new} is in use already: take another card")
        event = GiftCardMove(
            occurred_at=format_utc(now),
            old_number=old,
            new_number=new,
            amount_minor=row.balance_minor,
            currency=row.currency,
            reason=why,
        )
        detail = {"old": old, "new": new, "amount_minor": row.balance_minor, "reason": why}
        return event, detail, None

    run_event(database, actor, build, ("giftcard.move", "giftcard", old))
