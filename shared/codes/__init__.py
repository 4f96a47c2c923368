"""Scanned codes: one parser for everything a till reads, plus the generators behind them.

``parse_scan(data, config, now_unix=...)`` classifies any text (barcode, magnetic stripe,
member QR, keyed number) into one of the result types below and never raises. The formats and
what each check scheme can and cannot detect are in docs/codes.md.
"""

from __future__ import annotations

from shared.codes.checks import (
    VOUCHER_ALPHABET,
    gtin_check_digit,
    gtin_valid,
    luhn_check_digit,
    luhn_valid,
    mod97_check_digits,
    mod97_valid,
    voucher_check_symbol,
    voucher_code_valid,
)
from shared.codes.config import CodeConfig
from shared.codes.generate import (
    card_number_from_serial,
    format_receipt_barcode,
    generate_card_number,
    generate_gift_card_number,
    generate_voucher_code,
    mask_card_number,
)
from shared.codes.member_qr import make_member_qr, member_qr_mac
from shared.codes.parser import parse_scan
from shared.codes.results import (
    CardEntry,
    GiftCard,
    LoyaltyCard,
    MemberQR,
    ParsedCode,
    Product,
    ReceiptRef,
    Symbology,
    Unrecognised,
    Voucher,
    safe_preview,
)

__all__ = [
    "VOUCHER_ALPHABET",
    "CardEntry",
    "CodeConfig",
    "GiftCard",
    "LoyaltyCard",
    "MemberQR",
    "ParsedCode",
    "Product",
    "ReceiptRef",
    "Symbology",
    "Unrecognised",
    "Voucher",
    "card_number_from_serial",
    "format_receipt_barcode",
    "generate_card_number",
    "generate_gift_card_number",
    "generate_voucher_code",
    "gtin_check_digit",
    "gtin_valid",
    "luhn_check_digit",
    "luhn_valid",
    "make_member_qr",
    "mask_card_number",
    "member_qr_mac",
    "mod97_check_digits",
    "mod97_valid",
    "parse_scan",
    "safe_preview",
    "voucher_check_symbol",
    "voucher_code_valid",
]
