"""check_earn's points-only path gives exactly what the full recomputation gave: the same
EarnCheck (figures and detail text) for agreeing, differing and uncheckable sales."""

from __future__ import annotations

from typing import Any

import pytest

from shared.journal import JournalEntry, Sale
from shared.rules import EarnContext, ProgramRules, compute_earn, earn_points_of
from syncserver.ledger.earn_check import (
    FROM_ENTRY,
    EarnCheck,
    _tier,
    check_earn,
    points_bonuses,
    precheck_earn,
)
from tests.server.journal import RULES, JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")
BAKERY = [("B1", "bakery", 3, 250), ("F1", "fresh", 2, 199), ("T1", "tobacco", 1, 800)]
GENEROUS = ProgramRules.model_validate(
    RULES.model_dump() | {"earn": RULES.earn.model_dump() | {"points_per_unit": "2"}}
)


def full_check(
    entry: JournalEntry, sale: Sale, rules: ProgramRules, tier: Any = FROM_ENTRY
) -> EarnCheck | None:
    """check_earn as it was before the points-only path: always the full compute_earn."""
    earned = sale.earned
    assert earned is not None
    till = earned.total_points
    try:
        server = compute_earn(
            rules,
            sale.basket_lines(),
            EarnContext(
                store_id=sale.store_id,
                local_time=entry.local_time,
                tier=_tier(sale, earned, rules, tier),
            ),
            order_discount_minor=sale.order_discount_minor,
            points_bonuses=points_bonuses(sale, rules),
        )
    except (ValueError, ArithmeticError) as error:
        return EarnCheck(till, 0, f"the server could not recompute the points: {error}")
    if earn_points_of(server) == earn_points_of(earned):
        return EarnCheck(till, server.total_points, None)
    differing = [
        f"line {a.line_no}: till {a.points}, server {b.points}"
        for a, b in zip(earned.lines, server.lines, strict=False)
        if a.points != b.points
    ]
    return EarnCheck(
        till,
        server.total_points,
        f"rules version {rules.version}: till {till} points, server {server.total_points}"
        + (f" ({'; '.join(differing)})" if differing else ""),
    )


def _sales() -> list[tuple[JournalEntry, Sale]]:
    till = JournalWriter("T1")
    entries = [
        till.sale(ANNA),
        till.sale(ANNA, BAKERY),
        till.sale(ANNA, BAKERY, redeem=200),
        till.sale(ANNA, BAKERY, tier="gold"),
        till.sale(ANNA, BAKERY, tier="no-such-tier"),
        till.sale(ANNA, BAKERY, rules=GENEROUS),
        till.sale(ANNA, BAKERY, rules=GENEROUS, tier="silver"),
    ]
    out = []
    for entry in entries:
        assert isinstance(entry.payload, Sale)
        out.append((entry, entry.payload))
    return out


@pytest.mark.parametrize("tier", [FROM_ENTRY, None, "gold", "silver", "unknown", "", "bad\x00"])
def test_check_earn_is_the_full_check(tier: Any) -> None:
    for entry, sale in _sales():
        assert check_earn(entry, sale, RULES, tier=tier) == full_check(entry, sale, RULES, tier)


def test_a_mismatch_still_names_the_lines() -> None:
    entry, sale = _sales()[5]
    check = check_earn(entry, sale, RULES)
    assert check is not None
    assert check.detail is not None
    assert check.detail.startswith(f"rules version {RULES.version}: till ")
    assert "line 1: till" in check.detail


def test_a_breakdown_the_server_cannot_read_is_reported_not_raised() -> None:
    # An older entry names no tier, so the tier is read off the breakdown's multipliers; one
    # that is not a number is "could not recompute", from either path.
    entry, sale = _sales()[3]
    assert sale.earned is not None
    lines = tuple(line.model_copy(update={"tier_multiplier": "1/0"}) for line in sale.earned.lines)
    broken = sale.model_copy(
        update={"tier": None, "earned": sale.earned.model_copy(update={"lines": lines})}
    )
    check = check_earn(entry, broken, RULES)
    assert check == full_check(entry, broken, RULES)
    assert check is not None
    assert check.detail is not None
    assert check.detail.startswith("the server could not recompute the points")


def test_precheck_covers_member_sales_with_known_rules() -> None:
    sales = _sales()
    checks = precheck_earn([entry for entry, _ in sales], {RULES.version: RULES})
    assert len(checks) == len(sales)
    for entry, sale in sales:
        assert checks[(entry.terminal_id, entry.seq)] == full_check(entry, sale, RULES)
