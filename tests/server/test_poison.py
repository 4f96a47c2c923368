"""A record HQ cannot take never wedges a till or the estate (issue: hardening, 1 and 2).

Each test sends what a buggy or compromised till could send — numbers beyond every bound, a
NUL in a name, a date in year 9999, a lone surrogate, an entry that would overflow a balance
— through a real uvicorn, on SQLite and PostgreSQL. HQ answers 422 ``refused`` naming the
entry and the field (never a 5xx), keeps the record as an ``entry_refused`` alarm, stores
the entries before it, and every other till keeps pushing and pulling.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, insert, select, update

from shared.bounds import MAX_BALANCE_POINTS
from shared.journal import CanonicalJSONError, entry_hash
from syncserver.ledger.rebuild import rebuild_check
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import exceptions, journal_entries, member_balances, postings
from tests.server.helpers import PULL, PUSH, api, bearer, prepare, push
from tests.server.journal import JournalWriter, card, member_ref

Record = dict[str, Any]
ANNA = member_ref(card(1), "M0000000001")  # 1000 points


def forge(record: Record, change: Callable[[Record], None]) -> Record:
    """``record`` changed the way a buggy till would, with its hash recomputed (so only the
    content is wrong, not the chain)."""
    forged = copy.deepcopy(record)
    change(forged)
    forged["hash"] = entry_hash(forged)
    return forged


def _alarms(database: Database) -> list[tuple[str, int, str]]:
    with database.read() as conn:
        rows = conn.execute(
            select(exceptions.c.kind, exceptions.c.seq, exceptions.c.detail).where(
                exceptions.c.kind == "entry_refused"
            )
        ).all()
    return [(row.kind, int(row.seq), row.detail) for row in rows]


def _stored(database: Database, terminal_id: str) -> list[int]:
    with database.read() as conn:
        return [
            int(seq)
            for seq in conn.execute(
                select(journal_entries.c.seq)
                .where(journal_entries.c.terminal_id == terminal_id)
                .order_by(journal_entries.c.seq)
            ).scalars()
        ]


def _raw_posting(conn: Connection, member_id: str, amount: int) -> None:
    """A posting written straight into the table: a ledger state no program reaches (or one
    damaged before amounts were bounded), for the tests of the ledger's own guards."""
    conn.execute(
        insert(postings).values(
            line=1,
            account=f"member:{member_id}",
            member_id=member_id,
            unit="points",
            amount=amount,
            kind="adjust",
            occurred_at="2026-11-23T08:00:00.000000Z",
            created_at=utc_now(),
        )
    )


def _refusal(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 422, reply.text
    error: dict[str, Any] = reply.json()["error"]
    assert error["code"] == "refused", error
    return error


def test_points_beyond_every_bound_are_refused_and_the_estate_keeps_syncing(
    database: Database,
) -> None:
    """2^63 - 1 points once turned a balance into a REAL on SQLite, broke every other till's
    pull and the overview for good, and made ``rebuild --check`` crash."""
    server = prepare(database)
    rogue_id, rogue_token = server.terminal(name="Rogue")
    other_id, other_token = server.terminal(name="Honest")
    rogue, other = JournalWriter(rogue_id), JournalWriter(other_id)
    rogue.sale(ANNA)

    def overflow(record: Record) -> None:
        earned = record["payload"]["earned"]
        earned["total_points"] = 2**63 - 1
        earned["lines"][0]["points"] = (
            2**63
            - 1
            - sum(line["points"] for line in earned["lines"][1:])
            - sum(item["points"] for item in earned["order_items"])
        )

    poisoned = forge(rogue.records[0], overflow)
    other.sale(ANNA)
    with api(database) as client:
        error = _refusal(push(client, rogue_token, rogue_id, [poisoned]))
        assert (error["seq"], error["acked_seq"]) == (1, 0)
        assert "entry seq 1" in error["message"]
        assert "total_points" in error["message"] or "points" in error["message"]
        # The estate goes on: another till pushes and pulls, HQ's overview answers.
        assert push(client, other_token, other_id, other.records).status_code == 200
        pulled = client.get(PULL, params={"since": "0"}, headers=bearer(other_token))
        assert pulled.status_code == 200, pulled.text
        overview = client.get("/api/v1/overview", headers=bearer(server.admin_token))
        assert overview.status_code == 200, overview.text
        # Sending it again raises no second alarm.
        _refusal(push(client, rogue_token, rogue_id, [poisoned]))
    assert [(kind, seq) for kind, seq, _ in _alarms(database)] == [("entry_refused", 1)]
    assert _stored(database, rogue_id) == []
    assert rebuild_check(database).ok


def test_a_poison_entry_is_refused_after_the_entries_before_it_are_stored(
    database: Database,
) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    till.sale(ANNA)
    till.sale(None)
    till.enrol(card(901))
    poisoned = forge(till.records[2], lambda r: r["payload"].update(name="Nadia\x00New"))
    batch = [*till.records[:2], poisoned]
    with api(database) as client:
        error = _refusal(push(client, token, terminal_id, batch))
        assert (error["seq"], error["acked_seq"]) == (3, 2)
        assert "payload.enrolment.name" in error["message"]
        assert "U+0000" in error["message"]
        # The till resends from acked_seq + 1 and meets the same, stable answer.
        again = _refusal(push(client, token, terminal_id, [poisoned]))
        assert (again["seq"], again["acked_seq"]) == (3, 2)
    assert _stored(database, terminal_id) == [1, 2]
    assert len(_alarms(database)) == 1
    assert rebuild_check(database).ok


def test_dates_no_till_can_have_and_strings_no_till_can_hash_are_refused(
    database: Database,
) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    till.sale(ANNA)
    year_9999 = forge(
        till.records[0], lambda r: r.update(occurred_at="9999-12-31T23:59:59.000000Z")
    )
    surrogate = copy.deepcopy(till.records[0])
    surrogate["payload"]["receipt_no"] = "R-\ud800"
    with api(database) as client:
        late = _refusal(push(client, token, terminal_id, [year_9999]))
        assert "occurred_at" in late["message"]
        # Sent as the JSON escape "\ud800": not Unicode, so not a body HQ parses (no till
        # can make one: it could not hash it). A 422 like any unreadable body, never a 5xx.
        body = json.dumps({"terminal_id": terminal_id, "entries": [surrogate]})
        lone = client.post(
            PUSH, content=body, headers={**bearer(token), "Content-Type": "application/json"}
        )
        assert lone.status_code == 422, lone.text
        assert lone.json()["error"]["code"] == "malformed"
        # …and where such a string reaches the hash (a record read by other means), the
        # canonical form refuses it by name instead of failing to encode.
        with pytest.raises(CanonicalJSONError, match="surrogate"):
            entry_hash(surrogate)
        assert push(client, token, terminal_id, till.records).status_code == 200
    assert _stored(database, terminal_id) == [1]


def test_an_entry_that_would_overflow_a_balance_is_refused_not_posted(
    database: Database,
) -> None:
    """Every entry is bounded, but a balance is a sum of them: the ledger refuses the one
    entry that would take it past MAX_BALANCE_POINTS (the entries before it still post)."""
    server = prepare(database)
    terminal_id, token = server.terminal()
    near = MAX_BALANCE_POINTS - 5
    with database.write() as conn:
        # A balance near the bound, set up directly (no real program reaches it).
        conn.execute(
            update(member_balances)
            .where(member_balances.c.member_id == "M0000000001")
            .values(points=near)
        )
        _raw_posting(conn, "M0000000001", near - 1000)
    till = JournalWriter(terminal_id)
    till.sale(None)
    till.sale(ANNA)
    with api(database) as client:
        error = _refusal(push(client, token, terminal_id, till.records))
    assert (error["seq"], error["acked_seq"]) == (2, 1)
    assert "beyond the ledger's bound" in error["message"]
    assert _stored(database, terminal_id) == [1]
    assert server.balance("M0000000001") == near


def test_rebuild_reports_a_damaged_ledger_instead_of_crashing(database: Database) -> None:
    """A ledger damaged before amounts were bounded (postings summing past 2^63): the check
    says which balance is wrong; it does not die with a traceback."""
    server = prepare(database)
    with database.write() as conn:
        for amount in (2**63 - 1, 2**63 - 1):
            _raw_posting(conn, "M0000000002", amount)
    report = rebuild_check(database)
    assert not report.ok
    assert any("M0000000002" in difference for difference in report.differences)
    assert server.balance("M0000000002") == 300


def test_a_till_behind_hq_raises_the_alarm_at_hq(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    for _ in range(3):
        till.sale(member_ref(card(1)))
    with api(database) as client:
        assert push(client, token, terminal_id, till.records).status_code == 200
        status = client.get("/api/v1/sync/status", headers=bearer(token)).json()
        assert status == {
            "terminal_id": terminal_id,
            "acked_seq": 3,
            "acked_hash": till.records[2]["hash"],
        }
        # In step: no alarm.
        params = {"tip": 3, "tip_hash": till.records[2]["hash"]}
        assert client.get("/api/v1/sync/status", params=params, headers=bearer(token)).is_success
        # A restored copy that ends at seq 1: an alarm, once.
        for _ in range(2):
            params = {"tip": 1, "tip_hash": till.records[0]["hash"]}
            reply = client.get("/api/v1/sync/status", params=params, headers=bearer(token))
            assert reply.json()["acked_seq"] == 3
        pulled = client.get(PULL, params={"since": "0", "tip": 1}, headers=bearer(token))
        assert pulled.status_code == 200
    with database.read() as conn:
        alarms = conn.execute(
            select(exceptions.c.kind, exceptions.c.seq, exceptions.c.amount, exceptions.c.detail)
        ).all()
    assert [(a.kind, a.seq, a.amount) for a in alarms] == [("journal_behind", 3, 2)]
    assert "truncated or restored" in alarms[0].detail


def test_a_diverged_till_at_the_same_seq_raises_the_alarm(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    till.sale(None)
    with api(database) as client:
        push(client, token, terminal_id, till.records)
        params: dict[str, str | int] = {"tip": 1, "tip_hash": "ab" * 32}
        assert client.get("/api/v1/sync/status", params=params, headers=bearer(token)).is_success
    with database.read() as conn:
        kinds = conn.execute(select(exceptions.c.kind, exceptions.c.detail)).all()
    assert len(kinds) == 1
    assert kinds[0].kind == "journal_behind"
    assert "diverged" in kinds[0].detail


def test_pull_cursors_are_ascii_digits_within_range(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    with api(database) as client:
        for since in ("²", "99999999999999999999", "-1", "1e3", " 1"):
            reply = client.get(PULL, params={"since": since}, headers=bearer(token))
            assert reply.status_code == 422, (since, reply.text)
            assert reply.json()["error"]["code"] == "malformed"
        for tip in ("99999999999999999999", "-1"):
            reply = client.get(PULL, params={"since": "0", "tip": tip}, headers=bearer(token))
            assert reply.status_code == 422, (tip, reply.text)
    del terminal_id
