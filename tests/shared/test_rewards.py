"""The rewards catalog: what the rules accept, what a member can buy, what a reward takes off a
sale and what voucher it issues; then properties over random catalogs and baskets."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.bounds import MAX_POINTS
from shared.rules import BasketLine, ProgramRules, Reward
from shared.rules.rewards import (
    VoucherTerms,
    affordable,
    percent_text,
    purchase_refusal,
    reward_discount,
    reward_effect,
    reward_refusal,
    voucher_terms,
)

TODAY = date(2026, 3, 14)


def rules_with(
    rewards: list[dict[str, Any]], tiers: tuple[str, ...] = ("member", "gold")
) -> ProgramRules:
    document = {
        "program_id": "test",
        "version": 1,
        "currency": "EUR",
        "rounding": "down",
        "earn": {"points_per_unit": "1", "spend_unit_minor": 100},
        "tiers": [
            {"code": code, "name": code.title(), "threshold_points": 1000 * i}
            for i, code in enumerate(tiers)
        ],
        "redemption": {"points": 100, "value_minor": 100},
        "offline": {"redemption_cap_points_per_day": 500},
        "rewards": rewards,
    }
    return ProgramRules.from_json(json.dumps(document))


def reward(**fields: Any) -> Reward:
    base: dict[str, Any] = {
        "id": "five-off",
        "name": "€5 off",
        "points": 500,
        "kind": "voucher_amount",
        "value_minor": 500,
    }
    return Reward.model_validate_json(json.dumps({**base, **fields}))


def line(no: int, sku: str, category: str, net: int, quantity: int = 1) -> BasketLine:
    return BasketLine(line_no=no, sku=sku, category=category, quantity=quantity, net_minor=net)


BASKET = [
    line(1, "SOURDOUGH", "bakery", 420),
    line(2, "CROISSANT", "bakery", 360, quantity=3),
    line(3, "COFFEE-1KG", "pantry", 1299),
    line(4, "OAT-MILK", "dairy", 398, quantity=2),
]
BASKET_TOTAL = 2477


# ------------------------------------------------------------------------- what rules accept


def test_a_catalog_round_trips_through_json() -> None:
    rules = rules_with(
        [
            {"id": "five", "name": "€5 off", "points": 500, "kind": "voucher_amount",
             "value_minor": 500, "min_spend_minor": 2000, "delivery": "apply_now"},
            {"id": "bakery10", "name": "10% bakery", "points": 300, "kind": "voucher_percent",
             "percent_bp": 1000, "value_minor": 300, "categories": ["bakery"],
             "tiers": ["gold"], "stock": 100, "valid_days": 14,
             "starts": "2026-03-01", "ends": "2026-03-31"},
            {"id": "milk", "name": "Free oat milk", "points": 200, "kind": "free_product",
             "sku": "OAT-MILK"},
            {"id": "double", "name": "Double points", "points": 400,
             "kind": "bonus_multiplier", "multiplier": "2"},
        ]
    )  # fmt: skip
    assert [r.id for r in rules.rewards] == ["five", "bakery10", "milk", "double"]
    assert ProgramRules.from_json(rules.to_json()) == rules
    assert rules.rewards[1].starts == date(2026, 3, 1)
    assert rules.rewards[3].delivery == "voucher"
    # An older rules document without rewards still reads, with an empty catalog.
    document = json.loads(rules.to_json())
    del document["rewards"]
    assert ProgramRules.model_validate(document).rewards == ()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"value_minor": None}, "a voucher_amount reward needs 'value_minor'"),
        ({"kind": "voucher_percent", "value_minor": None}, "needs 'percent_bp'"),
        ({"kind": "free_product", "value_minor": None}, "needs 'sku'"),
        ({"kind": "bonus_multiplier", "value_minor": None}, "needs 'multiplier'"),
        ({"sku": "OAT-MILK"}, "a voucher_amount reward has no 'sku'"),
        ({"percent_bp": 1000}, "has no 'percent_bp'"),
        ({"kind": "free_product", "sku": "X"}, "a free_product reward has no 'value_minor'"),
        (
            {"kind": "free_product", "sku": "X", "value_minor": None, "categories": ["a"]},
            "has no 'categories'",
        ),
        (
            {"kind": "bonus_multiplier", "value_minor": None, "multiplier": "2",
             "delivery": "apply_now"},
            "set 'delivery' to voucher",
        ),
        (
            {"kind": "bonus_multiplier", "value_minor": None, "multiplier": "2",
             "min_spend_minor": 100},
            "has no 'min_spend_minor'",
        ),
        ({"kind": "bonus_multiplier", "value_minor": None, "multiplier": "1"}, "above 1"),
        ({"kind": "bonus_multiplier", "value_minor": None, "multiplier": "11"}, "at most 10"),
        ({"kind": "bonus_multiplier", "value_minor": None, "multiplier": 2}, "as strings"),
        ({"kind": "voucher_percent", "value_minor": None, "percent_bp": 0}, "greater than or"),
        ({"kind": "voucher_percent", "value_minor": None, "percent_bp": 10001}, "less than or"),
        ({"categories": []}, "an empty list matches nothing"),
        ({"categories": ["a", "a"]}, "lists a more than once"),
        ({"tiers": ["gold", "gold"]}, "lists gold more than once"),
        ({"points": 0}, "greater than 0"),
        ({"points": MAX_POINTS + 1}, "less than or equal"),
        ({"points": 500.0}, "must be a whole number"),
        ({"value_minor": 0}, "greater than 0"),
        ({"valid_days": 0}, "greater than or equal to 1"),
        ({"valid_days": 3651}, "less than or equal to 3650"),
        ({"stock": -1}, "greater than or equal to 0"),
        ({"delivery": "email"}, "'apply_now' or 'voucher'"),
        ({"kind": "cashback"}, "'voucher_amount'"),
        ({"starts": "2026-04-01", "ends": "2026-03-01"}, "starts 2026-04-01 is after ends"),
        ({"starts": 20260401}, "write dates as ISO strings"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_a_reward_that_makes_no_sense_is_refused(fields: dict[str, Any], message: str) -> None:
    data = {k: v for k, v in fields.items() if v is not None}
    removed = [k for k, v in fields.items() if v is None]
    base: dict[str, Any] = {
        "id": "r", "name": "R", "points": 500, "kind": "voucher_amount", "value_minor": 500,
    }  # fmt: skip
    document = {k: v for k, v in {**base, **data}.items() if k not in removed}
    with pytest.raises(ValidationError) as error:
        Reward.model_validate_json(json.dumps(document))
    assert message in str(error.value)


def test_the_catalog_is_checked_against_the_program() -> None:
    five = {"id": "five", "name": "€5", "points": 500, "kind": "voucher_amount", "value_minor": 500}
    with pytest.raises(ValidationError, match="reward ids must be unique; repeated: five"):
        rules_with([five, five])
    with pytest.raises(ValidationError, match="reward five: unknown tier platinum; known: gold"):
        rules_with([{**five, "tiers": ["platinum"]}])
    with pytest.raises(ValidationError, match=r"known: none \(the program has no tiers\)"):
        rules_with([{**five, "tiers": ["gold"]}], tiers=())
    # The editor's empty tiers input (null) means every tier, like an empty list.
    assert rules_with([{**five, "tiers": None}]).rewards[0].tiers == ()


# ------------------------------------------------------------------------------ buying


CATALOG = [
    {"id": "coffee", "name": "Free coffee", "points": 150, "kind": "free_product",
     "sku": "COFFEE-CUP"},
    {"id": "five", "name": "€5 off", "points": 500, "kind": "voucher_amount", "value_minor": 500},
    {"id": "gold-ten", "name": "10% off for Gold", "points": 300, "kind": "voucher_percent",
     "percent_bp": 1000, "tiers": ["gold"]},
    {"id": "spring", "name": "Spring double", "points": 400, "kind": "bonus_multiplier",
     "multiplier": "2", "starts": "2026-03-20", "ends": "2026-04-30"},
    {"id": "limited", "name": "Tote bag", "points": 100, "kind": "free_product", "sku": "TOTE",
     "stock": 50},
]  # fmt: skip


def test_affordable_lists_what_the_member_can_buy_now_cheapest_first() -> None:
    rules = rules_with(CATALOG)

    def ids(**kwargs: Any) -> list[str]:
        return [r.id for r in affordable(rules, **kwargs)]

    assert ids(balance=600, tier="member", today=TODAY) == ["limited", "coffee", "five"]
    assert ids(balance=600, tier="gold", today=TODAY) == ["limited", "coffee", "gold-ten", "five"]
    assert ids(balance=600, tier=None, today=date(2026, 3, 20)) == [
        "limited",
        "coffee",
        "spring",
        "five",
    ]
    assert ids(balance=149, tier="gold", today=TODAY) == ["limited"]
    assert ids(balance=149, tier="gold", today=TODAY, issued={"limited": 50}) == []
    assert ids(balance=99, tier="gold", today=TODAY) == []
    assert ids(balance=-20, tier="gold", today=TODAY) == []


def test_purchase_refusal_says_why_in_one_sentence() -> None:
    gold, spring, limited, five = (rules_with(CATALOG).rewards[i] for i in (2, 3, 4, 1))
    assert purchase_refusal(gold, balance=900, tier="member", today=TODAY) == (
        "10% off for Gold is only for tiers gold"
    )
    assert purchase_refusal(spring, balance=900, tier=None, today=TODAY) == (
        "Spring double can be bought from 2026-03-20"
    )
    assert purchase_refusal(spring, balance=900, tier=None, today=date(2026, 5, 1)) == (
        "Spring double could be bought until 2026-04-30"
    )
    assert purchase_refusal(limited, balance=900, tier=None, today=TODAY, issued=50) == (
        "Tote bag is sold out (50 issued)"
    )
    assert purchase_refusal(five, balance=450, tier=None, today=TODAY) == (
        "€5 off costs 500 pts; the balance is 450 pts"
    )
    assert purchase_refusal(five, balance=500, tier=None, today=TODAY) is None


# ------------------------------------------------------------------------- on a sale


def test_a_fixed_amount_never_exceeds_what_is_left_to_pay() -> None:
    five = reward()
    assert reward_discount(five, BASKET, BASKET_TOTAL) == 500
    assert reward_discount(five, BASKET, 300) == 300  # points paid most of it
    assert reward_discount(five, BASKET, 0) == 0
    bakery = reward(categories=["bakery"])
    # Bakery is 780 of 2,477; after 1,000 points-cents off, its share is 780 x 1477 // 2477.
    assert reward_discount(bakery, BASKET, 1477) == 465
    assert reward_discount(reward(categories=["fresh"]), BASKET, BASKET_TOTAL) == 0


def test_minimum_spend_is_on_the_rewards_lines_before_points() -> None:
    bakery = reward(categories=["bakery"], min_spend_minor=800)
    assert reward_discount(bakery, BASKET, BASKET_TOTAL) == 0
    assert reward_refusal(bakery, BASKET, BASKET_TOTAL, currency="EUR") == (
        "€5 off needs €8.00 on bakery; this sale has €7.80"
    )
    whole = reward(min_spend_minor=2000)
    # Points lower what is left to pay, not the spend that qualifies.
    assert reward_discount(whole, BASKET, 400) == 400
    assert reward_refusal(whole, BASKET, 400, currency="EUR") is None


def test_a_percentage_rounds_down_and_stops_at_its_cap() -> None:
    ten = reward(kind="voucher_percent", percent_bp=1000, value_minor=None)
    assert reward_discount(ten, BASKET, BASKET_TOTAL) == 247  # 10% of 24.77, down
    capped = reward(kind="voucher_percent", percent_bp=5000, value_minor=1000)
    assert reward_discount(capped, BASKET, BASKET_TOTAL) == 1000
    everything = reward(kind="voucher_percent", percent_bp=10_000, value_minor=None)
    assert reward_discount(everything, BASKET, 1234) == 1234
    bakery = reward(
        kind="voucher_percent", percent_bp=1250, value_minor=None, categories=["bakery"]
    )
    assert reward_discount(bakery, BASKET, BASKET_TOTAL) == 97  # 12.5% of 7.80


def test_a_free_product_is_one_unit_of_it() -> None:
    milk = reward(kind="free_product", sku="OAT-MILK", value_minor=None)
    assert reward_discount(milk, BASKET, BASKET_TOTAL) == 199
    croissant = reward(kind="free_product", sku="CROISSANT", value_minor=None)
    assert reward_discount(croissant, BASKET, BASKET_TOTAL) == 120
    tea = reward(kind="free_product", sku="TEA", value_minor=None, name="Free tea")
    assert reward_discount(tea, BASKET, BASKET_TOTAL) == 0
    assert reward_refusal(tea, BASKET, BASKET_TOTAL, currency="EUR") == (
        "Free tea: add TEA to the sale first"
    )


def test_a_bonus_multiplier_takes_nothing_off() -> None:
    double = reward(kind="bonus_multiplier", multiplier="2", value_minor=None, name="Double")
    assert reward_discount(double, BASKET, BASKET_TOTAL) == 0
    assert "multiplies the next visit's points" in str(
        reward_refusal(double, BASKET, BASKET_TOTAL, currency="EUR")
    )


def test_refusals_name_the_next_step() -> None:
    bakery = reward(categories=["fresh"], name="Fresh €5")
    assert reward_refusal(bakery, BASKET, BASKET_TOTAL, currency="EUR") == (
        "Fresh €5 applies only to fresh: none in this sale"
    )
    assert reward_refusal(reward(), BASKET, 0, currency="EUR") == (
        "€5 off takes nothing off: nothing is left to pay on its items"
    )
    with pytest.raises(ValueError, match="subtotal_after_points must be an int from 0"):
        reward_discount(reward(), BASKET, BASKET_TOTAL + 1)
    with pytest.raises(ValueError, match="subtotal_after_points"):
        reward_discount(reward(), BASKET, -1)


# ------------------------------------------------------------------------- vouchers


def test_voucher_terms() -> None:
    five = reward(min_spend_minor=2000)
    assert voucher_terms(five, date(2026, 3, 1)) == VoucherTerms(500, None, 2000, date(2026, 3, 30))
    pct = reward(kind="voucher_percent", percent_bp=1500, value_minor=None, valid_days=1)
    assert voucher_terms(pct, TODAY) == (0, 1500, 0, TODAY)
    capped = reward(kind="voucher_percent", percent_bp=1500, value_minor=700)
    assert voucher_terms(capped, TODAY).value_minor == 700
    milk = reward(kind="free_product", sku="OAT-MILK", value_minor=None, valid_days=7)
    assert voucher_terms(milk, TODAY) == (0, None, 0, date(2026, 3, 20))
    with pytest.raises(ValueError, match="applies to the sale; it issues no voucher"):
        voucher_terms(reward(delivery="apply_now"), TODAY)


def test_effects_and_percentages_in_words() -> None:
    assert reward_effect(reward(), "EUR") == "€5.00 off"
    assert reward_effect(reward(min_spend_minor=2000, categories=["bakery", "fresh"]), "EUR") == (
        "€5.00 off bakery, fresh with at least €20.00 spent"
    )
    assert reward_effect(
        reward(kind="voucher_percent", percent_bp=1250, value_minor=300), "EUR"
    ) == ("12.5% off (at most €3.00)")
    assert reward_effect(reward(kind="free_product", sku="OAT-MILK", value_minor=None), "EUR") == (
        "a free OAT-MILK"
    )
    assert reward_effect(
        reward(kind="bonus_multiplier", multiplier="3/2", value_minor=None), "EUR"
    ) == ("×3/2 points on the next visit")
    assert [percent_text(bp) for bp in (1, 5, 10, 1000, 1010, 1250, 10_000)] == [
        "0.01%",
        "0.05%",
        "0.1%",
        "10%",
        "10.1%",
        "12.5%",
        "100%",
    ]


# ------------------------------------------------------------------------- properties

CATEGORIES = ("bakery", "dairy", "fresh", "pantry")
SKUS = ("A", "B", "C", "D", "E")


@st.composite
def baskets(draw: st.DrawFn) -> tuple[list[BasketLine], int]:
    count = draw(st.integers(min_value=0, max_value=8))
    lines = [
        line(
            number,
            draw(st.sampled_from(SKUS)),
            draw(st.sampled_from(CATEGORIES)),
            draw(st.integers(min_value=0, max_value=10**7)),
            draw(st.integers(min_value=1, max_value=50)),
        )
        for number in range(1, count + 1)
    ]
    total = sum(item.net_minor for item in lines)
    return lines, draw(st.integers(min_value=0, max_value=total))


def _names(values: tuple[str, ...]) -> st.SearchStrategy[list[str] | None]:
    return st.none() | st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True)


@st.composite
def rewards(draw: st.DrawFn, tiers: tuple[str, ...] = ("member", "gold")) -> Reward:
    kind = draw(
        st.sampled_from(["voucher_amount", "voucher_percent", "free_product", "bonus_multiplier"])
    )
    fields: dict[str, Any] = {
        "id": draw(st.text("abcdefgh", min_size=1, max_size=6)),
        "name": "R",
        "points": draw(st.integers(min_value=1, max_value=MAX_POINTS)),
        "kind": kind,
        "valid_days": draw(st.integers(min_value=1, max_value=3650)),
        "tiers": draw(st.lists(st.sampled_from(tiers), max_size=2, unique=True)),
        "stock": draw(st.none() | st.integers(min_value=0, max_value=5)),
    }
    if draw(st.booleans()):
        fields["starts"] = draw(st.dates(date(2026, 1, 1), date(2026, 6, 30))).isoformat()
    if draw(st.booleans()):
        start = date.fromisoformat(fields.get("starts", "2026-01-01"))
        fields["ends"] = draw(st.dates(start, date(2026, 12, 31))).isoformat()
    if kind != "bonus_multiplier":
        fields["min_spend_minor"] = draw(st.integers(min_value=0, max_value=10**6))
        fields["delivery"] = draw(st.sampled_from(["apply_now", "voucher"]))
    if kind == "voucher_amount":
        fields["value_minor"] = draw(st.integers(min_value=1, max_value=10**7))
        fields["categories"] = draw(_names(CATEGORIES))
    elif kind == "voucher_percent":
        fields["percent_bp"] = draw(st.integers(min_value=1, max_value=10_000))
        fields["value_minor"] = draw(st.none() | st.integers(min_value=1, max_value=10**7))
        fields["categories"] = draw(_names(CATEGORIES))
    elif kind == "free_product":
        fields["sku"] = draw(st.sampled_from(SKUS))
    else:
        fields["multiplier"] = draw(st.sampled_from(["3/2", "2", "5/2", "10"]))
    return Reward.model_validate_json(json.dumps(fields))


@given(rewards(), baskets())
def test_a_discount_never_exceeds_the_basket_nor_the_cap(
    item: Reward, basket: tuple[list[BasketLine], int]
) -> None:
    lines, subtotal = basket
    discount = reward_discount(item, lines, subtotal)
    assert type(discount) is int
    assert 0 <= discount <= subtotal <= sum(x.net_minor for x in lines)
    if item.value_minor is not None:
        assert discount <= item.value_minor
    if item.kind == "voucher_percent":
        assert item.percent_bp is not None
        assert discount * 10_000 <= subtotal * item.percent_bp
    if item.kind == "free_product":
        assert discount <= max((x.net_minor for x in lines if x.sku == item.sku), default=0)
    # A reward refused says why; one that gives something says nothing.
    refusal = reward_refusal(item, lines, subtotal, currency="EUR")
    assert (refusal is None) == (discount > 0)


@given(
    st.lists(rewards(), max_size=6, unique_by=lambda r: r.id),
    st.integers(min_value=-1000, max_value=MAX_POINTS),
    st.sampled_from([None, "member", "gold"]),
    st.dates(date(2025, 12, 1), date(2027, 1, 31)),
    st.dictionaries(st.text("abcdefgh", min_size=1, max_size=6), st.integers(0, 6)),
)
def test_affordable_never_lists_what_the_member_cannot_buy(
    catalog: list[Reward],
    balance: int,
    tier: str | None,
    today: date,
    issued: dict[str, int],
) -> None:
    rules = rules_with([json.loads(r.model_dump_json()) for r in catalog])
    listed = affordable(rules, balance=balance, tier=tier, today=today, issued=issued)
    for item in listed:
        assert item.points <= balance
        assert item.starts is None or item.starts <= today
        assert item.ends is None or today <= item.ends
        assert not item.tiers or tier in item.tiers
        assert item.stock is None or issued.get(item.id, 0) < item.stock
    # Everything left out has a reason, and the list is sorted by price.
    left_out = [r for r in rules.rewards if r not in listed]
    for item in left_out:
        assert purchase_refusal(
            item, balance=balance, tier=tier, today=today, issued=issued.get(item.id, 0)
        )
    assert [r.points for r in listed] == sorted(r.points for r in listed)


@given(rewards(), st.dates(date(2000, 1, 1), date(2090, 1, 1)))
def test_a_voucher_lasts_exactly_its_valid_days(item: Reward, issued_on: date) -> None:
    if item.delivery != "voucher":
        return
    terms = voucher_terms(item, issued_on)
    assert terms.expires_on - issued_on == timedelta(days=item.valid_days - 1)
    assert terms.value_minor >= 0
    assert terms.min_spend_minor == item.min_spend_minor
    assert (terms.percent_bp is not None) == (item.kind == "voucher_percent")
