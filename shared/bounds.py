"""The bounds of every number and text a journal entry can carry (docs/design.md, invariant 8).

Each bound is far beyond what a real sale reaches and far inside what both server databases
store exactly, so an entry a till can journal is an entry HQ can store (invariant 9), and the
ledger's 64-bit arithmetic can never overflow: an entry moves at most :data:`MAX_POINTS`
points, and HQ refuses any entry that would take a member's balance past
:data:`MAX_BALANCE_POINTS` (about 10^15, nine thousand times below 2^63). docs/journal.md
lists them; the models in ``shared.journal`` and ``shared.rules`` use them, so the till
refuses an out-of-bounds entry when it is made, and HQ refuses one that arrives anyway with a
422 naming the field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

__all__ = [
    "EARLIEST_TIMESTAMP",
    "LATEST_TIMESTAMP",
    "MAX_BALANCE_POINTS",
    "MAX_CARD_NUMBER",
    "MAX_EMAIL",
    "MAX_ENTRY_BYTES",
    "MAX_ID",
    "MAX_INT64",
    "MAX_LINES",
    "MAX_MINOR",
    "MAX_NOTES",
    "MAX_PHONE",
    "MAX_POINTS",
    "MAX_PUSH_BYTES",
    "MAX_QUANTITY",
    "MAX_SEQ",
    "MAX_TENDERS",
    "MAX_TEXT",
]

MAX_INT64: Final = 2**63 - 1
"""The largest integer either server database stores (BIGINT, SQLite INTEGER)."""

MAX_MINOR: Final = 10**10
"""Any one money amount, in minor units: 100,000,000.00 in a two-decimal currency."""

MAX_POINTS: Final = 10**9
"""Any one points figure in an entry (earned, redeemed, reversed, a line's points)."""

MAX_BALANCE_POINTS: Final = 10**15
"""A member's balance, either sign. HQ refuses an entry that would take it beyond."""

MAX_QUANTITY: Final = 100_000
"""Units on one line."""

MAX_LINES: Final = 300
"""Lines in one sale or return (a large grocery basket has about 100)."""

MAX_TENDERS: Final = 20
"""Tenders in one sale or refund."""

MAX_NOTES: Final = 1_000
"""Notes in one earn breakdown (a few per line at most)."""

MAX_SEQ: Final = 2**62
"""Sequence numbers (a till at a sale a second for a billion years stays far below)."""

MAX_TEXT: Final = 200
"""Names, descriptions, SKUs, categories, receipt numbers, reasons (characters)."""

MAX_ID: Final = 64
"""Identifiers: member ids, cashier ids, store ids, references."""

MAX_CARD_NUMBER: Final = 40
"""Card numbers (a loyalty card is 16 digits, a gift card up to 19)."""

MAX_PHONE: Final = 32
"""Phone numbers as typed (E.164 has at most 15 digits)."""

MAX_EMAIL: Final = 254
"""E-mail addresses (RFC 5321's limit for a forward path)."""

MAX_ENTRY_BYTES: Final = 256 * 1024
"""One entry's canonical JSON. A 300-line sale with its full earn breakdown is ~200 KiB."""

MAX_PUSH_BYTES: Final = 16 * 1024 * 1024
"""One push request's body: up to 500 entries (shared.protocol.MAX_PUSH_BATCH), and never
more than this many bytes; a till splits its unsent entries by both limits."""

EARLIEST_TIMESTAMP: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP: Final = datetime(2100, 1, 1, tzinfo=UTC)
"""Every journaled moment lies in [EARLIEST, LATEST): a till whose clock says otherwise is
broken, and 9999-12-31 plus a store's UTC offset would not even be a date."""
