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
from typing import Annotated, Literal, NamedTuple, TypeAlias

from pydantic import Field

from shared.bounds import MAX_LINES, MAX_NOTES, MAX_POINTS
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
from shared.rules.basket import BasketLine, EarnContext, LightContext, LightLine
from shared.rules.compiled import ONE, CompiledRules, ProductTerms, compiled, round_ratio
from shared.rules.model import ProgramRules, Reward

__all__ = [
    "EarnPoints",
    "EarnResult",
    "LineEarning",
    "OrderBonus",
    "compute_earn",
    "earn_points",
    "earn_points_of",
    "points_bonus",
]

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


Lines: TypeAlias = Sequence[BasketLine | LightLine]
"""Basket lines: models, or light tuples of lines validated already (LightLine)."""
Context: TypeAlias = EarnContext | LightContext

EarnPoints: TypeAlias = tuple[tuple[int, int], ...]
"""What a recomputation must agree on (:func:`earn_points`): ``(-1, total)``, then
``(line_no, points)`` per line, then ``(-2, points)`` per order item."""

_LARGE = 2**63
"""Beyond this an order discount is formatted in points mode too, so that a number too long
to print fails there exactly as it fails when the breakdown's note is written."""


class _Item(NamedTuple):
    kind: Literal["per_order", "campaign", "reward"]
    label: str
    campaign_id: str | None
    points: int


@dataclass(slots=True)
class _Detail:
    """Per line, what the breakdown shows besides the points (only when asked for)."""

    eligible_minor: int
    winner: int
    """Index into CompiledRules.campaigns, -1 for none."""
    reason: str | None
    unit_bonus: int


@dataclass(slots=True)
class _Earned:
    compiled: CompiledRules
    line_points: list[int]
    items: list[_Item]
    tier_multiplier: Fraction
    details: list[_Detail]
    """Empty unless the breakdown was asked for."""


def _earn(
    rules: ProgramRules,
    lines: Lines,
    ctx: Context,
    order_discount_minor: int,
    points_bonuses: Sequence[Reward],
    notes: list[str] | None,
) -> _Earned:
    """The one earning engine: the points of every line and order item, and with ``notes``
    (not None) the notes and each line's breakdown as well."""
    _check_inputs(lines, order_discount_minor)
    compiled_rules = compiled(rules)
    earn = rules.earn
    detailed = notes is not None

    def money(minor: int) -> str:
        return Money(minor, rules.currency).format()

    if not detailed and order_discount_minor >= _LARGE:
        money(order_discount_minor)
    terms = [compiled_rules.terms(line.sku, line.category) for line in lines]
    reasons: list[str | None] = []
    earning: list[int] = []
    for index, (line, line_terms) in enumerate(zip(lines, terms, strict=True)):
        # A free line earns nothing, not even a unit bonus: bonuses reward buying, and a
        # line with no value could never be reversed in proportion to a refund.
        reason = line_terms.exclusion
        if reason is None and line.net_minor == 0:
            reason = NO_SPEND
        reasons.append(reason)
        if reason is None:
            earning.append(index)
    eligible = _eligible_spend(rules, lines, earning, order_discount_minor, notes, money)
    eligible_total = sum(eligible.values())
    qualifies = bool(earning) and eligible_total >= earn.min_spend_minor
    if notes is not None:
        if not earning:
            notes.append("no line in this basket earns points")
        elif not qualifies:
            notes.append(
                f"minimum spend {money(earn.min_spend_minor)} not reached "
                f"(eligible spend {money(eligible_total)})"
            )

    tier_code = ctx.tier
    tier_multiplier = ONE
    if tier_code is not None:
        found = compiled_rules.tiers.get(tier_code)
        if found is None:
            # A till may know a tier from newer rules than the version it computes with; the
            # sale must still go through, and the note makes the gap visible on both sides.
            if notes is not None:
                notes.append(
                    f"unknown tier {tier_code!r} in rules version {rules.version}: no bonus"
                )
            tier_code = None
        else:
            tier_multiplier = found
    # Nothing a campaign does reaches a result unless the order qualifies: only the
    # breakdown's notes need the campaigns then.
    campaigns = (
        _qualifying_campaigns(compiled_rules, lines, terms, ctx, eligible, notes, money)
        if qualifies or detailed
        else []
    )
    multiplying = [q for q in campaigns if compiled_rules.campaigns[q].multiplier > 1]

    line_points: list[int] = []
    details: list[_Detail] = []
    rounding = compiled_rules.rounding
    for index, line in enumerate(lines):
        reason = reasons[index] or (None if qualifies else BELOW_MIN_SPEND)
        winner = -1
        unit_bonus = points = 0
        if reason is None:
            line_terms = terms[index]
            if multiplying:
                winner = _winning_campaign(compiled_rules, multiplying, line_terms, line, notes)
            numerator, denominator = compiled_rules.scaled(
                line_terms, winner, tier_code, tier_multiplier
            )
            unit_bonus = line.quantity * line_terms.unit_bonus
            points = round_ratio(eligible[index] * numerator, denominator, rounding) + unit_bonus
        line_points.append(points)
        if detailed:
            details.append(_Detail(eligible.get(index, 0), winner, reason, unit_bonus))

    items = _order_items(rules, compiled_rules, campaigns) if qualifies else []
    earned_without = sum(line_points) + sum(item.points for item in items)
    items += [
        _Item(
            "reward",
            f"Reward: {reward.name}"[:100],
            None,
            points_bonus(reward, earned_without, rules.rounding),
        )
        for reward in points_bonuses
    ]
    return _Earned(compiled_rules, line_points, items, tier_multiplier, details)


def compute_earn(
    rules: ProgramRules,
    lines: Lines,
    ctx: Context,
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
    notes: list[str] = []
    earned = _earn(rules, lines, ctx, order_discount_minor, points_bonuses, notes)
    compiled_rules = earned.compiled
    tier_text = fraction_text(earned.tier_multiplier)
    results: list[LineEarning] = []
    for line, points, detail in zip(lines, earned.line_points, earned.details, strict=True):
        line_terms = compiled_rules.terms(line.sku, line.category)
        winner = compiled_rules.campaigns[detail.winner] if detail.winner >= 0 else None
        results.append(
            LineEarning(
                line_no=line.line_no,
                sku=line.sku,
                category=line.category,
                quantity=line.quantity,
                net_minor=line.net_minor,
                eligible_minor=detail.eligible_minor,
                base=fraction_text(
                    Fraction(detail.eligible_minor)
                    * compiled_rules.ppu
                    / rules.earn.spend_unit_minor
                ),
                product_multiplier=fraction_text(line_terms.product),
                campaign_id=winner.campaign.id if winner else None,
                campaign_multiplier=fraction_text(winner.multiplier if winner else ONE),
                tier_multiplier=tier_text,
                unit_bonus=detail.unit_bonus,
                points=points,
                excluded_reason=detail.reason,
            )
        )
    order_items = [
        # campaign_id only where there is one, as always: the set fields are what a dump
        # with exclude_unset writes.
        OrderBonus(
            kind=item.kind, label=item.label, campaign_id=item.campaign_id, points=item.points
        )
        if item.campaign_id is not None
        else OrderBonus(kind=item.kind, label=item.label, points=item.points)
        for item in earned.items
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


def earn_points(
    rules: ProgramRules,
    lines: Lines,
    ctx: Context,
    *,
    order_discount_minor: int = 0,
    points_bonuses: Sequence[Reward] = (),
) -> EarnPoints:
    """``earn_points_of(compute_earn(...))`` for the same arguments, without building the
    breakdown: what the sync server compares with the till's result.

    Exact: the same points, and a ``ValueError`` wherever :func:`compute_earn` raises one
    (its results' bounds: a line, an order item or the total above MAX_POINTS, more than
    MAX_LINES lines or order items). The message may differ; run :func:`compute_earn` for
    the one it gives.
    """
    earned = _earn(rules, lines, ctx, order_discount_minor, points_bonuses, None)
    total = sum(earned.line_points) + sum(item.points for item in earned.items)
    if len(lines) > MAX_LINES or len(earned.items) > MAX_LINES:
        raise ValueError(f"more than {MAX_LINES} lines or order items")
    if (
        total > MAX_POINTS
        or any(p > MAX_POINTS for p in earned.line_points)
        or any(item.points > MAX_POINTS for item in earned.items)
    ):
        raise ValueError(f"points above the bound of {MAX_POINTS}")
    return (
        (-1, total),
        *((line.line_no, points) for line, points in zip(lines, earned.line_points, strict=True)),
        *((-2, item.points) for item in earned.items),
    )


def earn_points_of(result: EarnResult) -> EarnPoints:
    """The points of a result as :func:`earn_points` gives them."""
    return (
        (-1, result.total_points),
        *((line.line_no, line.points) for line in result.lines),
        *((-2, item.points) for item in result.order_items),
    )


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


def _check_inputs(lines: Lines, order_discount_minor: int) -> None:
    numbers = [line.line_no for line in lines]
    if len(set(numbers)) != len(numbers):
        repeated = sorted(n for n, count in Counter(numbers).items() if count > 1)
        raise ValueError(f"basket line numbers must be unique; repeated: {repeated}")
    if type(order_discount_minor) is not int or order_discount_minor < 0:
        raise ValueError(f"order_discount_minor must be an int >= 0, not {order_discount_minor!r}")


def _eligible_spend(
    rules: ProgramRules,
    lines: Lines,
    earning: list[int],
    order_discount_minor: int,
    notes: list[str] | None,
    money: _Formatter,
) -> dict[int, int]:
    """Each earning line's spend that earns points, keyed by its index in ``lines``."""
    nets = [lines[i].net_minor for i in earning]
    if order_discount_minor == 0 or rules.earn.earn_on_discounted:
        if order_discount_minor and notes is not None:
            notes.append(f"order discount {money(order_discount_minor)} still earns points")
        return dict(zip(earning, nets, strict=True))
    # Only the lines that earn carry the discount; once it covers them there is no spend
    # left to reduce, so the part beyond their total simply does not matter here.
    applied = min(order_discount_minor, sum(nets))
    shares = allocate(applied, nets)
    if notes is not None:
        notes.append(f"order discount {money(order_discount_minor)} does not earn points")
    return {i: net - share for i, net, share in zip(earning, nets, shares, strict=True)}


def _qualifying_campaigns(
    compiled_rules: CompiledRules,
    lines: Lines,
    terms: list[ProductTerms],
    ctx: Context,
    eligible: dict[int, int],
    notes: list[str] | None,
    money: _Formatter,
) -> list[int]:
    """Campaigns running now whose targeted lines reach the campaign's minimum spend, as
    indexes into ``compiled_rules.campaigns`` (which leaves out those giving no points)."""
    qualifying = []
    for index, compiled_campaign in enumerate(compiled_rules.campaigns):
        campaign = compiled_campaign.campaign
        if not campaign.is_running(ctx.store_id, ctx.local_time):
            continue
        targeted = [i for i in eligible if index in terms[i].campaigns]
        if not targeted:
            continue
        spend = sum(eligible[i] for i in targeted)
        if spend < campaign.min_spend_minor:
            if notes is not None:
                notes.append(
                    f"{campaign.name}: needs {money(campaign.min_spend_minor)} "
                    f"on its items, {money(spend)} spent"
                )
            continue
        qualifying.append(index)
    return qualifying


def _winning_campaign(
    compiled_rules: CompiledRules,
    multiplying: list[int],
    line_terms: ProductTerms,
    line: BasketLine | LightLine,
    notes: list[str] | None,
) -> int:
    """The qualifying campaign with the highest multiplier above 1 that targets the line
    (the first listed on a tie), or -1. A bonus-only campaign (multiplier 1) changes no
    line's points, so it does not compete (``multiplying`` leaves it out)."""
    matching = [i for i in multiplying if i in line_terms.campaigns]
    if not matching:
        return -1
    campaigns = compiled_rules.campaigns
    winner = matching[0]
    for i in matching[1:]:
        if campaigns[i].rank > campaigns[winner].rank:
            winner = i
    if len(matching) > 1 and notes is not None:
        # Name a few, not all: a note is bounded (EarnResult.notes), a program's campaigns
        # are not.
        rest = [campaigns[i] for i in matching if i != winner]
        others = ", ".join(f"{c.campaign.id} x{fraction_text(c.multiplier)}" for c in rest[:3])
        if len(rest) > 3:
            others += f" and {len(rest) - 3} more"
        won = campaigns[winner]
        notes.append(
            f"line {line.line_no}: campaign {won.campaign.id} "
            f"x{fraction_text(won.multiplier)} applies (highest multiplier; "
            f"also matching: {others})"
        )
    return winner


def _order_items(
    rules: ProgramRules, compiled_rules: CompiledRules, campaigns: list[int]
) -> list[_Item]:
    items = []
    if rules.earn.per_order_points:
        items.append(_Item("per_order", "Visit bonus", None, rules.earn.per_order_points))
    for index in campaigns:
        campaign = compiled_rules.campaigns[index].campaign
        if campaign.bonus_points:
            items.append(_Item("campaign", campaign.name, campaign.id, campaign.bonus_points))
    return items
