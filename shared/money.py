"""Money in integer minor units, points as integers, and the rounding rules between them.

No float ever touches an amount (docs/design.md, invariant 6). Ratios such as "1.5 points per
euro" are exact :class:`fractions.Fraction` values parsed from decimal strings, and every
conversion to a whole number goes through :func:`round_fraction` with a named mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Final

__all__ = [
    "CURRENCIES",
    "Currency",
    "CurrencyMismatchError",
    "Money",
    "Rounding",
    "allocate",
    "format_points",
    "parse_ratio",
    "round_fraction",
]


class Rounding(StrEnum):
    """How a fractional amount becomes a whole number of points or minor units."""

    DOWN = "down"
    """Towards zero: 9.99 points earn 9. The usual loyalty choice (never over-issue)."""
    HALF_UP = "half_up"
    """Nearest; halves away from zero: 2.5 -> 3, -2.5 -> -3."""
    HALF_EVEN = "half_even"
    """Nearest; halves to the even neighbour (banker's rounding): 2.5 -> 2, 3.5 -> 4."""


def round_fraction(value: Fraction | int, mode: Rounding) -> int:
    """Round an exact rational to an integer with the named mode."""
    value = Fraction(value)
    if value.denominator == 1:
        return value.numerator
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole, remainder = divmod(magnitude.numerator, magnitude.denominator)
    twice = 2 * remainder
    if mode is Rounding.DOWN:
        result = whole
    elif twice > magnitude.denominator:
        result = whole + 1
    elif twice < magnitude.denominator:
        result = whole
    elif mode is Rounding.HALF_UP:
        result = whole + 1
    else:  # HALF_EVEN on an exact half
        result = whole + (whole % 2)
    return sign * result


_RATIO = re.compile(r"^\s*(\d+)(?:\.(\d+))?\s*$|^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_ratio(text: str) -> Fraction:
    """Parse a non-negative decimal ("1.5") or fraction ("3/2") string exactly.

    Program rules carry multipliers and rates as strings so that JSON never holds a float.
    """
    match = _RATIO.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a non-negative decimal like '1.5' or a ratio like '3/2'")
    whole, decimals, numerator, denominator = match.groups()
    if numerator is not None:
        if int(denominator) == 0:
            raise ValueError(f"{text!r} divides by zero")
        return Fraction(int(numerator), int(denominator))
    if decimals:
        return Fraction(int(whole + decimals), 10 ** len(decimals))
    return Fraction(int(whole))


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency: its code, how many minor units make a major one, its symbol."""

    code: str
    exponent: int
    symbol: str

    @property
    def minor_per_major(self) -> int:
        return int(10**self.exponent)


CURRENCIES: Final[dict[str, Currency]] = {
    c.code: c
    for c in (
        Currency("EUR", 2, "€"),
        Currency("USD", 2, "$"),
        Currency("GBP", 2, "£"),
        Currency("CHF", 2, "CHF "),
        Currency("SEK", 2, "kr "),
        Currency("NOK", 2, "kr "),
        Currency("DKK", 2, "kr "),
        Currency("PLN", 2, "zł "),
        Currency("CAD", 2, "$"),
        Currency("AUD", 2, "$"),
        Currency("JPY", 0, "¥"),
        Currency("KWD", 3, "KD "),
    )
}


class CurrencyMismatchError(ValueError):
    """Two amounts in different currencies were combined."""


def _currency(code: str) -> Currency:
    try:
        return CURRENCIES[code]
    except KeyError:
        known = ", ".join(sorted(CURRENCIES))
        raise ValueError(f"unknown currency {code!r}; known: {known}") from None


_AMOUNT = re.compile(r"^\s*(-)?\s*(\d+)(?:\.(\d*))?\s*$")


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount of one currency in integer minor units (cents, pence, yen)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass; a stray True must not become one cent.
        if type(self.minor) is not int:
            raise TypeError(f"Money.minor must be an int, not {type(self.minor).__name__}")
        _currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse a decimal amount typed by a person ("12.5" -> 1250 cents), exactly.

        More decimals than the currency has is an error rather than a silent rounding.
        """
        cur = _currency(currency)
        match = _AMOUNT.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not an amount like 12.50")
        negative, whole, decimals = match.groups()
        decimals = decimals or ""
        if len(decimals) > cur.exponent:
            raise ValueError(f"{text!r} has more than {cur.exponent} decimals for {cur.code}")
        minor = int(whole) * cur.minor_per_major + int(decimals.ljust(cur.exponent, "0") or "0")
        return cls(-minor if negative else minor, currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatchError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __mul__(self, quantity: int) -> Money:
        if type(quantity) is not int:
            raise TypeError("Money can only be multiplied by an int quantity")
        return Money(self.minor * quantity, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def __bool__(self) -> bool:
        return self.minor != 0

    def times(self, ratio: Fraction, mode: Rounding) -> Money:
        """Scale by an exact ratio (a tax rate, a share) and round with the named mode."""
        return Money(round_fraction(self.minor * ratio, mode), self.currency)

    def amount_text(self) -> str:
        """The plain decimal amount, "-12.34", with the currency's number of decimals."""
        cur = _currency(self.currency)
        sign = "-" if self.minor < 0 else ""
        whole, frac = divmod(abs(self.minor), cur.minor_per_major)
        if cur.exponent == 0:
            return f"{sign}{whole:,}"
        return f"{sign}{whole:,}.{frac:0{cur.exponent}d}"

    def format(self) -> str:
        """Receipt formatting: "€12.34", "-€0.50", "¥1,200", "CHF 3.00"."""
        cur = _currency(self.currency)
        text = self.amount_text()
        if text.startswith("-"):
            return f"-{cur.symbol}{text[1:]}"
        return f"{cur.symbol}{text}"

    def __str__(self) -> str:
        return self.format()


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split an integer ``total`` over ``weights`` in proportion, summing exactly to ``total``.

    Largest-remainder method: each share is rounded down, then the leftover units go to the
    largest fractional parts (earliest first on ties), so the split is deterministic. Used to
    spread an order-level discount over the lines it covers.
    """
    if any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total != 0:
            raise ValueError("cannot allocate a non-zero total over zero weights")
        return [0] * len(weights)
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    shares = [magnitude * w // weight_sum for w in weights]
    remainders = [magnitude * w % weight_sum for w in weights]
    leftover = magnitude - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        shares[i] += 1
    return [sign * s for s in shares]


def format_points(points: int) -> str:
    """Points for a receipt or screen: "1,234 pts", "-50 pts", "1 pt"."""
    unit = "pt" if abs(points) == 1 else "pts"
    return f"{points:,} {unit}"
