"""Real tills push their genuine journals to a real uvicorn; the ledger equals a simple model,
pulls converge, and `ledger rebuild --check` is green — and red after tampering."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
from click.testing import CliRunner
from sqlalchemy import select, update

from syncserver.cli import main
from syncserver.hq.imports import import_members
from syncserver.ledger.rebuild import rebuild_check
from syncserver.storage.database import Database
from syncserver.storage.schema import member_balances, members, postings
from tests.server.helpers import PULL, bearer, prepare, push, uvicorn_thread
from tests.server.tills import Model, TillDriver, members_csv_from_till, workload

TILLS = 3
OPERATIONS = 25


def _server_balances(database: Database) -> dict[str, int]:
    """Balances keyed like the model: member id, or local:<id> for members enrolled offline."""
    with database.read() as conn:
        rows = conn.execute(
            select(members.c.member_id, members.c.local_member_id, member_balances.c.points).join(
                member_balances, member_balances.c.member_id == members.c.member_id
            )
        ).all()
    return {
        (f"local:{row.local_member_id}" if row.local_member_id else row.member_id): int(row.points)
        for row in rows
    }


def test_real_tills_sync_through_a_real_server(database: Database, tmp_path: Path) -> None:
    server = prepare(database, with_members=False)
    drivers = []
    for index in range(TILLS):
        terminal_id, token = server.terminal(name=f"Till {index}")
        drivers.append((TillDriver(tmp_path, terminal_id, index), token))
    import_members(database, members_csv_from_till(drivers[0][0]))
    model = Model.opening(drivers[0][0])
    rng = random.Random(7)
    with uvicorn_thread(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        for driver, token in drivers:
            workload(driver, OPERATIONS)
            records = driver.records()
            model.apply(records)
            acked = 0
            while acked < len(records):
                # Uneven batches, each resent once in a while (a lost reply, say).
                start = max(0, acked - rng.randint(0, 2))
                batch = records[start : acked + rng.randint(1, 8)]
                reply = push(client, token, driver.terminal_id, batch)
                assert reply.status_code == 200, reply.text
                acked = reply.json()["acked_seq"]
            pulled = client.get(PULL, headers=bearer(token)).json()
            assert pulled["applied_through_seq"] == len(records)
            assert pulled["total_members"] == len(_server_balances(database))

    expected = dict(model.balances.items())
    assert _server_balances(database) == expected
    report = rebuild_check(database)
    assert report.ok, report.differences
    assert report.entries == sum(len(d.records()) for d, _ in drivers)
    for driver, _ in drivers:
        driver.close()

    # Tamper with one posting: the rebuild names it, and the CLI exits non-zero.
    with database.write() as conn:
        victim = conn.execute(
            select(postings.c.id, postings.c.terminal_id, postings.c.seq, postings.c.line)
            .where(postings.c.member_id.is_not(None), postings.c.terminal_id.is_not(None))
            .order_by(postings.c.id)
            .limit(1)
        ).one()
        conn.execute(
            update(postings).where(postings.c.id == victim.id).values(amount=postings.c.amount + 5)
        )
    result = CliRunner().invoke(main, ["ledger", "rebuild", "--check", "--db", database.url])
    assert result.exit_code == 1, result.output
    assert (
        f"first difference: posting {victim.terminal_id}#{victim.seq} line {victim.line}"
        in result.output
    )
