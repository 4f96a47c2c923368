"""Two server processes on one PostgreSQL, many tills pushing at once, duplicates sent to both
replicas at the same moment: every entry is stored and posted once, and the ledger is right."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from syncserver.hq.imports import import_members
from syncserver.ledger.rebuild import rebuild_check
from syncserver.storage.database import Database
from syncserver.storage.schema import exceptions, journal_entries, terminals
from tests.server.helpers import PUSH, bearer, prepare, server_process
from tests.server.test_end_to_end import _server_balances
from tests.server.tills import Model, TillDriver, members_csv_from_till, workload

TILLS = 4
OPERATIONS = 30
DEADLINE_S = 120


def _send(url: str, token: str, terminal_id: str, batch: list[dict[str, Any]]) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=60) as client:
        return client.post(
            PUSH, json={"terminal_id": terminal_id, "entries": batch}, headers=bearer(token)
        )


def _send_together(
    barrier: threading.Barrier,
    replies: list[httpx.Response],
    url: str,
    token: str,
    batch: list[dict[str, Any]],
) -> None:
    barrier.wait(timeout=30)  # all targets receive the batch at the same moment
    replies.append(_send(url, token, batch[0]["terminal_id"], batch))


def _push_all(urls: list[str], token: str, terminal_id: str, records: list[dict[str, Any]]) -> int:
    """Push a till's journal through both replicas: overlapping batches, and now and then the
    same batch to both at once. Follows the protocol: gaps resend from acked_seq + 1."""
    rng = random.Random(terminal_id)
    acked, rounds = 0, 0
    while acked < len(records):
        rounds += 1
        assert rounds < 400, f"{terminal_id}: no progress"
        start = max(0, acked - rng.randint(0, 3))
        batch = records[start : acked + rng.randint(1, 10)]
        # Now and then the same batch to both replicas, at the same moment.
        targets = urls if rng.random() < 0.4 else [rng.choice(urls)]
        barrier = threading.Barrier(len(targets))
        replies: list[httpx.Response] = []
        threads = [
            threading.Thread(target=_send_together, args=(barrier, replies, url, token, batch))
            for url in targets
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
        for reply in replies:
            body = reply.json()
            if reply.status_code == 200:
                acked = max(acked, body["acked_seq"])
            elif reply.status_code == 409 and body["error"]["code"] == "gap":
                acked = max(acked, body["error"]["acked_seq"])
            elif reply.status_code != 503:  # busy: simply retried
                raise AssertionError(f"{terminal_id}: {reply.status_code} {reply.text}")
    return acked


@pytest.mark.postgres
@pytest.mark.timeout(DEADLINE_S * 2)
def test_two_replicas_one_database(pg_url: str, tmp_path: Path) -> None:
    database = Database(pg_url)
    try:
        server = prepare(database, with_members=False)
        tills = []
        for index in range(TILLS):
            terminal_id, token = server.terminal(name=f"Till {index}")
            driver = TillDriver(tmp_path, terminal_id, index)
            workload(driver, OPERATIONS)
            tills.append((driver, token, driver.records()))
        import_members(database, members_csv_from_till(tills[0][0]))
        model = Model.opening(tills[0][0])
        for _, _, records in tills:
            model.apply(records)

        with (
            server_process(pg_url) as first,
            server_process(pg_url) as second,
            ThreadPoolExecutor(max_workers=TILLS) as pool,
        ):
            futures = [
                pool.submit(_push_all, [first, second], token, driver.terminal_id, records)
                for driver, token, records in tills
            ]
            acked = [future.result(timeout=DEADLINE_S) for future in futures]

        assert acked == [len(records) for _, _, records in tills]
        with database.read() as conn:
            stored = conn.execute(select(func.count()).select_from(journal_entries)).scalar_one()
            acks = dict(conn.execute(select(terminals.c.terminal_id, terminals.c.acked_seq)).all())
            conflicts = conn.execute(
                select(func.count()).where(exceptions.c.kind == "chain_conflict")
            ).scalar_one()
        assert stored == sum(len(records) for _, _, records in tills)
        assert acks == {driver.terminal_id: len(records) for driver, _, records in tills}
        assert conflicts == 0
        assert _server_balances(database) == dict(model.balances)
        report = rebuild_check(database)
        assert report.ok, report.differences
        for driver, _, _ in tills:
            driver.close()
    finally:
        database.dispose()
