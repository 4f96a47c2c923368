"""docs/rules.md's worked examples for tiers and points expiry are executable, like the earn
example (tests/shared/test_rules_doc.py, whose helpers this uses): the ```json blocks tagged
``tier-rules``, ``tier-story``, ``tier-one-down`` and ``expiry-story`` are the input, and the
table after each ``<!-- worked-example:NAME -->`` must be what shared/points computes. A
mismatch prints the table the code now produces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.money import format_points
from shared.points.lots import LotBook, lot_expiry
from shared.points.tiers import (
    describe_total,
    next_review,
    progress,
    qualifying_window,
    review,
    review_window,
    upgrade_for,
    upgrade_reason,
)
from shared.rules import ProgramRules
from shared.rules.model import ExpiryRules
from tests.shared.test_rules_doc import assert_table, doc_text, json_block


def tier_rules() -> ProgramRules:
    return ProgramRules.model_validate(json_block("tier-rules"))


@dataclass
class Member:
    tier: str | None
    review_on: date | None = None
    grace: bool = False

    def name(self, rules: ProgramRules) -> str:
        tier = rules.tier(self.tier) if self.tier else None
        name = tier.name if tier else "no tier"
        return f"{name} (grace)" if self.grace else name


def test_tier_story_table() -> None:
    """Sales in day order; a review runs whenever one is due before the next sale (and up to
    ``until``), as the daily ``tiers review`` does — HQ's upgrade and review logic, by hand."""
    rules = tier_rules()
    q = rules.tier_qualification
    story: dict[str, Any] = json_block("tier-story")
    sales = [(date.fromisoformat(s["on"]), int(s["points"])) for s in story["sales"]]
    member = Member(story["tier"])

    def earned(window: tuple[date, date]) -> int:
        start, end = window
        return sum(points for on, points in sales if start <= on < end)

    rows = [["day", "what", "qualifying total", "tier after", "says"]]

    def reviews_until(day: date) -> None:
        while member.review_on is not None and member.review_on <= day:
            on = member.review_on
            total = earned(review_window(q, on))
            outcome = review(rules, member.tier, in_grace=member.grace, review_on=on, total=total)
            member.tier, member.grace = outcome.tier, outcome.grace
            member.review_on = outcome.next_review
            rows.append(
                [
                    on.isoformat(),
                    "review",
                    describe_total(rules, total),
                    member.name(rules),
                    outcome.reason,
                ]
            )

    for on, points in sales:
        reviews_until(on)
        total = earned(qualifying_window(q, on))
        up = upgrade_for(rules, member.tier, total)
        if up is not None:
            member.tier, member.grace = up.code, False
            member.review_on = next_review(q, on)
            says = upgrade_reason(rules, up, total, on)
        else:
            says = progress(rules, member.tier, total, on).text
        rows.append(
            [
                on.isoformat(),
                f"sale earns {format_points(points)}",
                describe_total(rules, total),
                member.name(rules),
                says,
            ]
        )
    reviews_until(date.fromisoformat(story["until"]))
    assert_table("tier-story", rows)


def test_tier_one_down_table() -> None:
    rules = tier_rules()
    case: dict[str, Any] = json_block("tier-one-down")
    rows = [["one_tier_down", "tier after", "next review", "says"]]
    for one_down in (True, False):
        variant = rules.model_copy(
            update={
                "tier_qualification": rules.tier_qualification.model_copy(
                    update={"one_tier_down": one_down}
                )
            }
        )
        outcome = review(
            variant,
            case["tier"],
            in_grace=case["in_grace"],
            review_on=date.fromisoformat(case["review_on"]),
            total=case["total"],
        )
        after = variant.tier(outcome.tier) if outcome.tier else None
        rows.append(
            [
                str(one_down).lower(),
                after.name if after else "no tier",
                outcome.next_review.isoformat() if outcome.next_review else "—",
                outcome.reason,
            ]
        )
    assert_table("tier-one-down", rows)


def _lots(book: LotBook) -> str:
    left = [f"{lot.ref} {lot.remaining}" for lot in book.lots if lot.remaining]
    return ", ".join(left) or "—"


def test_expiry_story_table() -> None:
    story: dict[str, Any] = json_block("expiry-story")
    rules = ExpiryRules.model_validate(story["expiry"])
    book = LotBook()
    expired = 0
    rows = [["step", "what", "lots used or expired", "lots left", "balance", "expired"]]
    for number, step in enumerate(story["steps"], start=1):
        if step["do"] == "earn":
            on = date.fromisoformat(step["on"])
            last = lot_expiry(rules, on)
            book = book.credit(on, step["points"], last, step["lot"])
            what = f"earn {step['points']} on {on.isoformat()}"
            used = f"{step['lot']} +{step['points']}, usable to {last}" if last else "—"
        elif step["do"] == "redeem":
            on = date.fromisoformat(step["on"])
            book, consumption = book.debit(on, step["points"])
            expired -= consumption.unexpired
            what = f"redeem {step['points']} on {on.isoformat()}"
            if step.get("late"):
                what += ", reaching HQ after the run"
            used = ", ".join(f"{ref} {points}" for ref, points in consumption.taken)
            if consumption.unexpired:
                used += f" ({consumption.unexpired} back from expired)"
            if consumption.debt:
                used += f" (owes {consumption.debt})"
        else:
            as_of = date.fromisoformat(step["as_of"])
            book, run = book.expire(as_of, rules)
            expired += run.expired
            what = f"expiry run as of {as_of.isoformat()}"
            used = ", ".join(f"{ref} {points} expired" for ref, _day, points in run.lots) or "—"
        rows.append([str(number), what, used, _lots(book), f"{book.balance:,}", f"{expired:,}"])
    assert expired == book.total_expired
    assert_table("expiry-story", rows)


def test_the_sections_quote_the_functions() -> None:
    """The prose's sample sentences are the ones the code produces."""
    rules = tier_rules()
    text = doc_text()
    silver = rules.tier("silver")
    assert silver is not None
    assert upgrade_reason(rules, silver, 2512, date(2026, 3, 14)) in text
    assert progress(rules, "member", 2012, date(2026, 3, 14)).text in text
