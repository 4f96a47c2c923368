"""Rewards bought at a till, at HQ (docs/ledger.md, "Reward purchases").

The points a reward costs are posted by reconciliation with the rest of the sale's points
(``reward``: member -> ``program:rewards``, consuming lots like a redemption). This module
does the rest, for each ``Sale.rewards`` item in order:

* re-prices it from the rules version it names (``reward_mismatch`` when the reward is not in
  that version, costs other points, is not open to the member's tier or was not on sale on
  the store's day, is delivered otherwise, or takes another discount off the sale);
* counts it against the reward's stock (``reward_counts``; ``reward_oversold`` past it);
* turns the voucher code the till printed into an issued voucher bound to the member
  (the ordinary voucher issue, so tills pull it).

The till's figures stay posted whatever HQ finds: the customer has walked out with them.
A void of the sale gives the points back (reconciliation reverses the postings), voids the
reward vouchers it issued that were not used, and takes the purchases off the counts; a
return gives no reward points back (a reward bought is kept).
"""

from __future__ import annotations

from sqlalchemy import select

from shared.journal import EntryRef, JournalEntry, Sale, format_utc
from shared.journal.payloads import RewardPurchase
from shared.money import format_points
from shared.rules import ProgramRules
from shared.rules.model import Reward
from shared.rules.rewards import reward_discount, voucher_terms
from syncserver.ledger.accounts import (
    VOUCHER_BREAKAGE,
    VOUCHER_FUNDING,
    Leg,
    PostingKind,
    money_pair,
    voucher_account,
)
from syncserver.ledger.context import LedgerContext
from syncserver.ledger.points import day_of
from syncserver.ledger.stored_value import money_text
from syncserver.ledger.vouchers import issue_sale_voucher, local_day
from syncserver.storage.postings import PostingSource
from syncserver.storage.schema import vouchers
from syncserver.storage.vouchers import (
    EXPIRED,
    ISSUED,
    REDEEMED,
    VOIDED,
    update_voucher,
)

__all__ = [
    "MONEY_DIFFERENCE",
    "is_money_mismatch",
    "post_reward_purchases",
    "reward_source",
    "void_reward_purchases",
]

MONEY_DIFFERENCE = "(the amount is money, in minor units)"
"""Ends the detail of a ``reward_mismatch`` whose amount is a discount difference, not
points (HQ shows it as money and offers no points adjustment)."""


def is_money_mismatch(kind: str, detail: str) -> bool:
    return kind == "reward_mismatch" and detail.endswith(MONEY_DIFFERENCE)


def reward_source(reward_id: str) -> str:
    """A reward voucher's ``vouchers.source``."""
    return f"reward:{reward_id}"


class _Mismatch:
    """What differs about one purchase, in words, and the exception's amount."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.points: int | None = None
        self.money: int | None = None

    def add(self, problem: str, *, points: int | None = None, money: int | None = None) -> None:
        self.problems.append(problem)
        if points is not None and self.points is None:
            self.points = points
        if money is not None and self.money is None:
            self.money = money


def _reprice(
    ctx: LedgerContext,
    purchase: RewardPurchase,
    reward: Reward,
    sale: Sale,
    entry: JournalEntry,
    member_id: str | None,
    subtotal_after: int,
) -> _Mismatch:
    found = _Mismatch()
    currency = sale.currency
    if purchase.points != reward.points:
        found.add(
            f"it costs {format_points(reward.points)} in rules version "
            f"{purchase.rules_version}, the till charged {format_points(purchase.points)}",
            points=purchase.points - reward.points,
        )
    if member_id is not None and reward.tiers:
        utc_day = day_of(format_utc(entry.occurred_at))
        held = ctx.points.tiers_held_on(member_id, utc_day)
        if not any(reward.open_to(tier) for tier in held):
            tiers = ", ".join(sorted(t or "no tier" for t in held))
            found.add(
                f"it is only for tiers {', '.join(reward.tiers)}; HQ holds member {member_id} "
                f"in {tiers} on {utc_day.isoformat()}",
                points=purchase.points,
            )
    day = local_day(entry)
    if not reward.on_sale(day):
        window = (
            f"from {reward.starts.isoformat() if reward.starts else 'the start'} "
            f"to {reward.ends.isoformat() if reward.ends else 'no end'}"
        )
        found.add(
            f"it is on sale {window}, not on {day.isoformat()} (the store's day)",
            points=purchase.points,
        )
    if reward.delivery == "voucher" and purchase.voucher_code is None:
        found.add(
            f"it issues a voucher, but the till issued none and took "
            f"{money_text(purchase.discount_minor, currency)} off the sale",
            money=purchase.discount_minor,
        )
    elif reward.delivery == "apply_now" and purchase.voucher_code is not None:
        expected = _discount(reward, sale, subtotal_after)
        found.add(
            f"it takes {money_text(expected, currency)} off the sale it is bought with, but "
            f"the till issued voucher {purchase.voucher_code} instead",
            money=-expected,
        )
    elif reward.delivery == "apply_now":
        expected = _discount(reward, sale, subtotal_after)
        if expected != purchase.discount_minor:
            found.add(
                f"it takes {money_text(expected, currency)} off this sale (after "
                f"{money_text(sale.subtotal_minor - subtotal_after, currency)} of earlier "
                f"discounts), the till took {money_text(purchase.discount_minor, currency)}",
                money=purchase.discount_minor - expected,
            )
    return found


def _discount(reward: Reward, sale: Sale, subtotal_after: int) -> int:
    try:
        return reward_discount(reward, sale.basket_lines(), subtotal_after)
    except ValueError:  # the till's discounts left nothing sensible to compute on
        return 0


def _find(rules: ProgramRules | None, reward_id: str) -> Reward | None:
    if rules is None:
        return None
    return next((reward for reward in rules.rewards if reward.id == reward_id), None)


def post_reward_purchases(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    sale: Sale,
    member_id: str | None,
) -> None:
    """Re-price, count and deliver each reward the sale bought (its points are posted)."""
    if not sale.rewards:
        return
    label = f"sale {source.label()}"
    points_discount = sale.redeemed.discount_minor if sale.redeemed else 0
    # Rewards work on what is left after the points discount, the vouchers and the rewards
    # before them (as the till took them).
    subtotal_after = sale.subtotal_minor - points_discount - sale.voucher_discount_minor
    for purchase in sale.rewards:
        rules = ctx.rules(purchase.rules_version)
        reward = _find(rules, purchase.reward_id)
        what = f"{label} bought reward {purchase.reward_id}"
        if reward is None:
            missing = (
                f"rules version {purchase.rules_version} is not known to HQ"
                if rules is None
                else f"rules version {purchase.rules_version} has no reward {purchase.reward_id}"
            )
            ctx.raise_exception(
                "reward_mismatch",
                source,
                member_id,
                purchase.points,
                f"{what} for {format_points(purchase.points)}: {missing}; "
                "the points were spent as the till reported",
            )
        else:
            what = f"{label} bought reward {reward.id} ({reward.name})"
            mismatch = _reprice(ctx, purchase, reward, sale, entry, member_id, subtotal_after)
            if mismatch.problems:
                in_money = mismatch.points is None
                amount = mismatch.points if mismatch.points is not None else mismatch.money
                ctx.raise_exception(
                    "reward_mismatch",
                    source,
                    member_id,
                    amount or 0,
                    f"{what} for {format_points(purchase.points)}: "
                    f"{'; '.join(mismatch.problems)}; posted as the till reported"
                    + (f" {MONEY_DIFFERENCE}" if in_money else ""),
                )
        _count(ctx, source, purchase, reward, member_id, what)
        if purchase.voucher_code is not None:
            _issue(ctx, source, entry, sale, purchase, reward, member_id, what)
        subtotal_after -= purchase.discount_minor


def _count(
    ctx: LedgerContext,
    source: PostingSource,
    purchase: RewardPurchase,
    reward: Reward | None,
    member_id: str | None,
    what: str,
) -> None:
    issued = ctx.count_reward(purchase.reward_id, 1)
    if reward is not None and reward.stock is not None and issued > reward.stock:
        ctx.raise_exception(
            "reward_oversold",
            source,
            member_id,
            purchase.points,
            f"{what}: number {issued:,} of a stock of {reward.stock:,} (tills offline at the "
            "same time sold the last ones); posted as the till reported",
        )


def _issue(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    sale: Sale,
    purchase: RewardPurchase,
    reward: Reward | None,
    member_id: str | None,
    what: str,
) -> None:
    code = purchase.voucher_code
    assert code is not None
    if reward is None or reward.delivery != "voucher":
        # No terms HQ could give it (the reward_mismatch raised says why): not issued.
        ctx.raise_exception(
            "voucher_invalid",
            source,
            member_id,
            0,
            f"{what} issued voucher {code}, which HQ cannot issue (no voucher reward "
            f"{purchase.reward_id} in rules version {purchase.rules_version}): the voucher "
            "does not exist at HQ",
        )
        return
    terms = voucher_terms(reward, local_day(entry))
    issue_sale_voucher(
        ctx,
        source,
        entry,
        code=code,
        terms=terms,
        currency=sale.currency,
        member_id=member_id,
        origin=reward_source(reward.id),
        taken=f"{what} issued voucher {code}, a code HQ already has for another voucher: not "
        "issued again; the member's receipt shows a code that is not theirs",
    )


# --- void ------------------------------------------------------------------------------------


def _original(ctx: LedgerContext, ref: EntryRef) -> Sale | None:
    found = ctx.journal_entry(ref.terminal_id, ref.seq)
    payload = found.payload if found is not None else None
    return payload if isinstance(payload, Sale) else None


def void_reward_purchases(
    ctx: LedgerContext, source: PostingSource, entry: JournalEntry, ref: EntryRef
) -> tuple[list[Leg], list[Leg]]:
    """For a void of sale ``ref`` (checked by the caller): take its purchases off the counts
    and void the reward and campaign vouchers it issued. Returns (legs of the sale the void
    must not reverse, extra legs for the void to post): a voucher already used keeps its
    issue (and raises ``reward_mismatch``: the points go back, the voucher was had; for a
    campaign voucher ``campaign_voucher_mismatch``); one HQ voided already was reversed then;
    an expired one gets its breakage back first."""
    sale = _original(ctx, ref)
    if sale is None or not (sale.rewards or sale.campaign_vouchers):
        return [], []
    for purchase in sale.rewards:
        ctx.count_reward(purchase.reward_id, -1)
    ctx.flush_vouchers()
    codes = ctx.conn.execute(
        select(vouchers.c.code)
        .where(vouchers.c.issued_terminal == ref.terminal_id, vouchers.c.issued_seq == ref.seq)
        .order_by(vouchers.c.code)
    ).scalars()
    kept: list[Leg] = []
    extra: list[Leg] = []
    by_code = {p.voucher_code: p for p in sale.rewards if p.voucher_code is not None}
    for code in list(codes):
        row = ctx.lock_voucher(code)
        if row is None:
            continue
        issue = money_pair(
            voucher_account(code),
            VOUCHER_FUNDING,
            row.value_minor,
            PostingKind.VOUCHER_ISSUE,
            row.currency,
        )
        if row.status == REDEEMED:
            if row.value_minor:
                kept += issue
            if code not in by_code:  # a campaign's voucher: no points to give back
                ctx.raise_exception(
                    "campaign_voucher_mismatch",
                    source,
                    row.member_id,
                    row.value_minor,
                    f"void {source.label()} of sale {ref.terminal_id}#{ref.seq}: its "
                    f"{row.source} voucher {code} was already used "
                    f"({row.redeemed_terminal}#{row.redeemed_seq}): the voucher stays redeemed",
                )
                continue
            bought = by_code.get(code)
            points = bought.points if bought is not None else 0
            ctx.raise_exception(
                "reward_mismatch",
                source,
                row.member_id,
                points,
                f"void {source.label()} of sale {ref.terminal_id}#{ref.seq} gave back "
                f"{format_points(points)} spent on {row.source}, but its voucher {code} was "
                f"already used ({row.redeemed_terminal}#{row.redeemed_seq}): the voucher stays "
                "redeemed",
            )
            continue
        if row.status == VOIDED:
            if row.value_minor:
                kept += issue  # HQ's void of the voucher reversed its issue already
            continue
        if row.status == EXPIRED and row.value_minor:
            extra += money_pair(
                voucher_account(code),
                VOUCHER_BREAKAGE,
                row.value_minor,
                PostingKind.UNEXPIRE,
                row.currency,
            )
        assert row.status in (ISSUED, EXPIRED)
        update_voucher(ctx.conn, code, status=VOIDED)
        ctx.changed_voucher(code)
    return kept, extra
