"""Vouchers, gift cards and store credit as the till knows them (migration 008).

Every balance is HQ's figure plus this till's own effects HQ had not applied when it gave
that figure (``seq > applied_through_seq``), exactly as for points (docs/design.md): after a
pull whose ``applied_through_seq`` covers an entry, that entry's effect comes from HQ's
figure only, so nothing is counted twice. Accounts in ``money_effects`` are named
``gift:<card number>`` (gift cards and credit slips) and ``credit:<member key>`` (a member's
store credit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from shared.protocol import StoredValueState, VoucherState
from shared.rules.rewards import VoucherTerms

__all__ = [
    "StoredValueRecord",
    "VoucherRecord",
    "account_balance",
    "add_money_effect",
    "apply_gift_card",
    "apply_voucher",
    "confirm_voucher_uses",
    "credit_account",
    "gift_account",
    "gift_card_record",
    "know_new_card",
    "offline_spent_on",
    "record_voucher_use",
    "unconfirmed_voucher_discounts_on",
    "unsent_effects",
    "voucher_record",
    "voucher_used_here",
]


def gift_account(card_number: str) -> str:
    return f"gift:{card_number}"


def credit_account(member_key: str) -> str:
    return f"credit:{member_key}"


# --- vouchers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VoucherRecord:
    code: str
    value_minor: int
    percent_bp: int | None
    min_spend_minor: int
    expires_on: str | None
    member_id: str | None
    status: str
    source: str | None = None
    """"hq", "reward:<id>", "campaign:<id>"; None when HQ did not say."""
    categories: tuple[str, ...] | None = None
    """Only these categories' lines (None: the whole basket)."""

    @classmethod
    def from_state(cls, state: VoucherState) -> VoucherRecord:
        return cls(
            state.code,
            state.value_minor,
            state.percent_bp,
            state.min_spend_minor,
            state.expires_on,
            state.member_id,
            state.status,
            state.source,
            None if state.categories is None else tuple(state.categories),
        )


def voucher_record(db: sqlite_utils.Database, code: str) -> VoucherRecord | None:
    row = db.execute(
        "SELECT code, value_minor, percent_bp, min_spend_minor, expires_on, member_id, status, "
        "source, categories FROM vouchers WHERE code = ?",
        [code],
    ).fetchone()
    if row is None:
        return None
    return VoucherRecord(
        str(row[0]),
        int(row[1]),
        None if row[2] is None else int(row[2]),
        int(row[3]),
        row[4],
        row[5],
        str(row[6]),
        row[7],
        None if row[8] is None else tuple(str(name) for name in json.loads(row[8])),
    )


def know_issued_voucher(
    db: sqlite_utils.Database,
    code: str,
    terms: VoucherTerms,
    *,
    member_id: str | None,
    source: str,
    categories: tuple[str, ...] | None = None,
) -> None:
    """A voucher this till just printed (a reward's or a campaign's), known here as issued
    at once, so it can be used at this till before HQ's pull brings it back."""
    apply_voucher(
        db,
        VoucherState(
            code=code,
            value_minor=terms.value_minor,
            percent_bp=terms.percent_bp,
            min_spend_minor=terms.min_spend_minor,
            expires_on=terms.expires_on.isoformat(),
            member_id=member_id,
            status="issued",
            source=source,
            categories=None if categories is None else list(categories),
        ),
    )


def apply_voucher(db: sqlite_utils.Database, state: VoucherState) -> None:
    """HQ's word on a voucher (a pull, or a live answer) replaces what the till knew; an HQ
    that does not say where a voucher came from (``source`` None, an older server) leaves
    the source and categories this till recorded when it issued it."""
    db.execute(
        "INSERT INTO vouchers (code, value_minor, percent_bp, min_spend_minor, expires_on, "
        "member_id, status, source, categories) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(code) DO UPDATE SET "
        "value_minor=excluded.value_minor, percent_bp=excluded.percent_bp, "
        "min_spend_minor=excluded.min_spend_minor, expires_on=excluded.expires_on, "
        "member_id=excluded.member_id, status=excluded.status, "
        "categories=CASE WHEN excluded.source IS NULL THEN vouchers.categories "
        "ELSE excluded.categories END, "
        "source=COALESCE(excluded.source, vouchers.source)",
        [
            state.code,
            state.value_minor,
            state.percent_bp,
            state.min_spend_minor,
            state.expires_on,
            state.member_id,
            state.status,
            state.source,
            None if state.categories is None else json.dumps(state.categories),
        ],
    )


def voucher_used_here(db: sqlite_utils.Database, code: str) -> int | None:
    """The seq of this till's sale that took ``code``, else None."""
    row = db.execute("SELECT MIN(seq) FROM voucher_uses WHERE code = ?", [code]).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def record_voucher_use(
    db: sqlite_utils.Database, seq: int, code: str, discount: int, day: str, *, confirmed: bool
) -> None:
    db.execute(
        "INSERT INTO voucher_uses (seq, code, discount_minor, local_date, confirmed) "
        "VALUES (?, ?, ?, ?, ?)",
        [seq, code, discount, day, int(confirmed)],
    )


def unconfirmed_voucher_discounts_on(db: sqlite_utils.Database, day: str) -> int:
    """What this till took off sales on ``day`` with vouchers HQ has not confirmed."""
    row = db.execute(
        "SELECT COALESCE(SUM(discount_minor), 0) FROM voucher_uses "
        "WHERE local_date = ? AND confirmed = 0",
        [day],
    ).fetchone()
    return int(row[0])


def confirm_voucher_uses(db: sqlite_utils.Database, applied_through: int) -> None:
    """HQ has applied this till's entries up to ``applied_through``: their vouchers are HQ's
    concern now (a second use elsewhere is its ``voucher_reused``), not the offline cap's."""
    db.execute(
        "UPDATE voucher_uses SET confirmed = 1 WHERE confirmed = 0 AND seq <= ?",
        [applied_through],
    )


# --- gift cards, credit slips and store credit ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredValueRecord:
    card_number: str
    hq_balance_minor: int
    status: str
    blocked_reason: str | None
    applied_through_seq: int


def gift_card_record(db: sqlite_utils.Database, card_number: str) -> StoredValueRecord | None:
    row = db.execute(
        "SELECT card_number, balance_minor, status, blocked_reason, applied_through_seq "
        "FROM stored_values WHERE card_number = ?",
        [card_number],
    ).fetchone()
    if row is None:
        return None
    return StoredValueRecord(str(row[0]), int(row[1]), str(row[2]), row[3], int(row[4]))


def apply_gift_card(
    db: sqlite_utils.Database, state: StoredValueState, applied_through: int
) -> None:
    """HQ's balance and status of a card, including this till's entries up to
    ``applied_through``. An older figure than the one held (a live answer overtaken by a
    pull, say) is ignored."""
    db.execute(
        "INSERT INTO stored_values (card_number, balance_minor, status, blocked_reason, "
        "applied_through_seq) VALUES (?, ?, ?, ?, ?) ON CONFLICT(card_number) DO UPDATE SET "
        "balance_minor=excluded.balance_minor, status=excluded.status, "
        "blocked_reason=excluded.blocked_reason, "
        "applied_through_seq=excluded.applied_through_seq "
        "WHERE excluded.applied_through_seq >= stored_values.applied_through_seq",
        [
            state.card_number,
            state.balance_minor,
            state.status,
            state.blocked_reason,
            applied_through,
        ],
    )


def know_new_card(db: sqlite_utils.Database, card_number: str) -> None:
    """A card this till activated (or a credit slip it issued): active, HQ's balance 0 until a
    pull says otherwise, so its balance is this till's own effects."""
    db.execute(
        "INSERT OR IGNORE INTO stored_values (card_number, balance_minor, status, "
        "applied_through_seq) VALUES (?, 0, 'active', 0)",
        [card_number],
    )


def _hq_figure(db: sqlite_utils.Database, account: str) -> tuple[int, int] | None:
    """(HQ's balance, the seq it includes this till's entries up to) for ``account``."""
    kind, _, key = account.partition(":")
    if kind == "gift":
        row = db.execute(
            "SELECT balance_minor, applied_through_seq FROM stored_values WHERE card_number = ?",
            [key],
        ).fetchone()
    else:
        row = db.execute(
            "SELECT store_credit_minor, applied_through_seq FROM members WHERE member_key = ?",
            [key],
        ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def unsent_effects(db: sqlite_utils.Database, account: str, applied_through: int) -> int:
    row = db.execute(
        "SELECT COALESCE(SUM(delta_minor), 0) FROM money_effects WHERE account = ? AND seq > ?",
        [account, applied_through],
    ).fetchone()
    return int(row[0])


def account_balance(db: sqlite_utils.Database, account: str) -> int:
    """HQ's figure + this till's effects HQ had not applied (0 for an account unknown here)."""
    figure = _hq_figure(db, account)
    if figure is None:
        return 0
    balance, applied_through = figure
    return balance + unsent_effects(db, account, applied_through)


def offline_spent_on(db: sqlite_utils.Database, account: str, day: str) -> int:
    """What this till paid from ``account`` on ``day`` beyond HQ's last figure, without HQ's
    live word: the amount the offline daily cap bounds."""
    figure = _hq_figure(db, account)
    applied_through = figure[1] if figure else 0
    row = db.execute(
        "SELECT COALESCE(SUM(-delta_minor), 0) FROM money_effects WHERE account = ? AND seq > ? "
        "AND local_date = ? AND delta_minor < 0 AND live = 0",
        [account, applied_through, day],
    ).fetchone()
    return int(row[0])


def add_money_effect(
    db: sqlite_utils.Database, seq: int, account: str, delta: int, day: str, *, live: bool = False
) -> None:
    if delta:
        db.execute(
            "INSERT INTO money_effects (seq, account, delta_minor, local_date, live) "
            "VALUES (?, ?, ?, ?, ?)",
            [seq, account, delta, day, int(live)],
        )
