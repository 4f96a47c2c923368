"""``parse_scan``: one entry point that turns any scanned or keyed text into a typed result.

The formats are told apart by their first character, so no format can shadow another:

====================  ===========================================================
first character       format
====================  ===========================================================
``;`` or ``%``        magnetic stripe (track 2, or track 1 followed by track 2)
``LT<n>.``            member QR code from the app
``V`` / ``v``         voucher code
``R`` / ``r``         receipt barcode (for returns)
digit                 loyalty card, gift card, then EAN-13 / EAN-8 / UPC-A
====================  ===========================================================

A result is either a recognised code or :class:`Unrecognised` with a reason for the cashier.
``parse_scan`` never raises for any ``str``: every length and integer conversion is bounded
by a pattern first, and nothing from the input is encoded or compared before it is known to
be ASCII.
"""

from __future__ import annotations

import re
from typing import Final

from shared.codes.checks import (
    VOUCHER_ALPHABET,
    gtin_valid,
    luhn_valid,
    mod97_valid,
    voucher_code_valid,
)
from shared.codes.config import CodeConfig
from shared.codes.member_qr import looks_like_member_qr, parse_member_qr
from shared.codes.results import (
    CardEntry,
    GiftCard,
    LoyaltyCard,
    ParsedCode,
    Product,
    ReceiptRef,
    Refusal,
    Symbology,
    Unrecognised,
    Voucher,
    canonical_voucher,
    escape_char,
    safe_preview,
)

__all__ = ["MAX_SCAN_CHARS", "parse_scan"]

MAX_SCAN_CHARS: Final = 1024
"""Far longer than any code here (the longest, a member QR, is under 80 characters)."""

REASON_EMPTY: Final = "empty scan — nothing was read; scan again"
REASON_TOO_LONG: Final = (
    "scan is far too long for any code this till knows — check the scanner settings"
)
REASON_UNKNOWN: Final = "not a code this till knows — key the item or the card number by hand"
REASON_CARD_CHECK: Final = "loyalty card check digit is wrong — rescan or key the number"
REASON_GIFT_CHECK: Final = "gift card check digit is wrong — rescan or key the number"
REASON_STRIPE_INCOMPLETE: Final = "card read incompletely — swipe again"
REASON_FOREIGN_CARD: Final = (
    "this card is not a loyalty or gift card — ask for the loyalty card or the app's code"
)
REASON_VOUCHER_CHECK: Final = (
    "voucher code is mistyped (a symbol is wrong or two are swapped) — "
    "check the voucher and key the code again"
)
REASON_RECEIPT_DAMAGED: Final = (
    "receipt barcode is damaged — rescan, or find the sale by its time and amount"
)
REASON_RECEIPT_CHECK: Final = (
    "receipt barcode check digits are wrong — rescan, or find the sale by its time and amount"
)


def parse_scan(data: str, config: CodeConfig, *, now_unix: int | None = None) -> ParsedCode:
    """Classify one scan. ``now_unix`` (the caller's clock) is needed only for member QR codes.

    Surrounding whitespace and scanner terminators (CR, LF, TAB) are stripped; symbology
    identifiers and other reader framing are the hardware layer's job and are not.
    """
    if len(data) > MAX_SCAN_CHARS:
        return Unrecognised(REASON_TOO_LONG, safe_preview(data))
    text = data.strip()
    if not text:
        return Unrecognised(REASON_EMPTY, safe_preview(data))
    outcome = _classify(text, config, now_unix)
    if isinstance(outcome, Refusal):
        return Unrecognised(outcome.reason, safe_preview(data))
    return outcome


def _classify(text: str, config: CodeConfig, now_unix: int | None) -> ParsedCode | Refusal:
    first = text[0]
    if first in ";%":
        return _parse_magstripe(text, config)
    if looks_like_member_qr(text):
        return parse_member_qr(text, config, now_unix)
    if first in "Vv" and (voucher := _parse_voucher(text)) is not None:
        return voucher
    if first in "Rr" and (receipt := _parse_receipt(text)) is not None:
        return receipt
    if "0" <= first <= "9":
        return _parse_digits(text, config)
    return Refusal(REASON_UNKNOWN)


# --------------------------------------------------------------------------------------------
# Digits: cards, then retail product barcodes
# --------------------------------------------------------------------------------------------

_PLAIN_DIGITS: Final = re.compile(r"[0-9]+")
_GROUPED_DIGITS: Final = re.compile(r"[0-9]+(?:[ -]+[0-9]+)+")
_GTIN_SYMBOLOGY: Final = {13: Symbology.EAN13, 8: Symbology.EAN8, 12: Symbology.UPCA}
_SYMBOLOGY_NAME: Final = {
    Symbology.EAN13: "EAN-13",
    Symbology.EAN8: "EAN-8",
    Symbology.UPCA: "UPC-A",
}


def _parse_digits(text: str, config: CodeConfig) -> ParsedCode | Refusal:
    if _PLAIN_DIGITS.fullmatch(text):
        digits, entry = text, CardEntry.BARCODE
    elif _GROUPED_DIGITS.fullmatch(text):
        # Only people type gaps, and people type card numbers: products stay plain digits.
        digits, entry = re.sub(r"[ -]", "", text), CardEntry.KEYED
    else:
        return Refusal(REASON_UNKNOWN)

    card = _parse_card_number(digits, entry, config)
    if card is not None:
        return card
    if entry is CardEntry.BARCODE and len(digits) in _GTIN_SYMBOLOGY:
        symbology = _GTIN_SYMBOLOGY[len(digits)]
        if gtin_valid(digits):
            return Product(gtin=digits, symbology=symbology)
        return Refusal(
            f"{_SYMBOLOGY_NAME[symbology]} check digit is wrong — rescan the item or key its number"
        )
    return _wrong_card_length(digits, config) or Refusal(REASON_UNKNOWN)


def _parse_card_number(
    digits: str, entry: CardEntry, config: CodeConfig, expiry: str | None = None
) -> LoyaltyCard | GiftCard | Refusal | None:
    """A card if ``digits`` is in the loyalty or gift range; None if in neither.

    Cards come before products on purpose: if the configured card length is also a GTIN
    length, the card prefix claims those numbers.
    """
    if len(digits) == config.card_length and digits.startswith(config.card_prefix):
        if not luhn_valid(digits):
            return Refusal(REASON_CARD_CHECK)
        return LoyaltyCard(number=digits, entry=entry, expiry=expiry)
    if len(digits) == config.gift_length and digits.startswith(config.gift_prefix):
        if not luhn_valid(digits):
            return Refusal(REASON_GIFT_CHECK)
        return GiftCard(number=digits, entry=entry)
    return None


def _wrong_card_length(digits: str, config: CodeConfig) -> Refusal | None:
    """A helpful reason for a card number keyed with a digit too many or too few."""
    for name, prefix, length in (
        ("loyalty", config.card_prefix, config.card_length),
        ("gift", config.gift_prefix, config.gift_length),
    ):
        if digits.startswith(prefix) and abs(len(digits) - length) <= 2:
            return Refusal(
                f"{name} card number has {len(digits)} digits but should have {length} — "
                "check the number and key it again"
            )
    return None


# --------------------------------------------------------------------------------------------
# Magnetic stripe
# --------------------------------------------------------------------------------------------

# ;PAN=<YYMM | '='><service code + discretionary data>?<optional LRC>
_TRACK2: Final = re.compile(r";(?P<pan>[0-9]{1,19})=(?P<rest>[0-9=]{0,40})\?.?", re.DOTALL)
_EXPIRY: Final = re.compile(r"[0-9]{2}(?:0[1-9]|1[0-2])")


def _parse_magstripe(text: str, config: CodeConfig) -> ParsedCode | Refusal:
    if text.startswith("%"):
        # Many keyboard-wedge readers send track 1 ("%B...?") before track 2: use track 2,
        # which carries the same number without the cardholder's name.
        track1_end = text.find("?")
        track2_start = text.find(";", track1_end)
        if track1_end < 0 or track2_start < 0:
            return Refusal(REASON_STRIPE_INCOMPLETE)
        text = text[track2_start:]
    track2 = _TRACK2.fullmatch(text)
    if track2 is None:
        return Refusal(REASON_STRIPE_INCOMPLETE)
    pan, rest = track2.group("pan", "rest")
    if rest == "" or rest.startswith("="):
        expiry = None  # the field separator stands in for an absent expiry date
    elif _EXPIRY.match(rest):
        expiry = rest[:4]
    else:
        return Refusal(REASON_STRIPE_INCOMPLETE)
    card = _parse_card_number(pan, CardEntry.MAGSTRIPE, config, expiry)
    # A bank card's number must not reach the reason: it names no digits at all.
    return card if card is not None else Refusal(REASON_FOREIGN_CARD)


# --------------------------------------------------------------------------------------------
# Vouchers
# --------------------------------------------------------------------------------------------

_VOUCHER_SYMBOLS: Final = 12  # 11 data symbols + 1 check symbol
_CONFUSABLE: Final = frozenset("01ILO")


def _parse_voucher(text: str) -> Voucher | Refusal | None:
    """A voucher, a reason, or None if the text does not look like a voucher at all.

    It looks like one if it starts "V-"/"V " or is V plus exactly 12 symbols once hyphens and
    spaces are dropped; case does not matter.
    """
    compact = text.replace("-", "").replace(" ", "")
    if not (text[1:2] in ("-", " ") or len(compact) == 1 + _VOUCHER_SYMBOLS):
        return None
    symbols = compact[1:]
    for char in symbols:
        upper = char.upper() if char.isascii() else char  # 'ſ'.upper() is 'S': ASCII only
        if upper not in VOUCHER_ALPHABET:
            return Refusal(_bad_voucher_char_reason(char))
    symbols = symbols.upper()
    if len(symbols) != _VOUCHER_SYMBOLS:
        return Refusal(
            f"voucher code has {len(symbols)} symbols after the V but needs {_VOUCHER_SYMBOLS}"
            " — check the voucher and key the code again"
        )
    if not voucher_code_valid(symbols):
        return Refusal(REASON_VOUCHER_CHECK)
    return Voucher(code=canonical_voucher(symbols))


def _bad_voucher_char_reason(char: str) -> str:
    shown = f"'{escape_char(char)}'"
    if char.isascii() and char.upper() in _CONFUSABLE:
        return (
            f"{shown} is never used in voucher codes (they have no 0, 1, I, L or O) — "
            "look again at that symbol on the voucher and key the code again"
        )
    return f"{shown} cannot be part of a voucher code — check the voucher and key the code again"


# --------------------------------------------------------------------------------------------
# Receipts
# --------------------------------------------------------------------------------------------

_RECEIPT_SHAPE: Final = re.compile(r"[Rr][^-]*-[^-]*-[^-]*", re.DOTALL)
_RECEIPT: Final = re.compile(
    r"R(?P<terminal>[A-Z0-9]{1,16})-(?P<seq>[1-9][0-9]{0,17})-(?P<cc>[0-9]{2})"
)


def _parse_receipt(text: str) -> ReceiptRef | Refusal | None:
    """A receipt reference, a reason, or None if the text is not shaped like R…-…-…."""
    if not _RECEIPT_SHAPE.fullmatch(text):
        return None
    # Upper-casing tolerates a scanner stuck in caps lock; only ASCII (see _parse_voucher).
    receipt = _RECEIPT.fullmatch(text.upper()) if text.isascii() else None
    if receipt is None:
        return Refusal(REASON_RECEIPT_DAMAGED)
    terminal, seq, check_digits = receipt.group("terminal", "seq", "cc")
    if not mod97_valid(f"R{terminal}-{seq}", check_digits):
        return Refusal(REASON_RECEIPT_CHECK)
    return ReceiptRef(terminal=terminal, seq=int(seq))
