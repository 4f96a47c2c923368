"""The program editor's campaign voucher inputs (``campaigns.N.voucher.*``): a campaign's
voucher survives the form exactly, empty inputs mean no voucher, a voucher that gives nothing
is refused next to its amount, and the summary's diff names the change."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from shared.rules import ProgramRules
from syncserver.hq.program import describe, diff_documents
from syncserver.web.program_form import check_document, document_values
from tests.server.helpers import demo_rules_json

VOUCHER = {"value_minor": 400, "min_spend_minor": 1000, "valid_days": 30}


def _with_voucher(voucher: dict[str, Any] | None) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(demo_rules_json())
    campaign: dict[str, Any] = {"id": "spend-40", "name": "Spend 40", "min_spend_minor": 4000}
    if voucher is not None:
        campaign["voucher"] = voucher
    document["campaigns"] = [*document["campaigns"], campaign]
    return document


def test_a_campaign_voucher_survives_the_form_exactly() -> None:
    for voucher in (VOUCHER, {"percent_bp": 1250, "value_minor": 300}, None):
        document = _with_voucher(voucher)
        values = document_values(document)
        checked = check_document(values)
        assert checked.errors == {}
        assert checked.rules == ProgramRules.model_validate_json(json.dumps(document))
    index = len(_with_voucher(None)["campaigns"]) - 1
    values = document_values(_with_voucher(VOUCHER))
    assert values.get(f"campaigns.{index}.voucher.value_minor") == "4.00"
    assert values.get("campaigns.0.voucher.value_minor") == ""  # weekend-fresh: points only


def test_a_voucher_without_an_amount_or_percentage_is_refused_next_to_its_amount() -> None:
    document = _with_voucher(None)
    index = len(document["campaigns"]) - 1
    values = document_values(document)
    values.set(f"campaigns.{index}.voucher.valid_days", "14")
    checked = check_document(values)
    assert checked.rules is None
    (message,) = checked.errors[f"campaigns.{index}.voucher.value_minor"]
    assert "needs 'value_minor'" in message


def test_the_diff_names_a_voucher_added() -> None:
    before, after = _with_voucher(None), _with_voucher(VOUCHER)
    changes = diff_documents(before, after)
    text = json.dumps([str(change) for change in changes], ensure_ascii=False)
    assert "Voucher: amount off" in text
    assert "4.00" in text


def test_the_summary_says_what_the_voucher_gives() -> None:
    rules = ProgramRules.model_validate_json(json.dumps(_with_voucher(VOUCHER)))
    (summary,) = [c for c in describe(rules, date(2026, 3, 14)).campaigns if c.id == "spend-40"]
    assert summary.effect == (
        "a voucher for the next visit: €4.00 off with at least €10.00 spent, valid 30 days; "
        "with at least €40.00 on its items"
    )
