"""Journal entry -> postings and exceptions (docs/ledger.md has the table).

Every entry is posted, whatever is wrong with it: what cannot be placed goes to a suspense
account, what looks wrong raises an exception for HQ. Nothing is dropped and nothing is
silently corrected.

Locking discipline (what makes a replay reproduce the live ledger): a member's balance is
read and changed only under its row lock; a card's status is read or changed only under
its member's lock; and before any decision that rests on *not* finding something (a card,
a member, an original sale, a rules version) the context confirms the absence under the
change counter's lock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from shared.journal import (
    CardIssue,
    CardReplacement,
    Enrolment,
    EntryRef,
    GiftCardLoad,
    JournalEntry,
    MemberRef,
    Return,
    Sale,
    ShiftClose,
    Void,
    format_utc,
)
from syncserver.ledger.accounts import (
    ISSUED,
    REDEEMED,
    REVERSED,
    REWARDS,
    Leg,
    PostingKind,
    member_account,
    pair,
    suspense_account,
)
from syncserver.ledger.campaign_vouchers import post_campaign_vouchers
from syncserver.ledger.context import LedgerContext
from syncserver.ledger.earn_check import check_earn
from syncserver.ledger.points import (
    after_return,
    after_sale,
    after_void,
    original_rules_version,
    sale_rules_version,
)
from syncserver.ledger.return_check import check_return
from syncserver.ledger.rewards import post_reward_purchases, void_reward_purchases
from syncserver.ledger.stored_value import (
    lock_money_accounts,
    post_giftcard_load,
    post_refund_money,
    post_sale_money,
)
from syncserver.ledger.vouchers import post_voucher_uses, restore_voided_vouchers
from syncserver.storage.journal import EntryHead, void_of
from syncserver.storage.members import CardRow, NewMember
from syncserver.storage.postings import PostingSource

__all__ = ["Resolution", "reconcile_entry", "resolve_member"]

_MEMBER_ID_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Resolution:
    member_id: str | None
    card: CardRow | None
    """The card the entry names, read under its member's lock (so its status is current)."""


def resolve_member(ctx: LedgerContext, ref: MemberRef) -> Resolution:
    """Who an entry is for: the server id if the till knew it, else the member the till
    enrolled offline (``local_member_id``), else the card's owner. Locks that member."""
    member_id: str | None = None
    card: CardRow | None = None
    for _attempt in range(2):
        card = ctx.card_row(ref.card_number)
        by_id = ref.member_id if ref.member_id and ctx.member_exists(ref.member_id) else None
        by_local = (
            ctx.member_id_by_local(ref.local_member_id)
            if ref.local_member_id and by_id is None
            else None
        )
        member_id = by_id or by_local or (card.member_id if card else None)
        complete = (
            card is not None
            and (ref.member_id is None or by_id is not None)
            and (ref.local_member_id is None or by_id is not None or by_local is not None)
        )
        if complete or ctx.absence_confirmed:
            break
        ctx.confirm_absence()
    ctx.lock_members([m for m in (member_id, card.member_id if card else None) if m])
    if card is not None:
        card = ctx.card_row(ref.card_number)  # again, now under its member's lock
    return Resolution(member_id, card)


def reconcile_entry(ctx: LedgerContext, entry: JournalEntry) -> None:
    source = PostingSource(terminal_id=entry.terminal_id, seq=entry.seq)
    payload = entry.payload
    if isinstance(payload, Sale):
        _sale(ctx, source, entry, payload)
    elif isinstance(payload, Return):
        _return(ctx, source, entry, payload)
    elif isinstance(payload, Void):
        _void(ctx, source, entry, payload)
    elif isinstance(payload, Enrolment):
        _enrolment(ctx, source, entry, payload)
    elif isinstance(payload, CardIssue):
        _card_issue(ctx, source, entry, payload)
    elif isinstance(payload, CardReplacement):
        _card_replacement(ctx, source, entry, payload)
    elif isinstance(payload, GiftCardLoad):
        post_giftcard_load(ctx, source, entry, payload)
    elif isinstance(payload, ShiftClose):
        pass  # the Z report moves no points
    else:  # pragma: no cover - the Payload union is closed
        raise TypeError(f"unknown payload {type(payload).__name__}")


def _points(amount: int) -> str:
    return f"{amount} point{'s' if abs(amount) != 1 else ''}"


def _card_exceptions(
    ctx: LedgerContext, source: PostingSource, ref: MemberRef, found: Resolution, moved: int
) -> None:
    """unknown_card / card_blocked for an entry that moved ``moved`` points on the card."""
    if found.member_id is None:
        ctx.raise_exception(
            "unknown_card",
            source,
            None,
            moved,
            f"card {ref.card_number} belongs to no member the server knows; "
            f"{_points(moved)} held on {suspense_account(ref.card_number)}",
        )
    elif found.card is None:
        ctx.raise_exception(
            "unknown_card",
            source,
            found.member_id,
            moved,
            f"card {ref.card_number} is not registered at the server; "
            f"{_points(moved)} posted to member {found.member_id}",
        )
    elif found.card.blocked:
        ctx.raise_exception(
            "card_blocked",
            source,
            found.member_id,
            moved,
            f"card {ref.card_number} was already blocked "
            f"({found.card.blocked_reason or 'no reason given'}); "
            f"{_points(moved)} posted to member {found.member_id} anyway",
        )


def _account(found: Resolution, ref: MemberRef) -> str:
    if found.member_id is not None:
        return member_account(found.member_id)
    return suspense_account(ref.card_number)


def _sale(ctx: LedgerContext, source: PostingSource, entry: JournalEntry, sale: Sale) -> None:
    # Points first (an anonymous sale moves none), then money: vouchers and stored value.
    member_id = _member_sale(ctx, source, entry, sale) if sale.member is not None else None
    post_voucher_uses(ctx, source, entry, sale, member_id)
    post_reward_purchases(ctx, source, entry, sale, member_id)
    post_campaign_vouchers(ctx, source, entry, sale, member_id)
    post_sale_money(ctx, source, entry, sale, member_id)


def _member_sale(
    ctx: LedgerContext, source: PostingSource, entry: JournalEntry, sale: Sale
) -> str | None:
    """A member sale's points; returns the member it resolved to."""
    assert sale.member is not None
    found = resolve_member(ctx, sale.member)
    account = _account(found, sale.member)
    # Lots and tiers follow the rules version the sale names (syncserver.ledger.points).
    rules = ctx.rules_for(sale_rules_version(sale)) if found.member_id else None
    if found.member_id is not None:
        ctx.visit_lots(source, found.member_id, format_utc(entry.occurred_at), rules)
    # Everything the sale takes from the member: the points discount, then each reward bought
    # (posted as the till says; syncserver.ledger.rewards re-prices them).
    earned, spent = sale.points_earned, sale.points_spent
    before = ctx.balance(found.member_id) if found.member_id else 0
    legs: list[Leg] = []
    if earned:
        legs += pair(account, ISSUED, earned, PostingKind.EARN)
    if sale.points_redeemed:
        legs += pair(REDEEMED, account, sale.points_redeemed, PostingKind.REDEEM)
    for purchase in sale.rewards:
        legs += pair(REWARDS, account, purchase.points, PostingKind.REWARD)
    ctx.post(source, legs, format_utc(entry.occurred_at), rules=rules, rules_named=True)

    moved = earned - spent
    _card_exceptions(ctx, source, sale.member, found, moved)
    if found.member_id is not None:
        ctx.visited(found.member_id, format_utc(entry.occurred_at))
    if found.member_id is not None and spent:
        after = ctx.balance(found.member_id)
        # How far below zero this entry took the member, at most what it spent.
        overdraft = min(spent, max(0, -after) - max(0, -before))
        if overdraft > 0:
            _overdraft(ctx, source, entry, found.member_id, spent, before, after, overdraft)
    if sale.earned is not None:
        key = (entry.terminal_id, entry.seq)
        if key in ctx.earn_checks:  # computed before the transaction (syncserver.sync.push)
            check = ctx.earn_checks[key]
        else:
            check = check_earn(entry, sale, ctx.rules(sale.earned.rules_version))
        if check is not None and check.detail is not None:
            ctx.raise_exception(
                "rules_mismatch", source, found.member_id, check.difference, check.detail
            )
    if found.member_id is not None:
        after_sale(ctx, source, entry, sale, found.member_id, rules)
    return found.member_id


@dataclass(frozen=True, slots=True)
class _Moment:
    """One entry or HQ event on a member's points account, in time order."""

    terminal_id: str | None
    seq: int | None
    occurred_at: str
    delta: int
    redeemed: int
    before: int = 0

    @property
    def after(self) -> int:
        return self.before + self.delta

    @property
    def overdrew(self) -> bool:
        """A redemption that took the member (further) below zero."""
        return self.redeemed > 0 and max(0, -self.after) - max(0, -self.before) > 0


def _in_time_order(ctx: LedgerContext, member_id: str) -> list[_Moment]:
    """The member's points account as it happened: entries and HQ events by ``occurred_at``
    (ties by arrival, the posting id), each with the balance before it."""
    moments: dict[tuple[str | None, int | None, int | None], _Moment] = {}
    for terminal_id, seq, hq_event_id, kind, amount, occurred_at in ctx.points_history(member_id):
        key = (terminal_id, seq, hq_event_id)
        seen = moments.get(key)
        spends = kind in (PostingKind.REDEEM, PostingKind.REWARD)
        redeemed = -amount if spends else 0
        moments[key] = _Moment(
            terminal_id,
            seq,
            seen.occurred_at if seen else occurred_at,
            (seen.delta if seen else 0) + amount,
            (seen.redeemed if seen else 0) + redeemed,
        )
    balance = 0
    ordered = []
    for moment in moments.values():  # insertion order: each one's first posting
        ordered.append(replace(moment, before=balance))
        balance += moment.delta
    return ordered


def _when(occurred_at: str) -> str:
    return occurred_at[:16].replace("T", " ") + " UTC"


def _overdraft(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    member_id: str,
    redeemed: int,
    before: int,
    after: int,
    overdraft: int,
) -> None:
    """Raise ``offline_overdraft`` for a sale whose redemption left the member below zero,
    naming the redemption that overdrew *in time order*.

    Usually that is this sale. But a till that sold first may sync last: its redemption,
    made while points were still there, is not what overdrew — the later redemption (of
    another till, already stored) that the balance can now no longer cover is. That one is
    named: the first redemption from this sale's time on that takes the member below zero,
    which is where the member's ledger page (time order, running balance) shows the dip.
    The amount stays what this arrival took the member below zero (what a write-off owes).
    """
    label = f"sale {entry.terminal_id}#{entry.seq}"
    culprit: _Moment | None = None
    moments = _in_time_order(ctx, member_id)
    mine = next(
        (
            i
            for i, m in enumerate(moments)
            if (m.terminal_id, m.seq) == (entry.terminal_id, entry.seq)
        ),
        None,
    )
    if mine is not None:
        culprit = next((m for m in moments[mine:] if m.overdrew), None)
    if culprit is None or (culprit.terminal_id, culprit.seq) == (entry.terminal_id, entry.seq):
        ctx.raise_exception(
            "offline_overdraft",
            source,
            member_id,
            overdraft,
            f"{label} redeemed {_points(redeemed)} with a balance of {before}: "
            f"member {member_id} is now at {after}",
        )
        return
    ctx.raise_exception(
        "offline_overdraft",
        PostingSource(terminal_id=culprit.terminal_id, seq=culprit.seq),
        member_id,
        overdraft,
        f"sale {culprit.terminal_id}#{culprit.seq} redeemed {_points(culprit.redeemed)} at "
        f"{_when(culprit.occurred_at)}, when (in time order) the balance was "
        f"{culprit.before}: member {member_id} is now at {after}. Found when {label}, which "
        f"redeemed {_points(redeemed)} earlier ({_when(format_utc(entry.occurred_at))}), "
        "reached HQ",
    )


def _stored(ctx: LedgerContext, entry: JournalEntry, ref: EntryRef) -> EntryHead | None:
    """The stored entry ``ref`` names, as far as ``entry`` can see it: a push stores its whole
    batch before reconciling it, so a later entry of the same till does not count yet (a
    replay, which stores entry by entry, could not see it either)."""
    if ref.terminal_id == entry.terminal_id and ref.seq > entry.seq:
        return None
    return ctx.entry_head(ref.terminal_id, ref.seq)


def _original(
    ctx: LedgerContext, entry: JournalEntry, ref: EntryRef
) -> tuple[EntryHead | None, str | None]:
    """The sale an entry refers to, or why it cannot be used."""
    stored = _stored(ctx, entry, ref)
    if stored is None and not ctx.absence_confirmed:
        ctx.confirm_absence()
        stored = _stored(ctx, entry, ref)
    label = f"{ref.terminal_id}#{ref.seq}"
    if stored is None:
        return None, f"the original sale {label} has not reached the server"
    if stored.entry_id != ref.entry_id:
        return None, f"{label} is entry {stored.entry_id}, not {ref.entry_id}"
    if stored.kind != "sale":
        return None, f"{label} is a {stored.kind}, not a sale"
    return stored, None


def _return(ctx: LedgerContext, source: PostingSource, entry: JournalEntry, ret: Return) -> None:
    original, problem = _original(ctx, entry, ret.original)
    moved = ret.points_restored - ret.points_reversed
    member_id: str | None = None
    if ret.member is not None:
        found = resolve_member(ctx, ret.member)
        if found.member_id is None and original is not None:
            # The card is unknown, but the sale it returns was posted to someone: use them.
            owners = {leg.member_id for leg in ctx.postings_of(original.terminal_id, original.seq)}
            owners.discard(None)
            if len(owners) == 1:
                found = Resolution(owners.pop(), None)
                ctx.lock_members([found.member_id or ""])
        account = _account(found, ret.member)
        legs: list[Leg] = []
        if ret.points_reversed:
            legs += pair(REVERSED, account, ret.points_reversed, PostingKind.REVERSE)
        if ret.points_restored:
            legs += pair(account, REDEEMED, ret.points_restored, PostingKind.RESTORE)
        # Lots follow the original sale's rules version (the latest when HQ lacks it).
        rules = (
            ctx.rules_for(original_rules_version(ctx, entry)) if legs and found.member_id else None
        )
        ctx.post(source, legs, format_utc(entry.occurred_at), rules=rules, rules_named=True)
        _card_exceptions(ctx, source, ret.member, found, moved)
        member_id = found.member_id
        if member_id is not None:
            ctx.visited(member_id, format_utc(entry.occurred_at))
            after_return(ctx, entry, ret, member_id)
    post_refund_money(ctx, source, entry, ret, member_id)
    # HQ recomputes the points from the original sale (return_mismatch); a return made
    # without the original finds it by (terminal, seq), so no unknown_original for that.
    problem = check_return(ctx, source, entry, ret, member_id, original, problem)
    if problem is not None:
        ctx.raise_exception(
            "unknown_original",
            source,
            member_id,
            moved,
            f"return against {problem}; {_points(moved)} posted as the till reported",
        )


def _void(ctx: LedgerContext, source: PostingSource, entry: JournalEntry, void: Void) -> None:
    ref = void.original
    if ref.terminal_id != entry.terminal_id:
        ctx.raise_exception(
            "unknown_original",
            source,
            None,
            0,
            f"a till voids only its own sales; {ref.terminal_id}#{ref.seq} is not "
            f"{entry.terminal_id}'s: nothing reversed",
        )
        return
    # The same till's earlier entries are all stored (pushes are in order, under the
    # terminal's lock), so "not found" needs no further confirmation here.
    original = _stored(ctx, entry, ref)
    problem = None
    if original is None or original.entry_id != ref.entry_id or original.kind != "sale":
        problem = f"{ref.terminal_id}#{ref.seq} is not a sale the server has"
    elif (earlier := void_of(ctx.conn, ref.terminal_id, ref.seq, entry.seq)) is not None:
        problem = f"{ref.terminal_id}#{ref.seq} was already voided by {ref.terminal_id}#{earlier}"
    if problem is not None:
        ctx.raise_exception(
            "unknown_original", source, None, 0, f"void: {problem}; nothing reversed"
        )
        return
    # Reward vouchers the sale issued are voided with it (one already used stays, and
    # its issue is not reversed); its reward purchases leave the stock counts.
    undone = ctx.postings_of(ref.terminal_id, ref.seq)
    kept, extra = void_reward_purchases(ctx, source, entry, ref)
    for leg in kept:
        undone.remove(leg)
    legs = [Leg(leg.account, -leg.amount, PostingKind.VOID, leg.unit) for leg in undone]
    legs += extra
    member_ids = sorted({leg.member_id for leg in legs if leg.member_id is not None})
    rules = ctx.rules_for(original_rules_version(ctx, entry)) if member_ids else None
    lock_money_accounts(ctx, [leg.account for leg in legs])
    ctx.post(source, legs, format_utc(entry.occurred_at), rules=rules, rules_named=True)
    restore_voided_vouchers(ctx, ref)
    after_void(ctx, entry, void, member_ids)


def _enrolment(
    ctx: LedgerContext, source: PostingSource, entry: JournalEntry, enrolment: Enrolment
) -> None:
    existing = ctx.member_id_by_local(enrolment.local_member_id)
    if existing is not None:
        ctx.raise_exception(
            "card_enrolled_twice",
            source,
            existing,
            0,
            f"local member id {enrolment.local_member_id} was already enrolled as {existing}; "
            "no second member created",
        )
        return
    member_id = None
    for attempt in range(_MEMBER_ID_ATTEMPTS):
        candidate = ctx.member_ids.for_enrolment(entry.terminal_id, entry.seq, attempt)
        created = ctx.insert_member(
            NewMember(
                member_id=candidate,
                name=enrolment.name,
                phone=enrolment.phone,
                email=enrolment.email,
                marketing_consent=enrolment.marketing_consent,
                consent_text_version=enrolment.consent_text_version,
                local_member_id=enrolment.local_member_id,
                origin_terminal=entry.terminal_id,
                origin_seq=entry.seq,
            ),
        )
        if created:
            member_id = candidate
            break
    if member_id is None:
        raise RuntimeError(f"{source.label()}: no free member id after {_MEMBER_ID_ATTEMPTS} tries")
    ctx.visited(member_id, format_utc(entry.occurred_at))
    if not ctx.insert_card(enrolment.card_number, member_id):
        owner = ctx.card_row(enrolment.card_number)
        ctx.raise_exception(
            "card_enrolled_twice",
            source,
            member_id,
            0,
            f"card {enrolment.card_number} already belongs to member "
            f"{owner.member_id if owner else '?'}; member {member_id} was created without a card",
        )


def _assign_card(
    ctx: LedgerContext, source: PostingSource, card_number: str, member_id: str
) -> None:
    if ctx.insert_card(card_number, member_id):
        return
    owner = ctx.card_row(card_number)
    if owner is not None and owner.member_id != member_id:
        ctx.raise_exception(
            "card_enrolled_twice",
            source,
            member_id,
            0,
            f"card {card_number} already belongs to member {owner.member_id}; "
            f"not assigned to {member_id}",
        )


def _card_issue(
    ctx: LedgerContext, source: PostingSource, entry: JournalEntry, issue: CardIssue
) -> None:
    found = resolve_member(ctx, issue.member)
    if found.member_id is None:
        ctx.raise_exception(
            "unknown_card",
            source,
            None,
            0,
            f"card issue for card {issue.member.card_number}, which belongs to no member the "
            f"server knows; card {issue.card_number} not assigned",
        )
        return
    _assign_card(ctx, source, issue.card_number, found.member_id)
    ctx.visited(found.member_id, format_utc(entry.occurred_at))


def _card_replacement(
    ctx: LedgerContext, source: PostingSource, entry: JournalEntry, replacement: CardReplacement
) -> None:
    found = resolve_member(ctx, replacement.member)
    member_id = found.member_id
    if member_id is None:
        ctx.raise_exception(
            "unknown_card",
            source,
            None,
            0,
            f"replacement of card {replacement.old_card_number}, which belongs to no member the "
            f"server knows; card {replacement.new_card_number} not assigned",
        )
        return
    old = ctx.card_row(replacement.old_card_number)
    if old is None:
        ctx.confirm_absence()
        old = ctx.card_row(replacement.old_card_number)
    if old is None or old.member_id != member_id:
        whose = "is not registered" if old is None else f"belongs to member {old.member_id}"
        ctx.raise_exception(
            "unknown_card",
            source,
            member_id,
            0,
            f"old card {replacement.old_card_number} {whose}: not blocked; "
            f"new card {replacement.new_card_number} assigned to {member_id}",
        )
    elif not old.blocked:
        ctx.block_card(old, f"replaced ({replacement.reason})")
    _assign_card(ctx, source, replacement.new_card_number, member_id)
    ctx.visited(member_id, format_utc(entry.occurred_at))
