"""Reward purchase counts (``reward_counts``): how many of each catalog reward HQ has posted,
less those of voided sales. A row is changed only under its row lock (the UPDATE takes it,
held until COMMIT), so two pushes selling the last one of a reward are decided in the order
their positions say, and a replay decides the same."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, select, update

from syncserver.storage.database import insert_ignore
from syncserver.storage.schema import reward_counts

__all__ = ["add_to_reward_count", "reward_counts_of", "stamp_reward_counts"]


def add_to_reward_count(conn: Connection, reward_id: str, delta: int) -> int:
    """Move the reward's count by ``delta`` (creating its row at 0 first); the new count."""
    insert_ignore(conn, reward_counts, {"reward_id": reward_id, "issued": 0, "change_seq": 0})
    row = conn.execute(
        update(reward_counts)
        .where(reward_counts.c.reward_id == reward_id)
        .values(issued=reward_counts.c.issued + delta)
        .returning(reward_counts.c.issued)
    ).one()
    return int(row.issued)


_STAMP = (
    update(reward_counts)
    .where(reward_counts.c.reward_id == bindparam("s_reward"))
    .values(change_seq=bindparam("s_position"))
)


def stamp_reward_counts(conn: Connection, reward_ids: Sequence[str], first_position: int) -> None:
    """Give each changed count the next change_seq (the pull cursor): one executemany."""
    if reward_ids:
        conn.execute(
            _STAMP,
            [{"s_reward": r, "s_position": first_position + n} for n, r in enumerate(reward_ids)],
        )


def reward_counts_of(conn: Connection, reward_ids: Sequence[str] | None = None) -> dict[str, int]:
    """Reward id -> count, for the given rewards (all of them when None)."""
    query = select(reward_counts.c.reward_id, reward_counts.c.issued)
    if reward_ids is not None:
        if not reward_ids:
            return {}
        query = query.where(reward_counts.c.reward_id.in_(list(reward_ids)))
    return {row.reward_id: int(row.issued) for row in conn.execute(query)}
