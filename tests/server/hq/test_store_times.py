"""HQ pages show a till's times in its store's time zone, the UTC time on hover (``title``);
times tied to no store in the server's zone (``LOYALTILL_SERVER_TIMEZONE``). Real uvicorn
on loopback, a signed-in dashboard client, SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx

from syncserver.storage.database import Database
from tests.server.helpers import push
from tests.server.hq.helpers import prepare_hq, serve, signed_in
from tests.server.journal import JournalWriter, card, member_ref

BEN = member_ref(card(2), "M0000000002")  # 300 points
BASKET = [("4000000000017", "grocery", 2, 500)]
# 2026-11-23 09:00 UTC is 10:00 in Berlin (CET) and 04:00 in New York (EST).


def _time(utc: str, local: str) -> str:
    """The <time> element for a moment: exact UTC instant, UTC on hover, local text."""
    instant = utc.replace(" ", "T") + ":00Z"
    return f'<time datetime="{instant}" title="{utc} UTC">{local}</time>'


def test_a_tills_times_show_in_its_stores_zone_with_utc_on_hover(database: Database) -> None:
    hq = prepare_hq(database)
    hq.server.store("S100", name="Berlin Mitte", timezone="Europe/Berlin")
    hq.server.store("S200", name="Brooklyn", timezone="America/New_York")
    berlin_id, berlin_token = hq.server.terminal(store="S100", name="Berlin till")
    ny_id, ny_token = hq.server.terminal(store="S200", name="Brooklyn till")
    berlin = JournalWriter(berlin_id, start=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    ny = JournalWriter(ny_id, start=datetime(2026, 11, 23, 9, 30, tzinfo=UTC))
    berlin.sale(BEN, BASKET, redeem=300)  # 09:01 UTC
    ny.sale(BEN, BASKET, redeem=300)  # 09:31 UTC: overdraws (offline_overdraft)
    with serve(database, timezone="Asia/Tokyo") as url:
        with httpx.Client(base_url=url, timeout=30) as api:
            assert push(api, berlin_token, berlin_id, berlin.records).status_code == 200
            assert push(api, ny_token, ny_id, ny.records).status_code == 200
        with signed_in(url, hq.viewer) as client:
            # The entry: when it happened, in its store's time; UTC on hover.
            entry = client.get(f"/entries/{berlin_id}/1").text
            assert _time("2026-11-23 09:01", "2026-11-23 10:01 CET") in entry
            other = client.get(f"/entries/{ny_id}/1").text
            assert _time("2026-11-23 09:31", "2026-11-23 04:31 EST") in other

            # The member's history: each line in the zone of the store it happened in.
            history = client.get("/members/M0000000002").text
            history = history[history.index('id="history"') : history.index('id="exceptions"')]
            assert _time("2026-11-23 09:01", "2026-11-23 10:01 CET") in history
            assert _time("2026-11-23 09:31", "2026-11-23 04:31 EST") in history

            # The terminal page: last contact in the store's zone, the same moment in UTC.
            till = client.get(f"/terminals/{berlin_id}").text
            contact = re.search(
                r'<time datetime="([^"]+)" title="([^"]+) UTC">([^<]+) (CET|CEST)</time>', till
            )
            assert contact is not None, till
            moment = datetime.fromisoformat(contact.group(1).replace("Z", "+00:00"))
            assert contact.group(2) == f"{moment:%Y-%m-%d %H:%M}"
            local = moment.astimezone(ZoneInfo("Europe/Berlin"))
            assert contact.group(3) == f"{local:%Y-%m-%d %H:%M}"

            # An exception raised for the Brooklyn till: raised at, in New York time.
            queue = client.get("/exceptions").text
            found = re.search(r'href="/exceptions/(\d+)[^"]*">#\1</a>', queue)
            assert found is not None, queue
            exception = client.get(f"/exceptions/{found.group(1)}").text
            raised = re.search(
                r'<time datetime="[^"]+" title="[^"]+ UTC">[^<]+ (EST|EDT)</time>', exception
            )
            assert raised is not None, exception
        # Times tied to no store: the server's zone (Tokyo here), UTC on hover.
        with signed_in(url, hq.admin) as admin:
            users = admin.get("/users").text
        assert re.search(r'<time datetime="[^"]+" title="[^"]+ UTC">[^<]+ JST</time>', users)
        assert "UTC</time>" not in users


def test_the_server_zone_defaults_to_utc(database: Database) -> None:
    hq = prepare_hq(database)
    with serve(database) as url, signed_in(url, hq.admin) as client:
        users = client.get("/users").text
    assert re.search(r'<time datetime="[^"]+" title="([^"]+) UTC">\1 UTC</time>', users)
