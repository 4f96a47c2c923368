"""E-mail addresses at enrolment (shared.emails): what real people's addresses look like
passes and is stored with the domain in lower case; typos are refused with a clear message
naming the problem and an example."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.emails import EXAMPLE_EMAIL, validate_email


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("anna.nowak@example.com", "anna.nowak@example.com"),
        ("Anna.Nowak@Example.COM", "Anna.Nowak@example.com"),  # the mailbox is the owner's
        ("  ana@example.org ", "ana@example.org"),
        ("o'brien+loyalty@mail.example.co.uk", "o'brien+loyalty@mail.example.co.uk"),
        ("a_b-c@sub-domain.example.de", "a_b-c@sub-domain.example.de"),
        ("józef@przykład.pl", "józef@przykład.pl"),  # internationalised, as SMTPUTF8
        ("x@xn--80ak6aa92e.xn--p1ai", "x@xn--80ak6aa92e.xn--p1ai"),
        ("1@2.io", "1@2.io"),
    ],
)
def test_real_addresses_pass_with_the_domain_lower_cased(typed: str, stored: str) -> None:
    assert validate_email(typed) == stored


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "is empty"),
        ("anna.example.com", "has no @"),
        ("anna@@example.com", "has more than one @"),
        ("anna@example", "has no domain ending after the @"),
        ("anna@example.c", "ends in .c, which is no domain ending"),
        ("anna@example.123", "ends in .123"),
        ("anna nowak@example.com", "has a space in it"),
        ("@example.com", "has nothing before the @"),
        ("anna@", "has nothing after the @"),
        (".anna@example.com", "a dot at the start or end of the name"),
        ("anna..nowak@example.com", "two in a row"),
        ("anna@example..com", "a dot at the start or end of the domain, or two in a row"),
        ("anna@example.com.", "a dot at the start or end of the domain"),
        ("anna@-example.com", "'-example' in its domain"),
        ("anna@exa_mple.com", "'exa_mple' in its domain"),
        ("anna,nowak@example.com", "holds ','"),
        ('"anna"@example.com', "holds '\"'"),
        ("anna@[192.168.0.1]", "in its domain"),
        ("a" * 65 + "@example.com", "more than 64 characters before the @"),
        ("a@" + "b" * 250 + ".com", "longer than 254 characters"),
    ],
)
def test_typos_are_refused_naming_the_problem(typed: str, says: str) -> None:
    with pytest.raises(ValueError, match=r"^The email") as refused:
        validate_email(typed)
    message = str(refused.value)
    assert says in message
    assert EXAMPLE_EMAIL in message
    assert "\n" not in message


@given(st.text(max_size=60))
def test_any_text_is_either_an_address_or_a_clear_refusal(text: str) -> None:
    try:
        stored = validate_email(text)
    except ValueError as refused:
        message = str(refused)
    else:
        local, domain = stored.split("@")
        assert local
        assert "." in domain
        assert domain == domain.lower()
        assert validate_email(stored) == stored  # stored form is stable
        return
    assert message.startswith("The email")
