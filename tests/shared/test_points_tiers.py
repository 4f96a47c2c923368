"""Properties of tier qualification and reviews (shared/points/tiers.py; docs/rules.md,
"Tiers"): upgrades only raise, a review is done once per review date, grace is given once in
a row, and "one tier down" is at most one rank."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared.points.tiers import (
    next_review,
    progress,
    qualifying_window,
    rank,
    review,
    review_window,
    tier_for,
    upgrade_for,
    upgrade_reason,
)
from shared.rules.model import ProgramRules


def program(tiers: list[dict[str, Any]], qualification: dict[str, Any]) -> ProgramRules:
    return ProgramRules.model_validate(
        {
            "program_id": "tiers",
            "version": 1,
            "currency": "EUR",
            "rounding": "down",
            "earn": {"points_per_unit": "1", "spend_unit_minor": 100},
            "tiers": tiers,
            "tier_qualification": qualification,
            "redemption": {"points": 100, "value_minor": 100},
            "offline": {"redemption_cap_points_per_day": 500},
        }
    )


@st.composite
def programs(draw: st.DrawFn) -> ProgramRules:
    """One to five tiers with distinct thresholds (with or without a base tier at 0), any
    metric, period, window, grace and one-tier-down."""
    thresholds = draw(st.lists(st.integers(1, 20_000), min_size=1, max_size=5, unique=True))
    if draw(st.booleans()):
        thresholds.append(0)
    tiers = [
        {"code": f"t{threshold}", "name": f"Tier {threshold}", "threshold_points": threshold}
        for threshold in draw(st.permutations(thresholds))
    ]
    qualification = {
        "metric": draw(st.sampled_from(["points", "spend", "visits"])),
        "period": draw(st.sampled_from(["rolling", "calendar_year"])),
        "window_months": draw(st.integers(1, 24)),
        "grace_months": draw(st.integers(0, 6)),
        "one_tier_down": draw(st.booleans()),
    }
    return program(tiers, qualification)


days = st.integers(0, 4 * 365).map(lambda n: date(2025, 1, 1) + timedelta(days=n))
totals = st.integers(0, 25_000)


def codes(rules: ProgramRules) -> st.SearchStrategy[str | None]:
    return st.sampled_from([None, *(t.code for t in rules.tiers)])


@given(data=st.data(), rules=programs(), total=totals)
def test_upgrade_for_never_lowers(data: st.DataObject, rules: ProgramRules, total: int) -> None:
    current = data.draw(codes(rules))
    up = upgrade_for(rules, current, total)
    reached = tier_for(rules, total)
    if up is None:
        assert reached is None or rank(rules, reached.code) <= rank(rules, current)
    else:
        assert rank(rules, up.code) > rank(rules, current)
        assert up == reached
        assert up.threshold_points <= total
        assert upgrade_reason(rules, up, total, date(2026, 5, 1)).startswith("qualified: ")


@given(rules=programs(), low=totals, high=totals)
def test_tier_for_is_monotone(rules: ProgramRules, low: int, high: int) -> None:
    low, high = sorted((low, high))
    below, above = tier_for(rules, low), tier_for(rules, high)
    assert rank(rules, below.code if below else None) <= rank(rules, above.code if above else None)


@given(data=st.data(), rules=programs(), total=totals, on=days, in_grace=st.booleans())
def test_a_review_is_done_once_per_review_date(
    data: st.DataObject, rules: ProgramRules, total: int, on: date, in_grace: bool
) -> None:
    """The outcome moves the member's next review past the review date (or ends reviews in
    the base tier), so a second review on the same date finds nothing due; and a review is a
    function of its inputs."""
    current = data.draw(codes(rules))
    outcome = review(rules, current, in_grace=in_grace, review_on=on, total=total)
    assert outcome.next_review is None or outcome.next_review > on
    assert outcome.next_review is not None or rank(rules, outcome.tier) == 0
    assert review(rules, current, in_grace=in_grace, review_on=on, total=total) == outcome
    assert outcome.reason.startswith(f"review {on.isoformat()}: ")


@given(data=st.data(), rules=programs(), total=totals, on=days, in_grace=st.booleans())
def test_a_review_keeps_what_the_member_requalifies_for(
    data: st.DataObject, rules: ProgramRules, total: int, on: date, in_grace: bool
) -> None:
    current = data.draw(codes(rules))
    outcome = review(rules, current, in_grace=in_grace, review_on=on, total=total)
    reached = tier_for(rules, total)
    reached_rank = rank(rules, reached.code if reached else None)
    after = rank(rules, outcome.tier)
    if reached_rank >= rank(rules, current):
        # Requalified (or better): no grace, the tier the total reaches (or the current one).
        assert not outcome.grace
        assert after == max(reached_rank, rank(rules, current))
    else:
        # Fell short: never below what the total reaches, never above where they were.
        assert reached_rank <= after <= rank(rules, current)


@given(data=st.data(), rules=programs(), total=totals, on=days, in_grace=st.booleans())
def test_one_tier_down_never_drops_two_ranks(
    data: st.DataObject, rules: ProgramRules, total: int, on: date, in_grace: bool
) -> None:
    current = data.draw(codes(rules))
    outcome = review(rules, current, in_grace=in_grace, review_on=on, total=total)
    if rules.tier_qualification.one_tier_down:
        assert rank(rules, outcome.tier) >= rank(rules, current) - 1


@given(data=st.data(), rules=programs(), total=totals, on=days, later=totals)
def test_grace_is_given_at_most_once_in_a_row(
    data: st.DataObject, rules: ProgramRules, total: int, on: date, later: int
) -> None:
    """A member on grace who still falls short at the end of it moves down; grace keeps the
    tier and comes back only after a review the member passes."""
    current = data.draw(codes(rules))
    first = review(rules, current, in_grace=False, review_on=on, total=total)
    if first.grace:
        assert first.tier == current
        assert rules.tier_qualification.grace_months > 0
        assert first.next_review is not None
        second = review(rules, first.tier, in_grace=True, review_on=first.next_review, total=later)
        assert not second.grace
    again = review(rules, current, in_grace=True, review_on=on, total=total)
    assert not again.grace


@given(rules=programs(), on=days)
def test_windows_end_today_and_reviews_look_back(rules: ProgramRules, on: date) -> None:
    q = rules.tier_qualification
    start, end = qualifying_window(q, on)
    assert start <= on < end == on + timedelta(days=1)
    start, end = review_window(q, on)
    assert start < end == on
    assert next_review(q, on) > on


@given(data=st.data(), rules=programs(), total=totals, on=days)
def test_progress_names_the_next_tier_up(
    data: st.DataObject, rules: ProgramRules, total: int, on: date
) -> None:
    current = data.draw(codes(rules))
    shown = progress(rules, current, total, on)
    if shown.next_tier is None:
        assert all(rank(rules, t.code) <= rank(rules, current) for t in rules.tiers)
    else:
        assert rank(rules, shown.next_tier.code) == rank(rules, current) + 1 or (
            rank(rules, current) == 0 and rank(rules, shown.next_tier.code) == 1
        )
        assert shown.needed == max(0, shown.next_tier.threshold_points - total)
