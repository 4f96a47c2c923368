"""Single-use vouchers in the ledger (docs/vouchers.md).

A voucher is a money account, ``voucher:<code>``, holding what it still promises: issuing it
posts its value from ``program:voucher_funding``; the first use HQ applies posts the discount
to ``program:voucher_redeemed`` and any unused remainder of its value to
``program:voucher_breakage`` (it is single-use), and marks it redeemed; the expiry run moves
an unused voucher's value to breakage; HQ voiding it gives the value back to funding.

Tills accept vouchers offline, so HQ may see a code used twice (two tills, both offline):
the second use is posted too — the customer has the goods — from
``suspense:voucher:<code>`` (a loss HQ sees), and raises ``voucher_reused`` naming both
receipts. A use HQ cannot back (unknown, voided, expired on the sale's day, another member's,
below its minimum spend) is posted the same way and raises ``voucher_invalid``; the voucher
itself is left as it was.

A voucher's state is read and changed only under its row lock; a code HQ cannot find is
confirmed absent under the change counter's lock first, so a replay decides the same.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from shared.journal import EntryRef, JournalEntry, Sale, VoucherUse
from shared.journal import format_utc as _utc
from shared.protocol import ExceptionKind
from shared.rules import ProgramRules
from shared.rules.model import Reward
from shared.rules.rewards import VoucherTerms
from shared.rules.voucher_pricing import voucher_discount_on
from syncserver.ledger.accounts import (
    VOUCHER_BREAKAGE,
    VOUCHER_FUNDING,
    VOUCHER_REDEEMED,
    Leg,
    PostingKind,
    money_pair,
    voucher_account,
    voucher_suspense_account,
)
from syncserver.ledger.context import LedgerContext
from syncserver.ledger.points import sale_rules_version
from syncserver.ledger.stored_value import money_text
from syncserver.storage.postings import PostingSource
from syncserver.storage.schema import vouchers
from syncserver.storage.vouchers import (
    EXPIRED,
    ISSUED,
    REDEEMED,
    REWARD_SOURCE,
    VOIDED,
    NewVoucher,
    VoucherRow,
    update_voucher,
)

__all__ = [
    "VoucherConflictError",
    "apply_voucher_expiry",
    "apply_voucher_issue",
    "apply_voucher_void",
    "issue_voucher",
    "local_day",
    "post_voucher_uses",
    "restore_voided_vouchers",
]


class VoucherConflictError(ValueError):
    """An HQ voucher event that does not fit the vouchers' state (a code taken, a voucher
    already used)."""


def local_day(entry: JournalEntry) -> date:
    """The sale's day in the store's calendar (what ``expires_on`` means)."""
    return entry.local_time.date()


def _find(ctx: LedgerContext, code: str) -> VoucherRow | None:
    row = ctx.lock_voucher(code)
    if row is None and not ctx.absence_confirmed:
        ctx.confirm_absence()
        row = ctx.lock_voucher(code)
    return row


def _receipt_of(ctx: LedgerContext, terminal_id: str | None, seq: int | None) -> str:
    """ "store S001, till T0001#12, receipt T0001-12" for a stored sale."""
    if terminal_id is None or seq is None:
        return "an unknown sale"
    stored = ctx.stored_entry(terminal_id, seq)
    payload = stored.record.get("payload", {}) if stored is not None else {}
    return (
        f"store {payload.get('store_id', '?')}, till {terminal_id}#{seq}, "
        f"receipt {payload.get('receipt_no', '?')}"
    )


def _problem(
    row: VoucherRow,
    use: VoucherUse,
    sale: Sale,
    day: date,
    member_id: str | None,
    rules: ProgramRules | None,
) -> str | None:
    """Why HQ cannot back this use of a voucher it issued (None: it can)."""
    if row.status == VOIDED:
        return "was voided at HQ"
    if row.expires_on is not None and day.isoformat() > row.expires_on:
        return f"expired on {row.expires_on} (used on {day.isoformat()})"
    if row.member_id is not None and row.member_id != member_id:
        return f"belongs to member {row.member_id}, not to {member_id or 'an anonymous sale'}"
    if sale.subtotal_minor < row.min_spend_minor:
        return (
            f"needs a spend of {money_text(row.min_spend_minor, row.currency)}; the basket was "
            f"{money_text(sale.subtotal_minor, row.currency)}"
        )
    if use.points_bonus_reward is not None:
        return _points_bonus_problem(rules, row, use, member_id)
    if _carries_no_money(row):
        return _reward_voucher_problem(rules, row, use, sale)
    cap = row.value_minor if row.percent_bp is None or row.value_minor else None
    if cap is not None and use.discount_minor > cap:
        worth, took = money_text(cap, row.currency), money_text(use.discount_minor, row.currency)
        return f"is worth {worth}, not {took}"
    return _category_problem(rules, row, use, sale)


def _points_bonus_problem(
    rules: ProgramRules | None, row: VoucherRow, use: VoucherUse, member_id: str | None
) -> str | None:
    """A bonus-multiplier voucher multiplies a member's sale's points (the earn check
    recomputes them with it): it must be that reward's voucher, and the reward a bonus
    multiplier in the rules version its purchase named."""
    if row.source != f"{REWARD_SOURCE}{use.points_bonus_reward}":
        return f"was issued by {row.source}, not by reward {use.points_bonus_reward}"
    reward = _reward_of(rules, row)
    if reward is None or reward.kind != "bonus_multiplier":
        return f"is for reward {use.points_bonus_reward}, which is not a points bonus there"
    if member_id is None:
        return f"is for {reward.name}, which needs a member's sale"
    return None


def _reward_of(rules: ProgramRules | None, row: VoucherRow) -> Reward | None:
    if rules is None or not row.source.startswith(REWARD_SOURCE):
        return None
    reward_id = row.source[len(REWARD_SOURCE) :]
    return next((r for r in rules.rewards if r.id == reward_id), None)


def _left_before(sale: Sale, use: VoucherUse) -> int:
    """What was left to pay when the till took ``use``: the subtotal less the points
    discount and the vouchers before it on the sale (docs/vouchers.md)."""
    left = sale.subtotal_minor - (sale.redeemed.discount_minor if sale.redeemed else 0)
    for earlier in sale.vouchers:
        if earlier is use:
            break
        left -= earlier.discount_minor
    return left


def _category_problem(
    rules: ProgramRules | None, row: VoucherRow, use: VoucherUse, sale: Sale
) -> str | None:
    """A reward's amount or percent voucher limited to categories takes at most what the
    till computes (``voucher_discount_on``): its terms on those lines' share of what was left."""
    reward = _reward_of(rules, row)
    if reward is None or reward.categories is None:
        return None
    if reward.kind not in ("voucher_amount", "voucher_percent"):
        return None
    worth = voucher_discount_on(
        sale.basket_lines(returns=False),
        _left_before(sale, use),
        value_minor=row.value_minor,
        percent_bp=row.percent_bp,
        min_spend_minor=row.min_spend_minor,
        categories=reward.categories,
    )
    if use.discount_minor <= worth:
        return None
    return (
        f"applies only to {', '.join(reward.categories)}, worth "
        f"{money_text(worth, row.currency)} on this sale, not "
        f"{money_text(use.discount_minor, row.currency)}"
    )


def _carries_no_money(row: VoucherRow) -> bool:
    """A reward's voucher whose effect is its reward (a free product, a bonus multiplier)."""
    return row.source.startswith(REWARD_SOURCE) and not row.value_minor and row.percent_bp is None


def _rules_for(ctx: LedgerContext, row: VoucherRow, sale: Sale) -> ProgramRules | None:
    """The rules a reward voucher's use is checked with, read only for such a voucher: the
    version its purchase named (the issuing sale's), else the using sale's."""
    if not row.source.startswith(REWARD_SOURCE):
        return None
    if row.issued_terminal is not None and row.issued_seq is not None:
        found = ctx.journal_entry(row.issued_terminal, row.issued_seq)
        issuing = found.payload if found is not None else None
        if isinstance(issuing, Sale):
            for purchase in issuing.rewards:
                if purchase.voucher_code == row.code:
                    return ctx.rules(purchase.rules_version)
    return ctx.rules_for(sale_rules_version(sale))


def _reward_voucher_problem(
    rules: ProgramRules | None, row: VoucherRow, use: VoucherUse, sale: Sale
) -> str | None:
    """A reward voucher that carries no money (docs/vouchers.md, "Reward vouchers"): a free
    product takes one unit of its product off, at most the dearest unit among the sale's
    lines of it; a bonus multiplier takes nothing off."""
    reward_id = row.source[len(REWARD_SOURCE) :]
    reward = next((r for r in rules.rewards if r.id == reward_id), None) if rules else None
    if reward is None:
        return f"was issued by reward {reward_id}, which the sale's rules version does not have"
    if reward.kind != "free_product":
        return f"is for {reward.name}, which takes nothing off a sale"
    units = [line.net_minor // line.quantity for line in sale.lines if line.sku == reward.sku]
    if not units:
        return f"is for a free {reward.sku}, which is not on this sale"
    if use.discount_minor > max(units):
        worth, took = (
            money_text(max(units), row.currency),
            money_text(use.discount_minor, row.currency),
        )
        return f"is worth one {reward.sku} ({worth}), not {took}"
    return None


def post_voucher_uses(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    sale: Sale,
    member_id: str | None,
) -> None:
    """Apply each voucher taken off the sale (the first use HQ sees), or post it to suspense
    with ``voucher_reused`` / ``voucher_invalid``."""
    if not sale.vouchers:
        return
    when = _utc(entry.occurred_at)
    unit = sale.currency
    day = local_day(entry)
    here = f"store {sale.store_id}, till {entry.terminal_id}#{entry.seq}, receipt {sale.receipt_no}"
    for use in sale.vouchers:
        discount = use.discount_minor
        row = _find(ctx, use.code)
        kind: ExceptionKind
        if row is not None and row.status == REDEEMED:
            kind = "voucher_reused"
            first = _receipt_of(ctx, row.redeemed_terminal, row.redeemed_seq)
            detail = (
                f"voucher {use.code} was already redeemed ({first}, "
                f"{(row.redeemed_at or '?')[:16]} UTC) and was used again ({here}, "
                f"{when[:16]} UTC) for {money_text(discount, unit)}"
            )
        else:
            problem = (
                "was never issued by HQ"
                if row is None
                else _problem(row, use, sale, day, member_id, _rules_for(ctx, row, sale))
            )
            if row is not None and problem is None:
                _redeem(ctx, source, entry, row, discount, unit, when)
                continue
            kind = "voucher_invalid"
            detail = f"voucher {use.code} {problem}; {here} took {money_text(discount, unit)} off"
        suspense = voucher_suspense_account(use.code)
        if discount:  # a points bonus moves no money: the exception alone says it
            legs = money_pair(
                VOUCHER_REDEEMED, suspense, discount, PostingKind.VOUCHER_UNBACKED, unit
            )
            ctx.post(source, legs, when)
        ctx.raise_exception(
            kind,
            source,
            member_id,
            discount,
            f"{detail}: posted from {suspense}",
        )


def _redeem(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    row: VoucherRow,
    discount: int,
    unit: str,
    when: str,
) -> None:
    account = voucher_account(row.code)
    legs: list[Leg] = []
    if row.status == EXPIRED and row.value_minor:
        # Used on or before its last day, but reached HQ after the expiry run: take the
        # breakage back first, as if the run had never expired it.
        legs += money_pair(account, VOUCHER_BREAKAGE, row.value_minor, PostingKind.UNEXPIRE, unit)
    promised = row.value_minor
    if discount > promised:  # a percentage voucher without a cap: funded as it is used
        legs += money_pair(
            account, VOUCHER_FUNDING, discount - promised, PostingKind.VOUCHER_ISSUE, unit
        )
    legs += money_pair(VOUCHER_REDEEMED, account, discount, PostingKind.VOUCHER_REDEEM, unit)
    if promised > discount:  # single use: what it did not take is never used
        legs += money_pair(
            VOUCHER_BREAKAGE, account, promised - discount, PostingKind.BREAKAGE, unit
        )
    ctx.post(source, legs, when)
    update_voucher(
        ctx.conn,
        row.code,
        status=REDEEMED,
        redeemed_terminal=entry.terminal_id,
        redeemed_seq=entry.seq,
        redeemed_at=when,
        discount_minor=discount,
    )
    ctx.changed_voucher(row.code)


def restore_voided_vouchers(ctx: LedgerContext, original: EntryRef) -> None:
    """A void gives back the vouchers its sale redeemed (the caller reverses its postings):
    issued again, or expired again when the sale had taken back their breakage."""
    original_legs = ctx.postings_of(original.terminal_id, original.seq)
    ctx.flush_vouchers()
    codes = ctx.conn.execute(
        select(vouchers.c.code)
        .where(
            vouchers.c.redeemed_terminal == original.terminal_id,
            vouchers.c.redeemed_seq == original.seq,
        )
        .order_by(vouchers.c.code)
    ).scalars()
    for code in list(codes):
        row = ctx.lock_voucher(code)
        if row is None or row.status != REDEEMED:
            continue
        unexpired = any(
            leg.kind is PostingKind.UNEXPIRE and leg.account == voucher_account(code)
            for leg in original_legs
        )
        update_voucher(
            ctx.conn,
            code,
            status=EXPIRED if unexpired else ISSUED,
            redeemed_terminal=None,
            redeemed_seq=None,
            redeemed_at=None,
            discount_minor=None,
        )
        ctx.changed_voucher(code)


def apply_voucher_issue(
    ctx: LedgerContext,
    source: PostingSource,
    *,
    codes: list[str],
    value_minor: int,
    percent_bp: int | None,
    min_spend_minor: int,
    currency: str,
    expires_on: str | None,
    member_id: str | None,
    origin: str,
    occurred_at: str,
) -> None:
    for code in codes:
        created = issue_voucher(
            ctx,
            source,
            code=code,
            value_minor=value_minor,
            percent_bp=percent_bp,
            min_spend_minor=min_spend_minor,
            currency=currency,
            expires_on=expires_on,
            member_id=member_id,
            origin=origin,
            occurred_at=occurred_at,
        )
        if not created:
            raise VoucherConflictError(f"voucher code {code} exists already")


def issue_sale_voucher(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    *,
    code: str,
    terms: VoucherTerms,
    currency: str,
    member_id: str | None,
    origin: str,
    taken: str,
) -> None:
    """Issue the voucher a till printed on a sale (a reward's or a campaign's) with ``terms``;
    when HQ already has the code for another voucher, nothing is issued and ``voucher_invalid``
    says ``taken`` (the receipt shows a code that is not the customer's)."""
    created = issue_voucher(
        ctx,
        source,
        code=code,
        value_minor=terms.value_minor,
        percent_bp=terms.percent_bp,
        min_spend_minor=terms.min_spend_minor,
        currency=currency,
        expires_on=terms.expires_on.isoformat(),
        member_id=member_id,
        origin=origin,
        occurred_at=_utc(entry.occurred_at),
    )
    if not created:
        ctx.raise_exception("voucher_invalid", source, member_id, terms.value_minor, taken)


def issue_voucher(
    ctx: LedgerContext,
    source: PostingSource,
    *,
    code: str,
    value_minor: int,
    percent_bp: int | None,
    min_spend_minor: int,
    currency: str,
    expires_on: str | None,
    member_id: str | None,
    origin: str,
    occurred_at: str,
) -> bool:
    """Create one voucher (state issued) and post its value from funding; False, and nothing
    done, when the code exists already. ``source``: the HQ event or till entry issuing it."""
    created = ctx.insert_voucher(
        NewVoucher(
            code=code,
            value_minor=value_minor,
            percent_bp=percent_bp,
            min_spend_minor=min_spend_minor,
            currency=currency,
            expires_on=expires_on,
            member_id=member_id,
            source=origin,
            issued_at=occurred_at,
            issued_terminal=source.terminal_id,
            issued_seq=source.seq,
            hq_event_id=source.hq_event_id,
        ),
    )
    if not created:
        return False
    if value_minor:
        legs = money_pair(
            voucher_account(code),
            VOUCHER_FUNDING,
            value_minor,
            PostingKind.VOUCHER_ISSUE,
            currency,
        )
        ctx.post(source, legs, occurred_at)
    ctx.changed_voucher(code)
    return True


def apply_voucher_void(
    ctx: LedgerContext, source: PostingSource, code: str, occurred_at: str
) -> None:
    row = ctx.lock_voucher(code)
    if row is None:
        raise VoucherConflictError(f"no voucher {code}")
    if row.status != ISSUED:
        raise VoucherConflictError(
            f"voucher {code} is {row.status}: only an unused voucher is voided"
        )
    if row.value_minor:
        legs = money_pair(
            VOUCHER_FUNDING,
            voucher_account(code),
            row.value_minor,
            PostingKind.VOUCHER_VOID,
            row.currency,
        )
        ctx.post(source, legs, occurred_at)
    update_voucher(ctx.conn, code, status=VOIDED)
    ctx.changed_voucher(code)


def apply_voucher_expiry(
    ctx: LedgerContext, source: PostingSource, codes: list[str], occurred_at: str
) -> dict[str, int]:
    """Expire the given (due) vouchers: their value to breakage. Returns counts."""
    expired = value = 0
    for code in codes:
        row = ctx.lock_voucher(code)
        if row is None or row.status != ISSUED:
            continue
        if row.value_minor:
            legs = money_pair(
                VOUCHER_BREAKAGE,
                voucher_account(code),
                row.value_minor,
                PostingKind.BREAKAGE,
                row.currency,
            )
            ctx.post(source, legs, occurred_at)
        update_voucher(ctx.conn, code, status=EXPIRED)
        ctx.changed_voucher(code)
        expired += 1
        value += row.value_minor
    return {"vouchers": expired, "value_minor": value}
