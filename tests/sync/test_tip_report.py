"""The till reports its journal tip with every pull, so HQ can show what it still holds
unsent: a real till (its own SQLite journal, ``SyncClient``/``SyncEngine``) against a real
server (SQLite file and PostgreSQL, real uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from syncserver.storage.schema import terminals
from terminal.sync.engine import SyncReport
from tests.sync.harness import Hq


def _health(hq: Hq, terminal_id: str) -> Any:
    reply = httpx.get(
        f"{hq.url}/api/v1/terminals/{terminal_id}",
        headers={"Authorization": f"Bearer {hq.admin_token}"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_a_till_that_pushed_3_of_5_entries_shows_2_unsent_after_its_pull(
    hq: Hq, tmp_path: Path
) -> None:
    till = hq.open_till(tmp_path / "tills")
    while till.last_seq() < 5:
        till.sale(None)
    assert till.last_seq() == 5
    assert _health(hq, till.terminal_id)["unsent"] is None  # never reported

    # Three entries reach HQ; then the till pulls (a push that keeps failing would leave
    # it here too) and reports its tip with the pull.
    reply = till.client.push(till.terminal_id, till.records()[:3])
    assert reply.acked_seq == 3
    till.engine.pull_all(SyncReport())
    with hq.database.read() as conn:
        row = conn.execute(
            select(terminals.c.tip_seq, terminals.c.acked_seq, terminals.c.last_pull_at).where(
                terminals.c.terminal_id == till.terminal_id
            )
        ).one()
    assert (row.tip_seq, row.acked_seq) == (5, 3)
    assert row.last_pull_at is not None
    health = _health(hq, till.terminal_id)
    assert (health["tip_seq"], health["acked_seq"], health["unsent"]) == (5, 3, 2)

    # A full round sends the rest: nothing unsent.
    till.sale(None)
    report = till.engine.sync_once()
    assert report.acked_seq == 6
    health = _health(hq, till.terminal_id)
    assert (health["tip_seq"], health["acked_seq"], health["unsent"]) == (6, 6, 0)
