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
    assert errors["tiers.1.threshold_points"] == ["required: enter the threshold (points)"]
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
        ("Tier platinum", None, "name Platinum, threshold (points) 50,000, multiplier 1.5"),
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
