"""The member cache: lookup by card, phone, email or name, and the balance the till shows.

balance = the server's balance + the points effects of this till's own entries that the
server had not applied when it sent that balance (DESIGN.md, sync contract): each member row
keeps the ``applied_through_seq`` its balance came with (0 until the first pull).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlite_utils

__all__ = [
    "CardRecord",
    "MemberRecord",
    "card_by_number",
    "member_balance",
    "member_by_key",
    "redeemed_on",
    "search_members",
]


@dataclass(frozen=True, slots=True)
class MemberRecord:
    member_key: str
    member_id: str | None
    local_member_id: str | None
    name: str
    phone: str | None
    email: str | None
    tier: str | None
    server_balance: int
    marketing_consent: bool


@dataclass(frozen=True, slots=True)
class CardRecord:
    card_number: str
    member_key: str
    status: str
    blocked_reason: str | None

    @property
    def blocked(self) -> bool:
        return self.status == "blocked"


_MEMBER_COLUMNS = (
    "member_key, member_id, local_member_id, name, phone, email, tier, server_balance, "
    "marketing_consent"
)


def _member(row: tuple[object, ...]) -> MemberRecord:
    return MemberRecord(
        member_key=str(row[0]),
        member_id=row[1] if isinstance(row[1], str) else None,
        local_member_id=row[2] if isinstance(row[2], str) else None,
        name=str(row[3]),
        phone=row[4] if isinstance(row[4], str) else None,
        email=row[5] if isinstance(row[5], str) else None,
        tier=row[6] if isinstance(row[6], str) else None,
        server_balance=int(row[7]),  # type: ignore[call-overload]
        marketing_consent=bool(row[8]),
    )


def digits_only(text: str) -> str:
    return re.sub(r"\D", "", text)


def card_by_number(db: sqlite_utils.Database, card_number: str) -> CardRecord | None:
    row = db.execute(
        "SELECT card_number, member_key, status, blocked_reason FROM cards WHERE card_number = ?",
        [card_number],
    ).fetchone()
    return CardRecord(row[0], row[1], row[2], row[3]) if row else None


def member_by_key(db: sqlite_utils.Database, member_key: str) -> MemberRecord | None:
    row = db.execute(
        f"SELECT {_MEMBER_COLUMNS} FROM members WHERE member_key = ?",  # noqa: S608 (constant)
        [member_key],
    ).fetchone()
    return _member(row) if row else None


def active_card_of(db: sqlite_utils.Database, member_key: str) -> str | None:
    row = db.execute(
        "SELECT card_number FROM cards WHERE member_key = ? AND status = 'active' "
        "ORDER BY rowid DESC LIMIT 1",
        [member_key],
    ).fetchone()
    return str(row[0]) if row else None


def search_members(db: sqlite_utils.Database, query: str, limit: int = 20) -> list[MemberRecord]:
    """Phone (any formatting, matched on its last digits), email (exact) or name (prefix).

    Every branch uses an index, so search stays instant with a million cached members.
    """
    query = query.strip()
    if not query:
        return []
    if "@" in query:
        where, args = "email = ?", [query.lower()]
    elif len(digits_only(query)) >= 6 and not re.search(r"[A-Za-z]", query):
        where, args = "phone_digits = ?", [digits_only(query)]
    else:
        fold = query.casefold()
        where, args = "name_fold >= ? AND name_fold < ?", [fold, fold + "\U0010ffff"]
    rows = db.execute(
        # Only constant SQL fragments are interpolated; values are bound parameters.
        f"SELECT {_MEMBER_COLUMNS} FROM members WHERE {where} ORDER BY name_fold LIMIT ?",  # noqa: S608
        [*args, limit],
    ).fetchall()
    return [_member(row) for row in rows]


def member_balance(db: sqlite_utils.Database, member: MemberRecord) -> int:
    """The server's balance plus this till's effects the server had not yet applied."""
    row = db.execute(
        "SELECT COALESCE(SUM(e.delta), 0) FROM points_effects e "
        "JOIN members m ON m.member_key = e.member_key "
        "WHERE e.member_key = ? AND e.seq > m.applied_through_seq",
        [member.member_key],
    ).fetchone()
    return member.server_balance + int(row[0])


def redeemed_on(db: sqlite_utils.Database, member_key: str, local_date: str) -> int:
    """Points this till let the member redeem on ``local_date`` (the offline cap)."""
    row = db.execute(
        "SELECT COALESCE(SUM(redeemed), 0) FROM points_effects "
        "WHERE member_key = ? AND local_date = ?",
        [member_key, local_date],
    ).fetchone()
    return int(row[0])


def upsert_member(
    db: sqlite_utils.Database,
    *,
    member_key: str,
    name: str,
    phone: str | None,
    email: str | None,
    tier: str | None = None,
    server_balance: int = 0,
    marketing_consent: bool = False,
    member_id: str | None = None,
    local_member_id: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO members (member_key, member_id, local_member_id, name, name_fold, phone, "
        "phone_digits, email, tier, server_balance, marketing_consent) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(member_key) DO UPDATE SET member_id=excluded.member_id, "
        "name=excluded.name, name_fold=excluded.name_fold, phone=excluded.phone, "
        "phone_digits=excluded.phone_digits, email=excluded.email, tier=excluded.tier, "
        "server_balance=excluded.server_balance, marketing_consent=excluded.marketing_consent",
        [
            member_key,
            member_id,
            local_member_id,
            name,
            name.casefold(),
            phone,
            digits_only(phone) if phone else None,
            email.lower() if email else None,
            tier,
            server_balance,
            int(marketing_consent),
        ],
    )


def assign_card(db: sqlite_utils.Database, card_number: str, member_key: str) -> None:
    db.execute(
        "INSERT INTO cards (card_number, member_key, status) VALUES (?, ?, 'active')",
        [card_number, member_key],
    )


def block_card(db: sqlite_utils.Database, card_number: str, reason: str) -> None:
    db.execute(
        "UPDATE cards SET status = 'blocked', blocked_reason = ? WHERE card_number = ?",
        [reason, card_number],
    )
