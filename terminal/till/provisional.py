"""When a balance printed on a receipt is provisional: the till's own view, not HQ's.

A till computes a member's balance as HQ's last known balance plus the points effects of its
own entries HQ had not yet applied (``terminal.store.members.member_balance``). That is the
balance HQ will confirm — unless something the till cannot see happened meanwhile: another
till's sale, an HQ adjustment. So a receipt's balance is *confirmed* only when the till's
view of the member is fresh and complete at the moment of the sale:

- HQ knows the member (not a member enrolled at this till and not yet synced);
- the till had a successful round with HQ recently enough to count as online
  (terminal.store.contact.hq_online: the rule `till status` uses too); and
- HQ's cached balance already includes every earlier entry of this till for the member (no
  points effect between the member's ``applied_through_seq`` and this entry).

Anything else prints "provisional — confirmed when the till syncs". The decision is made
when the receipt is queued and stored with it, so a reprint says what the original said.
"""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from shared.journal import Return, Sale
from terminal.store.contact import hq_online
from terminal.store.journal import get_entry
from terminal.store.members import card_by_number

__all__ = [
    "balance_is_provisional",
    "entry_balance_is_provisional",
]


def balance_is_provisional(
    db: sqlite_utils.Database, member_key: str, seq: int, now: datetime
) -> bool:
    """Whether the balance after entry ``seq`` for ``member_key`` is the till's view only."""
    member = db.execute(
        "SELECT member_id, applied_through_seq FROM members WHERE member_key = ?", [member_key]
    ).fetchone()
    if member is None or member[0] is None:
        return True  # HQ has not heard of this member yet
    if not hq_online(db, now):
        return True
    unconfirmed = db.execute(
        "SELECT 1 FROM points_effects WHERE member_key = ? AND seq > ? AND seq < ? LIMIT 1",
        [member_key, int(member[1]), seq],
    ).fetchone()
    return unconfirmed is not None


def entry_balance_is_provisional(db: sqlite_utils.Database, seq: int, now: datetime) -> bool:
    """:func:`balance_is_provisional` for the member entry ``seq`` (a sale or a return) names;
    False for an entry without a member (nothing to confirm)."""
    entry = get_entry(db, seq)
    payload = entry.payload if entry is not None else None
    ref = payload.member if isinstance(payload, Sale | Return) else None
    card = card_by_number(db, ref.card_number) if ref is not None else None
    if ref is not None and card is None:
        return True  # a card the till does not know: its view cannot be confirmed
    return card is not None and balance_is_provisional(db, card.member_key, seq, now)
