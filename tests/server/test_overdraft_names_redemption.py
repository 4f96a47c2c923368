"""The offline overdraft exception names the redemption that overdrew, in time order.

Ben has 300 points (imported just before). Two tills, both offline, each let him redeem 300:
the early till a minute later, the late till half an hour after that. Whichever syncs first
is fine; the second takes him below zero. In time order the early redemption was covered and
the late one was not — so the exception names the late one, even when the early one reached
HQ last, and says which arrival found it. Its amount is what that arrival took Ben below zero
(what a write-off owes). The replay (``ledger rebuild --check``) reproduces it. On SQLite
and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shared.journal import JournalEntry, Sale
from syncserver.ledger.rebuild import rebuild_check
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import exceptions
from tests.server.helpers import Server, api, prepare, push
from tests.server.journal import JournalWriter, card, member_ref

BEN = member_ref(card(2), "M0000000002")  # 300 points
BASKET = [("4000000000017", "grocery", 2, 500)]  # 10.00: 300 points redeemable


def _push(client: httpx.Client, token: str, till: JournalWriter) -> dict[str, Any]:
    reply = push(client, token, till.terminal_id, till.records)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _earned(entry: JournalEntry) -> int:
    assert isinstance(entry.payload, Sale)
    return entry.payload.points_earned


def _stored_overdrafts(database: Database) -> list[tuple[str, int, int, str]]:
    with database.read() as conn:
        rows = conn.execute(
            select(exceptions.c.terminal_id, exceptions.c.seq, exceptions.c.amount)
            .add_columns(exceptions.c.detail)
            .where(exceptions.c.kind == "offline_overdraft")
        )
        return [(r.terminal_id, int(r.seq), int(r.amount), r.detail) for r in rows]


@pytest.fixture
def server(database: Database) -> Server:
    return prepare(database)


def test_a_late_synced_early_redemption_names_the_later_one_that_overdrew(
    server: Server, database: Database
) -> None:
    early_id, early_token = server.terminal(name="Early")
    late_id, late_token = server.terminal(name="Late")
    # After the import: in time order Ben has his 300 points before either sale.
    start = utc_now()
    early = JournalWriter(early_id, start=start)
    late = JournalWriter(late_id, start=start + timedelta(minutes=30))
    covered = early.sale(BEN, BASKET, redeem=300)  # Ben had 300
    overdrew = late.sale(BEN, BASKET, redeem=300)  # after the early one: not covered
    with api(database) as client:
        assert _push(client, late_token, late)["exceptions"] == []  # late syncs first
        reply = _push(client, early_token, early)
    balance = 300 + _earned(covered) - 300 + _earned(overdrew) - 300
    assert balance < 0
    assert server.balance("M0000000002") == balance
    (raised,) = reply["exceptions"]
    # Named: the late till's redemption, not the early sale whose arrival found it.
    assert (raised["kind"], raised["terminal_id"], raised["seq"]) == (
        "offline_overdraft",
        late_id,
        overdrew.seq,
    )
    assert raised["member_id"] == "M0000000002"
    assert raised["amount"] == -balance  # this arrival took Ben from >= 0 to the balance
    detail = raised["detail"]
    assert detail.startswith(f"sale {late_id}#{overdrew.seq} redeemed 300 points at ")
    assert f"{overdrew.occurred_at:%Y-%m-%d %H:%M} UTC" in detail
    assert f"when (in time order) the balance was {300 + _earned(covered) - 300}" in detail
    assert f"member M0000000002 is now at {balance}" in detail
    assert f"Found when sale {early_id}#{covered.seq}" in detail
    assert _stored_overdrafts(database) == [(late_id, overdrew.seq, -balance, detail)]
    report = rebuild_check(database)
    assert report.ok, report.differences


def test_one_till_names_its_redemption_not_its_first_sale(
    server: Server, database: Database
) -> None:
    # Another till spent Ben's points while this one was offline and still thought he had
    # 300. Its first sale only earns; its second redeems and overdraws.
    rival_id, rival_token = server.terminal(name="Rival")
    start = utc_now()
    rival = JournalWriter(rival_id, start=start)
    rival.sale(BEN, BASKET, redeem=300)  # Ben's 300 are spent here
    till_id, till_token = server.terminal(name="Offline")
    till = JournalWriter(till_id, start=start + timedelta(hours=1))
    first = till.sale(BEN, BASKET)  # earns only
    redemption = till.sale(BEN, BASKET, redeem=300)
    with api(database) as client:
        assert _push(client, rival_token, rival)["exceptions"] == []
        reply = _push(client, till_token, till)
    (raised,) = reply["exceptions"]
    assert (raised["terminal_id"], raised["seq"]) == (till_id, redemption.seq)
    assert raised["seq"] != first.seq
    assert raised["detail"].startswith(f"sale {till_id}#{redemption.seq} redeemed 300 points")
    assert rebuild_check(database).ok
