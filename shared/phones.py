"""Phone numbers: one search key however a number is written, validation at enrolment, and
the digits a search by the end of a number compares.

Google's libphonenumber (the ``phonenumbers`` package) does the parsing: "0170 1234567" in a
German store, "+49 170 1234567", "0049 (170) 123-4567" are all the key ``491701234567`` (E.164
without the plus). ``region`` is an ISO 3166 alpha-2 code (the store's country); without one,
a number that starts with neither + nor 00 cannot be placed in a country and is keyed by its
digits only.

Search compares the *end* of a number: a query's national significant number (or, when the
query is not a whole number, its digits, less a trunk 0 or a 00) must end the stored key. So
"4567" finds …1234567, and a whole number finds its member whether the member's key was made
with a country (``491701234567``) or without one (``01701234567``). The databases store the
key reversed, so "ends with" is an index range on a prefix (:func:`reversed_key`).
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberFormat,
    PhoneNumberType,
)
from phonenumbers import ValidationResult as Why

__all__ = [
    "MIN_SUFFIX_DIGITS",
    "example_phone",
    "looks_like_phone",
    "phone_key",
    "phone_suffix",
    "reversed_key",
    "validate_phone",
]

MIN_SUFFIX_DIGITS = 4
"""The fewest digits a search by the end of a number takes ("4567")."""

_MIN_DIGITS, _MAX_DIGITS = 6, 15
"""A number without a country: E.164 allows at most 15 digits; fewer than 6 is no number."""

# What people type in a phone number: digits, one leading +, and the separators of the
# world's ways of writing them. Letters (vanity numbers, "ext. 12") are refused at enrolment.
_SEPARATORS = " -./()"
_PHONE_TEXT = re.compile(r"^\+?[\d \-./()]+$")


def _digits(text: str) -> str:
    # Any script's decimal digits ("٠١٧٠" too), as ASCII.
    return "".join(str(int(ch)) for ch in text if ch.isdecimal())


def _parse(raw: str, region: str | None) -> PhoneNumber | None:
    text = raw.strip()
    if region is None:
        # 00 is the international prefix nearly everywhere; without a country it is the
        # only way to read "0049 170 …".
        if text.startswith("00"):
            text = "+" + text[2:]
        if not text.startswith("+"):
            return None
    try:
        return phonenumbers.parse(text, region.upper() if region else None)
    except NumberParseException:
        return None


_E164 = re.compile(r"\+[0-9 \-./()]+")
"""An international number written with ASCII digits and the usual separators only
("+491701234567", how enrolment stores it, or "+49 170 1234567")."""

_SEPARATOR_TABLE = str.maketrans("", "", _SEPARATORS)

_E164_DIGITS = re.compile(r"[1-9][0-9]{6,14}")


@functools.cache
def _national_prefix(code: int) -> re.Pattern[str] | None:
    """The national prefix a parse would strip after country code ``code`` (None: none)."""
    region = phonenumbers.region_code_for_country_code(code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    prefix = metadata.national_prefix_for_parsing if metadata else None
    return re.compile(prefix) if prefix else None


def _e164_key(text: str) -> str | None:
    """The key of a number already written in international form ("+491701234567", how
    enrolment stores it, or "+49 170 1234567"), without a full parse (the slow part of keying
    a pull of a million members): its digits, unless the country's national prefix could be
    stripped after the country code ("+4901701234567", "+49 (0)170 …"), which only the parser
    decides. None: parse it."""
    if _E164.fullmatch(text) is None:
        return None
    digits = text[1:].translate(_SEPARATOR_TABLE)
    if _E164_DIGITS.fullmatch(digits) is None:
        return None
    for size in (1, 2, 3):  # country codes are prefix-free: the first known one is it
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            prefix = _national_prefix(code)
            stripped = prefix.match(digits[size:]) if prefix else None
            return digits if stripped is None or stripped.end() == 0 else None
    return None


def phone_key(raw: str | None, region: str | None) -> str | None:
    """The number as E.164 digits ("491701234567"), or its digits only when it cannot be
    placed in a country; None when it has no digits."""
    if raw is None:
        return None
    fast = _e164_key(raw.strip())
    if fast is not None:
        return fast
    number = _parse(raw, region)
    if number is not None and phonenumbers.is_possible_number(number):
        return f"{number.country_code}{phonenumbers.national_significant_number(number)}"
    return _digits(raw) or None


def reversed_key(key: str | None) -> str | None:
    """What the databases index: the key backwards, so its end is a prefix."""
    return key[::-1] if key else None


def looks_like_phone(text: str) -> bool:
    """Only what a phone number is written with, and at least one digit."""
    return bool(_PHONE_TEXT.fullmatch(text.strip())) and any(ch.isdecimal() for ch in text)


def phone_suffix(query: str, region: str | None) -> str | None:
    """The digits a member's key must end with to match ``query``: a whole number's national
    significant number, else the digits typed — without leading zeros when what is left is
    a whole number (a trunk 0 or an international 00 is never part of a stored key's end).
    None below :data:`MIN_SUFFIX_DIGITS` digits."""
    number = _parse(query, region)
    if number is not None and phonenumbers.is_valid_number(number):
        suffix = phonenumbers.national_significant_number(number)
    else:
        digits = _digits(query)
        national = digits.lstrip("0")
        # "0170 1234567" is a whole number with its trunk 0; "0104" is a number's last digits.
        suffix = national if len(national) >= _MIN_DIGITS else digits
    return suffix if len(suffix) >= MIN_SUFFIX_DIGITS else None


def example_phone(region: str | None) -> str:
    """A mobile number as people write it in ``region`` and with its country code."""
    number = (
        phonenumbers.example_number_for_type(region.upper(), PhoneNumberType.MOBILE)
        if region
        else None
    )
    if number is None:
        return "+49 170 1234567"
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    return f"{national} or {international}"


def validate_phone(raw: str, region: str | None) -> str:
    """The number in E.164 ("+491701234567"), or a ValueError saying what is wrong with an
    example. Without a country, a number without + or 00 is kept as its digits."""
    text = raw.strip()
    example = f"e.g. {example_phone(region)}"
    if not any(ch.isdecimal() for ch in text):
        raise ValueError(f"The phone number {text!r} has no digits, {example}")
    if not _PHONE_TEXT.fullmatch(text):
        odd = next((ch for ch in text if not (ch.isdecimal() or ch in _SEPARATORS)), "+")
        if odd == "+":
            raise ValueError(f"The phone number {text} has a + after its start, {example}")
        raise ValueError(
            f"The phone number {text} holds {odd!r}: type digits, spaces and dashes, {example}"
        )
    digits = _digits(text)
    if region is None and not text.startswith(("+", "00")):
        if len(digits) < _MIN_DIGITS:
            raise ValueError(f"The phone number {text} is too short, {example}")
        if len(digits) > _MAX_DIGITS:
            raise ValueError(f"The phone number {text} is too long, {example}")
        return digits
    number = _parse(text, region)
    if number is None:
        if text.startswith(("+", "00")):
            raise ValueError(f"The phone number {text} has no known country code, {example}")
        raise ValueError(f"The phone number {text} is not a number we can read, {example}")
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    why = phonenumbers.is_possible_number_with_reason(number)
    if why == Why.INVALID_COUNTRY_CODE:
        problem = "has no known country code"
    elif why == Why.TOO_SHORT:
        problem = "is too short"
    elif why == Why.TOO_LONG:
        problem = "is too long"
    else:
        place = phonenumbers.region_code_for_number(number) or region or "its country"
        problem = f"is not a valid number in {place} (check the digits)"
    raise ValueError(f"The phone number {text} {problem}, {example}")
