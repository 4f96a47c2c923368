"""What a scan turned out to be: one frozen result type per kind of code.

Every type carries a ``kind`` class constant, so a JSON log line or a sync message can name
it without knowing Python class names. :class:`Unrecognised` carries a sentence for the
cashier and a :func:`safe_preview` of the input that is fit for logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Final, TypeAlias

__all__ = [
    "CardEntry",
    "GiftCard",
    "LoyaltyCard",
    "MemberQR",
    "ParsedCode",
    "Product",
    "ReceiptRef",
    "Refusal",
    "Symbology",
    "Unrecognised",
    "Voucher",
    "canonical_voucher",
    "escape_char",
    "safe_preview",
]


class CardEntry(StrEnum):
    """How a card number reached the till, as far as the scanned text shows it."""

    BARCODE = "barcode"
    """A bare digit string, as a barcode scanner sends it (also a number keyed without gaps)."""
    MAGSTRIPE = "magstripe"
    """Read from magnetic track 2; only this entry carries an expiry date."""
    KEYED = "keyed"
    """Digits in groups with spaces or hyphens: only a person types it like that."""


class Symbology(StrEnum):
    """The retail barcode a product number came from (told apart by its length)."""

    EAN13 = "ean13"
    EAN8 = "ean8"
    UPCA = "upca"


@dataclass(frozen=True, slots=True)
class LoyaltyCard:
    number: str
    entry: CardEntry
    expiry: str | None = None
    """"YYMM" from the magnetic stripe; None for every other entry."""

    kind: ClassVar[str] = "loyalty_card"


@dataclass(frozen=True, slots=True)
class GiftCard:
    number: str
    entry: CardEntry

    kind: ClassVar[str] = "gift_card"


@dataclass(frozen=True, slots=True)
class Product:
    gtin: str
    """The digits exactly as scanned; the check digit was verified, never recomputed."""
    symbology: Symbology

    kind: ClassVar[str] = "product"


@dataclass(frozen=True, slots=True)
class MemberQR:
    card_number: str
    issued_at: int
    """Unix seconds at which the member app drew the code (already checked against the clock)."""
    key_id: str

    kind: ClassVar[str] = "member_qr"


@dataclass(frozen=True, slots=True)
class Voucher:
    code: str
    """Canonical form: ``V-XXXX-XXXX-XXXX`` in uppercase."""

    kind: ClassVar[str] = "voucher"


def canonical_voucher(symbols: str) -> str:
    """``V-XXXX-XXXX-XXXX`` for the 12 uppercase symbols of a voucher code."""
    return "V-" + "-".join(symbols[i : i + 4] for i in range(0, len(symbols), 4))


@dataclass(frozen=True, slots=True)
class ReceiptRef:
    terminal: str
    seq: int

    kind: ClassVar[str] = "receipt"


@dataclass(frozen=True, slots=True)
class Unrecognised:
    reason: str
    """A sentence for the cashier: what is wrong and what to do next."""
    preview: str
    """The input made safe for screens and logs (see :func:`safe_preview`)."""

    kind: ClassVar[str] = "unrecognised"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A format parser's "this is my format, but it is wrong": the reason, without a preview.

    Only :func:`shared.codes.parse_scan` turns it into :class:`Unrecognised`, so the preview is
    always built from the raw input in one place.
    """

    reason: str


ParsedCode: TypeAlias = (
    LoyaltyCard | GiftCard | Product | MemberQR | Voucher | ReceiptRef | Unrecognised
)


# --------------------------------------------------------------------------------------------
# Safe previews
# --------------------------------------------------------------------------------------------

PREVIEW_MAX_CHARS: Final = 40
# Only this much of the input is ever looked at. A digit run that starts inside the 40 shown
# characters and is cut here still has more than 12 digits, so it is masked all the same.
_PREVIEW_WINDOW: Final = 128
MASK: Final = "•"
ELLIPSIS: Final = "…"

# On a magnetic stripe everything after the field separator ('=' on track 2, '^' on track 1)
# is expiry, service code, name and discretionary data (where CVC1 lives): never shown.
_STRIPE_FIELDS: Final = re.compile(r"([=^])[^?]*")
# 12+ digits, possibly grouped with single spaces or hyphens: a card number (PAN) candidate.
# \d on purpose: masks non-ASCII digits too.
_LONG_DIGIT_RUN: Final = re.compile(r"\d(?:[ -]?\d){11,}")
_NAMED_ESCAPES: Final = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\"}


def _mask_run(match: re.Match[str]) -> str:
    run = match.group()
    digits_left = sum(char.isdigit() for char in run)
    masked: list[str] = []
    for char in run:
        if char.isdigit():
            masked.append(char if digits_left <= 4 else MASK)
            digits_left -= 1
        else:
            masked.append(char)
    return "".join(masked)


def escape_char(char: str) -> str:
    """One character as printable, single-line, encodable text (backslash escapes)."""
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe_preview(text: str) -> str:
    """A short rendering of untrusted scan data that is safe to show and to log.

    * magnetic-stripe fields after '=' or '^' are replaced by an ellipsis;
    * every run of 12 or more digits (gaps of one space or hyphen allowed) is masked except its
      last 4, so a bank card swiped through the reader is never logged in clear;
    * control, format (e.g. bidi overrides), surrogate and other non-printable characters are
      escaped, so the preview is one line that always encodes as UTF-8;
    * the result has at most 40 characters; an escape sequence is never cut in half.
    """
    window = text[:_PREVIEW_WINDOW]
    window = _STRIPE_FIELDS.sub(lambda match: match.group(1) + ELLIPSIS, window)
    window = _LONG_DIGIT_RUN.sub(_mask_run, window)
    pieces = [escape_char(char) for char in window]
    truncated = len(text) > _PREVIEW_WINDOW
    if not truncated and sum(map(len, pieces)) <= PREVIEW_MAX_CHARS:
        return "".join(pieces)
    budget = PREVIEW_MAX_CHARS - len(ELLIPSIS)
    kept: list[str] = []
    for piece in pieces:
        if len(piece) > budget:
            break
        kept.append(piece)
        budget -= len(piece)
    return "".join(kept) + ELLIPSIS
