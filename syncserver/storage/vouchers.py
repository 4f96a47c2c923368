"""Single-use vouchers: their state (docs/vouchers.md). The money they move is in
``postings`` (``voucher:<code>``); every write leaves the voucher's ``change_seq`` to be
stamped at the end of the transaction (:func:`stamp_vouchers`), so tills pull it again."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from shared.protocol import VoucherState
from syncserver.storage.database import bulk_insert, execute_many, insert_ignore
from syncserver.storage.rules import latest_version
from syncserver.storage.schema import vouchers

__all__ = [
    "EXPIRED",
    "ISSUED",
    "REDEEMED",
    "REWARD_SOURCE",
    "VOIDED",
    "NewVoucher",
    "VoucherRow",
    "due_voucher_codes",
    "existing_codes",
    "insert_new_vouchers",
    "insert_voucher",
    "lock_voucher",
    "stamp_vouchers",
    "update_voucher",
    "voucher_row",
    "voucher_states",
]

ISSUED = "issued"
REDEEMED = "redeemed"
EXPIRED = "expired"
VOIDED = "voided"


@dataclass(frozen=True, slots=True)
class NewVoucher:
    code: str
    value_minor: int
    percent_bp: int | None
    min_spend_minor: int
    currency: str
    expires_on: str | None
    member_id: str | None
    source: str
    issued_at: str
    issued_terminal: str | None = None
    issued_seq: int | None = None
    hq_event_id: int | None = None


@dataclass(frozen=True, slots=True)
class VoucherRow:
    code: str
    value_minor: int
    percent_bp: int | None
    min_spend_minor: int
    currency: str
    expires_on: str | None
    member_id: str | None
    status: str
    source: str
    redeemed_terminal: str | None
    redeemed_seq: int | None
    redeemed_at: str | None
    discount_minor: int | None
    issued_terminal: str | None = None
    issued_seq: int | None = None
    """The till entry that issued it (a reward purchase); None for HQ's issues."""


def _row(found: Any) -> VoucherRow:
    return VoucherRow(
        code=found.code,
        value_minor=int(found.value_minor),
        percent_bp=None if found.percent_bp is None else int(found.percent_bp),
        min_spend_minor=int(found.min_spend_minor),
        currency=found.currency,
        expires_on=found.expires_on,
        member_id=found.member_id,
        status=found.status,
        source=found.source,
        redeemed_terminal=found.redeemed_terminal,
        redeemed_seq=None if found.redeemed_seq is None else int(found.redeemed_seq),
        redeemed_at=found.redeemed_at,
        discount_minor=None if found.discount_minor is None else int(found.discount_minor),
        issued_terminal=found.issued_terminal,
        issued_seq=None if found.issued_seq is None else int(found.issued_seq),
    )


def voucher_row(conn: Connection, code: str) -> VoucherRow | None:
    found = conn.execute(select(vouchers).where(vouchers.c.code == code)).first()
    return _row(found) if found is not None else None


def lock_voucher(conn: Connection, code: str) -> VoucherRow | None:
    """The voucher, locked until COMMIT: its state changes only under this lock."""
    found = conn.execute(select(vouchers).where(vouchers.c.code == code).with_for_update()).first()
    return _row(found) if found is not None else None


def _new_row(voucher: NewVoucher) -> dict[str, Any]:
    return {
        "code": voucher.code,
        "value_minor": voucher.value_minor,
        "percent_bp": voucher.percent_bp,
        "min_spend_minor": voucher.min_spend_minor,
        "currency": voucher.currency,
        "expires_on": voucher.expires_on,
        "member_id": voucher.member_id,
        "status": ISSUED,
        "source": voucher.source,
        "issued_at": voucher.issued_at,
        "issued_terminal": voucher.issued_terminal,
        "issued_seq": voucher.issued_seq,
        "hq_event_id": voucher.hq_event_id,
        "redeemed_terminal": None,
        "redeemed_seq": None,
        "redeemed_at": None,
        "discount_minor": None,
        "change_seq": 0,
    }


def insert_voucher(conn: Connection, voucher: NewVoucher) -> bool:
    """False when the code exists already."""
    return insert_ignore(conn, vouchers, _new_row(voucher))


def insert_new_vouchers(conn: Connection, new: Sequence[NewVoucher]) -> None:
    """INSERT vouchers whose codes were found free in this transaction, in one statement.
    A code another transaction took meanwhile is a unique-key error (the caller's whole
    transaction fails and is retried), never a silent skip."""
    if new:
        rows = [_new_row(voucher) for voucher in new]
        columns = list(rows[0])
        bulk_insert(conn, vouchers, columns, [tuple(row[c] for c in columns) for row in rows])


def existing_codes(conn: Connection, codes: Collection[str]) -> set[str]:
    """Which of ``codes`` HQ has vouchers for: one query."""
    found: set[str] = set()
    wanted = sorted(set(codes))
    for start in range(0, len(wanted), 500):  # bounded IN lists
        chunk = wanted[start : start + 500]
        found.update(
            conn.execute(select(vouchers.c.code).where(vouchers.c.code.in_(chunk))).scalars()
        )
    return found


def update_voucher(conn: Connection, code: str, **values: Any) -> None:
    conn.execute(update(vouchers).where(vouchers.c.code == code).values(values))


_STAMP = (
    update(vouchers)
    .where(vouchers.c.code == bindparam("s_code"))
    .values(change_seq=bindparam("s_position"))
)


def stamp_vouchers(conn: Connection, codes: Sequence[str], first_position: int) -> None:
    """Give each changed voucher the next change_seq (the pull cursor): one executemany."""
    execute_many(
        conn,
        _STAMP,
        [{"s_code": code, "s_position": first_position + n} for n, code in enumerate(codes)],
    )


def due_voucher_codes(conn: Connection, as_of: str) -> list[str]:
    """Issued vouchers whose last usable day is before ``as_of`` (ISO), in code order."""
    return list(
        conn.execute(
            select(vouchers.c.code)
            .where(
                vouchers.c.status == ISSUED,
                vouchers.c.expires_on.is_not(None),
                vouchers.c.expires_on < as_of,
            )
            .order_by(vouchers.c.code)
        ).scalars()
    )


REWARD_SOURCE = "reward:"
"""``vouchers.source`` of a voucher a reward purchase issued (``reward:<id>``)."""


def _reward_categories(conn: Connection, sources: set[str]) -> dict[str, list[str] | None]:
    """source -> the categories its reward is limited to, for the reward sources among
    ``sources``, as the newest published rules say (a reward keeps its id across versions;
    a till that knows the reward prices by its own copy of the rules anyway)."""
    reward_sources = {source for source in sources if source.startswith(REWARD_SOURCE)}
    if not reward_sources:
        return {}
    latest = latest_version(conn)
    if latest is None:
        return {}
    rewards = {reward.id: reward for reward in latest.rules.rewards}
    found: dict[str, list[str] | None] = {}
    for source in reward_sources:
        reward = rewards.get(source[len(REWARD_SOURCE) :])
        if reward is not None and reward.kind in ("voucher_amount", "voucher_percent"):
            found[source] = list(reward.categories) if reward.categories is not None else None
    return found


def voucher_states(conn: Connection, codes: Sequence[str]) -> list[VoucherState]:
    """What tills are told of these vouchers (those HQ has), in the order given: their terms,
    state, source and, for a category-limited reward's voucher, its categories."""
    if not codes:
        return []
    rows = {
        row.code: row
        for row in conn.execute(select(vouchers).where(vouchers.c.code.in_(list(codes))))
    }
    categories = _reward_categories(conn, {row.source for row in rows.values()})
    return [
        VoucherState(
            code=code,
            value_minor=int(rows[code].value_minor),
            percent_bp=rows[code].percent_bp,
            min_spend_minor=int(rows[code].min_spend_minor),
            expires_on=rows[code].expires_on,
            member_id=rows[code].member_id,
            status=rows[code].status,
            source=rows[code].source,
            categories=categories.get(rows[code].source),
        )
        for code in codes
        if code in rows
    ]
