"""A pull is a read: recording the till's report (when it pulled, its journal tip) must not
make it wait for another writer — on SQLite a push holds the only write lock for its whole
transaction, and a till whose pull waits for it times out."""

from __future__ import annotations

from sqlalchemy import select, text

from syncserver.storage.database import Database
from syncserver.storage.schema import terminals
from tests.server.helpers import PULL, api, bearer, prepare


def test_a_pull_answers_while_another_writer_holds_the_lock(database: Database) -> None:
    server = prepare(database, with_members=False)
    terminal_id, token = server.terminal()
    with api(database) as client, database.write() as blocker:
        # Hold what the report needs: SQLite's write lock, or the till's row on PostgreSQL.
        if database.is_postgres:
            blocker.execute(
                select(terminals.c.terminal_id)
                .where(terminals.c.terminal_id == terminal_id)
                .with_for_update()
            )
        else:
            blocker.execute(text("UPDATE change_counter SET value = value WHERE id = 1"))
        # Below SQLite's 15 s busy wait (on PostgreSQL a waiting pull would wait for ever),
        # so a pull that waited for the lock would time out; yet generous for a busy machine.
        reply = client.get(PULL, params={"tip": 5}, headers=bearer(token), timeout=10)
        assert reply.status_code == 200, reply.text
    with database.read() as conn:
        unreported = conn.execute(
            select(terminals.c.tip_seq).where(terminals.c.terminal_id == terminal_id)
        ).scalar_one()
    assert unreported is None  # given up while the lock was held, and nothing half-written
    with api(database) as client:
        assert client.get(PULL, params={"tip": 5}, headers=bearer(token)).status_code == 200
    with database.read() as conn:
        tip = conn.execute(
            select(terminals.c.tip_seq).where(terminals.c.terminal_id == terminal_id)
        ).scalar_one()
    assert tip == 5  # reported by the pull that found the database free
