"""Phone numbers (shared.phones): one key however a number is written, validation with a
clear message and an example, and the digits a search by the end of a number compares."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.phones import (
    _e164_key,
    example_phone,
    looks_like_phone,
    phone_key,
    phone_suffix,
    reversed_key,
    validate_phone,
)

# One German mobile number, as people write it.
SAME_NUMBER_DE = [
    "0170 1234567",
    "01701234567",
    "0170-123 45 67",
    "(0170) 1234567",
    "0170/1234567",
    "+49 170 1234567",
    "+49 (0)170 1234567",
    "+491701234567",
    "0049 170 1234567",
    "  +49-170-123-4567 ",
]


@pytest.mark.parametrize("written", SAME_NUMBER_DE)
def test_every_way_of_writing_a_number_is_one_key(written: str) -> None:
    assert phone_key(written, "DE") == "491701234567"
    assert validate_phone(written, "DE") == "+491701234567"
    assert phone_suffix(written, "DE") == "1701234567"


def test_without_a_country_only_international_numbers_are_placed() -> None:
    assert phone_key("+49 170 1234567", None) == "491701234567"
    assert phone_key("0049 170 1234567", None) == "491701234567"  # 00: the usual prefix
    # A national number without a country: its digits, kept as typed.
    assert phone_key("0170 123 4567", None) == "01701234567"
    assert validate_phone("0170 123 4567", None) == "01701234567"
    # Search by the end still finds either key: the trunk 0 is not compared.
    assert phone_suffix("0170 123 4567", None) == "1701234567"
    assert "491701234567".endswith(phone_suffix("0170 123 4567", None) or "-")


def test_the_country_decides_how_a_national_number_is_read() -> None:
    assert phone_key("601 234 567", "PL") == "48601234567"
    assert validate_phone("601 234 567", "pl") == "+48601234567"
    assert validate_phone("(201) 555-0123", "US") == "+12015550123"
    assert validate_phone("011 49 170 1234567", "US") == "+491701234567"  # US dials 011
    assert validate_phone("+44 7400 123456", "DE") == "+447400123456"  # + wins over the store


def test_keys_of_what_is_no_number() -> None:
    assert phone_key(None, "DE") is None
    assert phone_key("", "DE") is None
    assert phone_key("n/a", "DE") is None
    assert phone_key("+999 12345", None) == "99912345"  # no such country: digits
    assert phone_key("+49 170 1234567 ext. 12", None) == "491701234567"  # the extension aside
    assert phone_key("٠١٧٠ ١٢٣٤٥٦٧", "DE") == "491701234567"  # Arabic-Indic digits


def test_the_end_of_a_number_is_a_prefix_of_the_reversed_key() -> None:
    key = phone_key("+49 170 1234567", None)
    assert reversed_key(key) == "765432107194"
    assert reversed_key(None) is None
    for partial in ("4567", "234567", "1234567", "0170 1234567", "+49 170 1234567"):
        suffix = phone_suffix(partial, "DE")
        assert suffix is not None
        assert (reversed_key(key) or "").startswith(suffix[::-1]), partial


def test_too_few_digits_search_nothing_and_a_last_zero_counts() -> None:
    assert phone_suffix("567", "DE") is None
    assert phone_suffix("0104", None) == "0104"  # the last four digits, zero included
    assert phone_suffix("030 555 0104", None) == "305550104"


def test_what_looks_like_a_phone_number() -> None:
    assert looks_like_phone("+49 (170) 123-4567")
    assert looks_like_phone("4567")
    assert not looks_like_phone("anna")
    assert not looks_like_phone("anna 4567")
    assert not looks_like_phone("+-()")


@pytest.mark.parametrize(
    ("typed", "region", "says"),
    [
        ("0170 123", "DE", "The phone number 0170 123 is not a valid number in DE"),
        ("12", None, "The phone number 12 is too short"),
        ("1234567890123456", None, "The phone number 1234567890123456 is too long"),
        ("0170 12a4567", "DE", "The phone number 0170 12a4567 holds 'a'"),
        ("170+1234567", "DE", "has a + after its start"),
        ("+999 1234567", None, "has no known country code"),
        ("n/a", "DE", "has no digits"),
        ("+49 199 1234567", None, "is not a valid number in DE"),
    ],
)
def test_a_wrong_number_says_what_is_wrong_with_an_example(
    typed: str, region: str | None, says: str
) -> None:
    with pytest.raises(ValueError, match="e\\.g\\. ") as refused:
        validate_phone(typed, region)
    message = str(refused.value)
    assert says in message
    assert "\n" not in message


def test_examples_are_written_the_way_the_country_writes_them() -> None:
    assert example_phone("DE") == "01512 3456789 or +49 1512 3456789"
    assert example_phone(None) == "+49 170 1234567"
    assert validate_phone(example_phone("FR").split(" or ")[1], "FR").startswith("+33")


_GROUPS = st.lists(st.sampled_from([" ", "-", "", ".", "/"]), min_size=10, max_size=10)


@given(
    subscriber=st.integers(min_value=1_000_000, max_value=9_999_999),
    separators=_GROUPS,
    prefix=st.sampled_from(["0", "+49 ", "+49", "0049 ", "+49 (0)"]),
)
def test_formatting_variants_of_one_number_map_to_one_key(
    subscriber: int, separators: list[str], prefix: str
) -> None:
    """Any spacing, any of the ways to write the country, any grouping: one key, and the
    validated form is that key with a +."""
    digits = f"170{subscriber}"
    written = prefix + "".join(d + sep for d, sep in zip(digits, separators, strict=False))
    written += digits[len(separators) :]
    key = phone_key(written, "DE")
    assert key == f"49{digits}"
    assert validate_phone(written, "DE") == f"+{key}"
    assert phone_suffix(written, "DE") == digits
    assert phone_suffix(digits[-4:], "DE") == digits[-4:]  # the last four find it too


@given(st.text(max_size=40))
def test_any_text_gives_a_key_or_none_and_validation_never_crashes(text: str) -> None:
    key = phone_key(text, "DE")
    assert key is None or key.isdigit()
    try:
        stored = validate_phone(text, "DE")
    except ValueError as refused:
        message = str(refused)
    else:
        assert stored.startswith("+")
        assert stored[1:].isdigit()
        return
    assert message.startswith("The phone number")


def _parsed_key(text: str) -> str | None:
    """The key by a full parse (what phone_key's shortcut for E.164 text must agree with)."""
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return f"{number.country_code}{phonenumbers.national_significant_number(number)}"
    return "".join(ch for ch in text if ch.isdigit()) or None


@pytest.mark.parametrize(
    "text",
    ["+491701234567", "+4901701234567", "+390612345678", "+5491123456789", "+79123456789",
     "+78123456789", "+16502530000", "+11234567890", "+3606201234567", "+80012345678",
     "+9991234567"],
)  # fmt: skip
def test_e164_text_is_keyed_as_the_parser_keys_it(text: str) -> None:
    assert phone_key(text, None) == _parsed_key(text)
    assert phone_key(text, "DE") == _parsed_key(text)


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_any_e164_text_is_keyed_as_the_parser_keys_it(text: str) -> None:
    assert phone_key(text, None) == _parsed_key(text)


def test_international_numbers_are_keyed_without_a_full_parse() -> None:
    """A number in international form, with or without separators (how HQ's imports write
    them), is keyed from its digits: a pull of a million members parses none of them. One
    with a national prefix after the country code is left to the parser."""
    assert _e164_key("+49 151 00000001") == "4915100000001"
    assert _e164_key("+48 (601) 234-567") == "48601234567"
    assert _e164_key("+491701234567") == "491701234567"
    assert _e164_key("+49 (0)170 1234567") is None  # the trunk 0: the parser drops it
    assert phone_key("+49 (0)170 1234567", None) == "491701234567"
    assert _e164_key("+49 170 1234567 ext. 12") is None  # letters: the parser decides
    assert _e164_key("0049 170 1234567") is None


@given(
    country=st.sampled_from(["1", "7", "33", "39", "44", "48", "49", "353", "358", "999"]),
    digits=st.text(alphabet="0123456789", min_size=0, max_size=13),
    separators=st.lists(st.sampled_from(["", " ", "-", ".", "/", "(", ")", " (0) "]), max_size=14),
)
def test_the_fast_key_is_the_parsers_key(country: str, digits: str, separators: list[str]) -> None:
    written = "+" + "".join(
        ch + sep for ch, sep in zip(country + digits, separators + [""] * 20, strict=False)
    )
    fast = _e164_key(written)
    if fast is not None:
        assert fast == _parsed_key(written), written
