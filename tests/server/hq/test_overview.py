"""The overview: figures after real till pushes, the page and the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from shared.journal import Return, Sale, format_utc
from shared.rules import ProgramRules
from syncserver.hq import overview as ov
from syncserver.hq.actions import resolve_exception
from syncserver.hq.rules import publish_rules
from syncserver.hq.setup import initialise
from syncserver.settings import utc_now
from syncserver.storage.audit import Actor
from syncserver.storage.database import Database
from syncserver.storage.schema import exceptions, members, terminals
from syncserver.storage.users import Role, add_user
from tests.server.helpers import PULL, bearer, demo_rules_json, push
from tests.server.hq.helpers import Hq, Staff, prepare_hq, serve, signed_in
from tests.server.journal import JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")  # 1000 points imported
BEN = member_ref(card(2), "M0000000002")  # 300
CARL = member_ref(card(3), "M0000000003")  # 0
IMPORTED = 1000 + 300 + 0


def _day_start(days_ago: int, hour: int = 9) -> datetime:
    today = utc_now().date() - timedelta(days=days_ago)
    return datetime(today.year, today.month, today.day, hour, tzinfo=UTC)


def _earned(entry: Any) -> int:
    assert isinstance(entry.payload, Sale)
    return entry.payload.points_earned


def _pushed(client: httpx.Client, token: str, till: JournalWriter) -> dict[str, Any]:
    reply = push(client, token, till.terminal_id, till.records)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _overview(client: httpx.Client, hq: Hq) -> dict[str, Any]:
    reply = client.get("/api/v1/overview", headers=hq.viewer.headers)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _last_active(database: Database, member_id: str) -> str | None:
    with database.read() as conn:
        value: str | None = conn.execute(
            select(members.c.last_active_at).where(members.c.member_id == member_id)
        ).scalar_one()
    return value


def test_figures_follow_real_till_pushes(database: Database) -> None:
    hq = prepare_hq(database)
    recent_id, recent_token = hq.server.terminal("S001", "Front till")
    old_id, old_token = hq.server.terminal("S002", "Back till")
    day = _day_start(3)
    recent = JournalWriter(recent_id, start=day)
    anna_sale = recent.sale(ANNA)
    anna_redeem = recent.sale(ANNA, redeem=200)
    ben_sale = recent.sale(BEN)
    ben_void = recent.void(ben_sale)  # a voided sale: its earn comes off "issued" the same day
    anna_return = recent.ret(anna_redeem, ANNA)  # points as the till computes them
    assert isinstance(anna_return.payload, Return)
    took, gave = anna_return.payload.points_reversed, anna_return.payload.points_restored
    assert took > 0
    assert gave > 0
    # A till that was offline for weeks: its sales 40 days ago reach HQ after the recent ones.
    old = JournalWriter(old_id, start=_day_start(40, hour=10))
    carl_sale = old.sale(CARL)
    anna_late = old.sale(ANNA)

    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        before = _overview(client, hq)
        # Imports move points (opening balances) but are not activity at a till.
        assert before["members"] == {"total": 3, "active_30_days": 0, "active_90_days": 0}
        assert before["liability"]["points"] == IMPORTED
        assert before["issued_total"] == before["redeemed_total"] == 0

        assert _pushed(client, recent_token, recent)["exceptions"] == []
        assert _pushed(client, old_token, old)["exceptions"] == []
        after = _overview(client, hq)

    # last_active_at is stamped from till postings, and a late old sale does not move it back.
    assert _last_active(database, "M0000000001") == format_utc(anna_return.occurred_at)
    assert _last_active(database, "M0000000002") == format_utc(ben_void.occurred_at)
    assert _last_active(database, "M0000000003") == format_utc(carl_sale.occurred_at)
    assert after["members"] == {"total": 3, "active_30_days": 2, "active_90_days": 3}

    balances = [hq.server.balance(m) or 0 for m in ("M0000000001", "M0000000002", "M0000000003")]
    expected = (
        IMPORTED
        + _earned(anna_sale)
        + _earned(anna_redeem)
        - 200
        - took
        + gave
        + _earned(carl_sale)
        + _earned(anna_late)
    )
    assert after["liability"]["points"] == sum(balances) == expected
    # The demo program: 100 points are worth 100 cents.
    assert after["liability"]["money"] == {
        "minor": expected,
        "currency": "EUR",
        "text": f"€{expected // 100:,}.{expected % 100:02d}",
    }
    assert after["liability"]["point_value"]["rules_version"] == 3

    days = after["days"]
    assert len(days) == ov.SERIES_DAYS
    assert days[-1]["day"] == utc_now().date().isoformat()
    by_day = {d["day"]: d for d in days}
    assert by_day[day.date().isoformat()] == {
        "day": day.date().isoformat(),
        # Earned at tills, less the voided sale's earn (Ben's sale never happened).
        "issued": _earned(anna_sale) + _earned(anna_redeem),
        # Redeemed, less the points the return gave back.
        "redeemed": 200 - gave,
        # Earned points the return took back: on program:reversed, not off "issued".
        "reversed": took,
    }
    others = [d for d in days if d["day"] != day.date().isoformat()]
    assert all(d["issued"] == d["redeemed"] == d["reversed"] == 0 for d in others)
    # The 40-day-old sales are outside the 30 days shown.
    assert after["issued_total"] == _earned(anna_sale) + _earned(anna_redeem)
    assert after["redeemed_total"] == 200 - gave
    assert after["open_exceptions"] == {"total": 0, "by_kind": []}
    assert after["cached"] is False


def test_liability_uses_the_newest_rules_and_rounds_to_the_nearest_cent(
    database: Database,
) -> None:
    hq = prepare_hq(database)
    rules = ProgramRules.from_json(demo_rules_json())
    # Version 4: 3 points are worth 2 cents, so 1,300 points are worth 866.67 cents.
    newer = rules.model_copy(
        update={
            "version": 4,
            "redemption": rules.redemption.model_copy(
                update={"points": 3, "value_minor": 2, "step_points": 3, "min_points": 3}
            ),
        }
    )
    publish_rules(database, ProgramRules.model_validate(newer.model_dump()).to_json())
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        body = _overview(client, hq)
    assert body["liability"]["points"] == IMPORTED
    assert body["liability"]["point_value"] == {
        "points": 3,
        "value_minor": 2,
        "currency": "EUR",
        "rules_version": 4,
        "text": "3 pts = €0.02",
    }
    assert body["liability"]["money"] == {"minor": 867, "currency": "EUR", "text": "€8.67"}


def test_point_value_rounds_halves_away_from_zero() -> None:
    half_cent = ov.PointValue(points=2, value_minor=1, currency="EUR", rules_version=1)
    assert half_cent.value_of(1).minor == 1
    assert half_cent.value_of(-1).minor == -1
    assert half_cent.value_of(4).minor == 2
    thirds = ov.PointValue(points=3, value_minor=1, currency="JPY", rules_version=1)
    assert thirds.value_of(1).minor == 0
    assert thirds.value_of(2).minor == 1
    assert thirds.value_of(2).format() == "¥1"


def test_a_new_server_without_rules_says_what_to_do(database: Database) -> None:
    initialise(database)
    figures = ov.load_overview(database, ov.OverviewCache())
    assert figures.point_value is None
    assert figures.liability is None
    assert figures.figures.points_outstanding == 0
    assert figures.figures.members_total == 0
    with database.write() as conn:
        add_user(conn, "vi", Role.VIEWER, utc_now(), password="vi-correct-horse")
    viewer = Staff("vi", "vi-correct-horse", "", Role.VIEWER)
    with serve(database) as url, signed_in(url, viewer) as browser:
        page = browser.get("/")
    assert page.status_code == 200
    assert "No program rules published yet" in page.text
    assert 'href="/program"' in page.text
    assert "No open exceptions" in page.text
    assert "Every till has been in touch within the hour." in page.text


def test_offline_tills_and_open_exceptions(database: Database) -> None:
    hq = prepare_hq(database)
    now = utc_now()
    online, online_token = hq.server.terminal("S001", "Pushes now")
    pulled, pulled_token = hq.server.terminal("S001", "Pulls now")
    silent, _ = hq.server.terminal("S002", "Silent")
    never, _ = hq.server.terminal("S003", "Never set up")
    gone, _ = hq.server.terminal("S003", "Revoked")
    with database.write() as conn:
        hours = [timedelta(hours=n) for n in range(6)]
        for terminal_id, values in (
            # Its last push is old, but it pulls (below): in contact.
            (pulled, {"last_push_at": now - hours[5], "last_pull_at": now - hours[5]}),
            (silent, {"last_push_at": now - hours[3], "last_pull_at": now - hours[2]}),
            (gone, {"revoked_at": now - timedelta(days=1)}),
        ):
            conn.execute(
                update(terminals).where(terminals.c.terminal_id == terminal_id).values(**values)
            )

    till = JournalWriter(online, start=_day_start(1))
    till.sale(CARL, redeem=200)  # Carl has 0 points: offline_overdraft
    till.sale(CARL, redeem=500)  # another overdraft
    till.sale(member_ref(card(77)))  # a card nobody has: unknown_card
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.get(PULL, headers=bearer(pulled_token)).status_code == 200
        raised = _pushed(client, online_token, till)["exceptions"]
        assert sorted(e["kind"] for e in raised) == [
            "offline_overdraft",
            "offline_overdraft",
            "unknown_card",
        ]
        with database.read() as conn:
            first_overdraft = (
                conn.execute(
                    select(exceptions.c.id)
                    .where(exceptions.c.kind == "offline_overdraft")
                    .order_by(exceptions.c.id)
                )
                .scalars()
                .first()
            )
        assert first_overdraft is not None
        resolve_exception(
            database,
            Actor("mo", "127.0.0.1", "api"),
            first_overdraft,
            "accept",
            "the customer paid",
        )
        body = _overview(client, hq)
        with signed_in(url, hq.viewer) as browser:
            page = browser.get("/")

    assert body["open_exceptions"] == {
        "total": 2,
        "by_kind": [
            {"kind": "offline_overdraft", "count": 1, "link": "/exceptions?kind=offline_overdraft"},
            {"kind": "unknown_card", "count": 1, "link": "/exceptions?kind=unknown_card"},
        ],
    }
    offline = body["offline_tills"]
    assert offline["count"] == 2
    assert offline["after_minutes"] == 60
    # Never in contact first, then the longest silent; revoked and recently seen tills are not.
    assert [(t["terminal_id"], t["store_id"], t["name"]) for t in offline["tills"]] == [
        (never, "S003", "Never set up"),
        (silent, "S002", "Silent"),
    ]
    assert offline["tills"][0]["last_contact"] is None
    silent_contact = datetime.fromisoformat(offline["tills"][1]["last_contact"])
    assert abs(silent_contact - (now - timedelta(hours=2))) < timedelta(seconds=1)

    assert page.status_code == 200
    html = page.text
    assert 'href="/exceptions?kind=offline_overdraft"' in html
    assert 'href="/exceptions?kind=unknown_card"' in html
    offline_table = html[html.index('id="offline-tills"') :]
    offline_table = offline_table[: offline_table.index("</table>")]
    assert never in offline_table
    assert silent in offline_table
    assert "never" in offline_table
    assert online not in offline_table
    assert pulled not in offline_table
    assert gone not in offline_table
    assert 'href="/terminals"' in offline_table
    assert re.search(r'id="stat-exceptions">\s*<div class="label">Open exceptions</div>\s*'
                     r'<div class="value">2</div>', html)  # fmt: skip
    assert 'class="stat alert" id="stat-offline"' in html


_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S)


def test_the_page_draws_the_api_figures(database: Database) -> None:
    hq = prepare_hq(database)
    terminal_id, token = hq.server.terminal()
    till = JournalWriter(terminal_id, start=_day_start(2))
    till.sale(ANNA)
    till.sale(BEN, redeem=200)
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        _pushed(client, token, till)
        api = _overview(client, hq)
        with signed_in(url, hq.viewer) as browser:  # a viewer may see it
            page = browser.get("/")
            script = browser.get("/static/overview.js")
            chart_js = browser.get("/static/vendor/chart-4.6.1.umd.min.js")
            members_page = browser.get("/members")

    assert page.status_code == 200
    html = page.text
    assert script.status_code == 200
    assert "new window.Chart(" in script.text
    assert chart_js.status_code == 200
    assert html.count('class="stat') >= 5
    assert 'aria-current="page">Overview' in html.replace("\n", "")
    # Chart.js and the page's script are loaded (by src; no inline JavaScript anywhere).
    scripts = _SCRIPT.findall(html)
    sources = [re.search(r'src="([^"]+)"', attrs) for attrs, _ in scripts]
    assert "/static/vendor/chart-4.6.1.umd.min.js" in [s.group(1) for s in sources if s]
    assert "/static/overview.js" in [s.group(1) for s in sources if s]
    for attrs, body in scripts:
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
        assert "src=" not in attrs or not body.strip()
    # The chart's data is the API's "days", exactly.
    (data,) = [body for attrs, body in scripts if 'id="daily-data"' in attrs]
    assert json.loads(data) == api["days"]
    # The accessible table has the same numbers.
    busy = next(d for d in api["days"] if d["issued"])
    assert re.search(
        rf"<th scope=\"row\">{busy['day']}</th><td class=\"num\">{busy['issued']:,}</td>\s*"
        rf"<td class=\"num\">{busy['redeemed']:,}</td>",
        html,
    )
    assert f"{api['liability']['points']:,} pts" in html
    assert api["liability"]["money"]["text"] in html
    # Chart.js is loaded on the overview only.
    if members_page.status_code == 200:
        assert "chart-4.6.1" not in members_page.text


def test_cached_figures_show_their_age_on_the_page(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    hq = prepare_hq(database)
    # As a large program would: the heavy figures are kept once computed.
    monkeypatch.setattr(ov.OVERVIEW_CACHE, "slow_ms", -1.0)
    try:
        with serve(database) as url, signed_in(url, hq.viewer) as browser:
            first = browser.get("/")
            again = browser.get("/")
            api = browser.get("/api/v1/overview", headers=hq.viewer.headers).json()
    finally:
        ov.OVERVIEW_CACHE.clear(database)
    assert "kept for large programs" not in first.text
    assert "kept for large programs" in again.text
    assert api["cached"] is True
    assert api["age_seconds"] >= 0


class Clock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


def test_the_cache_keeps_slow_figures_until_they_are_old(database: Database) -> None:
    hq = prepare_hq(database)
    terminal_id, token = hq.server.terminal()
    clock = Clock()
    cache = ov.OverviewCache(
        slow_ms=-1.0, max_age=timedelta(seconds=60), clock=clock, background=False
    )
    first, cached = cache.get(database)
    assert not cached
    till = JournalWriter(terminal_id, start=_day_start(1))
    till.sale(ANNA)
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        _pushed(client, token, till)
    clock.now += timedelta(seconds=59)
    kept, cached = cache.get(database)
    assert cached
    assert kept is first
    assert kept.members_total == 3
    assert kept.active[30] == 0
    clock.now += timedelta(seconds=2)
    fresh, cached = cache.get(database)
    assert not cached
    assert fresh.active[30] == 1
    assert fresh.points_outstanding == first.points_outstanding + _earned(till.last)
    overview = ov.load_overview(database, cache)
    assert overview.cached
    assert overview.age == timedelta(0)


def test_the_cache_refreshes_stale_figures_in_the_background(database: Database) -> None:
    prepare_hq(database)
    clock = Clock()
    cache = ov.OverviewCache(slow_ms=-1.0, max_age=timedelta(seconds=60), clock=clock)
    first, _ = cache.get(database)
    with database.write() as conn:
        conn.execute(
            update(members)
            .where(members.c.member_id == "M0000000002")
            .values(last_active_at=format_utc(clock.now - timedelta(days=1)))
        )
    clock.now += timedelta(minutes=5)
    stale, cached = cache.get(database)
    assert cached
    assert stale is first
    deadline = time.monotonic() + 60  # waiting for the refresh thread, not measuring anything
    while (current := cache.get(database)[0]) is first and time.monotonic() < deadline:
        time.sleep(0.01)
    assert current.active[30] == 1
    assert current.computed_at == clock.now


def test_cheap_figures_are_never_cached(database: Database) -> None:
    prepare_hq(database)
    cache = ov.OverviewCache(slow_ms=float("inf"))
    first, cached = cache.get(database)
    assert not cached
    with database.write() as conn:
        conn.execute(
            update(members)
            .where(members.c.member_id == "M0000000003")
            .values(last_active_at=format_utc(utc_now()))
        )
    second, cached = cache.get(database)
    assert not cached
    assert (first.active[30], second.active[30]) == (0, 1)


def test_active_windows_are_inclusive_ranges_of_last_active_at(database: Database) -> None:
    prepare_hq(database)
    now = utc_now()
    with database.write() as conn:
        for member_id, ago in (
            ("M0000000001", timedelta(days=30)),  # exactly 30 days: still active in 30 days
            ("M0000000002", timedelta(days=30, microseconds=1)),
            ("M0000000003", timedelta(days=91)),
        ):
            conn.execute(
                update(members)
                .where(members.c.member_id == member_id)
                .values(last_active_at=format_utc(now - ago))
            )
    with database.read() as conn:
        assert ov.active_members(conn, now - timedelta(days=30)) == 1
        assert ov.active_members(conn, now - timedelta(days=90)) == 2
        assert ov.total_members(conn) == 3


def test_viewers_see_it_tills_and_strangers_do_not(database: Database) -> None:
    hq = prepare_hq(database)
    _terminal_id, till_token = hq.server.terminal()
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/api/v1/overview", headers=hq.viewer.headers).status_code == 200
        forbidden = client.get("/api/v1/overview", headers=bearer(till_token))
        assert forbidden.status_code == 403
        assert forbidden.json()["error"]["code"] == "forbidden"
        assert client.get("/api/v1/overview").status_code == 401
        anonymous = client.get("/")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/signin")
        schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/overview"]["get"]
    assert {"200", "401", "403"} <= set(operation["responses"])
    assert "OverviewView" in schema["components"]["schemas"]
