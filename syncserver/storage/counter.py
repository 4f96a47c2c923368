"""The change counter: positions whose order is the commit order.

A bare PostgreSQL SEQUENCE is not enough for a pull cursor: two transactions may take 10 and
11, the one with 11 commits first, a pull returns it and moves its cursor past 10 — and the
change numbered 10 is never sent. So every write transaction takes its positions *last*,
from one counter row that it then holds locked until it commits: the next transaction gets
larger numbers only after this one is visible. The lock is held only for the few statements
between taking the numbers and COMMIT.

The same lock answers "is X really absent?" (:func:`lock_counter`): while a transaction holds
it, nobody can commit a smaller position, so something it cannot see now will, in a replay,
also come after it. SQLite serialises writers anyway, so there it costs nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from syncserver.storage.schema import change_counter

__all__ = ["allocate_positions", "lock_counter"]

_ROW = 1


def lock_counter(conn: Connection) -> int:
    """Lock the counter row until this transaction ends; the last position handed out."""
    row = conn.execute(
        select(change_counter.c.value).where(change_counter.c.id == _ROW).with_for_update()
    ).one()
    return int(row.value)


def allocate_positions(conn: Connection, count: int) -> int:
    """Reserve ``count`` consecutive positions and return the first. Call at the very end of a
    write transaction: the row stays locked until COMMIT."""
    if count < 1:
        raise ValueError("allocate at least one position")
    row = conn.execute(
        update(change_counter)
        .where(change_counter.c.id == _ROW)
        .values(value=change_counter.c.value + count)
        .returning(change_counter.c.value)
    ).one()
    return int(row.value) - count + 1
