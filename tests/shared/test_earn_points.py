"""The points-only path (``earn_points``) against the full engine (``compute_earn``) and a
straightforward reference of the rules as docs/rules.md states them (the engine before it
was compiled): the same points, and an error of the same kind wherever one raises."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.bounds import MAX_MINOR, MAX_POINTS
from shared.money import Rounding, allocate, parse_ratio, round_fraction
from shared.rules import (
    BasketLine,
    EarnContext,
    LightContext,
    LightLine,
    ProgramRules,
    Reward,
    compute_earn,
    earn_context,
    earn_points,
    earn_points_of,
)
from shared.rules.compiled import compiled, round_ratio
from shared.rules.earn import points_bonus
from tests.shared.test_rules import baskets, contexts, program_rules, rules_from
from tests.shared.test_rules_doc import Example

# --------------------------------------------------------------------------- generated input

bonus_rewards = st.builds(
    lambda i, multiplier: Reward(
        id=f"r{i}", name=f"Double {i}", points=100, kind="bonus_multiplier", multiplier=multiplier
    ),
    st.integers(0, 9),
    st.sampled_from(["2", "1.5", "3/2", "10", "11/10"]),
)
not_a_bonus = Reward(
    id="five-off", name="Five off", points=500, kind="voucher_amount", value_minor=500
)
rewards = st.lists(
    st.one_of(bonus_rewards, bonus_rewards, bonus_rewards, st.just(not_a_bonus)), max_size=2
).map(lambda found: [] if not_a_bonus in found and len(found) > 1 else found)


@st.composite
def extreme_rules(draw: st.DrawFn) -> dict[str, Any]:
    """Generated rules, sometimes pushed to the bounds of a result (MAX_POINTS per line, per
    order item and in total), where the full engine's models raise."""
    data = draw(program_rules)
    earn = data["earn"]
    if draw(st.booleans()):
        earn["points_per_unit"] = draw(
            st.sampled_from(["100000", "99999999999999999999", "1/99999999999999999", "7/3"])
        )
    if draw(st.booleans()):
        earn["per_order_points"] = draw(st.sampled_from([MAX_POINTS, MAX_POINTS + 1, MAX_MINOR]))
    if draw(st.booleans()) and data["campaigns"]:
        data["campaigns"][0]["bonus_points"] = draw(
            st.sampled_from([MAX_POINTS - 5, MAX_POINTS + 1])
        )
    if draw(st.booleans()):
        earn["unit_bonuses"] = [{"category": "dairy", "points_per_unit": MAX_POINTS // 3}]
    return data


@st.composite
def huge_baskets(draw: st.DrawFn) -> list[BasketLine]:
    lines: list[BasketLine] = draw(baskets)
    if draw(st.booleans()):
        index = draw(st.integers(0, len(lines) - 1))
        net = draw(st.sampled_from([MAX_MINOR, MAX_MINOR // 7, 123_456_789]))
        lines[index] = lines[index].model_copy(update={"net_minor": net, "quantity": 5})
    if draw(st.integers(0, 9)) == 0:
        lines.append(lines[0])  # a repeated line number: a ValueError from both
    return lines


discounts = st.one_of(
    st.integers(0, 5000),
    st.sampled_from([0, 1, 10**12, 2**63, -1]),
)


# --------------------------------------------------------------------------- the reference


def reference_points(
    rules: ProgramRules,
    lines: Sequence[BasketLine],
    ctx: EarnContext,
    discount: int,
    bonuses: Sequence[Reward],
) -> tuple[tuple[int, int], ...]:
    """The points by docs/rules.md "Earning", step by step, with plain Fractions."""
    earn = rules.earn
    reasons = []
    for line in lines:
        reason = earn.exclusion_reason(line.sku, line.category)
        reasons.append("no spend" if reason is None and line.net_minor == 0 else reason)
    earning = [i for i, reason in enumerate(reasons) if reason is None]
    nets = [lines[i].net_minor for i in earning]
    if discount and not earn.earn_on_discounted:
        shares = allocate(min(discount, sum(nets)), nets)
        eligible = {i: n - s for i, n, s in zip(earning, nets, shares, strict=True)}
    else:
        eligible = dict(zip(earning, nets, strict=True))
    qualifies = bool(earning) and sum(eligible.values()) >= earn.min_spend_minor
    known = rules.tier(ctx.tier) if ctx.tier is not None else None
    tier = known.multiplier_fraction if known is not None else Fraction(1)
    campaigns = []
    for campaign in rules.campaigns:
        multiplier = parse_ratio(campaign.multiplier)
        if multiplier == 1 and not campaign.bonus_points:
            continue
        if not campaign.is_running(ctx.store_id, ctx.local_time):
            continue
        targeted = {i for i in eligible if campaign.targets(lines[i].sku, lines[i].category)}
        if targeted and sum(eligible[i] for i in targeted) >= campaign.min_spend_minor:
            campaigns.append((campaign, multiplier, targeted))
    points = []
    for index, line in enumerate(lines):
        if reasons[index] is not None or not qualifies:
            points.append(0)
            continue
        best = Fraction(1)
        for _, multiplier, targeted in campaigns:
            if index in targeted and multiplier > best:
                best = multiplier
        base = Fraction(eligible[index]) * parse_ratio(earn.points_per_unit) / earn.spend_unit_minor
        product = earn.product_multiplier(line.sku, line.category)
        unit = line.quantity * earn.unit_bonus_per_unit(line.sku, line.category)
        points.append(round_fraction(base * product * best * tier, rules.rounding) + unit)
    items = []
    if qualifies:
        if earn.per_order_points:
            items.append(earn.per_order_points)
        items += [c.bonus_points for c, _, _ in campaigns if c.bonus_points]
    without = sum(points) + sum(items)
    items += [points_bonus(reward, without, rules.rounding) for reward in bonuses]
    return (
        (-1, sum(points) + sum(items)),
        *((line.line_no, p) for line, p in zip(lines, points, strict=True)),
        *((-2, p) for p in items),
    )


def outcome(compute: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("ok", compute())
    except ValueError:  # pydantic's ValidationError is one
        return ("ValueError", None)
    except ArithmeticError:
        return ("ArithmeticError", None)


def light(lines: Sequence[BasketLine]) -> list[LightLine]:
    return [LightLine(x.line_no, x.sku, x.category, x.quantity, x.net_minor) for x in lines]


# --------------------------------------------------------------------------- properties


@settings(max_examples=400)
@given(extreme_rules(), huge_baskets(), contexts, discounts, rewards, st.booleans())
def test_earn_points_is_exactly_the_points_of_compute_earn(
    data: dict[str, Any],
    lines: list[BasketLine],
    ctx: EarnContext,
    discount: int,
    bonuses: list[Reward],
    light_input: bool,
) -> None:
    rules = rules_from(data)
    full = outcome(
        lambda: earn_points_of(
            compute_earn(rules, lines, ctx, order_discount_minor=discount, points_bonuses=bonuses)
        )
    )
    given_lines: Sequence[BasketLine | LightLine] = light(lines) if light_input else lines
    given_ctx = LightContext(ctx.store_id, ctx.local_time, ctx.tier) if light_input else ctx
    fast = outcome(
        lambda: earn_points(
            rules, given_lines, given_ctx, order_discount_minor=discount, points_bonuses=bonuses
        )
    )
    assert fast == full
    if full[0] == "ok":
        assert full[1] == reference_points(rules, lines, ctx, discount, bonuses)


@given(program_rules, baskets, contexts, st.integers(0, 3000))
def test_compiled_rules_are_shared_per_instance_and_new_for_a_copy(
    data: dict[str, Any], lines: list[BasketLine], ctx: EarnContext, discount: int
) -> None:
    rules = rules_from(data)
    assert compiled(rules) is compiled(rules)
    before = earn_points(rules, lines, ctx, order_discount_minor=discount)
    # A copy with other rules must not reuse the original's compiled data.
    changed = rules.model_copy(
        update={"earn": rules.earn.model_copy(update={"points_per_unit": "7/3"})}
    )
    assert compiled(changed) is not compiled(rules)
    assert earn_points(changed, lines, ctx, order_discount_minor=discount) == earn_points_of(
        compute_earn(changed, lines, ctx, order_discount_minor=discount)
    )
    assert earn_points(rules, lines, ctx, order_discount_minor=discount) == before


@given(
    st.integers(-(10**40), 10**40),
    st.integers(1, 10**30) | st.sampled_from([1, 2, 3, 4, 10, 100]),
    st.sampled_from(list(Rounding)),
)
def test_round_ratio_is_round_fraction(numerator: int, denominator: int, mode: Rounding) -> None:
    expected = round_fraction(Fraction(numerator, denominator), mode)
    assert round_ratio(numerator, denominator, mode) == expected
    assert round_ratio(2 * numerator + 1, 2, mode) == round_fraction(
        Fraction(2 * numerator + 1, 2), mode
    )


names = st.one_of(
    st.sampled_from(["harbour", "t1", "", "x" * 200, "x" * 201, "bad\x00name", "tab\tname"]),
    st.text(max_size=5),
)


@given(
    names,
    st.one_of(
        st.datetimes(),
        st.datetimes(timezones=st.just(UTC)),
        st.just("2025-04-12T18:30:00"),
    ),
    st.none() | names,
)
def test_earn_context_accepts_and_refuses_exactly_what_earn_context_does(
    store: str, when: Any, tier: str | None
) -> None:
    model, error = _attempt(lambda: EarnContext(store_id=store, local_time=when, tier=tier))
    made, made_error = _attempt(lambda: earn_context(store, when, tier))
    assert made_error == error
    if model is not None:
        assert made is not None
        assert (made.store_id, made.local_time, made.tier) == (
            model.store_id,
            model.local_time,
            model.tier,
        )


def _attempt(make: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return make(), None
    except ValidationError as error:
        return None, str(error)


def test_the_worked_example_through_light_inputs() -> None:
    example = Example()
    ctx = example.context
    points = earn_points(
        example.rules,
        light(example.lines),
        LightContext(ctx.store_id, ctx.local_time, ctx.tier),
        order_discount_minor=example.quote.discount_minor,
    )
    assert points[0] == (-1, 107)
    assert points == earn_points_of(example.earned)


def test_a_sale_far_too_large_is_a_value_error_on_both_paths() -> None:
    rules = ProgramRules.model_validate(
        {
            "program_id": "big",
            "version": 1,
            "currency": "EUR",
            "rounding": "down",
            "earn": {"points_per_unit": "1000", "spend_unit_minor": 1},
            "redemption": {"points": 100, "value_minor": 100},
            "offline": {"redemption_cap_points_per_day": 0},
        }
    )
    lines = [BasketLine(line_no=1, sku="A", category="c", quantity=1, net_minor=MAX_MINOR)]
    ctx = EarnContext(store_id="s", local_time=datetime(2025, 1, 1, 12))
    with pytest.raises(ValidationError):
        compute_earn(rules, lines, ctx)
    with pytest.raises(ValueError, match="points above the bound"):
        earn_points(rules, lines, ctx)
