"""Rewards as the till counts them against their stock (migration 009).

How many of a reward have been issued = HQ's count (``PullResponse.rewards_issued``, which
includes this till's entries up to the ``applied_through_seq`` it came with) + this till's
own purchases and voids HQ had not applied, exactly as for points (docs/design.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlite_utils

__all__ = [
    "apply_rewards_issued",
    "issued_counts",
    "record_reward_effect",
    "reward_of_voucher",
    "voucher_codes_issued_by",
]


def apply_rewards_issued(
    db: sqlite_utils.Database, counts: Mapping[str, int], applied_through: int
) -> None:
    """HQ's counts from a pull page: they replace what the till held for those rewards."""
    db.conn.executemany(
        "INSERT INTO rewards_issued (reward_id, issued, applied_through_seq) VALUES (?, ?, ?) "
        "ON CONFLICT(reward_id) DO UPDATE SET issued = excluded.issued, "
        "applied_through_seq = excluded.applied_through_seq",
        [(reward_id, count, applied_through) for reward_id, count in counts.items()],
    )


def issued_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Reward id -> how many have been issued as far as this till knows (absent: none)."""
    counts = {
        str(row[0]): int(row[1])
        for row in db.execute("SELECT reward_id, issued FROM rewards_issued").fetchall()
    }
    unsent = db.execute(
        "SELECT e.reward_id, SUM(e.delta) FROM reward_effects e "
        "LEFT JOIN rewards_issued r ON r.reward_id = e.reward_id "
        "WHERE e.seq > COALESCE(r.applied_through_seq, 0) GROUP BY e.reward_id"
    ).fetchall()
    for reward_id, delta in unsent:
        counts[str(reward_id)] = counts.get(str(reward_id), 0) + int(delta)
    return counts


def record_reward_effect(
    db: sqlite_utils.Database, seq: int, reward_id: str, delta: int, voucher_code: str | None
) -> None:
    """Entry ``seq`` bought (+1) or gave back (-1, a void) one of ``reward_id``."""
    db.execute(
        "INSERT INTO reward_effects (seq, reward_id, delta, voucher_code) VALUES (?, ?, ?, ?)",
        [seq, reward_id, delta, voucher_code],
    )


def voucher_codes_issued_by(db: sqlite_utils.Database, seq: int) -> list[str]:
    """The reward vouchers this till's sale ``seq`` issued."""
    rows = db.execute(
        "SELECT voucher_code FROM reward_effects "
        "WHERE seq = ? AND delta > 0 AND voucher_code IS NOT NULL ORDER BY rowid",
        [seq],
    ).fetchall()
    return [str(row[0]) for row in rows]


def reward_of_voucher(db: sqlite_utils.Database, code: str) -> str | None:
    """The reward whose purchase at this till issued voucher ``code`` (None: not issued here;
    HQ's pull does not say which reward issued a voucher)."""
    row = db.execute(
        "SELECT reward_id FROM reward_effects WHERE voucher_code = ? AND delta > 0 LIMIT 1",
        [code],
    ).fetchone()
    return None if row is None else str(row[0])
