"""The program editor's form, summary and diff, without a server: every ProgramRules field has
an input, a document survives the round trip through the form exactly, and every problem
lands next to the input it concerns."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel

from shared.rules import ProgramRules
from syncserver.hq.program import (
    describe,
    diff_documents,
    field_text,
    minor_text,
    ratio_text,
)
from syncserver.hq.program_schema import SECTIONS, document_paths
from syncserver.web.program_form import FormValues, check_basket, check_document, document_values
from tests.server.helpers import demo_rules_json

DOCS_RULES = re.compile(r"```json rules\n(.*?)```", re.S)


def _demo() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(demo_rules_json())
    return document


def _docs_example() -> dict[str, Any]:
    with open("docs/rules.md", encoding="utf-8") as handle:
        found = DOCS_RULES.search(handle.read())
    assert found
    document: dict[str, Any] = json.loads(found.group(1))
    return document


def _model_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Dotted paths of every field, descending into nested models (and lists of them)."""
    paths = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = [
            arg
            for arg in (info.annotation, *getattr(info.annotation, "__args__", ()))
            if isinstance(arg, type) and issubclass(arg, BaseModel)
        ]
        for arg in getattr(info.annotation, "__args__", ()):
            nested += [
                a
                for a in getattr(arg, "__args__", ())
                if isinstance(a, type) and issubclass(a, BaseModel)
            ]
        if nested:
            for sub in nested:
                paths |= _model_paths(sub, f"{path}.")
        else:
            paths.add(path)
    return paths


def test_every_rules_field_has_exactly_one_input() -> None:
    covered = list(document_paths())
    assert len(covered) == len(set(covered))
    assert set(covered) == _model_paths(ProgramRules)


@pytest.mark.parametrize("document", [_demo(), _docs_example()], ids=["demo", "docs"])
def test_a_document_survives_the_form_exactly(document: dict[str, Any]) -> None:
    checked = check_document(document_values(document))
    assert checked.errors == {}
    assert checked.rules == ProgramRules.model_validate_json(json.dumps(document))


def test_money_is_read_exactly_from_decimal_text() -> None:
    values = document_values(_demo())
    values.set("earn.min_spend_minor", "0.1")
    values.set("redemption.value_minor", "2")
    values.set("campaigns.2.min_spend_minor", "49.99")
    rules = check_document(values).rules
    assert rules is not None
    assert rules.earn.min_spend_minor == 10
    assert rules.redemption.value_minor == 200
    assert rules.campaigns[2].min_spend_minor == 4999
    # The yen has no decimals: "1.5" is refused, "1500" is 1500 minor units.
    yen = document_values({**_demo(), "currency": "JPY"})
    yen.set("earn.spend_unit_minor", "1.5")
    assert "more than 0 decimals for JPY" in check_document(yen).errors["earn.spend_unit_minor"][0]
    yen.set("earn.spend_unit_minor", "1500")
    yen_rules = check_document(yen).rules
    assert yen_rules is not None
    assert yen_rules.earn.spend_unit_minor == 1500


def _errors_for(changes: dict[str, str | list[str]]) -> dict[str, list[str]]:
    values = document_values(_demo())
    for name, value in changes.items():
        values.set(name, *([value] if isinstance(value, str) else value))
    checked = check_document(values)
    assert checked.rules is None
    return checked.errors


def test_unreadable_inputs_are_named_next_to_themselves() -> None:
    errors = _errors_for(
        {
            "earn.min_spend_minor": "3.005",
            "earn.per_order_points": "1.5",
            "tiers.1.threshold_points": "",
            "campaigns.0.hours.0": "17",
            "campaigns.1.starts": "12/04/2025",
        }
    )
    assert set(errors) == {
        "earn.min_spend_minor",
        "earn.per_order_points",
        "tiers.1.threshold_points",
        "campaigns.0.hours",
        "campaigns.1.starts",
    }
    assert "more than 2 decimals" in errors["earn.min_spend_minor"][0]
    assert "not a whole number" in errors["earn.per_order_points"][0]
    assert errors["tiers.1.threshold_points"] == ["required: enter the threshold"]
    assert "give both hours" in errors["campaigns.0.hours"][0]
    assert "not a date" in errors["campaigns.1.starts"][0]


def test_model_errors_land_on_the_field_row_list_or_section_they_concern() -> None:
    # A field the model refuses.
    assert (
        "at least 1" in _errors_for({"campaigns.1.multiplier": "0.5"})["campaigns.1.multiplier"][0]
    )
    # A dict entry: the multiplier of the category it belongs to.
    assert list(_errors_for({"earn.category_multipliers.3.multiplier": "two"})) == [
        "earn.category_multipliers.3.multiplier"
    ]
    # A campaign's own check: on its row.
    row = _errors_for({"campaigns.2.starts": "2025-06-01", "campaigns.2.ends": "2025-05-01"})
    assert "starts 2025-06-01 is after ends 2025-05-01" in row["campaigns.2"][0]
    # A section's own check: on the section.
    section = _errors_for({"earn.excluded_categories.0.category": "fruit-veg"})
    assert "both excluded and given a multiplier" in section["section-earn"][0]
    redemption = _errors_for({"redemption.step_points": "33", "redemption.value_minor": "0.50"})
    assert "must be divisible" in redemption["section-redemption"][0]
    # The program's checks across a list: on that list.
    tiers = _errors_for({"tiers.2.code": "silver"})
    assert "tier codes must be unique" in tiers["tiers"][0]
    campaigns = _errors_for({"campaigns.3.id": "late-bakery"})
    assert "campaign ids must be unique" in campaigns["campaigns"][0]
    # A unit bonus's target, and the same category listed twice.
    assert (
        "required" in _errors_for({"earn.unit_bonuses.0.name": ""})["earn.unit_bonuses.0.name"][0]
    )
    twice = _errors_for({"earn.category_multipliers.4.category": "fruit-veg"})
    assert "already listed above" in twice["earn.category_multipliers.4.category"][0]


def test_rows_added_with_gaps_and_empty_rows_left_over() -> None:
    values = document_values(_demo())
    # Rows removed in the browser leave gaps; an added row left empty is ignored.
    for name in [n for n in list(values._data) if n.startswith("tiers.1.")]:
        del values._data[name]
    values.set("tiers.7.code", "platinum")
    values.set("tiers.7.name", "Platinum")
    values.set("tiers.7.threshold_points", "50000")
    values.set("tiers.7.multiplier", "3/2")
    values.set("tiers.9.code", "")
    values.set("earn.unit_bonuses.4.applies_to", "category")
    values.set("earn.unit_bonuses.4.name", "")
    values.set("earn.unit_bonuses.4.points_per_unit", "")
    checked = check_document(values)
    assert checked.errors == {}
    assert checked.rules is not None
    assert [t.code for t in checked.rules.tiers] == ["member", "gold", "platinum"]
    # An error in a row after a gap still lands on that row's input.
    values.set("tiers.7.multiplier", "x")
    assert list(check_document(values).errors) == ["tiers.7.multiplier"]


def test_campaign_filters_weekdays_and_hours() -> None:
    values = document_values(_demo())
    values.set("campaigns.1.weekdays", "4", "5")
    values.set("campaigns.1.stores", " harbour , quayside,")
    values.set("campaigns.0.weekdays")
    values.set("campaigns.0.categories", "")
    rules = check_document(values).rules
    assert rules is not None
    assert rules.campaigns[1].weekdays == (4, 5)
    assert rules.campaigns[1].stores == ("harbour", "quayside")
    assert rules.campaigns[1].hours == (18, 22)
    assert rules.campaigns[0].weekdays is None
    assert rules.campaigns[0].categories is None


def test_sample_basket_is_read_exactly() -> None:
    values = FormValues()
    values.set("basket.lines.0.sku", "A")
    values.set("basket.lines.0.category", "fruit-veg")
    values.set("basket.lines.0.unit_price", "2.99")
    values.set("basket.lines.0.quantity", "3")
    values.set("basket.lines.4.sku", "B")
    values.set("basket.lines.4.category", "bakery")
    values.set("basket.lines.4.unit_price", "0.1")
    values.set("basket.local_time", "2025-04-12T18:30")
    basket, checked = check_basket(values, "EUR")
    assert checked.errors == {}
    assert basket is not None
    assert [(line.unit_price_minor, line.quantity) for line in basket.lines] == [(299, 3), (10, 1)]
    assert basket.total_minor() == 907
    values.set("basket.lines.4.unit_price", "0.105")
    values.set("basket.lines.4.quantity", "two")
    bad, checked = check_basket(values, "EUR")
    assert bad is None
    assert set(checked.errors) == {"basket.lines.4.unit_price", "basket.lines.4.quantity"}


def test_summary_in_plain_language() -> None:
    rules = ProgramRules.from_json(demo_rules_json())
    summary = describe(rules, date(2025, 4, 1))
    assert summary.earn_rate == "1 point"
    assert summary.earn_per == "€1.00"
    assert summary.point_worth == "€0.01"
    assert summary.earning[0].startswith("1 point per €1.00 of eligible spend, rounded down")
    assert "Orders with less than €3.00 of eligible spend earn nothing." in summary.earning
    assert ("fruit-veg", "×2") in summary.category_multipliers
    assert ("bakery", "×1.5") in summary.category_multipliers  # written "3/2"
    statuses = {c.id: c.status for c in summary.campaigns}
    assert statuses == {
        "weekend-fresh": "active",
        "late-bakery": "active",
        "spring-big-shop": "active",
        "quayside-opening": "upcoming",
        "spend-40-voucher": "active",
    }
    spring = next(c for c in summary.campaigns if c.id == "spring-big-shop")
    assert spring.when == "20 Mar 2025 – 31 May 2025"
    assert spring.effect == "+100 points per order; with at least €50.00 on its items"
    assert [t.code for t in summary.tiers] == ["member", "silver", "gold"]
    assert summary.redemption[0] == "100 points = €1.00 off the basket."
    assert "at most 1,000 points per day" in summary.offline
    cheap = rules.model_copy(
        update={"redemption": rules.redemption.model_copy(update={"value_minor": 50})}
    )
    assert describe(cheap, date(2025, 4, 1)).point_worth == "€0.005"


def test_diff_names_each_changed_field() -> None:
    before, after = _demo(), _demo()
    after["version"] = 4
    after["earn"]["points_per_unit"] = "2"
    after["earn"]["category_multipliers"]["fruit-veg"] = "3"
    del after["earn"]["category_multipliers"]["alcohol"]
    after["campaigns"][0]["weekdays"] = [4, 5, 6]
    after["campaigns"].pop(1)
    after["tiers"].append(
        {"code": "platinum", "name": "Platinum", "threshold_points": 50000, "multiplier": "3/2"}
    )
    after["redemption"]["step_points"] = None
    changes = {(c.item, c.before, c.after) for c in diff_documents(before, after)}
    assert changes == {
        ("Points per spend unit", "1", "2"),
        ("Category multiplier fruit-veg", "×2", "×3"),
        ("Category multiplier alcohol", "×0.5", None),
        ("Campaign weekend-fresh · Weekdays", "Sat, Sun", "Fri, Sat, Sun"),
        (
            "Campaign late-bakery",
            "name Bakery after 6pm, multiplier 3, hours 18:00–22:00, categories bakery",
            None,
        ),
        ("Tier platinum", None, "name Platinum, threshold 50,000, multiplier 1.5"),
        ("Redeem in steps of (points)", "50", "the points above"),
    }
    assert diff_documents(before, before) == []


def test_numbers_for_people() -> None:
    assert ratio_text("3/2") == "1.5"
    assert ratio_text("4/3") == "4/3"
    assert ratio_text("2.50") == "2.5"
    assert minor_text(123456, "EUR") == "1234.56"
    assert minor_text(5, "KWD") == "0.005"
    assert minor_text(1500, "JPY") == "1500"
    money = next(f for s in SECTIONS for f in s.fields if f.key == "min_spend_minor")
    assert field_text(money, 1250, "GBP") == "£12.50"


# --- tiers that move and points that expire (issue 12) -----------------------------------------


def _tiered() -> dict[str, Any]:
    document = _demo()
    document["tier_qualification"] = {
        "metric": "points",
        "period": "rolling",
        "window_months": 12,
        "grace_months": 3,
        "one_tier_down": True,
    }
    document["expiry"] = {"mode": "months_after_earn", "months": 12, "years": 1}
    document["tiers"][2]["perks"] = ["Free delivery", "Birthday double points"]
    return document


def test_tier_qualification_expiry_and_perks_survive_the_form() -> None:
    values = document_values(_tiered())
    assert values.get("tier_qualification.grace_months") == "3"
    assert values.get("tier_qualification.one_tier_down") == "on"
    assert values.get("expiry.mode") == "months_after_earn"
    assert values.get("tiers.2.perks") == "Free delivery\nBirthday double points"
    checked = check_document(values)
    assert checked.errors == {}
    assert checked.rules == ProgramRules.model_validate_json(json.dumps(_tiered()))
    assert checked.rules is not None
    assert checked.rules.tiers[2].perks == ("Free delivery", "Birthday double points")
    # A version from before these fields shows (and keeps) their defaults.
    older = document_values(_demo())
    assert older.get("tier_qualification.window_months") == "12"
    assert older.get("tier_qualification.metric") == "points"
    assert older.get("expiry.mode") == "never"
    assert older.get("expiry.years") == "1"
    assert check_document(older).rules == ProgramRules.from_json(demo_rules_json())


def test_tier_and_expiry_problems_land_next_to_their_fields() -> None:
    values = document_values(_tiered())
    values.set("expiry.months", "")
    values.set("tier_qualification.window_months", "0")
    values.set("tier_qualification.grace_months", "25")
    values.set("tier_qualification.metric", "miles")
    values.set("tiers.2.perks", "x" * 61)
    errors = check_document(values).errors
    assert set(errors) == {
        "expiry.months",
        "tier_qualification.window_months",
        "tier_qualification.grace_months",
        "tier_qualification.metric",
        "tiers.2.perks",
    }
    assert errors["expiry.months"] == ["expiry mode 'months_after_earn' needs 'months'"]
    assert "greater than or equal to 1" in errors["tier_qualification.window_months"][0]
    assert "less than or equal to 24" in errors["tier_qualification.grace_months"][0]
    assert "'points', 'spend' or 'visits'" in errors["tier_qualification.metric"][0]
    assert "at most 60 characters" in errors["tiers.2.perks"][0]


def test_tier_and_expiry_rules_in_plain_language() -> None:
    rules = ProgramRules.model_validate_json(json.dumps(_tiered()))
    summary = describe(rules, date(2026, 12, 4))
    assert summary.tier_rules == (
        "Tiers: by points earned in the last 12 months; review 12 months after a tier is "
        "reached, with 3 months' grace; at most one tier down per review."
    )
    assert summary.expiry == (
        "Points expire 12 months after they are earned. Redemptions use the oldest points first."
    )
    gold = summary.tiers[-1]
    assert gold.threshold == "10,000 pts"
    assert gold.perks == ["Free delivery", "Birthday double points"]
    plain = describe(ProgramRules.from_json(demo_rules_json()), date(2026, 12, 4))
    assert plain.expiry == "Points never expire."
    assert plain.tier_rules.startswith("Tiers: by points earned in the last 12 months;")
    assert "without grace" in plain.tier_rules
    by_spend = _tiered()
    by_spend["tier_qualification"] = {"metric": "spend", "period": "calendar_year"}
    by_spend["expiry"] = {"mode": "end_of_year", "years": 0}
    spend = describe(ProgramRules.model_validate_json(json.dumps(by_spend)), date(2026, 12, 4))
    assert spend.tier_rules == (
        "Tiers: by spend in the calendar year; review on 1 January, without grace."
    )
    assert spend.tiers[1].threshold == "€25.00"
    assert spend.expiry.startswith("Points expire on 31 December of the year they are earned.")
    by_spend["expiry"] = {"mode": "inactivity", "months": 18}
    idle = describe(ProgramRules.model_validate_json(json.dumps(by_spend)), date(2026, 12, 4))
    assert idle.expiry.startswith(
        "All of a member's points expire 18 months after their last visit (any visit extends them)."
    )


def test_diff_shows_tier_qualification_expiry_and_perks() -> None:
    changes = {(c.section, c.item, c.before, c.after) for c in diff_documents(_demo(), _tiered())}
    assert changes == {
        ("Tier qualification", "Grace (months)", "0", "3"),
        ("Tier qualification", "At most one tier down per review", "no", "yes"),
        ("Points expiry", "Points expire", "never", "months after they are earned"),
        ("Points expiry", "Months", "—", "12"),
        ("Tiers", "Tier gold · Perks", "none", "Free delivery; Birthday double points"),
    }
    # An older version without the sections equals one that spells out their defaults.
    spelt = _demo()
    spelt["tier_qualification"] = {"metric": "points", "period": "rolling", "window_months": 12}
    spelt["expiry"] = {"mode": "never", "years": 1}
    assert diff_documents(_demo(), spelt) == []


# --- the rewards catalog (issue 13) -------------------------------------------------------------


def _rewarded() -> dict[str, Any]:
    document = _demo()
    document["rewards"] = [
        {"id": "five-off", "name": "€5 off", "points": 500, "kind": "voucher_amount",
         "value_minor": 500, "min_spend_minor": 2000},
        {"id": "bakery-15", "name": "15% off bakery", "points": 300, "kind": "voucher_percent",
         "percent_bp": 1250, "value_minor": 300, "categories": ["bakery", "fruit-veg"],
         "tiers": ["silver", "gold"], "stock": 200, "valid_days": 14, "delivery": "apply_now",
         "starts": "2025-04-01", "ends": "2025-06-30"},
        {"id": "free-milk", "name": "Free oat milk", "points": 150, "kind": "free_product",
         "sku": "OAT-MILK", "delivery": "apply_now"},
        {"id": "double", "name": "Double points", "points": 400, "kind": "bonus_multiplier",
         "multiplier": "2", "starts": "2025-05-01"},
    ]  # fmt: skip
    return document


def test_rewards_survive_the_form_exactly() -> None:
    values = document_values(_rewarded())
    assert values.get("rewards.0.value_minor") == "5.00"
    assert values.get("rewards.1.percent_bp") == "12.5"
    assert values.get("rewards.1.categories") == "bakery, fruit-veg"
    assert values.get("rewards.1.tiers") == "silver, gold"
    assert values.get("rewards.0.valid_days") == "30"  # the default, shown
    assert values.get("rewards.0.delivery") == "voucher"
    assert values.get("rewards.3.kind") == "bonus_multiplier"
    checked = check_document(values)
    assert checked.errors == {}
    assert checked.rules == ProgramRules.model_validate_json(json.dumps(_rewarded()))
    # Typed as people type them: a percentage with a sign, an empty tiers input = everyone.
    values.set("rewards.1.percent_bp", " 10 %")
    values.set("rewards.1.tiers", "")
    rules = check_document(values).rules
    assert rules is not None
    assert rules.rewards[1].percent_bp == 1000
    assert rules.rewards[1].tiers == ()


def test_reward_rows_added_and_removed() -> None:
    values = document_values(_rewarded())
    for name in [n for n in list(values._data) if n.startswith("rewards.2.")]:
        del values._data[name]
    # An added row left empty is not a reward, although its selects have values.
    values.set("rewards.8.kind", "voucher_amount")
    values.set("rewards.8.delivery", "voucher")
    values.set("rewards.6.id", "tote")
    values.set("rewards.6.name", "Tote bag")
    values.set("rewards.6.points", "100")
    values.set("rewards.6.kind", "free_product")
    values.set("rewards.6.sku", "TOTE")
    values.set("rewards.6.stock", "50")
    checked = check_document(values)
    assert checked.errors == {}
    assert checked.rules is not None
    assert [r.id for r in checked.rules.rewards] == ["five-off", "bakery-15", "double", "tote"]
    assert checked.rules.rewards[3].stock == 50
    values.set("rewards.6.value_minor", "2.00")
    assert check_document(values).errors == {
        "rewards.6.value_minor": [
            "reward tote: a free_product reward has no 'value_minor'; remove it"
        ]
    }


def test_reward_problems_land_next_to_their_inputs() -> None:
    values = document_values(_rewarded())
    values.set("rewards.0.points", "")
    values.set("rewards.1.percent_bp", "12.345")
    values.set("rewards.3.multiplier", "1")
    values.set("rewards.2.valid_days", "0")
    errors = check_document(values).errors
    assert set(errors) == {
        "rewards.0.points",
        "rewards.1.percent_bp",
        "rewards.3.multiplier",
        "rewards.2.valid_days",
    }
    assert errors["rewards.0.points"] == ["required: enter the price (points)"]
    assert "not a percentage such as 10 or 12.5" in errors["rewards.1.percent_bp"][0]
    assert "above 1 and at most 10" in errors["rewards.3.multiplier"][0]
    # Checks against the program land on the list: repeated ids, unknown tiers.
    values = document_values(_rewarded())
    values.set("rewards.2.id", "five-off")
    assert check_document(values).errors == {
        "rewards": ["reward ids must be unique; repeated: five-off"]
    }
    values = document_values(_rewarded())
    values.set("rewards.1.tiers", "silver, platinum")
    assert check_document(values).errors == {
        "rewards": ["reward bakery-15: unknown tier platinum; known: gold, member, silver"]
    }
    values = document_values(_rewarded())
    values.set("rewards.3.delivery", "apply_now")
    assert "set 'delivery' to voucher" in check_document(values).errors["rewards.3.delivery"][0]
    # A kind's missing field is asked for next to its input.
    values = document_values(_rewarded())
    values.set("rewards.0.value_minor", "")
    assert check_document(values).errors == {
        "rewards.0.value_minor": ["reward five-off: a voucher_amount reward needs 'value_minor'"]
    }


def test_rewards_in_plain_language() -> None:
    rules = ProgramRules.model_validate_json(json.dumps(_rewarded()))
    summary = describe(rules, date(2025, 4, 15))
    assert summary.rewards_line == (
        "Rewards: a free OAT-MILK for 150 pts, taken off the sale; "
        "12.5% off bakery, fruit-veg (at most €3.00) for 300 pts, taken off the sale; "
        "×2 points on the next visit for 400 pts, valid 30 days; "
        "€5.00 off with at least €20.00 spent for 500 pts, valid 30 days."
    )
    by_id = {r.id: r for r in summary.rewards}
    assert by_id["bakery-15"].who == "Silver, Gold"
    assert by_id["bakery-15"].when == "1 Apr 2025 – 30 Jun 2025"
    assert by_id["bakery-15"].stock == "200 in all"
    assert by_id["five-off"].who == "every member"
    assert by_id["five-off"].delivery == "printed voucher, valid 30 days"
    assert by_id["double"].status == "upcoming"
    assert by_id["bakery-15"].status == "active"
    assert describe(ProgramRules.from_json(demo_rules_json()), date(2025, 4, 15)).rewards_line == (
        "No rewards: points are redeemed as a discount only."
    )


def test_diff_shows_rewards_added_removed_and_changed() -> None:
    before = _rewarded()
    after = _rewarded()
    after["rewards"][0]["points"] = 600
    after["rewards"][1]["percent_bp"] = 1500
    after["rewards"].pop(2)
    after["rewards"].append(
        {"id": "tote", "name": "Tote bag", "points": 100, "kind": "free_product", "sku": "TOTE"}
    )
    changes = {(c.section, c.item, c.before, c.after) for c in diff_documents(before, after)}
    assert changes == {
        ("Rewards", "Reward five-off · Price (points)", "500", "600"),
        ("Rewards", "Reward bakery-15 · Percent off", "12.5%", "15%"),
        (
            "Rewards",
            "Reward free-milk",
            "name Free oat milk, price (points) 150, kind a free product, "
            "free product (sku) OAT-MILK, delivery off this sale",
            None,
        ),
        (
            "Rewards",
            "Reward tote",
            None,
            "name Tote bag, price (points) 100, kind a free product, free product (sku) TOTE",
        ),
    }
    # A version from before rewards existed: the whole catalog is new.
    assert {c.kind for c in diff_documents(_demo(), before)} == {"added"}
