"""Check-digit and check-character algorithms for every code the till reads.

Each scheme catches a known class of keying and scanning errors; docs/codes.md lists exactly
which. The ``*_valid`` functions never raise: they answer False for anything malformed, so the
parser can call them on untrusted input. The ``*_check_*`` functions compute a check value for
data the program itself produces and raise ValueError on bad input, because that is a bug in
the caller, not a bad scan.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "GTIN_LENGTHS",
    "MAX_VOUCHER_SYMBOLS",
    "VOUCHER_ALPHABET",
    "gtin_check_digit",
    "gtin_valid",
    "luhn_check_digit",
    "luhn_valid",
    "mod97_check_digits",
    "mod97_valid",
    "voucher_check_symbol",
    "voucher_code_valid",
    "voucher_symbols_valid",
]

_ASCII_DIGITS: Final = re.compile(r"[0-9]+")

# --------------------------------------------------------------------------------------------
# Luhn (ISO/IEC 7812-1), loyalty and gift card numbers
# --------------------------------------------------------------------------------------------


def _luhn_sum(digits: str, *, double_rightmost: bool) -> int:
    total = 0
    double = double_rightmost
    for char in reversed(digits):
        value = ord(char) - 48
        if double:
            value *= 2
            if value > 9:
                value -= 9
        total += value
        double = not double
    return total


def luhn_check_digit(digits: str) -> str:
    """The Luhn digit to append to ``digits`` (ASCII digits, possibly empty)."""
    if digits and not _ASCII_DIGITS.fullmatch(digits):
        raise ValueError("Luhn input must be ASCII digits")
    # The check digit will sit to the right, so the current rightmost digit gets doubled.
    return str((10 - _luhn_sum(digits, double_rightmost=True) % 10) % 10)


def luhn_valid(number: str) -> bool:
    """True if ``number`` is at least two ASCII digits whose last digit is its Luhn digit.

    Catches every single-digit substitution and every adjacent transposition except 09 <-> 90.
    """
    if len(number) < 2 or not _ASCII_DIGITS.fullmatch(number):
        return False
    return _luhn_sum(number, double_rightmost=False) % 10 == 0


# --------------------------------------------------------------------------------------------
# GS1 mod-10, EAN-13 / EAN-8 / UPC-A (and GTIN-14)
# --------------------------------------------------------------------------------------------

GTIN_LENGTHS: Final = frozenset({8, 12, 13, 14})


def _gtin_sum(digits: str, *, weight_rightmost: int) -> int:
    total = 0
    weight = weight_rightmost
    for char in reversed(digits):
        total += (ord(char) - 48) * weight
        weight = 4 - weight  # alternates 3, 1, 3, 1 ...
    return total


def gtin_check_digit(data: str) -> str:
    """The GS1 check digit for ``data`` (the GTIN without its last digit).

    Weights are 3, 1, 3, ... counted from the right of the data, i.e. the digit next to the
    check digit weighs 3.
    """
    if not _ASCII_DIGITS.fullmatch(data):
        raise ValueError("GTIN data must be ASCII digits")
    return str((10 - _gtin_sum(data, weight_rightmost=3) % 10) % 10)


def gtin_valid(digits: str) -> bool:
    """True if ``digits`` is an 8, 12, 13 or 14 digit GTIN with a correct check digit.

    Catches every single-digit substitution (3 and 1 are both invertible mod 10) and every
    adjacent transposition except of two digits that differ by 5 (the sum moves by 2*(a-b)).
    """
    if len(digits) not in GTIN_LENGTHS or not _ASCII_DIGITS.fullmatch(digits):
        return False
    return _gtin_sum(digits, weight_rightmost=1) % 10 == 0


# --------------------------------------------------------------------------------------------
# Voucher codes: weighted sum modulo the prime 31
# --------------------------------------------------------------------------------------------

VOUCHER_ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""31 symbols: digits and capitals without 0, 1, I, L and O, which people confuse."""

_VOUCHER_MODULUS: Final = len(VOUCHER_ALPHABET)
_VOUCHER_VALUE: Final = {symbol: value for value, symbol in enumerate(VOUCHER_ALPHABET)}
MAX_VOUCHER_SYMBOLS: Final = _VOUCHER_MODULUS - 1
"""Longest symbol string (data + check) the weight argument below holds for."""


def _voucher_weighted_sum(symbols: str) -> int:
    return sum(position * _VOUCHER_VALUE[symbol] for position, symbol in enumerate(symbols, 1))


def voucher_check_symbol(body: str) -> str:
    """The check symbol to append to ``body`` (uppercase symbols of :data:`VOUCHER_ALPHABET`).

    Symbol values v_i are alphabet indexes 0..30; weights are positions w_i = i (1-based) over
    the whole string including the check symbol; the check symbol makes
    sum(w_i * v_i) = 0 (mod 31).

    Why that detects every single substitution and every transposition, for strings of at most
    30 symbols (a voucher has 12):

    * 31 is prime, so Z/31 is a field: a product of two non-zero residues is never zero.
    * Substituting v by v' at position i changes the sum by i*(v' - v). Here 1 <= i <= 30, so
      i is non-zero mod 31; v != v' and both are in 0..30, so v' - v is non-zero mod 31.
      The product is non-zero: the sum is no longer 0, the error is detected.
    * Swapping a at position i with b at position j (a != b) changes the sum by
      (j - i)*(a - b). 0 < |j - i| < 31 and 0 < |a - b| < 31, so again non-zero. This covers
      adjacent transpositions (j = i + 1, the sum moves by exactly a - b) and jump ones.
    * It needs distinct, non-zero weights mod 31, which is why the length is capped at 30.
    """
    if not body or len(body) >= MAX_VOUCHER_SYMBOLS or not voucher_symbols_valid(body):
        raise ValueError(f"voucher body must be 1..{MAX_VOUCHER_SYMBOLS - 1} alphabet symbols")
    check_weight = len(body) + 1
    # Solve partial + check_weight * v = 0 (mod 31) for v.
    value = (-_voucher_weighted_sum(body) * pow(check_weight, -1, _VOUCHER_MODULUS)) % 31
    return VOUCHER_ALPHABET[value]


def voucher_symbols_valid(symbols: str) -> bool:
    """True if every character of ``symbols`` is an uppercase voucher symbol."""
    return all(symbol in _VOUCHER_VALUE for symbol in symbols)


def voucher_code_valid(symbols: str) -> bool:
    """True if ``symbols`` (data + check, 2..30 alphabet symbols) has a correct check symbol."""
    if not 2 <= len(symbols) <= MAX_VOUCHER_SYMBOLS or not voucher_symbols_valid(symbols):
        return False
    return _voucher_weighted_sum(symbols) % _VOUCHER_MODULUS == 0


# --------------------------------------------------------------------------------------------
# ISO/IEC 7064 MOD 97-10 with IBAN-style letter expansion, receipt barcodes
# --------------------------------------------------------------------------------------------

_MOD97_CHARS: Final = re.compile(r"[0-9A-Z-]+")
_MOD97_EXPANSION: Final = {
    **{digit: f"0{digit}" for digit in "0123456789"},
    **{letter: str(value) for value, letter in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10)},
    "-": "36",
}


def _mod97_number(text: str) -> int:
    """``text`` as one integer, every character as exactly two digits: 0..9 -> 00..09,
    A..Z -> 10..35, '-' -> 36.

    Unlike IBAN's mixed-width expansion (a digit as one digit, a letter as two), a fixed width
    means a substitution moves the number by (v' - v) * 100^k and an adjacent transposition by
    99 (a - b); both are non-zero mod the prime 97, so every such error is caught.
    """
    return int("".join(_MOD97_EXPANSION[char] for char in text))


def mod97_check_digits(text: str) -> str:
    """The two MOD 97-10 check digits for ``text`` (characters 0-9, A-Z and '-')."""
    if not _MOD97_CHARS.fullmatch(text):
        raise ValueError("MOD 97-10 input must be digits, capital letters and '-'")
    return f"{98 - (_mod97_number(text) * 100) % 97:02d}"


def mod97_valid(text: str, check_digits: str) -> bool:
    """True if ``check_digits`` are the MOD 97-10 check digits of ``text``."""
    if not _MOD97_CHARS.fullmatch(text) or len(check_digits) != 2:
        return False
    if not _ASCII_DIGITS.fullmatch(check_digits):
        return False
    return (_mod97_number(text) * 100 + int(check_digits)) % 97 == 1
