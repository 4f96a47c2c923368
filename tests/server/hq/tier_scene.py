"""A scene for the tier and lots pages (tests/server/hq/test_tier_pages.py and the browser's
screenshots): rules with tier qualification, expiry and perks, and rows seeded directly in
``members``, ``member_activity``, ``tier_changes`` and ``member_lots``."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, insert, update

from shared.points.lots import Debt, Lot, LotBook, add_months
from shared.rules import ProgramRules
from shared.rules.model import ExpiryRules
from syncserver.hq.rules import publish_rules
from syncserver.storage.database import Database
from syncserver.storage.schema import member_activity, member_lots, members, tier_changes
from tests.server.helpers import demo_rules_json

__all__ = [
    "EXPIRY",
    "REVIEW_REASON",
    "UPGRADE_REASON",
    "forecast_books",
    "publish_tiered_rules",
    "seed_showcase",
    "set_activity",
    "set_book",
    "set_changes",
    "set_tier",
]

EXPIRY = ExpiryRules(mode="months_after_earn", months=12)


def publish_tiered_rules(database: Database) -> ProgramRules:
    """Version 4: the demo program with a 12-month window and 3 months' grace, points that
    expire 12 months after they are earned, and perks for Gold."""
    document: dict[str, Any] = json.loads(demo_rules_json())
    document["version"] = 4
    document["tier_qualification"] = {"window_months": 12, "grace_months": 3}
    document["expiry"] = {"mode": "months_after_earn", "months": 12}
    document["tiers"][2]["perks"] = ["Free delivery", "Birthday double points"]
    rules = ProgramRules.model_validate(document)
    publish_rules(database, rules.to_json())
    return rules


def set_tier(
    database: Database, member_id: str, tier: str, since: str, review_on: str | None, grace: bool
) -> None:
    with database.write() as conn:
        conn.execute(
            update(members)
            .where(members.c.member_id == member_id)
            .values(tier=tier, tier_since=since, tier_review_on=review_on, tier_grace=grace)
        )


def set_activity(database: Database, member_id: str, days: dict[date, int]) -> None:
    with database.write() as conn:
        conn.execute(delete(member_activity).where(member_activity.c.member_id == member_id))
        for day, points in days.items():
            conn.execute(
                insert(member_activity).values(
                    member_id=member_id,
                    day=day.isoformat(),
                    points=points,
                    spend_minor=points * 100,
                    visits=1,
                )
            )


def set_changes(database: Database, member_id: str, rows: list[dict[str, Any]]) -> None:
    with database.write() as conn:
        conn.execute(delete(tier_changes).where(tier_changes.c.member_id == member_id))
        for row in rows:
            conn.execute(insert(tier_changes).values(member_id=member_id, **row))


def set_book(database: Database, member_id: str, book: LotBook, rules: ExpiryRules) -> None:
    next_expiry = book.next_expiry(rules)
    with database.write() as conn:
        conn.execute(delete(member_lots).where(member_lots.c.member_id == member_id))
        conn.execute(
            insert(member_lots).values(
                member_id=member_id,
                book=book.to_json(),
                next_expiry=next_expiry.isoformat() if next_expiry else None,
            )
        )


UPGRADE_REASON = "qualified: 10,250 of 10,000 pts in 12 months"
REVIEW_REASON = "review 2027-01-01: kept Gold, grace until 2027-04-01 (2,512 pts in 12 months)"


def forecast_books(today: date) -> tuple[dict[str, LotBook], dict[int, int]]:
    """Three members' books and the points the forecast must show by month index."""
    first = today.replace(day=1)
    month = [add_months(first, n) for n in range(13)]
    yesterday = today - timedelta(days=1)
    anna = LotBook()
    # Past its day, not yet expired by the daily run: counts in the current month.
    anna = anna.credit(today - timedelta(days=400), 40, yesterday, "T0001#1")
    anna = anna.credit(today - timedelta(days=300), 60, month[3], "T0001#2")
    anna = anna.credit(today - timedelta(days=10), 70, month[11] + timedelta(days=14), "T0001#3")
    anna = anna.credit(today - timedelta(days=5), 500, month[12], "T0001#4")  # beyond 12 months
    # Owes 30 points (redeemed offline beyond the balance): taken off the soonest points.
    ben = LotBook(
        lots=(Lot(today - timedelta(days=50), month[3] + timedelta(days=5), 100, 100, 0, "hq:3"),),
        debts=(Debt(today - timedelta(days=1), 30),),
    )
    carl = LotBook().credit(today - timedelta(days=20), 999, None, "T0001#9")  # never expires
    books = {"M0000000001": anna, "M0000000002": ben, "M0000000003": carl}
    return books, {0: 40, 3: 60 + 70, 11: 70}


def seed_showcase(database: Database, today: date) -> None:
    """Everything at once, for screenshots: Anna (M0000000001) a member on her way to Silver,
    Ben (M0000000002) Gold on grace with a history and lots (one partly expired), and books
    for the overview's forecast."""
    publish_tiered_rules(database)
    set_tier(database, "M0000000001", "member", "2026-01-05", None, False)
    set_activity(database, "M0000000001", {today - timedelta(days=10): 2012})
    set_tier(database, "M0000000002", "gold", "2027-01-01", "2027-04-01", True)
    set_activity(database, "M0000000002", {today - timedelta(days=3): 2512})
    set_changes(
        database,
        "M0000000002",
        [
            {
                "kind": "upgrade",
                "from_tier": "member",
                "to_tier": "silver",
                "reason": "qualified: 2,512 of 2,500 pts in 12 months",
                "effective_on": "2025-06-02",
                "terminal_id": "T0001",
                "seq": 3,
            },
            {
                "kind": "upgrade",
                "from_tier": "silver",
                "to_tier": "gold",
                "reason": UPGRADE_REASON,
                "effective_on": "2026-01-10",
                "terminal_id": "T0001",
                "seq": 12,
            },
            {
                "kind": "review",
                "from_tier": "gold",
                "to_tier": "gold",
                "reason": REVIEW_REASON,
                "effective_on": "2027-01-01",
                "hq_event_id": 7,
            },
        ],
    )
    books, _ = forecast_books(today)
    ben = LotBook()
    for days_ago, points, ref in (
        (400, 300, "T0001#3"),
        (200, 1200, "T0001#12"),
        (30, 450, "hq:5"),
    ):
        earned = today - timedelta(days=days_ago)
        ben = ben.credit(earned, points, add_months(earned, 12), ref)
    ben, _ = ben.debit(today - timedelta(days=380), 100)
    ben, _ = ben.expire(today, EXPIRY)
    books["M0000000002"] = ben
    for member_id, book in books.items():
        set_book(database, member_id, book, EXPIRY)
