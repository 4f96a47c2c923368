"""Tiers and points lots at HQ: the member page's Tier box, tier history and points lots, the
same through ``GET /api/v1/members/{id}/tiers`` and ``…/lots``, and the overview's expiry
forecast, on SQLite and PostgreSQL.

The rows are seeded directly in ``members``, ``member_activity``, ``tier_changes`` and
``member_lots``: what these pages show is HQ's reading of those tables, whatever wrote them
(the ledger's own tests cover the writing)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import Connection, update

from shared.points.lots import LotBook, add_months, lot_expiry
from shared.points.tiers import qualifying_window
from shared.rules.model import ExpiryRules
from syncserver.hq import overview as ov
from syncserver.hq.tiers import (
    expiry_forecast,
    forecast_months,
    forecast_of_book,
    member_lots_page,
    qualifying_total,
    tier_history,
)
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import member_lots
from tests.server.helpers import bearer
from tests.server.hq.helpers import Hq, prepare_hq, serve, signed_in
from tests.server.hq.test_query_plans import plans
from tests.server.hq.tier_scene import (
    EXPIRY,
    REVIEW_REASON,
    UPGRADE_REASON,
    forecast_books,
    publish_tiered_rules,
    set_activity,
    set_book,
    set_changes,
    set_tier,
)
from tests.sync.harness import wait_for


def _viewer_api(url: str, hq: Hq) -> httpx.Client:
    return httpx.Client(base_url=url, headers=hq.viewer.headers, timeout=60)


def test_tier_status_history_and_progress_on_the_page_and_in_the_api(
    database: Database,
) -> None:
    hq = prepare_hq(database)
    rules = publish_tiered_rules(database)
    today = utc_now().date()
    start, _ = qualifying_window(rules.tier_qualification, today)
    # Anna, a plain member: 2,012 points in the window (the day before it does not count).
    set_tier(database, "M0000000001", "member", "2026-01-05", None, False)
    set_activity(
        database,
        "M0000000001",
        {start - timedelta(days=1): 5000, start: 12, today - timedelta(days=10): 2000},
    )
    # Ben: Gold on grace after a review that found 2,512 points.
    set_tier(database, "M0000000002", "gold", "2027-01-01", "2027-04-01", True)
    set_activity(database, "M0000000002", {today - timedelta(days=3): 2512})
    set_changes(
        database,
        "M0000000002",
        [
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
    set_changes(database, "M0000000001", [])
    _, till_token = hq.server.terminal()

    with serve(database) as url:
        with _viewer_api(url, hq) as api:
            anna = api.get("/api/v1/members/M0000000001/tiers").json()
            ben = api.get("/api/v1/members/M0000000002/tiers").json()
            first = api.get("/api/v1/members/M0000000002/tiers", params={"limit": 1}).json()
            second = api.get(
                "/api/v1/members/M0000000002/tiers",
                params={"limit": 1, "cursor": first["next_cursor"]},
            ).json()
            bad_cursor = api.get("/api/v1/members/M0000000002/tiers", params={"cursor": "x"})
            nobody = api.get("/api/v1/members/M0000009999/tiers")
            till = api.get("/api/v1/members/M0000000002/tiers", headers=bearer(till_token))
        with signed_in(url, hq.viewer) as client:
            anna_page = client.get("/members/M0000000001").text
            ben_page = client.get("/members/M0000000002").text
            older = client.get("/members/M0000000002", params={"tier_cursor": first["next_cursor"]})

    status = anna["status"]
    assert (status["tier"], status["tier_name"], status["since"]) == (
        "member",
        "Member",
        "2026-01-05",
    )
    assert (status["review_on"], status["grace"], status["grace_until"]) == (None, False, None)
    assert status["rules_version"] == 4
    assert status["qualifying"] == {
        "metric": "points",
        "window_start": start.isoformat(),
        "window_end": today.isoformat(),
        "total": 2012,
        "text": "2,012 pts in the last 12 months",
    }
    assert status["progress"] == {
        "next_tier": "silver",
        "next_tier_name": "Silver",
        "threshold": 2500,
        "threshold_text": "2,500 pts",
        "needed": 488,
        "percent": 80,
        "text": "488 pts to Silver",
    }
    assert anna["items"] == []
    assert anna["next_cursor"] is None

    status = ben["status"]
    assert (status["tier"], status["tier_name"]) == ("gold", "Gold")
    assert status["perks"] == ["Free delivery", "Birthday double points"]
    assert (status["grace"], status["grace_until"], status["review_on"]) == (
        True,
        "2027-04-01",
        "2027-04-01",
    )
    assert status["qualifying"]["total"] == 2512
    assert status["progress"]["text"] == "top tier"
    assert status["progress"]["next_tier"] is None
    assert status["qualification"] == (
        "Tiers: by points earned in the last 12 months; review 12 months after a tier is "
        "reached, with 3 months' grace."
    )
    # History newest first, with the reasons and what caused each change.
    assert [(c["kind"], c["from_name"], c["to_name"], c["reason"]) for c in ben["items"]] == [
        ("review", "Gold", "Gold", REVIEW_REASON),
        ("upgrade", "Silver", "Gold", UPGRADE_REASON),
    ]
    assert (ben["items"][0]["hq_event_id"], ben["items"][0]["terminal_id"]) == (7, None)
    assert (ben["items"][1]["terminal_id"], ben["items"][1]["seq"]) == ("T0001", 12)
    assert ben["items"][1]["effective_on"] == "2026-01-10"
    # Keyset pages: one change each, every change once.
    assert [c["kind"] for c in first["items"]] == ["review"]
    assert [c["kind"] for c in second["items"]] == ["upgrade"]
    assert second["next_cursor"] is None
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["error"]["code"] == "malformed"
    assert nobody.status_code == 404
    assert "no member M0000009999" in nobody.json()["error"]["message"]
    assert till.status_code == 403

    # The page: the Tier box and the tier history.
    tier_box = anna_page[anna_page.index('id="tier"') : anna_page.index('id="tier-history"')]
    assert '<div class="tier-name">Member' in tier_box
    assert '<div class="figure" id="tier-qualifying">2,012 pts in the last 12 months</div>' in (
        tier_box
    )
    assert '<progress max="100" value="80"' in tier_box
    assert "488 pts to Silver" in tier_box
    assert "none: nothing to review in this tier" in tier_box
    assert "No tier changes yet" in anna_page
    ben_box = ben_page[ben_page.index('id="tier"') : ben_page.index('id="tier-history"')]
    assert "on grace until 2027-04-01" in ben_box
    assert '<dd id="tier-since">2027-01-01</dd>' in ben_box
    assert '2027-04-01 <span class="muted">(end of grace)</span>' in ben_box
    assert "<li>Free delivery</li>" in ben_box
    assert "top tier" in ben_box
    history = ben_page[ben_page.index('id="tier-history"') : ben_page.index('id="lots"')]
    rows = re.findall(r"<tr>\s*<td>(\d{4}-\d\d-\d\d)</td>", history)
    assert rows == ["2027-01-01", "2026-01-10"]
    assert REVIEW_REASON in history
    assert UPGRADE_REASON in history
    assert 'href="/entries/T0001/12">till T0001 #12</a>' in history
    assert "HQ event 7" in history
    assert 'Silver<span class="arrow">→</span>Gold' in history
    assert older.status_code == 200
    older_history = older.text[older.text.index('id="tier-history"') :]
    assert UPGRADE_REASON in older_history
    assert REVIEW_REASON not in older_history.split('id="lots"')[0]


def test_points_lots_on_the_page_and_in_the_api(database: Database) -> None:
    hq = prepare_hq(database)
    publish_tiered_rules(database)
    today = utc_now().date()
    old, recent, newest = today - timedelta(days=400), today - timedelta(days=60), today
    book = LotBook()
    book = book.credit(old, 100, lot_expiry(EXPIRY, old), "T0001#1")
    book = book.credit(recent, 150, lot_expiry(EXPIRY, recent), "T0001#2")
    book = book.credit(newest, 200, lot_expiry(EXPIRY, newest), "hq:9")
    book, _ = book.debit(old + timedelta(days=10), 20)  # the oldest lot first (FIFO)
    book, expiry = book.expire(today, EXPIRY)
    assert expiry.expired == 80
    set_book(database, "M0000000001", book, EXPIRY)
    recent_expiry = lot_expiry(EXPIRY, recent)
    assert recent_expiry is not None
    with serve(database) as url:
        with _viewer_api(url, hq) as api:
            lots = api.get("/api/v1/members/M0000000001/lots").json()
            first = api.get("/api/v1/members/M0000000001/lots", params={"limit": 2}).json()
            rest = api.get(
                "/api/v1/members/M0000000001/lots",
                params={"limit": 2, "cursor": first["next_cursor"]},
            ).json()
            bad = api.get("/api/v1/members/M0000000001/lots", params={"cursor": "AAAA"})
            nobody = api.get("/api/v1/members/M0000009999/lots")
        with signed_in(url, hq.viewer) as client:
            page = client.get("/members/M0000000001").text

    assert [
        (lot["ref"], lot["earned_on"], lot["amount"], lot["remaining"], lot["expired"])
        for lot in lots["items"]
    ] == [
        ("T0001#1", old.isoformat(), 100, 0, 80),
        ("T0001#2", recent.isoformat(), 150, 150, 0),
        ("hq:9", newest.isoformat(), 200, 200, 0),
    ]
    assert lots["items"][1]["expires_on"] == recent_expiry.isoformat()
    assert (lots["balance"], lots["owed"]) == (350, 0)
    assert lots["next_expiry"] == recent_expiry.isoformat()
    assert lots["expiring"][0] == {"on": recent_expiry.isoformat(), "points": 150}
    assert lots["expiry_rule"] == "Points expire 12 months after they are earned."
    assert [lot["ref"] for lot in first["items"]] == ["T0001#1", "T0001#2"]
    assert [lot["ref"] for lot in rest["items"]] == ["hq:9"]
    assert rest["next_cursor"] is None
    assert bad.status_code == 422
    assert nobody.status_code == 404

    section = page[page.index('id="lots"') : page.index('id="cards"')]
    assert "Points expire 12 months after they are earned." in section
    assert f"<strong>150 pts</strong> expire on {recent_expiry.isoformat()}" in section
    assert 'href="/entries/T0001/2">till T0001 #2</a>' in section
    assert "<code>hq:9</code>" in section
    rows = re.findall(r"<tr class=\"([^\"]*)\">\s*<td>(\d{4}-\d\d-\d\d)</td>", section)
    assert rows == [
        ("lot-expired", old.isoformat()),
        ("", recent.isoformat()),
        ("", newest.isoformat()),
    ]
    assert '<td class="num neg">80</td>' in section


def test_the_overview_forecasts_points_expiring_per_month(database: Database) -> None:
    hq = prepare_hq(database)
    publish_tiered_rules(database)
    today = utc_now().date()
    books, expected = forecast_books(today)
    for member_id, book in books.items():
        set_book(database, member_id, book, EXPIRY)
    months = forecast_months(today)
    want = [{"month": m, "points": expected.get(i, 0)} for i, m in enumerate(months)]
    with serve(database) as url:
        with _viewer_api(url, hq) as api:
            body = api.get("/api/v1/overview").json()
        with signed_in(url, hq.viewer) as client:
            page = client.get("/").text
    assert body["expiry_forecast"] == want
    assert body["expiry_forecast_total"] == 240
    assert body["expiry_forecast_money"] == {"minor": 240, "currency": "EUR", "text": "€2.40"}
    assert body["expiry_forecast_as_of"] is not None
    assert body["expiry_rule"] == "Points expire 12 months after they are earned."

    section = page[page.index('id="expiry-forecast"') : page.index('id="exceptions-title"')]
    (data,) = re.findall(r'<script type="application/json" id="expiry-data">(.*?)</script>', page)
    assert json.loads(data) == body["expiry_forecast"]
    assert '<canvas id="expiry-chart"' in section
    table_rows = re.findall(
        r'<th scope="row">([A-Z][a-z]{2} \d{4})</th><td class="num">([\d,]+)', section
    )
    assert len(table_rows) == 12
    assert table_rows[3] == (add_months(today.replace(day=1), 3).strftime("%b %Y"), "130")
    assert "240 points expire by the end of" in section
    assert "<strong>€2.40</strong>" in section


def test_a_large_forecast_is_computed_in_the_background(database: Database) -> None:
    prepare_hq(database)
    publish_tiered_rules(database)
    today = utc_now().date()
    books, expected = forecast_books(today)
    for member_id, book in books.items():
        set_book(database, member_id, book, EXPIRY)
    # Two books to read is "large" here: the first request must not wait for them.
    cache = ov.OverviewCache(forecast_inline_books=1)
    overview = ov.load_overview(database, cache)
    assert overview.forecast is None
    wait_for(lambda: cache.forecast(database)[0] is not None, "the background forecast")
    forecast, _ = cache.forecast(database)
    assert forecast is not None
    assert forecast.books == 2
    assert [points for _, points in forecast.months] == [expected.get(i, 0) for i in range(12)]
    # Computed in the request when the program is small (or background is off).
    inline = ov.OverviewCache(background=False, forecast_inline_books=1).forecast(database)[0]
    assert inline is not None
    assert inline.months == forecast.months


def test_the_forecast_page_says_when_it_is_still_being_computed(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    hq = prepare_hq(database)
    publish_tiered_rules(database)
    books, _ = forecast_books(utc_now().date())
    for member_id, book in books.items():
        set_book(database, member_id, book, EXPIRY)
    monkeypatch.setattr(ov.OVERVIEW_CACHE, "forecast_inline_books", 0)
    try:
        with serve(database) as url, signed_in(url, hq.viewer) as client:
            pending = client.get("/")
            wait_for(
                lambda: ov.OVERVIEW_CACHE.forecast(database)[0] is not None,
                "the background forecast",
            )
            done = client.get("/")
    finally:
        ov.OVERVIEW_CACHE.clear(database)
    assert pending.status_code == 200
    assert 'id="expiry-pending"' in pending.text
    assert "Reload the page in a minute" in pending.text
    assert 'id="expiry-table"' in done.text


@pytest.mark.parametrize(
    "rules",
    [
        EXPIRY,
        ExpiryRules(mode="end_of_year", years=0),
        ExpiryRules(mode="inactivity", months=6),
    ],
    ids=["months", "end_of_year", "inactivity"],
)
def test_the_forecast_of_a_book_sums_what_the_book_says_by_month(rules: ExpiryRules) -> None:
    """The forecast reads the stored JSON directly (a million books); it must say exactly
    what LotBook.expiring says, summed by month, debts and overdue points included."""
    today = date(2026, 12, 3)
    months = forecast_months(today)
    generator = random.Random(12)
    for _ in range(400):
        book = LotBook()
        day = today - timedelta(days=500)
        for n in range(generator.randint(0, 8)):
            day += timedelta(days=generator.randint(1, 80))
            if generator.random() < 0.65:
                book = book.credit(day, generator.randint(1, 400), lot_expiry(rules, day), f"T#{n}")
            else:
                book, _ = book.debit(day, generator.randint(1, 300))
            if generator.random() < 0.3:
                book, _ = book.visit(day, rules)
            if generator.random() < 0.2:
                book, _ = book.expire(day, rules)
        by_month: dict[str, int] = {}
        for on, points in book.expiring(rules, limit=10_000):
            month = max(on.isoformat()[:7], months[0])
            if month <= months[-1]:
                by_month[month] = by_month.get(month, 0) + points
        assert forecast_of_book(book.to_json(), months, rules, today) == by_month


def test_the_reads_are_index_ranges(database: Database) -> None:
    """Query plans, not timings (as tests/server/hq/test_query_plans.py): a member's tier
    history, qualifying figure and lots, and the forecast's books, come from index ranges."""
    prepare_hq(database)
    publish_tiered_rules(database)
    today = utc_now().date()
    for member_id, book in forecast_books(today)[0].items():
        set_book(database, member_id, book, EXPIRY)
    reads: list[tuple[Callable[[Connection], object], str, str]] = [
        (
            lambda conn: tier_history(conn, "M0000000002", 10, None),
            "tier_changes",
            "ix_tier_changes_member_id_id",
        ),
        (
            lambda conn: qualifying_total(conn, "M0000000002", "points", today, today),
            "member_activity",
            "pk_member_activity" if database.is_postgres else "sqlite_autoindex_member_activity",
        ),
        (
            lambda conn: member_lots_page(conn, "M0000000002", 10, None),
            "member_lots",
            "pk_member_lots" if database.is_postgres else "sqlite_autoindex_member_lots",
        ),
        (
            lambda conn: expiry_forecast(conn, today, EXPIRY),
            "member_lots",
            "ix_member_lots_next_expiry",
        ),
    ]
    for read, table, index in reads:
        (plan,) = [p for p in plans(database, read) if table in p or index in p]
        assert index in plan, plan
        assert "Seq Scan" not in plan, plan
        assert f"SCAN {table}" not in plan, plan


def test_an_unreadable_book_is_left_out_of_the_forecast(database: Database) -> None:
    prepare_hq(database)
    publish_tiered_rules(database)
    today = utc_now().date()
    books, expected = forecast_books(today)
    for member_id, book in books.items():
        set_book(database, member_id, book, EXPIRY)
    with database.write() as conn:
        conn.execute(
            update(member_lots)
            .where(member_lots.c.member_id == "M0000000003")
            .values(book='{"l": [["not a lot"]]}', next_expiry=today.isoformat())
        )
    with database.read() as conn:
        forecast = expiry_forecast(conn, today)
    assert forecast.books == 3
    assert [points for _, points in forecast.months] == [expected.get(i, 0) for i in range(12)]
