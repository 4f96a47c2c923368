"""The till's tip report: a pull may carry ``tip`` (the last seq in the till's journal); HQ
stores it with the time of the pull and shows ``tip - acked`` as the unsent estimate."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from syncserver.storage.database import Database
from syncserver.storage.schema import terminals
from tests.server.helpers import PULL, bearer, push
from tests.server.hq.helpers import prepare_hq, serve, signed_in
from tests.server.journal import JournalWriter


def _row(database: Database, terminal_id: str) -> Any:
    with database.read() as conn:
        return conn.execute(
            select(terminals.c.acked_seq, terminals.c.tip_seq, terminals.c.last_pull_at).where(
                terminals.c.terminal_id == terminal_id
            )
        ).one()


def test_a_till_that_pushed_3_of_5_shows_2_unsent_after_its_pull(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    terminal_id, token = hq.server.terminal("S001", "Till 1")
    writer = JournalWriter(terminal_id)
    for _ in range(5):
        writer.sale(None)
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:

        def health() -> Any:
            reply = client.get(f"/api/v1/terminals/{terminal_id}", headers=hq.viewer.headers)
            assert reply.status_code == 200, reply.text
            return reply.json()

        # A till that never reported its tip: unknown, not 0.
        before = health()
        assert (before["tip_seq"], before["unsent"], before["last_pull_at"]) == (None, None, None)

        assert push(client, token, terminal_id, writer.records[:3]).json()["acked_seq"] == 3
        pulled = client.get(PULL, params={"since": "0", "tip": 5}, headers=bearer(token))
        assert pulled.status_code == 200, pulled.text
        assert pulled.json()["applied_through_seq"] == 3
        after = health()
        assert (after["acked_seq"], after["tip_seq"], after["unsent"]) == (3, 5, 2)
        assert after["last_pull_at"] is not None
        # The pull came after the push: it is the last contact.
        assert after["last_contact_at"] == after["last_pull_at"] > after["last_push_at"]
        assert _row(database, terminal_id).tip_seq == 5

        # The dashboard shows the same estimate.
        with signed_in(url, hq.viewer) as browser:
            row = _terminal_row(browser.get("/terminals").text, terminal_id)
            assert '<strong class="neg">2</strong>' in row
            assert "unknown" not in row

        # A till that does not send a tip still pulls; what it reported before stays.
        plain = client.get(PULL, params={"since": "0"}, headers=bearer(token))
        assert plain.status_code == 200
        assert health()["tip_seq"] == 5

        # Once the rest is pushed, the estimate (tip as of the last pull) is 0.
        assert push(client, token, terminal_id, writer.records[3:]).json()["acked_seq"] == 5
        assert health()["unsent"] == 0
        # A later pull reporting a newer tip updates it at once.
        writer.sale(None)
        client.get(PULL, params={"since": "0", "tip": 6}, headers=bearer(token))
        assert (health()["tip_seq"], health()["unsent"]) == (6, 1)

        # A tip must be a whole number >= 0; the error has the one documented shape.
        for bad in ("-1", "abc", "1.5"):
            refused = client.get(PULL, params={"since": "0", "tip": bad}, headers=bearer(token))
            assert refused.status_code == 422, bad
            assert refused.json()["error"]["code"] == "malformed"
        assert _row(database, terminal_id).tip_seq == 6


def _terminal_row(html: str, terminal_id: str) -> str:
    start = html.index(f'<tr id="terminal-{terminal_id}">')
    return html[start : html.index("</tr>", start)]
