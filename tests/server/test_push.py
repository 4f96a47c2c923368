"""Push: exactly once, duplicates, gaps, chain conflicts and malformed records."""

from __future__ import annotations

import copy

from sqlalchemy import func, select

from shared.journal import Sale, entry_hash
from syncserver.storage.database import Database
from syncserver.storage.schema import exceptions, journal_entries, postings
from tests.server.helpers import api, prepare, push
from tests.server.journal import JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")


def _count(database: Database, table: object) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_push_stores_reconciles_and_acknowledges(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    sale = till.sale(ANNA)
    till.close_shift()
    with api(database) as client:
        reply = push(client, token, terminal_id, till.records)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "acked_seq": 2,
        "acked_hash": till.records[-1]["hash"],
        "stored": 2,
        "duplicates": 0,
        "exceptions": [],
    }
    earned = sale.payload.points_earned  # type: ignore[union-attr]
    assert earned > 0
    assert server.balance("M0000000001") == 1000 + earned
    with database.read() as conn:
        rows = conn.execute(
            select(postings.c.account, postings.c.amount, postings.c.kind)
            .where(postings.c.terminal_id == terminal_id)
            .order_by(postings.c.line)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("member:M0000000001", earned, "earn"),
        ("program:issued", -earned, "earn"),
    ]


def test_resending_is_acknowledged_and_ignored(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    for _ in range(3):
        till.sale(ANNA)
    with api(database) as client:
        assert push(client, token, terminal_id, till.records[:2]).json()["acked_seq"] == 2
        balance = server.balance("M0000000001")
        again = push(client, token, terminal_id, till.records[:2]).json()
        assert again == {
            "acked_seq": 2,
            "acked_hash": till.records[1]["hash"],
            "stored": 0,
            "duplicates": 2,
            "exceptions": [],
        }
        overlap = push(client, token, terminal_id, till.records).json()
    assert overlap["acked_seq"] == 3
    assert (overlap["stored"], overlap["duplicates"]) == (1, 2)
    assert _count(database, journal_entries) == 3
    last = till.last
    assert balance is not None
    assert last is not None
    assert isinstance(last.payload, Sale)
    assert server.balance("M0000000001") == balance + last.payload.points_earned


def test_a_gap_is_refused_with_the_acknowledged_seq(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    for _ in range(4):
        till.sale(None)
    with api(database) as client:
        push(client, token, terminal_id, till.records[:1])
        reply = push(client, token, terminal_id, till.records[2:])
    assert reply.status_code == 409
    assert reply.json() == {
        "error": {"code": "gap", "message": "expected seq 2, got 3", "acked_seq": 1}
    }
    assert _count(database, journal_entries) == 1


def test_a_different_hash_for_a_stored_seq_is_a_tamper_alarm(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    till.sale(ANNA)
    till.sale(None)
    forged = copy.deepcopy(till.records[0])
    forged["cashier_id"] = "9"
    forged["hash"] = entry_hash(forged)
    with api(database) as client:
        push(client, token, terminal_id, till.records)
        refused = push(client, token, terminal_id, [forged])
        refused_again = push(client, token, terminal_id, [forged])
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "chain_conflict"
    assert error["acked_seq"] == 2
    assert "seq 1" in error["message"]
    assert refused_again.json()["error"]["code"] == "chain_conflict"
    with database.read() as conn:
        alarms = conn.execute(
            select(exceptions.c.kind, exceptions.c.seq, exceptions.c.amount, exceptions.c.evidence)
        ).all()
        stored = conn.execute(select(journal_entries.c.hash).where(journal_entries.c.seq == 1))
        assert stored.scalar_one() == till.records[0]["hash"]  # nothing overwritten
    # Recorded once although refused twice (same evidence), and kept although refused.
    assert [(a.kind, a.seq, a.amount) for a in alarms] == [("chain_conflict", 1, 0)]
    assert '"cashier_id": "9"' in alarms[0].evidence


def test_an_entry_that_does_not_link_is_a_chain_conflict(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till, other = JournalWriter(terminal_id), JournalWriter(terminal_id)
    till.sale(None)
    other.sale(None)
    other.sale(None)  # seq 2 of a different chain: its prev_hash is not our seq 1
    with api(database) as client:
        push(client, token, terminal_id, till.records)
        reply = push(client, token, terminal_id, other.records[1:])
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "chain_conflict"
    assert "does not link" in reply.json()["error"]["message"]
    assert _count(database, exceptions) == 1


def test_malformed_records_name_the_seq_and_the_field(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    till.sale(ANNA)
    edited = copy.deepcopy(till.records[0])
    edited["payload"]["subtotal_minor"] += 1
    float_amount = copy.deepcopy(till.records[0])
    float_amount["payload"]["lines"][0]["net_minor"] = 900.0
    invalid = copy.deepcopy(till.records[0])
    invalid["payload"]["lines"][0]["net_minor"] = 1
    invalid["hash"] = entry_hash(invalid)
    with api(database) as client:
        cases = {
            "hash": push(client, token, terminal_id, [edited]),
            "float": push(client, token, terminal_id, [float_amount]),
            "invariant": push(client, token, terminal_id, [invalid]),
            "empty": push(client, token, terminal_id, []),
            "not json": client.post(
                "/api/v1/sync/push",
                content=b"{not json",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            ),
        }
    for name, reply in cases.items():
        assert reply.status_code == 422, (name, reply.text)
    # A record HQ cannot take is refused by name (the till keeps it) and kept as an alarm;
    # a request that is not a push at all is simply malformed.
    for name in ("hash", "float", "invariant"):
        error = cases[name].json()["error"]
        assert (error["code"], error["seq"], error["acked_seq"]) == ("refused", 1, 0), name
    for name in ("empty", "not json"):
        assert cases[name].json()["error"]["code"] == "malformed", name
    assert "entry seq 1: field hash" in cases["hash"].json()["error"]["message"]
    assert "float" in cases["float"].json()["error"]["message"]
    assert "entry seq 1: field payload" in cases["invariant"].json()["error"]["message"]
    assert "entries" in cases["empty"].json()["error"]["message"]
    assert _count(database, journal_entries) == 0
    with database.read() as conn:
        kinds = conn.execute(select(exceptions.c.kind, exceptions.c.seq)).all()
    assert sorted(kinds) == [("entry_refused", 1)] * 3
