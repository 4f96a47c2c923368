"""HQ events: ledger changes that come from HQ rather than a till, journaled in
``hq_events`` (with who did it) so ``ledger rebuild`` replays them in order with the tills'
entries.

Each event is self-contained: it carries every amount and account it posts, computed when
HQ acted, so a replay needs nothing but the event. Kinds:

- ``member_import``: members from another system, with cards and opening balances;
- ``points_adjustment``: a manual correction of a member's points (with a reason);
- ``card_block`` / ``card_replacement``: HQ blocks a card, or blocks it and issues another;
- ``exception_resolution``: HQ's decision on an exception — accept (no points move),
  write off, adjust, or block a card; for a money exception (``currency`` set) accept,
  write off (money against ``program:money_written_off``), recover, or block a gift card;
- ``voucher_issue`` / ``voucher_void``: HQ issues vouchers in bulk (the generated codes are
  in the event, so the replay reproduces them) or voids an unused one (docs/vouchers.md);
- ``giftcard_block`` / ``giftcard_move``: HQ blocks a lost gift card, or moves its balance to
  a new card (docs/giftcards.md);
- ``voucher_expiry``: the daily run that expires unused vouchers past their last day;
- ``tier_review`` / ``points_expiry``: the daily runs (syncserver.ledger.periodic). These do
  not list what they change — a run over a million members would make a record of hundreds
  of megabytes — but name the day (``as_of``) and the rules version, and their apply code is
  a pure function of those and the ledger at the event's position, which the replay has
  reached in the same state.

Points onto or off a member move the member's lot book (syncserver.ledger.points). The
older kinds do not name a rules version: they use the latest published one, read under the
change counter's lock (LedgerContext.latest_rules), which is the one the replay has too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import Connection

from shared.points.tiers import next_review, rank
from shared.rules import ProgramRules
from syncserver.ledger.accounts import (
    ADJUSTED,
    MONEY_WRITTEN_OFF,
    WRITTEN_OFF,
    PostingKind,
    giftcard_account,
    is_stored_value,
    member_account,
    member_of,
    money_pair,
    pair,
)
from syncserver.ledger.context import LedgerContext
from syncserver.ledger.points import TierStatus, apply_expiry, apply_review, day_of
from syncserver.ledger.vouchers import (
    VoucherConflictError,
    apply_voucher_expiry,
    apply_voucher_issue,
    apply_voucher_void,
)
from syncserver.storage.members import NewMember, insert_card, insert_member
from syncserver.storage.postings import PostingSource
from syncserver.storage.schema import hq_events
from syncserver.storage.vouchers import due_voucher_codes

__all__ = [
    "CardBlock",
    "CardReplacement",
    "ExceptionResolution",
    "GiftCardBlock",
    "GiftCardMove",
    "HqEvent",
    "HqEventConflictError",
    "ImportedMember",
    "MemberImport",
    "PointsAdjustment",
    "PointsExpiry",
    "TierReview",
    "VoucherExpiry",
    "VoucherIssue",
    "VoucherVoid",
    "apply_event",
    "record_event",
]

Reason = Annotated[str, Field(min_length=3, max_length=500)]


class HqEventConflictError(ValueError):
    """An HQ event collides with what the ledger holds (a member id, a card, a blocked card)."""


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    occurred_at: str


class ImportedMember(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    member_id: str
    name: str
    phone: str | None = None
    email: str | None = None
    tier: str | None = None
    card_number: str | None = None
    opening_balance: int = 0
    marketing_consent: bool = False


class MemberImport(_Event):
    kind: Literal["member_import"] = "member_import"
    members: list[ImportedMember] = Field(min_length=1)
    rules_version: int | None = None
    """The rules an imported tier is reviewed by: a member imported in Silver keeps it until
    the review one window (or the calendar year) after the import, then requalifies like
    everyone else. None (imports before tiers were reviewed): no review date."""


class PointsAdjustment(_Event):
    kind: Literal["points_adjustment"] = "points_adjustment"
    member_id: str
    amount: int = Field(description="Points onto the member (negative: taken off).")
    reason: Reason


class CardBlock(_Event):
    kind: Literal["card_block"] = "card_block"
    card_number: str
    reason: Reason


class CardReplacement(_Event):
    kind: Literal["card_replacement"] = "card_replacement"
    member_id: str
    old_card_number: str
    new_card_number: str
    reason: Reason


Resolution = Literal["accept", "write_off", "adjust", "block_card", "recover"]


class ExceptionResolution(_Event):
    kind: Literal["exception_resolution"] = "exception_resolution"
    exception_id: int
    resolution: Resolution
    reason: Reason
    account: str | None = None
    """The account the resolution moves points onto (a member's, or a suspense account)."""
    amount: int = 0
    """Points onto ``account``: from ``program:written_off`` (write off) or
    ``program:adjusted`` (adjust); 0 when no points move."""
    card_number: str | None = None
    """The card a ``block_card`` resolution blocks."""
    currency: str | None = None
    """Set for a money exception: ``amount`` is minor units of it (against
    ``program:money_written_off``), never points."""
    gift_card_number: str | None = None
    """The gift card a ``block_card`` resolution of a money exception blocks."""


class TierReview(_Event):
    """Review every member whose tier review date is on or before ``as_of``."""

    kind: Literal["tier_review"] = "tier_review"
    as_of: date
    rules_version: int | None
    """The rules version the run used (the latest published when it ran)."""


class PointsExpiry(_Event):
    """Expire every member's points whose last usable day is before ``as_of``."""

    kind: Literal["points_expiry"] = "points_expiry"
    as_of: date
    rules_version: int | None


class VoucherIssue(_Event):
    """Vouchers HQ issued in bulk: the codes are generated when HQ acts and kept here."""

    kind: Literal["voucher_issue"] = "voucher_issue"
    codes: list[str] = Field(min_length=1)
    value_minor: int = Field(ge=0)
    """A fixed amount off; for a percentage voucher the cap (0: none)."""
    percent_bp: int | None = Field(default=None, ge=1, le=10_000)
    min_spend_minor: int = Field(default=0, ge=0)
    currency: str
    expires_on: date | None = None
    member_id: str | None = None
    source: str = "hq"


class VoucherVoid(_Event):
    kind: Literal["voucher_void"] = "voucher_void"
    code: str
    reason: Reason


class VoucherExpiry(_Event):
    """Expire every unused voucher whose last day is before ``as_of``."""

    kind: Literal["voucher_expiry"] = "voucher_expiry"
    as_of: date


class GiftCardBlock(_Event):
    kind: Literal["giftcard_block"] = "giftcard_block"
    card_number: str
    reason: Reason


class GiftCardMove(_Event):
    """A card's balance moved to a new card (a lost card): the old one is blocked."""

    kind: Literal["giftcard_move"] = "giftcard_move"
    old_number: str
    new_number: str
    amount_minor: int
    """The old card's balance when HQ acted (moved as it was, even below zero)."""
    currency: str
    reason: Reason


HqEvent = Annotated[
    MemberImport
    | PointsAdjustment
    | CardBlock
    | CardReplacement
    | ExceptionResolution
    | TierReview
    | PointsExpiry
    | VoucherIssue
    | VoucherVoid
    | VoucherExpiry
    | GiftCardBlock
    | GiftCardMove,
    Field(discriminator="kind"),
]
_EVENTS: TypeAdapter[HqEvent] = TypeAdapter(HqEvent)


def record_event(conn: Connection, event: _Event, actor: str, ctx: LedgerContext) -> int:
    """Journal the event (its position is set when the transaction finishes); returns its id."""
    result = conn.execute(
        hq_events.insert().values(
            kind=getattr(event, "kind"),  # noqa: B009 - every concrete event has a kind
            record=event.model_dump_json(),
            actor=actor,
            created_at=ctx.now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def apply_event(
    ctx: LedgerContext,
    event_id: int,
    kind: str,
    record: dict[str, Any],
    *,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Post what the event says. The same code runs live and in ``ledger rebuild``. Returns
    what a daily run counted (empty for other kinds); ``progress`` gets members done."""
    event = _EVENTS.validate_python({**record, "kind": record.get("kind", kind)})
    try:
        return _apply(ctx, event_id, event, progress)
    except VoucherConflictError as error:
        raise HqEventConflictError(str(error)) from None


def _apply(
    ctx: LedgerContext,
    event_id: int,
    event: HqEvent,
    progress: Callable[[int], None] | None,
) -> dict[str, int]:
    source = PostingSource(hq_event_id=event_id)
    match event:
        case TierReview() | PointsExpiry():
            rules = ctx.rules(event.rules_version) if event.rules_version is not None else None
            if event.rules_version is not None and rules is None:
                raise HqEventConflictError(f"rules version {event.rules_version} is unknown")
            run = apply_review if isinstance(event, TierReview) else apply_expiry
            return run(ctx, source, event.as_of, rules, progress)
        case MemberImport():
            _import(ctx, source, event)
        case PointsAdjustment():
            legs = pair(member_account(event.member_id), ADJUSTED, event.amount, PostingKind.ADJUST)
            ctx.post(source, legs, event.occurred_at)
            ctx.changed(event.member_id)
        case CardBlock():
            _block(ctx, event.card_number, event.reason)
        case CardReplacement():
            _block(ctx, event.old_card_number, event.reason)
            if not ctx.insert_card(event.new_card_number, event.member_id):
                raise HqEventConflictError(
                    f"card {event.new_card_number} already belongs to a member"
                )
            ctx.changed(event.member_id)
        case ExceptionResolution() if event.currency is not None:
            _resolve_money(ctx, source, event)
        case ExceptionResolution():
            if event.amount and event.account is not None:
                other, posting_kind = (
                    (WRITTEN_OFF, PostingKind.WRITE_OFF)
                    if event.resolution == "write_off"
                    else (ADJUSTED, PostingKind.ADJUST)
                )
                ctx.post(
                    source,
                    pair(event.account, other, event.amount, posting_kind),
                    event.occurred_at,
                )
                member_id = member_of(event.account)
                if member_id is not None:
                    ctx.changed(member_id)
            if event.card_number is not None:
                _block(ctx, event.card_number, event.reason)
        case VoucherIssue():
            apply_voucher_issue(
                ctx,
                source,
                codes=event.codes,
                value_minor=event.value_minor,
                percent_bp=event.percent_bp,
                min_spend_minor=event.min_spend_minor,
                currency=event.currency,
                expires_on=event.expires_on.isoformat() if event.expires_on else None,
                member_id=event.member_id,
                origin=event.source,
                occurred_at=event.occurred_at,
            )
        case VoucherVoid():
            apply_voucher_void(ctx, source, event.code, event.occurred_at)
        case VoucherExpiry():
            codes = due_voucher_codes(ctx.conn, event.as_of.isoformat())
            return apply_voucher_expiry(ctx, source, codes, event.occurred_at)
        case GiftCardBlock():
            _block_gift_card(ctx, event.card_number, event.reason)
        case GiftCardMove():
            _move_gift_card(ctx, source, event)
    return {}


def _resolve_money(ctx: LedgerContext, source: PostingSource, event: ExceptionResolution) -> None:
    """A money exception's resolution: only a write-off posts (in the exception's currency);
    accept and recover record the decision; block blocks the gift card."""
    assert event.currency is not None
    if event.amount and event.account is not None:
        if is_stored_value(event.account) and ctx.stored_value(event.account) is None:
            raise HqEventConflictError(f"HQ has no account {event.account}")
        legs = money_pair(
            event.account, MONEY_WRITTEN_OFF, event.amount, PostingKind.WRITE_OFF, event.currency
        )
        ctx.post(source, legs, event.occurred_at)
    if event.gift_card_number is not None:
        _block_gift_card(ctx, event.gift_card_number, event.reason)


def _block_gift_card(ctx: LedgerContext, number: str, reason: str) -> None:
    account = giftcard_account(number)
    if ctx.stored_value(account) is None:
        raise HqEventConflictError(f"HQ has no gift card {number}")
    ctx.set_stored_value(account, status="blocked", blocked_reason=reason[:200])


def _move_gift_card(ctx: LedgerContext, source: PostingSource, event: GiftCardMove) -> None:
    old, new = giftcard_account(event.old_number), giftcard_account(event.new_number)
    for account in sorted((old, new)):  # a fixed order: no deadlock between two moves
        ctx.stored_value(account)
    if ctx.stored_value(old) is None:
        raise HqEventConflictError(f"HQ has no gift card {event.old_number}")
    if ctx.stored_value(new) is not None:
        raise HqEventConflictError(f"gift card {event.new_number} is in use already")
    ctx.open_stored_value(
        new,
        "giftcard",
        event.currency,
        card_number=event.new_number,
        activated_at=event.occurred_at,
    )
    if event.amount_minor:
        legs = money_pair(new, old, event.amount_minor, PostingKind.GIFTCARD_MOVE, event.currency)
        ctx.post(source, legs, event.occurred_at)
    ctx.set_stored_value(
        old, status="blocked", blocked_reason=event.reason[:200], moved_to=event.new_number
    )


def _block(ctx: LedgerContext, card_number: str, reason: str) -> None:
    card = ctx.card_row(card_number)
    if card is None:
        raise HqEventConflictError(f"no member has card {card_number}")
    ctx.lock_members([card.member_id])
    card = ctx.card_row(card_number)  # read again under the member's lock
    assert card is not None
    if card.status != "blocked":
        ctx.block_card(card, reason)
    ctx.changed(card.member_id)


def _import(ctx: LedgerContext, source: PostingSource, event: MemberImport) -> None:
    rules = ctx.rules(event.rules_version) if event.rules_version is not None else None
    imported_on = day_of(event.occurred_at)
    for member in event.members:
        created = insert_member(
            ctx.conn,
            NewMember(
                member_id=member.member_id,
                name=member.name,
                phone=member.phone,
                email=member.email,
                tier=member.tier,
                marketing_consent=member.marketing_consent,
            ),
            ctx.now,
        )
        if not created:
            raise HqEventConflictError(f"member {member.member_id} already exists")
        ctx.adopt_new_member(member.member_id)
        if member.card_number and not insert_card(
            ctx.conn, member.card_number, member.member_id, ctx.now
        ):
            raise HqEventConflictError(f"card {member.card_number} already belongs to a member")
        if member.opening_balance:
            legs = pair(
                member_account(member.member_id),
                ADJUSTED,
                member.opening_balance,
                PostingKind.OPENING,
            )
            ctx.post(source, legs, event.occurred_at)
        if rules is not None and rank(rules, member.tier) > 0:
            _review_imported_tier(ctx, source, rules, member.member_id, member.tier, imported_on)
        ctx.changed(member.member_id)


def _review_imported_tier(
    ctx: LedgerContext,
    source: PostingSource,
    rules: ProgramRules,
    member_id: str,
    tier: str | None,
    imported_on: date,
) -> None:
    """An imported tier above the base one is held from the import day and reviewed like an
    earned one (the import is the member's tier history's first line)."""
    review_on = next_review(rules.tier_qualification, imported_on)
    found = rules.tier(tier) if tier else None
    name = found.name if found is not None else tier
    ctx.points.set_tier(
        member_id,
        TierStatus(tier, imported_on.isoformat(), review_on.isoformat(), False),
        kind="import",
        reason=f"imported in {name}; reviewed on {review_on.isoformat()}",
        effective_on=imported_on,
        source=source,
    )


def event_record(text: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(text)
    return record
