"""Recompute a sale's points with the shared engine and the rules version the till reported
(docs/design.md, invariant 5). A difference is an exception for HQ, never a silent correction:
the till's figure is what gets posted, because the customer already saw it on the receipt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from shared.journal import JournalEntry, Sale
from shared.rules import (
    EarnContext,
    EarnResult,
    ProgramRules,
    compute_earn,
    earn_context,
    earn_points,
    earn_points_of,
)
from shared.rules.model import Reward

__all__ = [
    "FROM_ENTRY",
    "EarnCheck",
    "check_earn",
    "points_bonuses",
    "precheck_earn",
    "tier_from_breakdown",
]


@dataclass(frozen=True, slots=True)
class EarnCheck:
    till_points: int
    server_points: int
    detail: str | None
    """None when the server agrees; otherwise what differs."""

    @property
    def difference(self) -> int:
        return self.till_points - self.server_points


def tier_from_breakdown(earned: EarnResult, rules: ProgramRules) -> str | None:
    """The tier the till computed with, read off its breakdown.

    A sale entry does not name the member's tier, but every line of the breakdown carries the
    tier multiplier the till applied. The only thing the engine does with a tier is apply its
    multiplier, so recomputing with any tier of that multiplier gives the till's result when
    the till followed the rules; a multiplier no tier of this version has gives no tier (and
    so, very likely, a mismatch). Limitation: a till that claimed a *valid* but wrong tier
    is not caught here; the tier check belongs with server-side tiers.
    """
    multipliers = {_fraction(line.tier_multiplier) for line in earned.lines}
    if len(multipliers) != 1:
        return None
    (multiplier,) = multipliers
    if multiplier == 1:
        return None
    return next((t.code for t in rules.tiers if t.multiplier_fraction == multiplier), None)


@lru_cache(maxsize=256)
def _fraction(text: str) -> Fraction:
    return Fraction(text)


class _FromEntry:
    """The default of ``check_earn(tier=...)``: the tier the entry names, else the breakdown's."""


FROM_ENTRY = _FromEntry()


def points_bonuses(sale: Sale, rules: ProgramRules) -> list[Reward]:
    """The bonus-multiplier rewards whose vouchers the sale took (``VoucherUse
    .points_bonus_reward``), as ``rules`` define them; one the version lacks, or that is not a
    bonus multiplier there, counts for nothing (the voucher's use is ``voucher_invalid``, and
    the till's points then differ: ``rules_mismatch``)."""
    rewards = {reward.id: reward for reward in rules.rewards}
    found = []
    for use in sale.vouchers:
        reward = rewards.get(use.points_bonus_reward or "")
        if reward is not None and reward.kind == "bonus_multiplier":
            found.append(reward)
    return found


def check_earn(
    entry: JournalEntry,
    sale: Sale,
    rules: ProgramRules | None,
    *,
    tier: str | _FromEntry | None = FROM_ENTRY,
) -> EarnCheck | None:
    """Compare the till's points with the server's; None when the sale earned nothing to check.

    ``tier``: the tier to recompute with. By default the one the sale names (``Sale.tier``,
    what the till says it earned with), or for older entries that do not name one, the tier
    read off the breakdown (:func:`tier_from_breakdown`). The tier check
    (syncserver.ledger.points) passes HQ's tier for the member instead."""
    earned = sale.earned
    if earned is None:
        return None
    till = earned.total_points
    if rules is None:
        return EarnCheck(
            till, 0, f"rules version {earned.rules_version} is not known to the server"
        )
    if earned.program_id != rules.program_id:
        return EarnCheck(
            till,
            0,
            f"the till used program {earned.program_id!r}, the server runs {rules.program_id!r}",
        )
    till_points = earn_points_of(earned)  # what must agree
    try:
        # The points alone first: building the breakdown is most of the cost, and a sale
        # the till computed right (nearly all of them) needs nothing more.
        points = earn_points(
            rules,
            sale.basket_tuples(),
            earn_context(sale.store_id, entry.local_time, _tier(sale, earned, rules, tier)),
            # Everything taken off the whole basket: points and vouchers.
            order_discount_minor=sale.order_discount_minor,
            points_bonuses=points_bonuses(sale, rules),
        )
    except (ValueError, ArithmeticError):
        points = None  # compute_earn below raises it again, with the message HQ sees
    if points is not None and points == till_points:
        return EarnCheck(till, points[0][1], None)
    # The full breakdown, to say which lines differ (or why the points cannot be computed).
    try:
        server = compute_earn(
            rules,
            sale.basket_lines(),
            EarnContext(
                store_id=sale.store_id,
                local_time=entry.local_time,
                tier=_tier(sale, earned, rules, tier),
            ),
            order_discount_minor=sale.order_discount_minor,
            points_bonuses=points_bonuses(sale, rules),
        )
    except (ValueError, ArithmeticError) as error:
        # A result beyond the bounds, or arithmetic no real sale reaches: the till's figure is
        # posted (it passed the entry's own bounds) and HQ sees why it could not be checked.
        return EarnCheck(till, 0, f"the server could not recompute the points: {error}")
    if earn_points_of(server) == till_points:
        return EarnCheck(till, server.total_points, None)
    differing = [
        f"line {a.line_no}: till {a.points}, server {b.points}"
        for a, b in zip(earned.lines, server.lines, strict=False)
        if a.points != b.points
    ]
    return EarnCheck(
        till,
        server.total_points,
        f"rules version {rules.version}: till {till} points, server {server.total_points}"
        + (f" ({'; '.join(differing)})" if differing else ""),
    )


def _tier(
    sale: Sale, earned: EarnResult, rules: ProgramRules, tier: str | _FromEntry | None
) -> str | None:
    if not isinstance(tier, _FromEntry):
        return tier
    if sale.tier is not None:
        return sale.tier
    return tier_from_breakdown(earned, rules)


def precheck_earn(
    entries: Iterable[JournalEntry], rules: Mapping[int, ProgramRules]
) -> dict[tuple[str, int], EarnCheck | None]:
    """:func:`check_earn` for every sale whose rules version is in ``rules`` (published
    versions never change), keyed by (terminal_id, seq): CPU work a push does before it
    takes any lock. Sales with another version are left to reconciliation."""
    out: dict[tuple[str, int], EarnCheck | None] = {}
    for entry in entries:
        sale = entry.payload
        if isinstance(sale, Sale) and sale.earned is not None and sale.member is not None:
            version = rules.get(sale.earned.rules_version)
            if version is not None:
                out[(entry.terminal_id, entry.seq)] = check_earn(entry, sale, version)
    return out
