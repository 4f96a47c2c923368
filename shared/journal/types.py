"""Field types shared by the journal models: bounded integers, safe text, hashes, timestamps.

Every number and string an entry carries is bounded (shared.bounds, docs/design.md invariants 8
and 9): what these types accept, both server databases store exactly, so a till can never
journal an entry HQ would have to refuse.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, Strict

from shared.bounds import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_CARD_NUMBER,
    MAX_EMAIL,
    MAX_ID,
    MAX_MINOR,
    MAX_PHONE,
    MAX_POINTS,
    MAX_QUANTITY,
    MAX_SEQ,
    MAX_TEXT,
)
from shared.codes.checks import VOUCHER_ALPHABET, luhn_valid, voucher_code_valid
from shared.journal.canonical import format_utc
from shared.text import check_safe_text

__all__ = [
    "CardNumber",
    "Count",
    "Email",
    "GiftCardNumber",
    "Hash",
    "Identifier",
    "LineNo",
    "Minor",
    "NonNegMinor",
    "Phone",
    "Points",
    "Quantity",
    "Seq",
    "TerminalId",
    "Text",
    "UtcTimestamp",
    "Uuid",
    "VoucherCode",
    "check_safe_text",
]


def _to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamp must carry a UTC offset (e.g. end in Z)")
    moment = moment.astimezone(UTC)
    if not EARLIEST_TIMESTAMP <= moment < LATEST_TIMESTAMP:
        raise ValueError(
            f"{format_utc(moment)} is outside {EARLIEST_TIMESTAMP.year}–"
            f"{LATEST_TIMESTAMP.year - 1}: the clock that made it is wrong"
        )
    return moment


# Strict: a JSON float (12.5) or a string ("12") is refused, never coerced (invariant 6).
# Bounded: nothing a real sale holds comes near the bounds; the ledger's 64-bit arithmetic
# stays exact (shared.bounds).
Minor = Annotated[int, Strict(), Field(ge=-MAX_MINOR, le=MAX_MINOR)]
"""An amount in minor currency units (cents), either sign."""
NonNegMinor = Annotated[int, Strict(), Field(ge=0, le=MAX_MINOR)]
Points = Annotated[int, Strict(), Field(ge=0, le=MAX_POINTS)]
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_POINTS)]
Quantity = Annotated[int, Strict(), Field(gt=0, le=MAX_QUANTITY)]
LineNo = Annotated[int, Strict(), Field(ge=1, le=1_000_000)]
Seq = Annotated[int, Strict(), Field(ge=1, le=MAX_SEQ)]

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(check_safe_text)]
"""A name, description, SKU, category, receipt number or reason: 1–200 printable characters."""
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID), AfterValidator(check_safe_text)]
"""An id (member, cashier, store, rules text version) or a reference: 1–64 characters."""
TerminalId = Annotated[str, Field(min_length=1, max_length=16), AfterValidator(check_safe_text)]
CardNumber = Annotated[
    str, Field(min_length=1, max_length=MAX_CARD_NUMBER), AfterValidator(check_safe_text)
]
Phone = Annotated[str, Field(min_length=1, max_length=MAX_PHONE), AfterValidator(check_safe_text)]


def _check_voucher_code(code: str) -> str:
    symbols = code[2:].replace("-", "")
    if not (
        code == "V-" + "-".join(symbols[i : i + 4] for i in range(0, 12, 4))
        and len(symbols) == 12
        and all(symbol in VOUCHER_ALPHABET for symbol in symbols)
        and voucher_code_valid(symbols)
    ):
        raise ValueError("not a voucher code in canonical form (V-XXXX-XXXX-XXXX, check symbol)")
    return code


def _check_gift_card_number(number: str) -> str:
    if not (number.isascii() and number.isdigit() and luhn_valid(number)):
        raise ValueError("not a gift card number (12-19 digits, Luhn check digit)")
    return number


VoucherCode = Annotated[
    str, Field(min_length=16, max_length=16), AfterValidator(_check_voucher_code)
]
"""A single-use voucher's code in canonical form, ``V-XXXX-XXXX-XXXX`` (shared.codes)."""
GiftCardNumber = Annotated[
    str, Field(min_length=12, max_length=19), AfterValidator(_check_gift_card_number)
]
"""A gift card's (or credit slip's) number: digits with a Luhn check digit."""
Email = Annotated[str, Field(min_length=3, max_length=MAX_EMAIL), AfterValidator(check_safe_text)]
Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Uuid = Annotated[
    str,
    Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
]
UtcTimestamp = Annotated[
    datetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_utc, return_type=str),
]
"""A moment in 2000–2099; always serialised as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
