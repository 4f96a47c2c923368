"""What HQ staff change in the ledger: adjustments, card blocks and replacements, exception
resolutions. Each is one transaction: the HQ event (replayed by ``ledger rebuild``), its
postings, the audit log row, and for a resolution the exception's new status.

Errors are the API's own (``syncserver.errors``), so the JSON API and the dashboard show the
same message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from shared.codes import luhn_valid
from shared.journal import format_utc
from syncserver.errors import ConflictError, MalformedError, NotFoundError
from syncserver.hq.exceptions import overdraft_write_off, suspense_held
from syncserver.hq.money_exceptions import MoneyEffect, is_money_kind, money_effect
from syncserver.ledger.accounts import member_account
from syncserver.ledger.context import BalanceOutOfBoundsError, LedgerContext, LiveMemberIds
from syncserver.ledger.hq_events import (
    CardBlock,
    CardReplacement,
    ExceptionResolution,
    HqEventConflictError,
    PointsAdjustment,
    Resolution,
    apply_event,
    record_event,
)
from syncserver.ledger.rewards import is_money_mismatch
from syncserver.settings import utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.database import Database, run_write
from syncserver.storage.members import card_row, member_exists
from syncserver.storage.schema import exceptions
from syncserver.storage.terminals import lock_terminal

__all__ = [
    "ActionResult",
    "adjust_points",
    "block_card",
    "replace_card",
    "resolve_exception",
]

MAX_ADJUSTMENT = 10_000_000
"""A typo guard: no single manual adjustment moves more points than this."""


@dataclass(frozen=True, slots=True)
class ActionResult:
    hq_event_id: int
    member_id: str | None
    points: int
    """Points moved onto the member's (or suspense) account; 0 when none moved."""
    balance: int | None = None
    """The member's balance as this transaction left it (None without a member)."""
    money_minor: int = 0
    """A money exception's resolution: minor units of ``currency`` it moved (write off)."""
    currency: str | None = None
    gift_card: str | None = None
    """The gift card a money exception's resolution blocked."""


StaffEvent = PointsAdjustment | CardBlock | CardReplacement | ExceptionResolution
Planned = tuple[StaffEvent, dict[str, Any], tuple[str | None, int]]
"""What an action will do: the HQ event, the audit detail, and (member id, points moved)."""


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if len(text) < 3:
        raise MalformedError("a reason is required (at least 3 characters): say why")
    if len(text) > 500:
        raise MalformedError("the reason is too long (500 characters at most)")
    return text


def _apply(
    database: Database,
    actor: Actor,
    build: Callable[[Connection, datetime], Planned],
    audit: tuple[str, str, str | None],
    after: Callable[[Connection, int, datetime], None] | None = None,
) -> ActionResult:
    """Run ``build(conn, now) -> (event, detail, result)`` and apply the event, in one
    transaction with its audit row (target id: the member's when none is given);
    ``after(conn, event_id, now)`` finishes extra bookkeeping."""

    def work(conn: Connection) -> ActionResult:
        now = utc_now()
        event, detail, result = build(conn, now)
        ctx = LedgerContext(conn, now, member_ids=LiveMemberIds(), live=True)
        event_id = record_event(conn, event, actor.username, ctx)
        try:
            apply_event(ctx, event_id, event.kind, event.model_dump(mode="json"))
        except (HqEventConflictError, BalanceOutOfBoundsError) as error:
            raise ConflictError(str(error)) from None
        ctx.finish(hq_event_ids=[event_id])
        if after is not None:
            after(conn, event_id, now)
        member_id, points = result
        action, target_kind, target_id = audit
        record_action(
            conn,
            actor,
            action,
            now,
            target_kind=target_kind,
            target_id=target_id or member_id,
            detail={**detail, "hq_event_id": event_id},
        )
        balance = ctx.balance(member_id) if member_id else None
        return ActionResult(event_id, member_id, points, balance)

    return run_write(database, work)


def adjust_points(
    database: Database, actor: Actor, member_id: str, amount: int, reason: str
) -> ActionResult:
    """Move ``amount`` points onto (or, negative, off) the member, against program:adjusted."""
    why = _reason(reason)
    if amount == 0:
        raise MalformedError("an adjustment of 0 points changes nothing: enter the points to add")
    if abs(amount) > MAX_ADJUSTMENT:
        raise MalformedError(f"an adjustment is at most {MAX_ADJUSTMENT:,} points either way")

    def build(conn: Connection, now: datetime) -> Planned:
        if not member_exists(conn, member_id):
            raise NotFoundError(f"no member {member_id}")
        event = PointsAdjustment(
            occurred_at=format_utc(now), member_id=member_id, amount=amount, reason=why
        )
        return event, {"amount": amount, "reason": why}, (member_id, amount)

    return _apply(database, actor, build, ("member.adjust", "member", member_id))


def block_card(database: Database, actor: Actor, card_number: str, reason: str) -> ActionResult:
    why = _reason(reason)

    def build(conn: Connection, now: datetime) -> Planned:
        card = card_row(conn, card_number)
        if card is None:
            raise NotFoundError(f"no member has card {card_number}")
        if card.blocked:
            raise ConflictError(f"card {card_number} is already blocked ({card.blocked_reason})")
        event = CardBlock(occurred_at=format_utc(now), card_number=card_number, reason=why)
        detail = {"card_number": card_number, "member_id": card.member_id, "reason": why}
        return event, detail, (card.member_id, 0)

    return _apply(database, actor, build, ("card.block", "card", card_number))


def replace_card(
    database: Database, actor: Actor, old_card_number: str, new_card_number: str, reason: str
) -> ActionResult:
    """Block the old card and give its member the new one (a card from the stock HQ holds)."""
    why = _reason(reason)
    new = new_card_number.strip()
    if not (new.isdigit() and luhn_valid(new)):
        raise MalformedError(f"{new_card_number!r} is not a valid card number (check digit)")

    def build(conn: Connection, now: datetime) -> Planned:
        card = card_row(conn, old_card_number)
        if card is None:
            raise NotFoundError(f"no member has card {old_card_number}")
        owner = card_row(conn, new)
        if owner is not None:
            raise ConflictError(f"card {new} already belongs to member {owner.member_id}")
        event = CardReplacement(
            occurred_at=format_utc(now),
            member_id=card.member_id,
            old_card_number=old_card_number,
            new_card_number=new,
            reason=why,
        )
        detail = {"old_card": old_card_number, "new_card": new, "reason": why}
        return event, detail, (card.member_id, 0)

    return _apply(database, actor, build, ("card.replace", "member", None))


def resolve_exception(
    database: Database,
    actor: Actor,
    exception_id: int,
    resolution: Resolution,
    reason: str,
    *,
    amount: int | None = None,
    card_number: str | None = None,
) -> ActionResult:
    """Close an open exception with HQ's decision (docs/ledger.md, "Resolving exceptions"):

    - ``accept``: the till's postings stand; no points move.
    - ``write_off``: an offline overdraft is forgiven (the member is credited what is still
      owed of it, from program:written_off); points held on a suspense account for an unknown
      card are written off.
    - ``adjust``: ``amount`` points onto the exception's member, against program:adjusted.
    - ``block_card``: block ``card_number`` (one of the member's cards).

    A money exception (vouchers, gift cards, store credit) moves money, never points:
    syncserver.hq.money_exceptions.money_effect says what applies (accept, write off,
    recover, block the gift card).
    """
    why = _reason(reason)
    money: list[MoneyEffect] = []
    """A money exception's effect, once planned (for the result)."""

    def build(conn: Connection, now: datetime) -> Planned:
        row = conn.execute(
            select(exceptions).where(exceptions.c.id == exception_id).with_for_update()
        ).first()
        if row is None:
            raise NotFoundError(f"no exception {exception_id}")
        if row.status != "open":
            raise ConflictError(
                f"exception {exception_id} was already resolved by {row.resolved_by}"
            )
        if is_money_kind(row.kind):
            return _money_plan(conn, row, now)
        account, points, card = _resolution_effect(conn, row, resolution, amount, card_number)
        event = ExceptionResolution(
            occurred_at=format_utc(now),
            exception_id=exception_id,
            resolution=resolution,
            reason=why,
            account=account,
            amount=points,
            card_number=card,
        )
        detail = {
            "resolution": resolution,
            "reason": why,
            "kind": row.kind,
            "points": points,
            "account": account,
            "card_number": card,
        }
        return event, detail, (row.member_id, points)

    def _money_plan(conn: Connection, row: Any, now: datetime) -> Planned:
        effect = money_effect(conn, row, resolution, card_number)
        if amount is not None:
            raise MalformedError(
                f"exception {exception_id} is about money, not points: give no points"
            )
        event = ExceptionResolution(
            occurred_at=format_utc(now),
            exception_id=exception_id,
            resolution=resolution,
            reason=why,
            account=effect.account,
            amount=effect.amount,
            currency=effect.currency,
            gift_card_number=effect.gift_card,
        )
        detail = {
            "resolution": resolution,
            "reason": why,
            "kind": row.kind,
            "points": 0,
            "money_minor": effect.amount,
            "currency": effect.currency,
            "account": effect.account,
            "gift_card_number": effect.gift_card,
        }
        money[:] = [effect]
        return event, detail, (row.member_id, 0)

    def close(conn: Connection, event_id: int, now: datetime) -> None:
        conn.execute(
            update(exceptions)
            .where(exceptions.c.id == exception_id)
            .values(
                status="resolved",
                resolved_at=now,
                resolved_by=actor.username,
                resolution=why,
                resolution_kind=resolution,
                resolution_event_id=event_id,
            )
        )

    result = _apply(
        database, actor, build, ("exception.resolve", "exception", str(exception_id)), close
    )
    if money:
        effect = money[0]
        return replace(
            result,
            money_minor=effect.amount,
            currency=effect.currency,
            gift_card=effect.gift_card,
        )
    return result


def _resolution_effect(
    conn: Connection,
    row: Any,
    resolution: Resolution,
    amount: int | None,
    card_number: str | None,
) -> tuple[str | None, int, str | None]:
    """(account, points onto it, card to block) for a resolution of exception ``row``."""
    if resolution == "accept":
        return None, 0, None
    if resolution == "recover":
        raise MalformedError(
            f"recover applies to money exceptions (a gift card or store credit below zero); "
            f"this {row.kind} exception is about points: accept, write off, adjust or block card"
        )
    if resolution == "write_off":
        return _write_off(conn, row)
    if resolution == "adjust":
        if row.member_id is None:
            raise MalformedError("this exception has no member to adjust; accept or write off")
        if is_money_mismatch(row.kind, row.detail):
            raise MalformedError(
                "this reward mismatch is about a discount (money), not points: accept it"
            )
        if not amount:
            raise MalformedError("an adjustment needs the points to move (not 0)")
        if abs(amount) > MAX_ADJUSTMENT:
            raise MalformedError(f"an adjustment is at most {MAX_ADJUSTMENT:,} points either way")
        return member_account(row.member_id), amount, None
    # block_card
    if row.member_id is None:
        raise MalformedError(
            "this exception has no member, so there is no card of theirs to block: accept it"
        )
    if not card_number:
        raise MalformedError(f"choose the card of member {row.member_id} to block")
    found = card_row(conn, card_number)
    if found is None or found.member_id != row.member_id:
        raise MalformedError(f"card {card_number} is not a card of member {row.member_id}")
    if found.blocked:
        raise ConflictError(f"card {card_number} is already blocked ({found.blocked_reason})")
    return None, 0, card_number


def _write_off(conn: Connection, row: Any) -> tuple[str | None, int, str | None]:
    if row.kind == "offline_overdraft" and row.member_id:
        # Under the member's lock: what is still owed cannot change until COMMIT.
        ctx = LedgerContext(conn, utc_now(), member_ids=LiveMemberIds(), live=True)
        balance = ctx.balance(row.member_id)
        points = overdraft_write_off(int(row.amount), balance)
        if points == 0:
            raise MalformedError(
                f"member {row.member_id} is no longer below zero (balance {balance:,}): "
                "nothing is owed to write off; accept the exception instead"
            )
        return member_account(row.member_id), points, None
    if row.kind == "unknown_card" and row.member_id is None and row.terminal_id:
        # The till's row lock: no void of the entry can be posted until COMMIT.
        lock_terminal(conn, row.terminal_id)
        held = suspense_held(conn, row.terminal_id, int(row.seq or 0))
        if held is None:
            raise MalformedError(
                "no points are held on a suspense account for this entry (a card operation, "
                "or the sale was voided): nothing to write off; accept the exception instead"
            )
        account, points = held
        return account, -points, None
    raise MalformedError(
        "write off applies to an offline overdraft or to points held for an unknown card; "
        "use accept or adjust for this exception"
    )
