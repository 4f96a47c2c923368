"""The bonus-multiplier reward in the earn engine (``points_bonus``, an order item of kind
``reward``) and vouchers priced on their categories' share (``voucher_discount_on``): pure
functions, the same on the till and at HQ."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from shared.money import Rounding, round_fraction
from shared.rules import BasketLine, EarnContext, compute_earn
from shared.rules.earn import points_bonus
from shared.rules.returns import compute_return_reversal
from shared.rules.voucher_pricing import category_share, voucher_discount_on
from tests.shared.test_rewards import baskets, line, reward, rules_with

DOUBLE = reward(
    id="double", name="Double points", kind="bonus_multiplier", multiplier="2", value_minor=None
)
CONTEXT = EarnContext(store_id="S001", local_time=datetime(2026, 3, 14, 10, 0), tier=None)


def test_the_bonus_is_an_order_item_and_the_result_still_checks_itself() -> None:
    rules = rules_with([DOUBLE.model_dump(mode="json")])
    lines = [line(1, "A", "bakery", 1234), line(2, "B", "dairy", 566, quantity=2)]
    without = compute_earn(rules, lines, CONTEXT)
    with_bonus = compute_earn(rules, lines, CONTEXT, points_bonuses=[DOUBLE])
    assert without.total_points == 17  # 12 + 5, each line rounded down
    assert [(i.kind, i.label, i.points) for i in with_bonus.order_items] == [
        ("reward", "Reward: Double points", 17)
    ]
    assert with_bonus.total_points == 34
    with_bonus.check_totals()
    assert "Reward: Double points +17 pts" in with_bonus.summary_lines()


def test_a_sale_that_earns_nothing_gets_no_bonus() -> None:
    rules = rules_with([DOUBLE.model_dump(mode="json")])
    free = compute_earn(rules, [line(1, "A", "bakery", 50)], CONTEXT, points_bonuses=[DOUBLE])
    assert free.total_points == 0
    assert [i.points for i in free.order_items] == [0]


@given(
    earned=st.integers(min_value=-1000, max_value=10**9),
    multiplier=st.sampled_from(["1.5", "2", "3", "1.25", "10", "1.01"]),
    rounding=st.sampled_from(list(Rounding)),
)
def test_the_bonus_is_never_negative_and_is_the_rounded_extra(
    earned: int, multiplier: str, rounding: Rounding
) -> None:
    bonus_reward = DOUBLE.model_copy(update={"multiplier": multiplier})
    bonus = points_bonus(bonus_reward, earned, rounding)
    assert bonus >= 0
    expected = round_fraction((Fraction(multiplier) - 1) * earned, rounding) if earned > 0 else 0
    assert bonus == expected


@given(basket=baskets(), categories=st.lists(st.sampled_from(["bakery", "dairy"]), max_size=2))
def test_a_category_voucher_never_takes_more_than_its_lines_share(
    basket: tuple[list[BasketLine], int], categories: list[str]
) -> None:
    lines, remaining = basket
    limited = categories or None
    share = category_share(lines, remaining, limited)
    off = voucher_discount_on(
        lines, remaining, value_minor=0, percent_bp=10_000, min_spend_minor=0, categories=limited
    )
    assert 0 <= off == share <= remaining
    if limited is not None:
        assert share <= sum(item.net_minor for item in lines if item.category in limited)


def test_a_category_voucher_works_on_its_share_after_the_points() -> None:
    lines = [line(1, "A", "bakery", 900), line(2, "B", "dairy", 300)]
    # 1000 left of 1200: dairy's share is 250, a fifth of it 50.
    fifth = voucher_discount_on(
        lines, 1000, value_minor=0, percent_bp=2000, min_spend_minor=0, categories=["dairy"]
    )
    assert fifth == 50
    # A minimum spend is on the categories' lines.
    assert (
        voucher_discount_on(
            lines, 1000, value_minor=500, percent_bp=None, min_spend_minor=301,
            categories=["dairy"],
        )
        == 0
    )  # fmt: skip


def test_a_full_return_takes_the_bonus_back_too() -> None:
    rules = rules_with([DOUBLE.model_dump(mode="json")])
    lines = [line(1, "A", "bakery", 1234), line(2, "B", "dairy", 566, quantity=2)]
    earned = compute_earn(rules, lines, CONTEXT, points_bonuses=[DOUBLE])
    everything = {item.line_no: item.net_minor for item in lines}
    reversal = compute_return_reversal(earned, lines, {}, everything)
    assert [(i.kind, i.points_reversed) for i in reversal.order_items] == [("reward", 17)]
    assert reversal.points_reversed == earned.total_points
