"""Tier qualification, upgrades and reviews (docs/rules.md, "Tiers").

A member's *qualifying total* is what :class:`~shared.rules.TierQualification` counts —
points earned, spend or visits — over a window: the last N months (``rolling``) or the
calendar year. Crossing a tier's threshold upgrades at once; a review (on the member's review
date) keeps the member in the tier they requalify for, with an optional grace period and an
optional "at most one tier down". The till and HQ run these same functions: the till to
upgrade a member offline the moment its own sale crosses a threshold, HQ to confirm that and
to review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shared.money import Money, format_points
from shared.points.lots import add_months
from shared.rules.model import ProgramRules, Tier, TierQualification

__all__ = [
    "Contribution",
    "Progress",
    "ReviewOutcome",
    "base_tier",
    "contribution",
    "describe_total",
    "next_review",
    "progress",
    "qualifying_window",
    "rank",
    "review",
    "review_window",
    "tier_for",
    "upgrade_for",
    "upgrade_reason",
]


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one till entry adds to a member's qualifying figures (negative for returns)."""

    points: int = 0
    spend_minor: int = 0
    visits: int = 0

    def total(self, q: TierQualification) -> int:
        if q.metric == "spend":
            return self.spend_minor
        if q.metric == "visits":
            return self.visits
        return self.points


def contribution(*, earned: int, spend_minor: int, visit: bool) -> Contribution:
    """A sale's contribution: its earned points, what was paid, one visit."""
    return Contribution(points=earned, spend_minor=spend_minor, visits=1 if visit else 0)


def qualifying_window(q: TierQualification, as_of: date) -> tuple[date, date]:
    """[start, end) of the window that counts on ``as_of`` (today included)."""
    end = as_of + timedelta(days=1)
    if q.period == "calendar_year":
        return date(as_of.year, 1, 1), end
    return add_months(end, -q.window_months), end


def review_window(q: TierQualification, review_on: date) -> tuple[date, date]:
    """[start, end) of the window a review on ``review_on`` looks at: the one just ended."""
    if q.period == "calendar_year":
        if (review_on.month, review_on.day) == (1, 1):
            return date(review_on.year - 1, 1, 1), review_on
        # A review off 1 January (the end of a grace period): the 12 months before it.
        return add_months(review_on, -12), review_on
    return add_months(review_on, -q.window_months), review_on


def next_review(q: TierQualification, since: date) -> date:
    """When a tier reached (or kept) on ``since`` is next reviewed."""
    if q.period == "calendar_year":
        return date(since.year + 1, 1, 1)
    return add_months(since, q.window_months)


def base_tier(rules: ProgramRules) -> Tier | None:
    """The tier every member is in without qualifying (threshold 0), if the program has one."""
    ordered = rules.tiers_by_threshold
    return ordered[0] if ordered and ordered[0].threshold_points == 0 else None


def rank(rules: ProgramRules, code: str | None) -> int:
    """0 for no tier (or the base tier), then 1, 2, … up the thresholds; an unknown code is
    treated as no tier."""
    for index, tier in enumerate(rules.tiers_by_threshold):
        if tier.code == code:
            return index if base_tier(rules) is not None else index + 1
    return 0


def tier_for(rules: ProgramRules, total: int) -> Tier | None:
    """The highest tier whose threshold ``total`` reaches."""
    reached = [t for t in rules.tiers_by_threshold if t.threshold_points <= total]
    return reached[-1] if reached else None


def upgrade_for(rules: ProgramRules, current: str | None, total: int) -> Tier | None:
    """The tier ``total`` reaches if it is above ``current``; None when no upgrade is due."""
    reached = tier_for(rules, total)
    if reached is None or rank(rules, reached.code) <= rank(rules, current):
        return None
    return reached


def describe_total(rules: ProgramRules, total: int) -> str:
    """A qualifying total in the metric's unit: "2,512 pts", "€1,250.00", "14 visits"."""
    metric = rules.tier_qualification.metric
    if metric == "spend":
        return Money(total, rules.currency).format()
    if metric == "visits":
        return f"{total:,} visit{'s' if total != 1 else ''}"
    return format_points(total)


def _window_words(q: TierQualification, window: tuple[date, date]) -> str:
    start, end = window
    if (start.month, start.day) == (1, 1) and end <= date(start.year + 1, 1, 1):
        return f"in {start.year}"
    months = (end.year - start.year) * 12 + end.month - start.month
    return f"in {months} months"


def upgrade_reason(rules: ProgramRules, tier: Tier, total: int, on: date) -> str:
    """Why a member moved up: "qualified: 2,512 of 2,500 pts in 12 months"."""
    q = rules.tier_qualification
    words = _window_words(q, qualifying_window(q, on))
    return (
        f"qualified: {_bare(describe_total(rules, total))} of "
        f"{describe_total(rules, tier.threshold_points)} {words}"
    )


def _bare(text: str) -> str:
    # "2,512 pts of 2,500 pts" reads badly; the unit is said once, after the threshold.
    return text.removesuffix(" pts").removesuffix(" visits").removesuffix(" visit")


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    tier: str | None
    """The member's tier after the review."""
    grace: bool
    """Whether the member now holds the tier on grace."""
    next_review: date | None
    """None when the member ends in the base tier (nothing left to review)."""
    reason: str

    def changed_from(self, code: str | None) -> bool:
        return self.tier != code


def review(
    rules: ProgramRules,
    current: str | None,
    *,
    in_grace: bool,
    review_on: date,
    total: int,
) -> ReviewOutcome:
    """The review of a member in ``current`` on ``review_on``, whose qualifying total over
    :func:`review_window` is ``total``."""
    q = rules.tier_qualification
    words = _window_words(q, review_window(q, review_on))
    figures = f"{describe_total(rules, total)} {words}"
    head = f"review {review_on.isoformat()}"
    reached = tier_for(rules, total)
    current_tier = rules.tier(current) if current else None
    if rank(rules, reached.code if reached else None) >= rank(rules, current):
        kept = reached if reached is not None else current_tier
        code = kept.code if kept else None
        name = kept.name if kept else "no tier"
        verb = "kept" if code == current else "moved up to"
        return ReviewOutcome(
            code, False, _next(rules, code, review_on), f"{head}: {verb} {name} ({figures})"
        )
    name = current_tier.name if current_tier else current or "no tier"
    if q.grace_months and not in_grace:
        until = add_months(review_on, q.grace_months)
        return ReviewOutcome(
            current,
            True,
            until,
            f"{head}: kept {name}, grace until {until.isoformat()} ({figures})",
        )
    target = reached
    if q.one_tier_down:
        ordered = list(rules.tiers_by_threshold)
        floor_rank = rank(rules, current) - 1
        candidates = [t for t in ordered if rank(rules, t.code) == floor_rank]
        one_down = candidates[0] if candidates else None
        if rank(rules, target.code if target else None) < floor_rank:
            target = one_down
    code = target.code if target else None
    new_name = target.name if target else "no tier"
    return ReviewOutcome(
        code,
        False,
        _next(rules, code, review_on),
        f"{head}: {name} → {new_name} ({figures}"
        + (
            f"; {describe_total(rules, current_tier.threshold_points)} needed)"
            if current_tier
            else ")"
        ),
    )


def _next(rules: ProgramRules, code: str | None, review_on: date) -> date | None:
    if rank(rules, code) == 0:
        return None
    return next_review(rules.tier_qualification, review_on)


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a member is from the next tier, as the till and the receipt say it."""

    next_tier: Tier | None
    needed: int
    """In the metric's unit; 0 when there is no higher tier."""
    by: date | None
    """The last day that still counts for this window (calendar years: 31 Dec)."""
    text: str

    @property
    def at_top(self) -> bool:
        return self.next_tier is None


def progress(rules: ProgramRules, current: str | None, total: int, as_of: date) -> Progress:
    """ "488 pts to Gold by 31 Dec" (calendar year) or "488 pts to Gold" (rolling)."""
    q = rules.tier_qualification
    higher = [t for t in rules.tiers_by_threshold if rank(rules, t.code) > rank(rules, current)]
    if not higher:
        return Progress(None, 0, None, "top tier" if rules.tiers else "")
    target = higher[0]
    needed = max(0, target.threshold_points - total)
    by = date(as_of.year, 12, 31) if q.period == "calendar_year" else None
    when = f" by {by.day} {by.strftime('%b')}" if by else ""
    return Progress(target, needed, by, f"{describe_total(rules, needed)} to {target.name}{when}")
