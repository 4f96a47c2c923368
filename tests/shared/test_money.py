from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import (
    CurrencyMismatchError,
    Money,
    Rounding,
    allocate,
    format_points,
    parse_ratio,
    round_fraction,
)


@pytest.mark.parametrize(
    ("value", "down", "half_up", "half_even"),
    [
        (Fraction(5, 2), 2, 3, 2),
        (Fraction(7, 2), 3, 4, 4),
        (Fraction(-5, 2), -2, -3, -2),
        (Fraction(249, 100), 2, 2, 2),
        (Fraction(251, 100), 2, 3, 3),
        (Fraction(999, 100), 9, 10, 10),
        (Fraction(4), 4, 4, 4),
    ],
)
def test_rounding_modes(value: Fraction, down: int, half_up: int, half_even: int) -> None:
    assert round_fraction(value, Rounding.DOWN) == down
    assert round_fraction(value, Rounding.HALF_UP) == half_up
    assert round_fraction(value, Rounding.HALF_EVEN) == half_even


@given(st.fractions(), st.sampled_from(list(Rounding)))
def test_rounding_is_within_one_and_symmetric(value: Fraction, mode: Rounding) -> None:
    rounded = round_fraction(value, mode)
    assert abs(rounded - value) < 1
    assert round_fraction(-value, mode) == -rounded
    if mode is not Rounding.DOWN:
        assert abs(rounded - value) <= Fraction(1, 2)


def test_parse_ratio_is_exact_and_refuses_floats_in_disguise() -> None:
    assert parse_ratio("1.5") == Fraction(3, 2)
    assert parse_ratio("3/2") == Fraction(3, 2)
    assert parse_ratio("0.1") == Fraction(1, 10)
    for bad in ("1e3", "-1", "abc", "1/0", "", "1.5.2"):
        with pytest.raises(ValueError, match=r".+"):
            parse_ratio(bad)


def test_money_parse_and_format() -> None:
    assert Money.parse("12.5", "EUR") == Money(1250, "EUR")
    assert Money.parse("-0.05", "EUR") == Money(-5, "EUR")
    assert Money.parse("1200", "JPY").format() == "¥1,200"
    assert Money(123456, "EUR").format() == "€1,234.56"
    assert Money(-50, "GBP").format() == "-£0.50"
    assert Money(300, "CHF").format() == "CHF 3.00"
    with pytest.raises(ValueError, match="more than 2 decimals"):
        Money.parse("1.234", "EUR")
    with pytest.raises(ValueError, match="unknown currency"):
        Money(1, "XXX")


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "EUR")
    with pytest.raises(CurrencyMismatchError):
        Money(1, "EUR") + Money(1, "USD")
    assert Money(250, "EUR") * 3 == Money(750, "EUR")
    assert Money(1000, "EUR").times(Fraction(19, 119), Rounding.HALF_UP) == Money(160, "EUR")


@given(st.integers(-(10**12), 10**12), st.sampled_from(["EUR", "JPY", "KWD"]))
def test_amount_text_round_trips(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.parse(money.amount_text().replace(",", ""), currency) == money


@given(
    st.integers(-(10**9), 10**9),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=20).filter(lambda w: sum(w) > 0),
)
def test_allocate_sums_exactly_and_is_proportional(total: int, weights: list[int]) -> None:
    shares = allocate(total, weights)
    assert sum(shares) == total
    weight_sum = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        assert abs(share - Fraction(total * weight, weight_sum)) < 1
        if weight == 0:
            assert share == 0


def test_format_points() -> None:
    assert format_points(1234) == "1,234 pts"
    assert format_points(1) == "1 pt"
    assert format_points(-50) == "-50 pts"
