""" "Active" members on the overview count any visit: a sale without points, a return, an
enrolment, a card issued — every till entry naming the member — not only sales that moved
points. On SQLite and PostgreSQL, through real pushes and the overview API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shared.journal import JournalEntry, Sale, format_utc
from syncserver.hq import overview as ov
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import members
from tests.server.helpers import push
from tests.server.hq.helpers import Hq, prepare_hq, serve
from tests.server.journal import JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")
BEN = member_ref(card(2), "M0000000002")
CARL = member_ref(card(3), "M0000000003")
PENNY = [("4000000000017", "grocery", 1, 40)]  # 0.40: earns no points


def _active(database: Database) -> dict[str, str | None]:
    with database.read() as conn:
        rows = conn.execute(select(members.c.member_id, members.c.last_active_at))
        return {row.member_id: row.last_active_at for row in rows}


def _overview(client: httpx.Client, hq: Hq) -> dict[str, Any]:
    reply = client.get("/api/v1/overview", headers=hq.viewer.headers)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_any_till_entry_naming_a_member_makes_them_active(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Live figures on every view, however long they took (a busy machine makes them "slow",
    # and the second view would come from the cache).
    monkeypatch.setattr(ov.OVERVIEW_CACHE, "slow_ms", float("inf"))
    hq = prepare_hq(database)
    terminal_id, token = hq.server.terminal()
    day = utc_now().date() - timedelta(days=2)
    till = JournalWriter(terminal_id, start=datetime(day.year, day.month, day.day, 9, tzinfo=UTC))
    plain = till.sale(ANNA, PENNY)  # a visit that earned nothing
    assert isinstance(plain.payload, Sale)
    assert plain.payload.points_earned == plain.payload.points_redeemed == 0
    returned: JournalEntry = till.ret(till.sale(None, PENNY), BEN, refund=40)  # no points move
    issued = till.issue_card(CARL, card(77))
    enrolled = till.enrol(card(78))
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        before = _overview(client, hq)
        assert before["members"]["active_30_days"] == 0
        reply = push(client, token, terminal_id, till.records)
        assert reply.status_code == 200, reply.text
        after = _overview(client, hq)
    active = _active(database)
    assert active["M0000000001"] == format_utc(plain.occurred_at)
    assert active["M0000000002"] == format_utc(returned.occurred_at)
    assert active["M0000000003"] == format_utc(issued.occurred_at)
    new_member = next(m for m in active if m not in {"M0000000001", "M0000000002", "M0000000003"})
    assert active[new_member] == format_utc(enrolled.occurred_at)
    assert after["members"] == {"total": 4, "active_30_days": 4, "active_90_days": 4}
