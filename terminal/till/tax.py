"""Tax contained in tax-inclusive prices, after any order discount."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

from shared.money import Rounding, allocate, round_fraction

__all__ = ["included_tax", "tax_by_rate"]


def included_tax(gross_minor: int, rate_bp: int) -> int:
    """Tax contained in a tax-inclusive amount: gross x rate / (1 + rate), half-up."""
    return round_fraction(Fraction(gross_minor * rate_bp, 10_000 + rate_bp), Rounding.HALF_UP)


def tax_by_rate(lines: list[tuple[int, int]], discount_minor: int) -> dict[int, tuple[int, int]]:
    """(net, rate_bp) lines less an order discount → {rate_bp: (gross, tax)}.

    The discount is spread over the lines in proportion (exactly, largest remainder), so the
    tax summary's gross adds up to what the customer paid and tax is due only on that.
    """
    shares = allocate(discount_minor, [net for net, _ in lines]) if lines else []
    gross: dict[int, int] = defaultdict(int)
    for (net, rate), share in zip(lines, shares, strict=True):
        gross[rate] += net - share
    return {rate: (amount, included_tax(amount, rate)) for rate, amount in sorted(gross.items())}
