"""Campaign vouchers ("spend €50, get €5 off your next visit"): what the rules accept, which
sales qualify (on what the customer paid for the campaign's lines, after every order
discount), the voucher's terms; then properties over random baskets and discounts."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.bounds import MAX_TENDERS
from shared.rules import BasketLine, ProgramRules
from shared.rules.campaign_vouchers import (
    MAX_CAMPAIGN_VOUCHERS,
    campaign_spend,
    campaign_vouchers,
    offer_terms,
    offer_text,
)
from shared.rules.model import VoucherOffer
from shared.rules.rewards import VoucherTerms

SATURDAY_NOON = datetime(2026, 3, 14, 12, 0)


def rules_with(campaigns: list[dict[str, Any]]) -> ProgramRules:
    document = {
        "program_id": "test",
        "version": 1,
        "currency": "EUR",
        "rounding": "down",
        "earn": {
            "points_per_unit": "1",
            "spend_unit_minor": 100,
            "excluded_categories": ["tobacco"],
        },
        "redemption": {"points": 100, "value_minor": 100},
        "offline": {"redemption_cap_points_per_day": 500},
        "campaigns": campaigns,
    }
    return ProgramRules.from_json(json.dumps(document))


SPEND_50 = {
    "id": "spend-50",
    "name": "Spend €50, get €5 off next visit",
    "min_spend_minor": 5000,
    "voucher": {"value_minor": 500, "valid_days": 30},
}


def line(no: int, net: int, category: str = "grocery", sku: str | None = None) -> BasketLine:
    return BasketLine(
        line_no=no, sku=sku or f"SKU{no}", category=category, quantity=1, net_minor=net
    )


def test_a_sale_that_spends_the_threshold_gets_the_voucher_with_its_terms() -> None:
    rules = rules_with([SPEND_50])
    lines = [line(1, 3000), line(2, 2000)]
    ((campaign, terms),) = campaign_vouchers(rules, lines, "main", SATURDAY_NOON, 5000)
    assert campaign.id == "spend-50"
    assert terms == VoucherTerms(500, None, 0, date(2026, 4, 12))  # 30 days, today the first
    assert offer_text(campaign.voucher, "EUR") == "€5.00 off"  # type: ignore[arg-type]


def test_spend_is_what_was_paid_after_the_discounts_and_never_excluded_lines() -> None:
    rules = rules_with([SPEND_50])
    lines = [line(1, 5000)]
    # €50 of goods, €1 of points or vouchers off: €49 paid, no voucher.
    assert campaign_vouchers(rules, lines, "main", SATURDAY_NOON, 4900) == []
    # Tobacco never counts as spend (the earn rules exclude it).
    smoky = [line(1, 4000), line(2, 2000, "tobacco")]
    assert campaign_spend(rules, rules.campaigns[0], smoky, 6000) == 4000
    assert campaign_vouchers(rules, smoky, "main", SATURDAY_NOON, 6000) == []
    # The targeted lines' proportional share of what was paid (as reward_discount uses).
    bakery = rules_with([{**SPEND_50, "categories": ["bakery"], "min_spend_minor": 1000}])
    mixed = [line(1, 2000, "bakery"), line(2, 2000)]
    assert campaign_spend(bakery, bakery.campaigns[0], mixed, 3000) == 1500
    assert len(campaign_vouchers(bakery, mixed, "main", SATURDAY_NOON, 1999)) == 0
    assert len(campaign_vouchers(bakery, mixed, "main", SATURDAY_NOON, 2000)) == 1


def test_the_campaigns_filters_say_when_a_sale_qualifies() -> None:
    rules = rules_with(
        [
            {**SPEND_50, "weekdays": [0]},  # Mondays only
            {**SPEND_50, "id": "main-only", "stores": ["main"], "hours": [9, 12]},
            {**SPEND_50, "id": "march", "starts": "2026-03-01", "ends": "2026-03-31"},
            {"id": "points-only", "name": "Double", "multiplier": "2"},
        ]
    )
    lines = [line(1, 6000)]
    given_ = campaign_vouchers(rules, lines, "main", SATURDAY_NOON, 6000)
    assert [c.id for c, _ in given_] == ["march"]  # noon is outside 9-12; Saturday not Monday
    morning = SATURDAY_NOON.replace(hour=11)
    assert [c.id for c, _ in campaign_vouchers(rules, lines, "main", morning, 6000)] == [
        "main-only",
        "march",
    ]
    assert [c.id for c, _ in campaign_vouchers(rules, lines, "quay", morning, 6000)] == ["march"]
    april = datetime(2026, 4, 1, 11)
    assert campaign_vouchers(rules, lines, "quay", april, 6000) == []


def test_a_percent_voucher_with_a_cap_and_a_minimum_to_redeem() -> None:
    offer = VoucherOffer(percent_bp=1000, value_minor=300, min_spend_minor=2000, valid_days=1)
    assert offer_terms(offer, date(2026, 3, 14)) == VoucherTerms(300, 1000, 2000, date(2026, 3, 14))
    assert offer_text(offer, "EUR") == "10% off (at most €3.00) with at least €20.00 spent"
    uncapped = VoucherOffer(percent_bp=1250)
    assert offer_terms(uncapped, date(2026, 3, 14)).value_minor == 0  # 0: no cap


@pytest.mark.parametrize(
    ("voucher", "message"),
    [
        ({}, "needs 'value_minor' (an amount off) or 'percent_bp'"),
        ({"value_minor": 0}, "greater than 0"),
        ({"percent_bp": 10_001}, "less than or equal to 10000"),
        ({"value_minor": 500, "valid_days": 0}, "greater than or equal to 1"),
        ({"value_minor": 500, "valid_days": 1.5}, "valid_days"),
        ({"value_minor": 500, "colour": "red"}, "colour"),
    ],
)
def test_the_rules_refuse_a_voucher_that_gives_nothing_or_is_malformed(
    voucher: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rules_with([{**SPEND_50, "voucher": voucher}])


def test_a_campaign_may_give_a_voucher_and_no_points() -> None:
    rules = rules_with([SPEND_50])
    (campaign,) = rules.campaigns
    assert (campaign.multiplier, campaign.bonus_points) == ("1", 0)
    assert campaign.voucher == VoucherOffer(value_minor=500, valid_days=30)


# --- properties --------------------------------------------------------------------------------

_categories = st.sampled_from(["grocery", "bakery", "tobacco"])


@st.composite
def sales(draw: st.DrawFn) -> tuple[ProgramRules, list[BasketLine], int, datetime]:
    threshold = draw(st.integers(0, 20_000))
    targets = draw(st.sampled_from([None, ["bakery"], ["grocery", "bakery"]]))
    campaign: dict[str, Any] = {
        "id": "c",
        "name": "C",
        "min_spend_minor": threshold,
        "categories": targets,
        "voucher": {"value_minor": draw(st.integers(1, 5000))},
    }
    rules = rules_with([campaign])
    nets = draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=6))
    lines = [line(i + 1, net, draw(_categories)) for i, net in enumerate(nets)]
    paid = draw(st.integers(0, sum(nets)))
    when = SATURDAY_NOON + timedelta(minutes=draw(st.integers(0, 60 * 24 * 14)))
    return rules, lines, paid, when


@given(sales())
def test_never_issued_below_the_threshold_and_the_same_every_time(
    sale: tuple[ProgramRules, list[BasketLine], int, datetime],
) -> None:
    rules, lines, paid, when = sale
    (campaign,) = rules.campaigns
    spend = campaign_spend(rules, campaign, lines, paid)
    issued = campaign_vouchers(rules, lines, "main", when, paid)
    if spend < campaign.min_spend_minor or spend == 0:
        assert issued == []
    else:
        assert [c.id for c, _ in issued] == ["c"]
    # Deterministic: the till and HQ get the same answer from the same inputs.
    assert campaign_vouchers(rules, lines, "main", when, paid) == issued
    # Never more spend than was paid, and paying more never loses the voucher.
    assert 0 <= spend <= paid
    if issued and paid < sum(item.net_minor for item in lines):
        assert campaign_vouchers(rules, lines, "main", when, paid + 1) != []


def test_paid_outside_the_basket_is_a_programming_error() -> None:
    rules = rules_with([SPEND_50])
    with pytest.raises(ValueError, match="paid_minor"):
        campaign_vouchers(rules, [line(1, 100)], "main", SATURDAY_NOON, 101)


def test_a_sale_gets_at_most_as_many_vouchers_as_a_sale_can_journal() -> None:
    many = [{**SPEND_50, "id": f"c{n}", "min_spend_minor": 0} for n in range(MAX_TENDERS + 3)]
    rules = rules_with(many)
    given_ = campaign_vouchers(rules, [line(1, 100)], "main", SATURDAY_NOON, 100)
    assert [c.id for c, _ in given_] == [f"c{n}" for n in range(MAX_CAMPAIGN_VOUCHERS)]
    assert MAX_CAMPAIGN_VOUCHERS == MAX_TENDERS  # what Sale.campaign_vouchers holds
