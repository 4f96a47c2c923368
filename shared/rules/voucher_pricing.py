"""What a voucher with its own terms takes off a sale, limited to its categories.

The till prices a voucher with this and HQ checks a use with it, so the figure is the same on
both sides (docs/vouchers.md, "Reward vouchers"). Pure and integer-only.

Vouchers come after the points discount, each on what is left (``remaining``). Points are
spread over every line in proportion, so a category-limited voucher works on its lines'
share of what is left (rounded down), exactly as :func:`shared.rules.rewards.reward_discount`
does for a reward applied to the sale.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.rules.basket import BasketLine

__all__ = ["category_share", "terms_discount", "voucher_discount_on"]

_FULL_PERCENT_BP = 10_000


def terms_discount(value_minor: int, percent_bp: int | None, remaining_minor: int) -> int:
    """A fixed voucher takes ``min(value, remaining)``; a percentage voucher that share of
    ``remaining`` rounded down, capped by ``value_minor`` when it is not 0."""
    if remaining_minor <= 0:
        return 0
    if percent_bp is None:
        return min(value_minor, remaining_minor)
    share = remaining_minor * percent_bp // _FULL_PERCENT_BP
    if value_minor > 0:
        share = min(share, value_minor)
    return min(share, remaining_minor)


def _spend_on(lines: Sequence[BasketLine], categories: Sequence[str]) -> int:
    return sum(line.net_minor for line in lines if line.category in categories)


def category_share(
    lines: Sequence[BasketLine], remaining_minor: int, categories: Sequence[str] | None
) -> int:
    """The part of ``remaining_minor`` (what is left to pay) that falls on ``categories``'
    lines (``lines``: the sale's lines that are not returns); all of it when None."""
    total = sum(line.net_minor for line in lines)
    left = max(0, min(remaining_minor, total))
    if categories is None:
        return left
    if total <= 0:
        return 0
    return _spend_on(lines, categories) * left // total


def voucher_discount_on(
    lines: Sequence[BasketLine],
    remaining_minor: int,
    *,
    value_minor: int,
    percent_bp: int | None,
    min_spend_minor: int,
    categories: Sequence[str] | None,
) -> int:
    """What a voucher takes off: its terms on its categories' share of what is left; 0 when
    the sale spends less than its minimum on those categories (as a reward's minimum spend
    is on its categories)."""
    if categories is not None and _spend_on(lines, categories) < min_spend_minor:
        return 0
    return terms_discount(
        value_minor, percent_bp, category_share(lines, remaining_minor, categories)
    )
