"""Numbers and codes the program issues.

Pure: randomness comes in as a parameter. Production passes ``secrets.SystemRandom()`` (card
and voucher numbers must not be guessable); tests pass a seeded ``random.Random``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from shared.codes.checks import (
    VOUCHER_ALPHABET,
    luhn_check_digit,
    mod97_check_digits,
    voucher_check_symbol,
)
from shared.codes.config import CodeConfig
from shared.codes.results import canonical_voucher

if TYPE_CHECKING:
    import random

__all__ = [
    "MAX_RECEIPT_SEQ",
    "card_number_from_serial",
    "format_receipt_barcode",
    "generate_card_number",
    "generate_gift_card_number",
    "generate_voucher_code",
    "mask_card_number",
]

VOUCHER_DATA_SYMBOLS: Final = 11
MAX_RECEIPT_SEQ: Final = 10**18 - 1
_RECEIPT_TERMINAL: Final = re.compile(r"[A-Z0-9]{1,16}")


def _serial_digits(config: CodeConfig) -> int:
    """How many digits sit between the loyalty prefix and the check digit."""
    return config.card_length - len(config.card_prefix) - 1


def generate_card_number(config: CodeConfig, rng: random.Random) -> str:
    """A random, Luhn-valid loyalty card number in the configured range."""
    return card_number_from_serial(config, rng.randrange(10 ** _serial_digits(config)))


def card_number_from_serial(config: CodeConfig, serial: int) -> str:
    """prefix + zero-padded ``serial`` + Luhn digit: for pre-printed card batches."""
    width = _serial_digits(config)
    if not 0 <= serial < 10**width:
        raise ValueError(
            f"serial must be 0..{10**width - 1} to fit a {config.card_length}-digit card"
        )
    body = f"{config.card_prefix}{serial:0{width}d}"
    return body + luhn_check_digit(body)


def generate_gift_card_number(config: CodeConfig, rng: random.Random) -> str:
    """A random, Luhn-valid gift card number in the configured range."""
    width = config.gift_length - len(config.gift_prefix) - 1
    body = f"{config.gift_prefix}{rng.randrange(10**width):0{width}d}"
    return body + luhn_check_digit(body)


def generate_voucher_code(rng: random.Random) -> str:
    """A random voucher code in canonical form, ``V-XXXX-XXXX-XXXX``.

    11 random symbols carry 31**11 (about 2**54) possibilities; the 12th is the check symbol.
    """
    body = "".join(rng.choice(VOUCHER_ALPHABET) for _ in range(VOUCHER_DATA_SYMBOLS))
    return canonical_voucher(body + voucher_check_symbol(body))


def format_receipt_barcode(terminal: str, seq: int) -> str:
    """``R<terminal>-<seq>-<CC>``, CC being the ISO/IEC 7064 MOD 97-10 check digits."""
    if not _RECEIPT_TERMINAL.fullmatch(terminal):
        raise ValueError(f"terminal {terminal!r} must be 1-16 of A-Z and 0-9")
    if not 1 <= seq <= MAX_RECEIPT_SEQ:
        raise ValueError(f"seq must be 1..{MAX_RECEIPT_SEQ}")
    body = f"R{terminal}-{seq}"
    return f"{body}-{mod97_check_digits(body)}"


def mask_card_number(number: str, mask_char: str = "•") -> str:
    """A card number for receipts, only the last 4 digits shown: ``•••• •••• •••• 9012``.

    Grouped in fours from the right, so any length reads naturally. Spaces and hyphens in the
    input are ignored; anything else is a ValueError (a receipt must never echo raw input).
    """
    digits = re.sub(r"[ -]", "", number)
    if not re.fullmatch(r"[0-9]+", digits):
        raise ValueError("a card number has only digits, spaces and hyphens")
    if len(digits) <= 4:
        return mask_char * 4  # showing all of a short number would hide nothing
    shown = mask_char * (len(digits) - 4) + digits[-4:]
    groups = []
    while shown:
        groups.append(shown[-4:])
        shown = shown[:-4]
    return " ".join(reversed(groups))
