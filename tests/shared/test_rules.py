"""The program rules engine: worked examples for every feature, then properties."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from fractions import Fraction
from importlib.resources import files
from math import gcd
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.money import Rounding
from shared.rules import (
    BasketLine,
    EarnContext,
    EarnResult,
    InvariantError,
    ProgramRules,
    RedemptionQuote,
    RedemptionRefusal,
    RefusalCode,
    compute_earn,
    compute_return_reversal,
    plan_redemption,
)

# A Saturday evening in April 2025; 2025-04-12 is a Saturday (weekday 5).
SATURDAY_EVENING = datetime(2025, 4, 12, 18, 30)
TUESDAY_MORNING = datetime(2025, 4, 8, 9, 15)


def base_rules() -> dict[str, Any]:
    """A plain program: 1 point per 1.00, no minimum, no campaigns; tests add what they need."""
    return {
        "program_id": "test",
        "version": 1,
        "currency": "EUR",
        "rounding": "down",
        "earn": {"points_per_unit": "1", "spend_unit_minor": 100},
        "redemption": {"points": 100, "value_minor": 100},
        "offline": {"redemption_cap_points_per_day": 500},
    }


def rules_from(data: dict[str, Any]) -> ProgramRules:
    """Go through JSON text, as a rules file from HQ does."""
    return ProgramRules.from_json(json.dumps(data))


def with_changes(**changes: Any) -> dict[str, Any]:
    """base_rules() with dotted paths replaced: with_changes(**{"earn.min_spend_minor": 5})."""
    data = base_rules()
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return data


def line(no: int, sku: str, category: str, net: int, quantity: int = 1) -> BasketLine:
    return BasketLine(line_no=no, sku=sku, category=category, quantity=quantity, net_minor=net)


def ctx(
    when: datetime = TUESDAY_MORNING, store: str = "harbour", tier: str | None = None
) -> EarnContext:
    return EarnContext(store_id=store, local_time=when, tier=tier)


def earn(data: dict[str, Any], lines: list[BasketLine], **kwargs: Any) -> EarnResult:
    context = kwargs.pop("context", ctx())
    return compute_earn(rules_from(data), lines, context, **kwargs)


def demo_rules_text() -> str:
    return files("shared.rules.examples").joinpath("demo_program.json").read_text("utf-8")


# --------------------------------------------------------------------------- rules model


def test_demo_program_loads_and_round_trips() -> None:
    rules = ProgramRules.from_json(demo_rules_text())
    assert rules.currency == "EUR"
    assert [t.code for t in rules.tiers] == ["member", "silver", "gold"]
    assert ProgramRules.from_json(rules.to_json()) == rules
    assert ProgramRules.from_json(rules.to_json().encode()) == rules


def test_json_schema_is_available() -> None:
    schema = ProgramRules.model_json_schema()
    assert "earn" in schema["required"]
    assert schema["additionalProperties"] is False


def test_ratios_are_exact_fractions() -> None:
    rules = rules_from(
        with_changes(
            **{"earn.points_per_unit": "1.5", "tiers": [_tier("gold", 0, "3/2")]},
        )
    )
    assert rules.earn.points_per_unit_fraction == Fraction(3, 2)
    assert rules.tiers[0].multiplier_fraction == Fraction(3, 2)


def _tier(code: str, threshold: int, multiplier: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": code.title(),
        "threshold_points": threshold,
        "multiplier": multiplier,
    }


def _campaign(id_: str, **fields: Any) -> dict[str, Any]:
    return {"id": id_, "name": id_.replace("-", " ").title(), **fields}


INVALID_RULES: list[tuple[str, dict[str, Any], str]] = [
    ("float int", with_changes(**{"earn.spend_unit_minor": 100.0}), "JSON floats are refused"),
    ("float ratio", with_changes(**{"earn.points_per_unit": 1.5}), "write ratios as strings"),
    ("int ratio", with_changes(**{"earn.points_per_unit": 1}), "write ratios as strings"),
    ("comma ratio", with_changes(**{"earn.points_per_unit": "1,5"}), "non-negative decimal"),
    ("negative ratio", with_changes(**{"earn.points_per_unit": "-1"}), "non-negative decimal"),
    ("zero divisor", with_changes(**{"earn.points_per_unit": "1/0"}), "divides by zero"),
    ("bool as int", with_changes(**{"earn.per_order_points": True}), "valid integer"),
    ("string int", with_changes(**{"earn.per_order_points": "5"}), "valid integer"),
    ("negative", with_changes(**{"earn.min_spend_minor": -1}), "greater than or equal to 0"),
    ("zero unit", with_changes(**{"earn.spend_unit_minor": 0}), "greater than 0"),
    ("version 0", with_changes(version=0), "greater than 0"),
    ("currency", with_changes(currency="XXX"), "unknown currency 'XXX'"),
    ("rounding", with_changes(rounding="up"), "'down', 'half_up' or 'half_even'"),
    ("typo", with_changes(**{"earn.points_per_unti": "1"}), "Extra inputs are not permitted"),
    ("string bool", with_changes(**{"earn.earn_on_discounted": "yes"}), "valid boolean"),
    (
        "excluded and multiplied",
        with_changes(
            **{
                "earn.excluded_categories": ["tobacco"],
                "earn.category_multipliers": {"tobacco": "2"},
            }
        ),
        "both excluded and given a multiplier",
    ),
    (
        "unit bonus with two targets",
        with_changes(
            **{"earn.unit_bonuses": [{"sku": "A", "category": "b", "points_per_unit": 5}]}
        ),
        "exactly one of 'sku' or 'category'",
    ),
    (
        "dates reversed",
        with_changes(campaigns=[_campaign("c", starts="2025-05-01", ends="2025-04-01")]),
        "starts 2025-05-01 is after ends 2025-04-01",
    ),
    (
        "date as number",
        with_changes(campaigns=[_campaign("c", starts=20250501)]),
        "write dates as ISO strings",
    ),
    (
        "weekday 7",
        with_changes(campaigns=[_campaign("c", weekdays=[7])]),
        "less than or equal to 6",
    ),
    (
        "hour 24",
        with_changes(campaigns=[_campaign("c", hours=[20, 24])]),
        "less than or equal to 23",
    ),
    ("hours equal", with_changes(campaigns=[_campaign("c", hours=[9, 9])]), "ambiguous"),
    ("empty stores", with_changes(campaigns=[_campaign("c", stores=[])]), "use null to mean 'all'"),
    ("repeat weekday", with_changes(campaigns=[_campaign("c", weekdays=[5, 5])]), "more than once"),
    (
        "campaign lowers points",
        with_changes(campaigns=[_campaign("c", multiplier="0.5")]),
        "at least 1",
    ),
    (
        "duplicate campaign id",
        with_changes(campaigns=[_campaign("c"), _campaign("c")]),
        "campaign ids must be unique; repeated: c",
    ),
    (
        "duplicate tier code",
        with_changes(tiers=[_tier("gold", 0, "1"), _tier("gold", 10, "2")]),
        "tier codes must be unique; repeated: gold",
    ),
    (
        "duplicate threshold",
        with_changes(tiers=[_tier("a", 0, "1"), _tier("b", 0, "2")]),
        "tier thresholds must be distinct",
    ),
    (
        "discount not whole",
        with_changes(redemption={"points": 100, "value_minor": 1, "step_points": 50}),
        "must be divisible by points 100",
    ),
    (
        "percent over 100",
        with_changes(redemption={"points": 100, "value_minor": 100, "max_basket_percent": 101}),
        "less than or equal to 100",
    ),
    (
        "transaction max below minimum",
        with_changes(
            redemption={
                "points": 100,
                "value_minor": 100,
                "min_points": 500,
                "max_points_per_transaction": 450,
            }
        ),
        "allows no redemption",
    ),
]


@pytest.mark.parametrize(
    ("data", "message"),
    [pytest.param(data, message, id=name) for name, data, message in INVALID_RULES],
)
def test_invalid_rules_are_refused_with_a_clear_message(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rules_from(data)


def test_context_time_must_be_store_wall_clock() -> None:
    with pytest.raises(ValidationError, match="must carry no zone"):
        EarnContext.model_validate_json(
            '{"store_id": "s", "local_time": "2025-04-12T18:30:00+02:00"}'
        )


def test_basket_line_refuses_float_amounts() -> None:
    with pytest.raises(ValidationError, match="JSON floats are refused"):
        BasketLine.model_validate_json(
            '{"line_no": 1, "sku": "A", "category": "c", "quantity": 1, "net_minor": 1.5}'
        )


# ----------------------------------------------------------------------------- earning


def test_one_point_per_currency_unit_rounds_down() -> None:
    result = earn(base_rules(), [line(1, "COFFEE", "pantry", 1299)])
    assert result.total_points == 12
    (only,) = result.lines
    assert (only.base, only.points, only.excluded_reason) == ("1299/100", 12, None)


@pytest.mark.parametrize(
    ("mode", "net", "expected"),
    [
        ("down", 250, 2),
        ("half_up", 250, 3),
        ("half_even", 250, 2),
        ("down", 350, 3),
        ("half_up", 350, 4),
        ("half_even", 350, 4),
        ("half_even", 249, 2),
        ("half_up", 251, 3),
    ],
)
def test_rounding_modes(mode: str, net: int, expected: int) -> None:
    result = earn(with_changes(rounding=mode), [line(1, "A", "pantry", net)])
    assert result.total_points == expected


def test_rounding_is_per_line_so_the_breakdown_adds_up() -> None:
    # 1.50 + 1.50 would be 3 points on the total, but each line rounds down to 1.
    result = earn(base_rules(), [line(1, "A", "pantry", 150), line(2, "B", "pantry", 150)])
    assert [entry.points for entry in result.lines] == [1, 1]
    assert result.total_points == 2


def test_category_multiplier_and_sku_override() -> None:
    data = with_changes(
        **{
            "earn.category_multipliers": {"fresh": "2"},
            "earn.sku_multipliers": {"AVOCADO": "1", "COFFEE": "3/2"},
        }
    )
    result = earn(
        data,
        [
            line(1, "STRAWB", "fresh", 500),
            line(2, "AVOCADO", "fresh", 500),
            line(3, "COFFEE", "pantry", 1000),
            line(4, "RICE", "pantry", 1000),
        ],
    )
    assert [(e.product_multiplier, e.points) for e in result.lines] == [
        ("2", 10),
        ("1", 5),
        ("3/2", 15),
        ("1", 10),
    ]


def test_excluded_lines_earn_nothing_and_do_not_count_as_spend() -> None:
    data = with_changes(
        **{
            "earn.excluded_categories": ["tobacco"],
            "earn.excluded_skus": ["GIFTCARD"],
            "earn.min_spend_minor": 500,
            "earn.per_order_points": 10,
        }
    )
    result = earn(
        data,
        [
            line(1, "CIG", "tobacco", 900),
            line(2, "GIFTCARD", "gifts", 2500),
            line(3, "BREAD", "bakery", 300),
        ],
    )
    assert [e.excluded_reason for e in result.lines] == [
        "excluded category tobacco",
        "excluded SKU GIFTCARD",
        "order below minimum spend",
    ]
    assert result.total_points == 0
    assert result.order_items == ()
    assert "minimum spend €5.00 not reached (eligible spend €3.00)" in result.notes


def test_minimum_spend_is_inclusive() -> None:
    data = with_changes(**{"earn.min_spend_minor": 500, "earn.per_order_points": 10})
    below = earn(data, [line(1, "A", "pantry", 499)])
    at = earn(data, [line(1, "A", "pantry", 500)])
    assert below.total_points == 0
    assert [e.excluded_reason for e in below.lines] == ["order below minimum spend"]
    assert at.total_points == 5 + 10
    assert [(i.kind, i.label, i.points) for i in at.order_items] == [
        ("per_order", "Visit bonus", 10)
    ]


def test_basket_with_no_earning_line_gets_no_per_order_points() -> None:
    data = with_changes(**{"earn.per_order_points": 10, "earn.excluded_categories": ["tobacco"]})
    result = earn(data, [line(1, "CIG", "tobacco", 900)])
    assert result.total_points == 0
    assert "no line in this basket earns points" in result.notes


def test_free_line_earns_no_unit_bonus() -> None:
    data = with_changes(**{"earn.unit_bonuses": [{"sku": "GIFT", "points_per_unit": 5}]})
    result = earn(data, [line(1, "GIFT", "promo", 0, quantity=2), line(2, "A", "x", 100)])
    assert result.lines[0].excluded_reason == "no spend on this line"
    assert result.total_points == 1


def test_unit_bonuses_are_per_unit_add_up_and_are_not_multiplied() -> None:
    data = with_changes(
        **{
            "earn.unit_bonuses": [
                {"sku": "OAT-MILK", "points_per_unit": 5},
                {"category": "dairy", "points_per_unit": 2},
            ],
            "earn.category_multipliers": {"dairy": "2"},
            "tiers": [_tier("gold", 0, "3")],
        }
    )
    result = earn(
        data,
        [line(1, "OAT-MILK", "dairy", 200, quantity=2), line(2, "MILK", "dairy", 100)],
        context=ctx(tier="gold"),
    )
    # line 1: 2.00 x 2 x 3 = 12, plus 2 units x (5 + 2); line 2: 1.00 x 2 x 3 = 6, plus 2.
    assert [(e.unit_bonus, e.points) for e in result.lines] == [(14, 26), (2, 8)]


def test_tier_multiplies_each_line_before_rounding() -> None:
    data = with_changes(tiers=[_tier("member", 0, "1"), _tier("silver", 2500, "1.1")])
    lines = [line(1, "A", "pantry", 950), line(2, "B", "pantry", 950)]
    assert earn(data, lines, context=ctx(tier="member")).total_points == 18
    silver = earn(data, lines, context=ctx(tier="silver"))
    # 9.50 x 1.1 = 10.45 -> 10 per line.
    assert [(e.tier_multiplier, e.points) for e in silver.lines] == [("11/10", 10), ("11/10", 10)]


def test_unknown_tier_earns_without_tier_bonus_and_says_so() -> None:
    result = earn(base_rules(), [line(1, "A", "pantry", 1000)], context=ctx(tier="platinum"))
    assert result.total_points == 10
    assert result.notes == ("unknown tier 'platinum' in rules version 1: no bonus",)


def test_per_order_points() -> None:
    data = with_changes(**{"earn.per_order_points": 25})
    result = earn(data, [line(1, "A", "pantry", 199)])
    assert result.total_points == 1 + 25


# ---------------------------------------------------------------------------- campaigns


def _campaign_points(campaign: dict[str, Any], when: datetime, store: str = "harbour") -> int:
    data = with_changes(campaigns=[campaign])
    return earn(data, [line(1, "A", "fresh", 1000)], context=ctx(when, store)).total_points


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2025, 3, 31, 23, 59), 10),
        (datetime(2025, 4, 1, 0, 0), 20),
        (datetime(2025, 4, 30, 23, 59), 20),
        (datetime(2025, 5, 1, 0, 0), 10),
    ],
)
def test_campaign_dates_are_inclusive(when: datetime, expected: int) -> None:
    campaign = _campaign("april", multiplier="2", starts="2025-04-01", ends="2025-04-30")
    assert _campaign_points(campaign, when) == expected


def test_campaign_weekdays_count_monday_as_zero() -> None:
    weekend = _campaign("weekend", multiplier="2", weekdays=[5, 6])
    assert _campaign_points(weekend, SATURDAY_EVENING) == 20
    assert _campaign_points(weekend, SATURDAY_EVENING + timedelta(days=1)) == 20
    assert _campaign_points(weekend, SATURDAY_EVENING + timedelta(days=2)) == 10


@pytest.mark.parametrize(
    ("hours", "hour", "expected"),
    [
        ([17, 20], 16, 10),
        ([17, 20], 17, 20),
        ([17, 20], 19, 20),
        ([17, 20], 20, 10),
        ([22, 2], 23, 20),
        ([22, 2], 1, 20),
        ([22, 2], 2, 10),
        ([22, 2], 12, 10),
    ],
)
def test_campaign_hours_are_half_open_and_may_wrap_midnight(
    hours: list[int], hour: int, expected: int
) -> None:
    campaign = _campaign("happy-hour", multiplier="2", hours=hours)
    assert _campaign_points(campaign, datetime(2025, 4, 8, hour, 30)) == expected


def test_campaign_by_store() -> None:
    campaign = _campaign("opening", multiplier="3", stores=["airport"])
    assert _campaign_points(campaign, TUESDAY_MORNING, store="airport") == 30
    assert _campaign_points(campaign, TUESDAY_MORNING, store="harbour") == 10


def test_campaign_targets_categories_or_skus() -> None:
    data = with_changes(
        campaigns=[_campaign("fresh", multiplier="2", categories=["fresh"], skus=["COFFEE"])]
    )
    result = earn(
        data,
        [
            line(1, "APPLE", "fresh", 1000),
            line(2, "COFFEE", "pantry", 1000),
            line(3, "R", "x", 1000),
        ],
    )
    assert [(e.campaign_id, e.points) for e in result.lines] == [
        ("fresh", 20),
        ("fresh", 20),
        (None, 10),
    ]


def test_highest_campaign_multiplier_wins_and_the_breakdown_says_so() -> None:
    data = with_changes(
        campaigns=[
            _campaign("weekend", multiplier="1.25", weekdays=[5, 6]),
            _campaign("fresh-sat", multiplier="3/2", weekdays=[5], categories=["fresh"]),
            _campaign("also-3/2", multiplier="1.5", categories=["fresh"]),
        ]
    )
    result = earn(
        data,
        [line(1, "APPLE", "fresh", 1000), line(2, "RICE", "pantry", 1000)],
        context=ctx(SATURDAY_EVENING),
    )
    assert [(e.campaign_id, e.campaign_multiplier, e.points) for e in result.lines] == [
        ("fresh-sat", "3/2", 15),  # ties go to the campaign listed first
        ("weekend", "5/4", 12),
    ]
    assert result.notes == (
        "line 1: campaign fresh-sat x3/2 applies (highest multiplier; "
        "also matching: weekend x5/4, also-3/2 x3/2)",
    )


def test_campaign_bonuses_add_and_respect_their_minimum_spend() -> None:
    data = with_changes(
        campaigns=[
            _campaign("spring", bonus_points=25, min_spend_minor=2000),
            _campaign("fresh-bonus", bonus_points=10, categories=["fresh"], min_spend_minor=500),
            _campaign("bakery-bonus", bonus_points=99, categories=["bakery"]),
        ]
    )
    small = earn(data, [line(1, "APPLE", "fresh", 400), line(2, "RICE", "pantry", 1000)])
    assert small.order_items == ()
    assert small.notes == (
        "Spring: needs €20.00 on its items, €14.00 spent",
        "Fresh Bonus: needs €5.00 on its items, €4.00 spent",
    )
    big = earn(data, [line(1, "APPLE", "fresh", 600), line(2, "RICE", "pantry", 1400)])
    assert [(i.campaign_id, i.points) for i in big.order_items] == [
        ("spring", 25),
        ("fresh-bonus", 10),
    ]
    assert big.total_points == 6 + 14 + 25 + 10
    # A bonus-only campaign changes no line's multiplier.
    assert [e.campaign_id for e in big.lines] == [None, None]


# ------------------------------------------------------------------ order discounts


def test_order_discount_reduces_earning_spend_in_proportion() -> None:
    data = with_changes(**{"earn.excluded_categories": ["tobacco"]})
    lines = [line(1, "A", "x", 600), line(2, "B", "x", 300), line(3, "CIG", "tobacco", 900)]
    result = earn(data, lines, order_discount_minor=300)
    # Only the earning lines carry the discount: 600:300 gets 200:100.
    assert [e.eligible_minor for e in result.lines] == [400, 200, 0]
    assert result.total_points == 6
    assert "order discount €3.00 does not earn points" in result.notes


def test_order_discount_larger_than_earning_spend_leaves_zero() -> None:
    result = earn(base_rules(), [line(1, "A", "x", 250)], order_discount_minor=1000)
    assert [e.eligible_minor for e in result.lines] == [0]
    assert result.total_points == 0


def test_earn_on_discounted_keeps_the_full_spend() -> None:
    data = with_changes(**{"earn.earn_on_discounted": True})
    result = earn(data, [line(1, "A", "x", 600)], order_discount_minor=300)
    assert result.total_points == 6
    assert result.notes == ("order discount €3.00 still earns points",)


def test_bad_earn_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="line numbers must be unique; repeated: \\[1\\]"):
        earn(base_rules(), [line(1, "A", "x", 1), line(1, "B", "x", 1)])
    with pytest.raises(ValueError, match="order_discount_minor must be an int >= 0"):
        earn(base_rules(), [line(1, "A", "x", 1)], order_discount_minor=-1)


def test_summary_lines_group_by_category() -> None:
    data = with_changes(**{"earn.per_order_points": 5, "earn.excluded_categories": ["tobacco"]})
    result = earn(
        data,
        [
            line(1, "APPLE", "fresh-fruit", 1200, quantity=1),
            line(2, "PEAR", "fresh-fruit", 1200, quantity=1),
            line(3, "CIG", "tobacco", 900),
        ],
    )
    assert result.summary_lines() == (
        "Fresh fruit x2: 24 pts",
        "Visit bonus: 5 pts",
        "Total: 29 pts",
    )


def test_check_totals_catches_a_tampered_result() -> None:
    result = earn(base_rules(), [line(1, "A", "x", 1000)])
    with pytest.raises(InvariantError, match="sums to 10 points but the total says 11"):
        result.model_copy(update={"total_points": 11}).check_totals()


# --------------------------------------------------------------------------- redemption

REDEMPTION = with_changes(
    redemption={
        "points": 100,
        "value_minor": 100,
        "step_points": 50,
        "min_points": 200,
        "max_points_per_transaction": 1000,
        "max_basket_percent": 50,
    }
)


def plan(balance: int, basket: int, requested: int | None = None) -> Any:
    return plan_redemption(
        rules_from(REDEMPTION),
        balance=balance,
        basket_total_minor=basket,
        requested_points=requested,
    )


def test_redeem_as_much_as_allowed() -> None:
    assert plan(430, 10_000) == RedemptionQuote(points=400, discount_minor=400)
    assert plan(5000, 10_000) == RedemptionQuote(points=1000, discount_minor=1000)  # per-tx max
    assert plan(5000, 1_290) == RedemptionQuote(points=600, discount_minor=600)  # 50% of 12.90


def test_redeem_a_requested_amount() -> None:
    assert plan(1000, 10_000, 250) == RedemptionQuote(points=250, discount_minor=250)


@pytest.mark.parametrize(
    ("balance", "basket", "requested", "code", "reason", "max_points"),
    [
        (
            150,
            10_000,
            None,
            "below_minimum",
            "The member has 150 pts; redeeming needs at least 200 pts.",
            0,
        ),
        (0, 10_000, None, "nothing_to_redeem", "The member has no points to redeem.", 0),
        (-80, 10_000, None, "nothing_to_redeem", "The member has no points to redeem.", 0),
        (5000, 0, None, "nothing_to_redeem", "The basket is empty.", 0),
        (
            5000,
            300,
            None,
            "over_basket_cap",
            "The discount may be at most 50% of the basket (€1.50), which is 150 pts. "
            "Redeeming needs at least 200 pts.",
            0,
        ),
        (
            1000,
            10_000,
            0,
            "not_positive",
            "Enter a positive number of points. Up to 1,000 pts (€10.00).",
            1000,
        ),
        (
            1000,
            10_000,
            275,
            "not_a_step",
            "Points are redeemed in steps of 50 pts; 275 pts is not a multiple. "
            "Up to 1,000 pts (€10.00).",
            1000,
        ),
        (
            1000,
            10_000,
            150,
            "below_minimum",
            "The minimum redemption is 200 pts. Up to 1,000 pts (€10.00).",
            1000,
        ),
        (
            430,
            10_000,
            450,
            "over_balance",
            "The member has only 430 pts. Up to 400 pts (€4.00).",
            400,
        ),
        (
            5000,
            10_000,
            1500,
            "over_transaction_max",
            "At most 1,000 pts can be redeemed per transaction. Up to 1,000 pts (€10.00).",
            1000,
        ),
        (
            5000,
            1_290,
            700,
            "over_basket_cap",
            "The discount may be at most 50% of the basket (€6.45), which is 645 pts. "
            "Up to 600 pts (€6.00).",
            600,
        ),
    ],
)
def test_redemption_refusals_say_why_and_what_is_possible(
    balance: int, basket: int, requested: int | None, code: str, reason: str, max_points: int
) -> None:
    refusal = plan(balance, basket, requested)
    assert isinstance(refusal, RedemptionRefusal)
    assert (refusal.code, refusal.reason, refusal.max_points) == (
        RefusalCode(code),
        reason,
        max_points,
    )
    assert refusal.max_discount_minor == max_points  # 100 points = 1.00 here


def test_redemption_without_caps_can_cover_the_whole_basket() -> None:
    rules = rules_from(base_rules())  # 100 points = 1.00, step 100, 100% of the basket
    quote = plan_redemption(rules, balance=10_000, basket_total_minor=1234, requested_points=None)
    assert quote == RedemptionQuote(points=1200, discount_minor=1200)


# ------------------------------------------------------------------------------ returns

RETURN_RULES = with_changes(
    **{"earn.per_order_points": 10, "earn.excluded_categories": ["gifts"]},
    campaigns=[_campaign("bonus", bonus_points=25)],
)
RETURN_LINES = [
    line(1, "STRAWB", "fresh", 598, quantity=2),
    line(2, "BREAD", "bakery", 420),
    line(3, "GIFTCARD", "gifts", 2500),
]


def test_partial_return_reverses_in_proportion_and_a_gift_card_takes_no_bonus() -> None:
    original = earn(RETURN_RULES, RETURN_LINES)
    # 5 + 4 line points, 10 visit bonus, 25 campaign bonus.
    assert original.total_points == 44
    first = compute_return_reversal(
        original, RETURN_LINES, {}, {1: 299, 3: 2500}, redeemed_points=300
    )
    # Line 1 earned 5: 5 * 299 // 598 = 2. The 300 redeemed points split 51/36/213 by net.
    assert [(r.points_reversed, r.points_restored) for r in first.lines] == [
        (2, 25),
        (0, 0),
        (0, 213),  # a refunded gift card gives back the points spent on it...
    ]
    # ...but order bonuses follow the earning lines only: 299 of 1018 -> 10 * .29, 25 * .29.
    assert [i.points_reversed for i in first.order_items] == [2, 7]
    assert (first.points_reversed, first.points_restored) == (11, 238)
    assert not first.fully_returned

    second = compute_return_reversal(
        original, RETURN_LINES, {1: 299, 3: 2500}, {1: 299, 2: 420}, redeemed_points=300
    )
    assert second.fully_returned
    assert first.points_reversed + second.points_reversed == original.total_points
    assert first.points_restored + second.points_restored == 300
    assert second.summary_lines() == ("Points reversed: -33 pts", "Points restored: 62 pts")


def test_refunding_more_than_was_sold_is_refused() -> None:
    original = earn(RETURN_RULES, RETURN_LINES)
    with pytest.raises(ValueError, match="line 1: refunding 300 after 299 already refunded"):
        compute_return_reversal(original, RETURN_LINES, {1: 299}, {1: 300})
    with pytest.raises(ValueError, match="names lines that are not in the sale: \\[9\\]"):
        compute_return_reversal(original, RETURN_LINES, {}, {9: 1})
    with pytest.raises(ValueError, match="returning\\[1\\] must be an int >= 0"):
        compute_return_reversal(original, RETURN_LINES, {}, {1: -1})
    with pytest.raises(ValueError, match="original_lines do not match"):
        compute_return_reversal(original, RETURN_LINES[:2], {}, {1: 1})


# ---------------------------------------------------------------- results are JSON-safe


def _json_leaves(value: object) -> Iterator[object]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_leaves(item)
    else:
        yield value


def test_results_dump_to_ints_strings_bools_and_none_only() -> None:
    data = json.loads(demo_rules_text())
    rules = rules_from(data)
    lines = [line(1, "4011", "fruit-veg", 299, 3), line(2, "CIG", "tobacco", 900)]
    original = compute_earn(rules, lines, ctx(SATURDAY_EVENING, tier="gold"))
    results = [
        original,
        compute_return_reversal(original, lines, {}, {1: 100}, redeemed_points=50),
        plan_redemption(rules, balance=1000, basket_total_minor=1199, requested_points=None),
        plan_redemption(rules, balance=10, basket_total_minor=1199, requested_points=None),
    ]
    for result in results:
        for leaf in _json_leaves(result.model_dump(mode="json")):
            assert leaf is None or type(leaf) in (int, str, bool), (result, leaf)


# =========================================================================== properties

CATEGORIES = ("fresh", "bakery", "dairy", "tobacco")
SKUS = ("S1", "S2", "S3", "S4", "S5")
STORES = ("north", "south")
RULES_DAY = date(2025, 6, 1)

ratios = st.one_of(
    st.integers(0, 4).map(str),
    st.builds("{}.{:02d}".format, st.integers(0, 3), st.integers(0, 99)),
    st.builds("{}/{}".format, st.integers(0, 12), st.integers(1, 8)),
)
campaign_ratios = st.one_of(
    st.builds("{}.{:02d}".format, st.integers(1, 3), st.integers(0, 99)),
    st.builds(lambda d, extra: f"{d + extra}/{d}", st.integers(1, 8), st.integers(0, 12)),
)


def _optional_subset(values: tuple[Any, ...]) -> st.SearchStrategy[list[Any] | None]:
    # Mostly "no restriction", so that generated campaigns often run and qualify.
    subset = st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True)
    return st.one_of(st.none(), st.none(), subset)


# Strategies are built once, here: building them inside a draw costs more than the engine.
campaign_fields = st.fixed_dictionaries(
    {
        "multiplier": campaign_ratios,
        "bonus_points": st.integers(0, 50),
        "min_spend_minor": st.sampled_from([0, 0, 500, 3000]),
        "window": st.none() | st.tuples(st.integers(-10, 10), st.integers(0, 15)),
        "hours": st.one_of(
            st.none(), st.none(), st.lists(st.integers(0, 23), min_size=2, max_size=2, unique=True)
        ),
        "weekdays": _optional_subset(tuple(range(7))),
        "stores": _optional_subset(STORES),
        "categories": _optional_subset(CATEGORIES),
        "skus": _optional_subset(SKUS),
    }
)


def _generated_campaign(index: int, fields: dict[str, Any]) -> dict[str, Any]:
    campaign = {"id": f"c{index}", "name": f"Campaign {index}", **fields}
    window = campaign.pop("window")
    if window is not None:
        first = RULES_DAY + timedelta(days=window[0])
        campaign["starts"] = first.isoformat()
        campaign["ends"] = (first + timedelta(days=window[1])).isoformat()
    return campaign


campaign_lists = st.lists(campaign_fields, max_size=3).map(
    lambda all_fields: [_generated_campaign(i, fields) for i, fields in enumerate(all_fields)]
)
unit_bonus_lists = st.lists(
    st.one_of(
        st.builds(
            lambda s, p: {"sku": s, "points_per_unit": p}, st.sampled_from(SKUS), st.integers(1, 20)
        ),
        st.builds(
            lambda c, p: {"category": c, "points_per_unit": p},
            st.sampled_from(CATEGORIES),
            st.integers(1, 20),
        ),
    ),
    max_size=2,
)
tier_lists = st.lists(ratios, min_size=1, max_size=3).map(
    lambda multipliers: [
        {"code": f"t{i}", "name": f"Tier {i}", "threshold_points": 1000 * i, "multiplier": m}
        for i, m in enumerate(multipliers)
    ]
)


@st.composite
def redemption_rules(draw: st.DrawFn) -> dict[str, Any]:
    points, value, times, min_points, cap_over, default_step, percent = draw(
        st.tuples(
            st.integers(1, 200),
            st.integers(1, 200),
            st.integers(1, 4),
            st.integers(0, 600),
            st.none() | st.integers(0, 3000),
            st.booleans(),
            st.integers(1, 100),
        )
    )
    # A multiple of the smallest step that makes every discount whole.
    step = times * (points // gcd(points, value))
    smallest = -(-max(min_points, step) // step) * step
    return {
        "points": points,
        "value_minor": value,
        "step_points": None if step == points and default_step else step,
        "min_points": min_points,
        "max_points_per_transaction": None if cap_over is None else smallest + cap_over,
        "max_basket_percent": percent,
    }


earn_fields = st.fixed_dictionaries(
    {
        "points_per_unit": ratios,
        "spend_unit_minor": st.sampled_from([1, 50, 100, 1000]),
        "min_spend_minor": st.sampled_from([0, 0, 500, 2000]),
        "per_order_points": st.integers(0, 20),
        "category_multipliers": st.dictionaries(st.sampled_from(CATEGORIES), ratios, max_size=3),
        "sku_multipliers": st.dictionaries(st.sampled_from(SKUS), ratios, max_size=3),
        "excluded_categories": st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True),
        "excluded_skus": st.lists(st.sampled_from(SKUS), max_size=2, unique=True),
        "unit_bonuses": unit_bonus_lists,
        "earn_on_discounted": st.booleans(),
    }
)


def _without_clashes(earn: dict[str, Any]) -> dict[str, Any]:
    """Rules refuse a multiplier on something excluded; drop such multipliers."""
    for kind, excluded in (("category", "excluded_categories"), ("sku", "excluded_skus")):
        multipliers = earn[f"{kind}_multipliers"]
        earn[f"{kind}_multipliers"] = {
            k: v for k, v in multipliers.items() if k not in earn[excluded]
        }
    return earn


program_rules = st.builds(
    lambda version, currency, rounding, earn, campaigns, tiers, redemption, cap: {
        "program_id": "prop",
        "version": version,
        "currency": currency,
        "rounding": rounding,
        "earn": earn,
        "campaigns": campaigns,
        "tiers": tiers,
        "redemption": redemption,
        "offline": {"redemption_cap_points_per_day": cap},
    },
    st.integers(1, 50),
    st.sampled_from(["EUR", "JPY", "KWD"]),
    st.sampled_from([r.value for r in Rounding]),
    earn_fields.map(_without_clashes),
    campaign_lists,
    tier_lists,
    redemption_rules(),
    st.integers(0, 2000),
)

line_fields = st.tuples(
    st.sampled_from(SKUS), st.sampled_from(CATEGORIES), st.integers(1, 5), st.integers(0, 6000)
)
baskets = st.lists(line_fields, min_size=1, max_size=6).map(
    lambda rows: [
        BasketLine(line_no=no, sku=sku, category=category, quantity=quantity, net_minor=net)
        for no, (sku, category, quantity, net) in enumerate(rows, start=1)
    ]
)

contexts = st.builds(
    EarnContext,
    store_id=st.sampled_from(STORES),
    local_time=st.datetimes(datetime(2025, 5, 20), datetime(2025, 6, 20)),
    tier=st.sampled_from([None, "t0", "t1", "t2", "unknown"]),
)


@given(program_rules)
def test_rules_json_round_trips(data: dict[str, Any]) -> None:
    rules = rules_from(data)
    assert ProgramRules.from_json(rules.to_json()) == rules
    assert rules.to_json() == ProgramRules.from_json(rules.to_json()).to_json()


def _int_paths(value: object, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _int_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _int_paths(item, (*path, index))
    elif type(value) is int:
        yield path


@given(program_rules, st.data())
def test_a_float_anywhere_in_rules_json_is_refused(
    data: dict[str, Any], pick: st.DataObject
) -> None:
    paths = sorted(_int_paths(data), key=repr)
    path = pick.draw(st.sampled_from(paths))
    broken = copy.deepcopy(data)
    node: Any = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = pick.draw(st.sampled_from([float(node[path[-1]]), node[path[-1]] + 0.5]))
    with pytest.raises(ValidationError, match="JSON floats are refused"):
        rules_from(broken)


@given(program_rules, baskets, contexts, st.integers(0, 5000))
def test_points_are_never_negative_and_the_breakdown_adds_up(
    data: dict[str, Any], lines: list[BasketLine], context: EarnContext, discount: int
) -> None:
    result = compute_earn(rules_from(data), lines, context, order_discount_minor=discount)
    assert result.total_points >= 0
    assert all(e.points >= 0 and e.eligible_minor <= e.net_minor for e in result.lines)
    result.check_totals()
    assert sum(e.points for e in result.lines) + sum(i.points for i in result.order_items) == (
        result.total_points
    )


@given(
    program_rules,
    baskets,
    contexts,
    st.data(),
)
def test_more_spend_on_a_line_never_earns_fewer_points(
    data: dict[str, Any], lines: list[BasketLine], context: EarnContext, pick: st.DataObject
) -> None:
    rules = rules_from(data)
    index = pick.draw(st.integers(0, len(lines) - 1))
    extra = pick.draw(st.integers(1, 5000) | st.sampled_from([1, 2]))
    bigger = list(lines)
    bigger[index] = lines[index].model_copy(update={"net_minor": lines[index].net_minor + extra})
    # With earn_on_discounted the discount cannot move spend between lines.
    discount = pick.draw(st.integers(0, 3000)) if rules.earn.earn_on_discounted else 0
    before = compute_earn(rules, lines, context, order_discount_minor=discount)
    after = compute_earn(rules, bigger, context, order_discount_minor=discount)
    assert after.total_points >= before.total_points


@given(program_rules, baskets, contexts, st.integers(0, 3000), st.integers(0, 2000))
def test_returning_everything_reverses_exactly_what_was_earned(
    data: dict[str, Any],
    lines: list[BasketLine],
    context: EarnContext,
    discount: int,
    redeemed: int,
) -> None:
    original = compute_earn(rules_from(data), lines, context, order_discount_minor=discount)
    redeemed = redeemed if any(x.net_minor for x in lines) else 0
    everything = {x.line_no: x.net_minor for x in lines}
    reversal = compute_return_reversal(original, lines, {}, everything, redeemed_points=redeemed)
    assert reversal.fully_returned
    assert reversal.points_reversed == original.total_points
    assert reversal.points_restored == redeemed


@st.composite
def return_sequences(draw: st.DrawFn, lines: list[BasketLine]) -> list[dict[int, int]]:
    """Split each line's net into pieces spread over a few returns; maybe stop early."""
    rounds = draw(st.integers(1, 4))
    returns: list[dict[int, int]] = [{} for _ in range(rounds)]
    for basket_line in lines:
        cuts = sorted(
            draw(
                st.lists(
                    st.integers(0, basket_line.net_minor), min_size=rounds - 1, max_size=rounds - 1
                )
            )
        )
        bounds = [0, *cuts, basket_line.net_minor]
        for round_index in range(rounds):
            piece = bounds[round_index + 1] - bounds[round_index]
            if piece or draw(st.booleans()):
                returns[round_index][basket_line.line_no] = piece
    keep = draw(st.integers(1, rounds))
    return returns[:keep]


@given(program_rules, baskets, contexts, st.integers(0, 2000), st.data())
def test_partial_returns_never_reverse_more_than_was_earned(
    data: dict[str, Any],
    lines: list[BasketLine],
    context: EarnContext,
    redeemed: int,
    pick: st.DataObject,
) -> None:
    original = compute_earn(rules_from(data), lines, context)
    redeemed = redeemed if any(x.net_minor for x in lines) else 0
    sequence = pick.draw(return_sequences(lines))
    refunded: dict[int, int] = {}
    reversed_total = restored_total = 0
    for returning in sequence:
        reversal = compute_return_reversal(
            original, lines, refunded, returning, redeemed_points=redeemed
        )
        reversed_total += reversal.points_reversed
        restored_total += reversal.points_restored
        for line_no, amount in returning.items():
            refunded[line_no] = refunded.get(line_no, 0) + amount
        assert reversed_total <= original.total_points
        assert restored_total <= redeemed
    # Telescoping: the pieces add up to what one return of the same amounts would give.
    at_once = compute_return_reversal(original, lines, {}, refunded, redeemed_points=redeemed)
    assert (reversed_total, restored_total) == (at_once.points_reversed, at_once.points_restored)
    if at_once.fully_returned:
        assert (reversed_total, restored_total) == (original.total_points, redeemed)


def _largest_allowed(rules: ProgramRules, balance: int, basket: int) -> int:
    """Brute force: the most points every limit allows, or 0 if that is below the minimum."""
    r = rules.redemption
    best = 0
    points = r.step
    while points <= max(balance, 0):
        within_tx = r.max_points_per_transaction is None or points <= r.max_points_per_transaction
        within_basket = r.discount_minor(points) * 100 <= basket * r.max_basket_percent
        if within_tx and within_basket and points >= r.min_points:
            best = points
        points += r.step
    return best


@given(
    program_rules,
    st.integers(-500, 6000),
    st.integers(0, 20_000),
    st.none() | st.integers(-100, 6000),
)
def test_redemption_never_exceeds_balance_basket_or_caps(
    data: dict[str, Any], balance: int, basket: int, requested: int | None
) -> None:
    rules = rules_from(data)
    redemption = rules.redemption
    result = plan_redemption(
        rules, balance=balance, basket_total_minor=basket, requested_points=requested
    )
    largest = _largest_allowed(rules, balance, basket)
    if isinstance(result, RedemptionQuote):
        assert result.points <= balance
        assert result.discount_minor <= basket
        assert result.discount_minor * 100 <= basket * redemption.max_basket_percent
        assert redemption.max_points_per_transaction is None or (
            result.points <= redemption.max_points_per_transaction
        )
        assert result.points % redemption.step == 0
        assert result.points >= redemption.min_points
        # Exact: the discount is the points' value with no rounding at all.
        assert Fraction(result.discount_minor) == Fraction(
            result.points * redemption.value_minor, redemption.points
        )
        assert result.points == (largest if requested is None else requested)
    else:
        assert result.max_points == largest
        assert result.max_discount_minor == (redemption.discount_minor(largest) if largest else 0)
        if requested is None:
            assert largest == 0
