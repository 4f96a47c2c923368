"""Earning: how many points a basket earns, line by line, and why.

A line's points are ``eligible spend x points per unit x product x campaign x tier``, rounded
with the program's mode, plus fixed unit bonuses. Rounding each line (not the total) is what
lets the receipt's breakdown add up exactly to the total it prints.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Literal, TypeAlias

from pydantic import Field

from shared.bounds import MAX_LINES, MAX_NOTES
from shared.money import Money, Rounding, allocate, format_points, parse_ratio, round_fraction
from shared.rules._fields import (
    FractionText,
    FrozenModel,
    InvariantError,
    Name,
    NonNegativeInt,
    PointsInt,
    PositiveInt,
    Version,
    fraction_text,
)
from shared.rules.basket import BasketLine, EarnContext
from shared.rules.model import Campaign, ProgramRules, Reward

__all__ = ["EarnResult", "LineEarning", "OrderBonus", "compute_earn", "points_bonus"]

BELOW_MIN_SPEND = "order below minimum spend"
NO_SPEND = "no spend on this line"
_NOTE_CHARS = 1000
"""The longest note a breakdown keeps (EarnResult.notes)."""

_Formatter: TypeAlias = Callable[[int], str]
"""Formats minor units of the program's currency for a note."""


class LineEarning(FrozenModel):
    """The points one basket line earned and every factor that went into them."""

    line_no: NonNegativeInt
    sku: Name
    category: Name
    quantity: PositiveInt
    net_minor: NonNegativeInt
    eligible_minor: NonNegativeInt
    """Spend that earns: net minus this line's share of the order discount (if that counts)."""
    base: FractionText
    """Points before multipliers, exactly: eligible spend x points per unit / spend unit."""
    product_multiplier: FractionText
    campaign_id: Name | None
    """The qualifying campaign with the highest multiplier above 1, if any."""
    campaign_multiplier: FractionText
    tier_multiplier: FractionText
    unit_bonus: PointsInt
    points: PointsInt
    """round(base x product x campaign x tier) + unit_bonus."""
    excluded_reason: Annotated[str, Field(max_length=300)] | None
    """Why the line earns nothing, if it does not."""


class OrderBonus(FrozenModel):
    """Points earned by the order as a whole rather than by a line."""

    kind: Literal["per_order", "campaign", "reward"]
    """``reward``: a bonus-multiplier reward's voucher taken on the sale (label "Reward: <its
    name>"): (multiplier − 1) × every other point of the sale (:func:`points_bonus`)."""
    label: Name
    campaign_id: Name | None = None
    points: PointsInt


class EarnResult(FrozenModel):
    """The points a sale earns; embedded verbatim in the journal entry for the sale."""

    program_id: Name
    rules_version: Version
    total_points: PointsInt
    lines: Annotated[tuple[LineEarning, ...], Field(max_length=MAX_LINES)]
    order_items: Annotated[tuple[OrderBonus, ...], Field(max_length=MAX_LINES)]
    notes: Annotated[
        tuple[Annotated[str, Field(max_length=_NOTE_CHARS)], ...], Field(max_length=MAX_NOTES)
    ]

    def check_totals(self) -> None:
        """Raise :class:`InvariantError` unless the parts add up to the total."""
        parts = sum(line.points for line in self.lines) + sum(i.points for i in self.order_items)
        if parts != self.total_points:
            raise InvariantError(
                f"earn breakdown sums to {parts} points but the total says {self.total_points}"
            )
        for line in self.lines:
            if line.excluded_reason is not None and line.points:
                raise InvariantError(
                    f"line {line.line_no} is excluded ({line.excluded_reason}) "
                    f"yet earns {line.points} points"
                )
        line_numbers = [line.line_no for line in self.lines]
        if len(set(line_numbers)) != len(line_numbers):
            raise InvariantError(f"line numbers repeat: {line_numbers}")

    def summary_lines(self) -> tuple[str, ...]:
        """Short receipt lines: points per category, order bonuses, then the total."""
        by_category: dict[str, tuple[int, int]] = {}
        for line in self.lines:
            if line.points:
                quantity, points = by_category.get(line.category, (0, 0))
                by_category[line.category] = (quantity + line.quantity, points + line.points)
        rows = [
            f"{_label(category)} x{quantity}: {format_points(points)}"
            for category, (quantity, points) in by_category.items()
        ]
        rows += [
            f"{item.label} +{format_points(item.points)}"
            if item.kind == "reward"
            else f"{item.label}: {format_points(item.points)}"
            for item in self.order_items
        ]
        rows.append(f"Total: {format_points(self.total_points)}")
        return tuple(rows)


def _label(category: str) -> str:
    text = category.replace("-", " ").replace("_", " ")
    return text[:1].upper() + text[1:]


@dataclass(frozen=True, slots=True)
class _QualifyingCampaign:
    campaign: Campaign
    line_indexes: frozenset[int]


def compute_earn(
    rules: ProgramRules,
    lines: Sequence[BasketLine],
    ctx: EarnContext,
    *,
    order_discount_minor: int = 0,
    points_bonuses: Sequence[Reward] = (),
) -> EarnResult:
    """The points ``lines`` earn under ``rules``, with a line-by-line breakdown.

    ``order_discount_minor`` (an order-level discount such as redeemed points) is spread over
    the lines that can earn in proportion to their net amounts and, unless the program says
    ``earn_on_discounted``, reduces the spend that earns.

    ``points_bonuses``: the bonus-multiplier rewards whose vouchers were taken on the sale;
    each adds an order item of :func:`points_bonus` on the points the sale earns without
    them (several do not compound).
    """
    _check_inputs(lines, order_discount_minor)
    earn = rules.earn
    notes: list[str] = []

    def money(minor: int) -> str:
        return Money(minor, rules.currency).format()

    reasons = [_exclusion(rules, line) for line in lines]
    earning = [i for i, reason in enumerate(reasons) if reason is None]
    eligible = _eligible_spend(rules, lines, earning, order_discount_minor, notes, money)
    eligible_total = sum(eligible.values())
    qualifies = bool(earning) and eligible_total >= earn.min_spend_minor
    if not earning:
        notes.append("no line in this basket earns points")
    elif not qualifies:
        notes.append(
            f"minimum spend {money(earn.min_spend_minor)} not reached "
            f"(eligible spend {money(eligible_total)})"
        )

    tier_multiplier = _tier_multiplier(rules, ctx, notes)
    campaigns = _qualifying_campaigns(rules, lines, ctx, eligible, notes, money)
    ppu = earn.points_per_unit_fraction

    results: list[LineEarning] = []
    for index, line in enumerate(lines):
        eligible_minor = eligible.get(index, 0)
        base = Fraction(eligible_minor) * ppu / earn.spend_unit_minor
        product = earn.product_multiplier(line.sku, line.category)
        reason = reasons[index] or (None if qualifies else BELOW_MIN_SPEND)
        winner = _winning_campaign(campaigns, index, line, notes) if reason is None else None
        campaign_multiplier = winner.multiplier_fraction if winner else Fraction(1)
        if reason is None:
            unit_bonus = line.quantity * earn.unit_bonus_per_unit(line.sku, line.category)
            multiplied = base * product * campaign_multiplier * tier_multiplier
            points = round_fraction(multiplied, rules.rounding) + unit_bonus
        else:
            unit_bonus = points = 0
        results.append(
            LineEarning(
                line_no=line.line_no,
                sku=line.sku,
                category=line.category,
                quantity=line.quantity,
                net_minor=line.net_minor,
                eligible_minor=eligible_minor,
                base=fraction_text(base),
                product_multiplier=fraction_text(product),
                campaign_id=winner.id if winner else None,
                campaign_multiplier=fraction_text(campaign_multiplier),
                tier_multiplier=fraction_text(tier_multiplier),
                unit_bonus=unit_bonus,
                points=points,
                excluded_reason=reason,
            )
        )

    order_items = _order_items(rules, campaigns) if qualifies else []
    earned_without = sum(r.points for r in results) + sum(i.points for i in order_items)
    order_items += [
        OrderBonus(
            kind="reward",
            label=f"Reward: {reward.name}"[:100],
            points=points_bonus(reward, earned_without, rules.rounding),
        )
        for reward in points_bonuses
    ]
    result = EarnResult(
        program_id=rules.program_id,
        rules_version=rules.version,
        total_points=sum(r.points for r in results) + sum(i.points for i in order_items),
        lines=tuple(results),
        order_items=tuple(order_items),
        notes=_bounded_notes(notes),
    )
    result.check_totals()
    return result


def points_bonus(reward: Reward, earned_points: int, rounding: Rounding) -> int:
    """What a bonus-multiplier reward adds to a sale that earns ``earned_points`` without it:
    ``(multiplier − 1) × earned_points``, rounded with the program's mode; never below 0 (a
    sale that earns nothing, or takes points back, gets no bonus)."""
    if reward.kind != "bonus_multiplier" or reward.multiplier is None:
        raise ValueError(f"reward {reward.id} is not a bonus multiplier")
    if earned_points <= 0:
        return 0
    return round_fraction((parse_ratio(reward.multiplier) - 1) * earned_points, rounding)


def _bounded_notes(notes: list[str]) -> tuple[str, ...]:
    """The notes within EarnResult's bounds: a program may have any number of campaigns with
    names of any length, but a journal entry's breakdown may not grow without bound."""
    clipped = [n if len(n) <= _NOTE_CHARS else n[: _NOTE_CHARS - 1] + "…" for n in notes]
    if len(clipped) > MAX_NOTES:
        kept = clipped[: MAX_NOTES - 1]
        return (*kept, f"and {len(clipped) - len(kept)} more notes")
    return tuple(clipped)


def _check_inputs(lines: Sequence[BasketLine], order_discount_minor: int) -> None:
    counts = Counter(line.line_no for line in lines)
    if repeated := sorted(n for n, count in counts.items() if count > 1):
        raise ValueError(f"basket line numbers must be unique; repeated: {repeated}")
    if type(order_discount_minor) is not int or order_discount_minor < 0:
        raise ValueError(f"order_discount_minor must be an int >= 0, not {order_discount_minor!r}")


def _exclusion(rules: ProgramRules, line: BasketLine) -> str | None:
    reason = rules.earn.exclusion_reason(line.sku, line.category)
    if reason is None and line.net_minor == 0:
        # A free line earns nothing, not even a unit bonus: bonuses reward buying, and a
        # line with no value could never be reversed in proportion to a refund.
        return NO_SPEND
    return reason


def _eligible_spend(
    rules: ProgramRules,
    lines: Sequence[BasketLine],
    earning: list[int],
    order_discount_minor: int,
    notes: list[str],
    money: _Formatter,
) -> dict[int, int]:
    """Each earning line's spend that earns points, keyed by its index in ``lines``."""
    nets = [lines[i].net_minor for i in earning]
    if order_discount_minor == 0 or rules.earn.earn_on_discounted:
        if order_discount_minor:
            notes.append(f"order discount {money(order_discount_minor)} still earns points")
        return dict(zip(earning, nets, strict=True))
    # Only the lines that earn carry the discount; once it covers them there is no spend
    # left to reduce, so the part beyond their total simply does not matter here.
    applied = min(order_discount_minor, sum(nets))
    shares = allocate(applied, nets)
    notes.append(f"order discount {money(order_discount_minor)} does not earn points")
    return {i: net - share for i, net, share in zip(earning, nets, shares, strict=True)}


def _tier_multiplier(rules: ProgramRules, ctx: EarnContext, notes: list[str]) -> Fraction:
    if ctx.tier is None:
        return Fraction(1)
    tier = rules.tier(ctx.tier)
    if tier is None:
        # A till may know a tier from newer rules than the version it computes with; the
        # sale must still go through, and the note makes the gap visible on both sides.
        notes.append(f"unknown tier {ctx.tier!r} in rules version {rules.version}: no bonus")
        return Fraction(1)
    return tier.multiplier_fraction


def _qualifying_campaigns(
    rules: ProgramRules,
    lines: Sequence[BasketLine],
    ctx: EarnContext,
    eligible: dict[int, int],
    notes: list[str],
    money: _Formatter,
) -> list[_QualifyingCampaign]:
    """Campaigns running now whose targeted lines reach the campaign's minimum spend."""
    qualifying = []
    for campaign in rules.campaigns:
        if campaign.multiplier_fraction == 1 and not campaign.bonus_points:
            # A campaign that gives no points (only a voucher) has nothing to say about them:
            # shared.rules.campaign_vouchers decides its voucher.
            continue
        if not campaign.is_running(ctx.store_id, ctx.local_time):
            continue
        targeted = frozenset(
            i for i in eligible if campaign.targets(lines[i].sku, lines[i].category)
        )
        if not targeted:
            continue
        spend = sum(eligible[i] for i in targeted)
        if spend < campaign.min_spend_minor:
            notes.append(
                f"{campaign.name}: needs {money(campaign.min_spend_minor)} "
                f"on its items, {money(spend)} spent"
            )
            continue
        qualifying.append(_QualifyingCampaign(campaign, targeted))
    return qualifying


def _winning_campaign(
    campaigns: list[_QualifyingCampaign], index: int, line: BasketLine, notes: list[str]
) -> Campaign | None:
    # A bonus-only campaign (multiplier 1) changes no line's points, so it does not compete.
    matching = [
        q.campaign
        for q in campaigns
        if index in q.line_indexes and q.campaign.multiplier_fraction > 1
    ]
    if not matching:
        return None
    # max() keeps the first of equal multipliers, so ties go to the earlier campaign.
    winner = max(matching, key=lambda c: c.multiplier_fraction)
    if len(matching) > 1:
        # Name a few, not all: a note is bounded (EarnResult.notes), a program's campaigns
        # are not.
        rest = [c for c in matching if c is not winner]
        others = ", ".join(f"{c.id} x{fraction_text(c.multiplier_fraction)}" for c in rest[:3])
        if len(rest) > 3:
            others += f" and {len(rest) - 3} more"
        notes.append(
            f"line {line.line_no}: campaign {winner.id} "
            f"x{fraction_text(winner.multiplier_fraction)} applies (highest multiplier; "
            f"also matching: {others})"
        )
    return winner


def _order_items(rules: ProgramRules, campaigns: list[_QualifyingCampaign]) -> list[OrderBonus]:
    items = []
    if rules.earn.per_order_points:
        items.append(
            OrderBonus(kind="per_order", label="Visit bonus", points=rules.earn.per_order_points)
        )
    items += [
        OrderBonus(
            kind="campaign",
            label=q.campaign.name,
            campaign_id=q.campaign.id,
            points=q.campaign.bonus_points,
        )
        for q in campaigns
        if q.campaign.bonus_points
    ]
    return items
