"""The member's ledger in time order with a running balance, on SQLite and PostgreSQL.

Two tills sell to the same member; the till that sold first syncs last, so arrival order
(posting ids) and time order differ. Every page of the history — the JSON API with small
pages, and the dashboard — lists postings by when they happened (ties by arrival), and its
balance column is the member's balance after each line: the newest line's is the current
balance, each older one differs by that line's points, the oldest is its own points.
"""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from syncserver.hq.actions import adjust_points
from syncserver.storage.audit import Actor
from syncserver.storage.database import Database
from syncserver.storage.schema import postings
from tests.server.helpers import push
from tests.server.hq.helpers import prepare_hq, serve, signed_in
from tests.server.journal import MONDAY, JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")
MEMBER = "M0000000001"


def _all_pages(api: httpx.Client, limit: int) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for pages in range(1, 100):  # bounded: far more pages than the scene has postings
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        reply = api.get(f"/api/v1/members/{MEMBER}/ledger", params=params)
        assert reply.status_code == 200, reply.text
        page = reply.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
    raise AssertionError("the ledger never ended")


def test_history_is_in_time_order_with_a_running_balance_on_every_page(
    database: Database,
) -> None:
    hq = prepare_hq(database)
    early_id, early_token = hq.server.terminal(store="S001", name="Early")
    late_id, late_token = hq.server.terminal(store="S001", name="Late")
    early = JournalWriter(early_id, start=MONDAY)  # sells at 09:01, 09:02, 09:03
    late = JournalWriter(late_id, start=MONDAY + timedelta(seconds=90))  # 09:02:30, 09:03:30
    early_sales = [early.sale(ANNA), early.sale(ANNA, redeem=200), early.sale(ANNA)]
    late.sale(ANNA, redeem=100)
    late.sale(ANNA)
    early.ret(early_sales[0], ANNA, reversed_points=2)  # 09:04
    with serve(database) as url:
        with httpx.Client(base_url=url, timeout=60) as api:
            # The till that sold later syncs first: arrival order is not time order.
            assert push(api, late_token, late_id, late.records).status_code == 200
            assert push(api, early_token, early_id, early.records).status_code == 200
        adjust_points(database, Actor("mo", via="web"), MEMBER, -30, "double-counted coupon")
        current = hq.server.balance(MEMBER)
        assert current is not None

        with httpx.Client(base_url=url, headers=hq.viewer.headers, timeout=30) as api:
            items, pages = _all_pages(api, limit=2)
            whole, _ = _all_pages(api, limit=500)

        # Paging changes nothing: the same lines and balances as one big page.
        assert pages > 3
        assert items == whole
        with database.read() as conn:
            count = conn.execute(
                select(func.count()).select_from(postings).where(postings.c.member_id == MEMBER)
            ).scalar_one()
        assert len({item["id"] for item in items}) == len(items) == count
        # Time order, newest first; ties (one sale's earn and redemption) by arrival.
        keys = [(item["occurred_at"], item["id"]) for item in items]
        assert keys == sorted(keys, reverse=True)
        # The running balance: current at the top, each line's points below, zero before all.
        assert items[0]["balance_after"] == current
        for newer, older in itertools.pairwise(items):
            assert older["balance_after"] == newer["balance_after"] - newer["points"]
        assert items[-1]["balance_after"] == items[-1]["points"]
        # The sales of the two tills interleave by time, not by arrival.
        sources = [
            (item["till"]["terminal_id"], item["till"]["seq"])
            for item in items
            if item["till"] is not None
        ]
        seen: list[tuple[str, int]] = []
        for source in reversed(sources):  # oldest first
            if source not in seen:
                seen.append(source)
        assert seen == [
            (early_id, 1),
            (early_id, 2),
            (late_id, 1),
            (early_id, 3),
            (late_id, 2),
            (early_id, 4),
        ]
        # HQ's import and adjustment happened today, after the tills' sales (2026-11-23):
        # in time order they are the newest, and the redemptions before them ran negative.
        assert [item["kind"] for item in items[:2]] == ["adjust", "opening"]
        assert items[-1]["kind"] == "earn"
        assert min(item["balance_after"] for item in items) < 0

        # The dashboard shows the same balances, page after page (25 lines a page).
        with signed_in(url, hq.viewer) as client:
            html = client.get(f"/members/{MEMBER}").text
        history = html[html.index('id="history"') : html.index('id="exceptions"')]
        assert '<th class="num">Balance</th>' in history
        shown = re.findall(r'<td class="num balance ?(?:neg)?">([^<]+)</td>', history)
        assert [int(text.replace(",", "")) for text in shown] == [
            item["balance_after"] for item in items[:25]
        ]
