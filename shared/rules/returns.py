"""Returns: the points a refund takes back, and the redeemed points it gives back.

Each share is computed *telescopically*: with ``f(x) = floor(points * x / net)`` for ``x``
refunded so far, a refund moving the cumulative amount from ``before`` to ``after`` reverses
``f(after) - f(before)``. Because ``f`` is monotone and ``f(net) == points``, any sequence of
partial returns never reverses more than was earned and a complete return reverses exactly
that, whatever the order or size of the pieces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from shared.money import allocate, format_points
from shared.rules._fields import FrozenModel, InvariantError, Name, NonNegativeInt, PositiveInt
from shared.rules.basket import BasketLine
from shared.rules.earn import EarnResult

__all__ = ["LineReversal", "OrderItemReversal", "ReturnReversal", "compute_return_reversal"]


class LineReversal(FrozenModel):
    """What one line's refund takes back (earned points) and gives back (redeemed points)."""

    line_no: NonNegativeInt
    sku: Name
    net_minor: NonNegativeInt
    refunded_before_minor: NonNegativeInt
    refunded_now_minor: NonNegativeInt
    points_reversed: NonNegativeInt
    points_restored: NonNegativeInt


class OrderItemReversal(FrozenModel):
    """The part of an order-level bonus (visit bonus, campaign bonus) the refund takes back."""

    kind: Literal["per_order", "campaign", "reward"]
    label: str
    campaign_id: str | None = None
    points_reversed: NonNegativeInt


class ReturnReversal(FrozenModel):
    """The points effect of one return; embedded verbatim in the journal entry for it."""

    program_id: str
    rules_version: PositiveInt
    points_reversed: NonNegativeInt
    """Earned points taken back from the member."""
    points_restored: NonNegativeInt
    """Points the member had redeemed on the sale, given back."""
    lines: tuple[LineReversal, ...]
    order_items: tuple[OrderItemReversal, ...]
    fully_returned: bool
    """Whether, with this return, every line has been refunded in full."""

    def check_totals(self) -> None:
        """Raise :class:`InvariantError` unless the parts add up to the totals."""
        reversed_parts = sum(line.points_reversed for line in self.lines) + sum(
            item.points_reversed for item in self.order_items
        )
        if reversed_parts != self.points_reversed:
            raise InvariantError(
                f"reversal breakdown sums to {reversed_parts} points "
                f"but the total says {self.points_reversed}"
            )
        restored_parts = sum(line.points_restored for line in self.lines)
        if restored_parts != self.points_restored:
            raise InvariantError(
                f"restored breakdown sums to {restored_parts} points "
                f"but the total says {self.points_restored}"
            )
        for line in self.lines:
            if line.refunded_before_minor + line.refunded_now_minor > line.net_minor:
                raise InvariantError(f"line {line.line_no} is refunded beyond its net amount")

    def summary_lines(self) -> tuple[str, ...]:
        """Short receipt lines for the return."""
        rows = [f"Points reversed: {format_points(-self.points_reversed)}"]
        if self.points_restored:
            rows.append(f"Points restored: {format_points(self.points_restored)}")
        return tuple(rows)


def compute_return_reversal(
    original: EarnResult,
    original_lines: Sequence[BasketLine],
    already_returned: Mapping[int, int],
    returning: Mapping[int, int],
    *,
    redeemed_points: int = 0,
) -> ReturnReversal:
    """The points to reverse and restore for refunding ``returning`` of a sale.

    Both maps go from line number to an amount of that line's ``net_minor`` (the value of
    the units handed back, before any order discount): ``already_returned`` is the total
    refunded by earlier returns, ``returning`` is refunded now. ``redeemed_points`` is what
    the member redeemed on the sale; it comes back in proportion to the refunded share of
    the whole basket.

    Earned points come back per line; order-level bonuses come back in proportion to the
    refunded share of the lines that earned (refunding an excluded gift card takes nothing).
    """
    original.check_totals()
    _check_same_sale(original, original_lines)
    nets = {line.line_no: line.net_minor for line in original_lines}
    before = _cumulative("already_returned", already_returned, nets)
    now = _cumulative("returning", returning, nets)
    for line_no, net in nets.items():
        if before[line_no] + now[line_no] > net:
            raise ValueError(
                f"line {line_no}: refunding {now[line_no]} after {before[line_no]} already "
                f"refunded is more than the {net} sold (minor units)"
            )
    if type(redeemed_points) is not int or redeemed_points < 0:
        raise ValueError(f"redeemed_points must be an int >= 0, not {redeemed_points!r}")
    total_net = sum(nets.values())
    if redeemed_points and not total_net:
        raise ValueError("points were redeemed on a sale with no net amount; cannot apportion")
    redeemed_shares = allocate(redeemed_points, list(nets.values()))

    lines = []
    for earned, redeemed in zip(original.lines, redeemed_shares, strict=True):
        no, net = earned.line_no, earned.net_minor
        lines.append(
            LineReversal(
                line_no=no,
                sku=earned.sku,
                net_minor=net,
                refunded_before_minor=before[no],
                refunded_now_minor=now[no],
                points_reversed=_telescoped(earned.points, before[no], now[no], net),
                points_restored=_telescoped(redeemed, before[no], now[no], net),
            )
        )

    # Order-level bonuses were earned by the lines that earn, so only their refunds count.
    earning = [line.line_no for line in original.lines if line.excluded_reason is None]
    earning_net = sum(nets[no] for no in earning)
    earning_before = sum(before[no] for no in earning)
    earning_now = sum(now[no] for no in earning)
    order_items = tuple(
        OrderItemReversal(
            kind=item.kind,
            label=item.label,
            campaign_id=item.campaign_id,
            points_reversed=_telescoped(item.points, earning_before, earning_now, earning_net),
        )
        for item in original.order_items
    )

    result = ReturnReversal(
        program_id=original.program_id,
        rules_version=original.rules_version,
        points_reversed=sum(r.points_reversed for r in lines)
        + sum(i.points_reversed for i in order_items),
        points_restored=sum(r.points_restored for r in lines),
        lines=tuple(lines),
        order_items=order_items,
        fully_returned=all(before[no] + now[no] == net for no, net in nets.items()),
    )
    result.check_totals()
    return result


def _telescoped(points: int, before: int, now: int, whole: int) -> int:
    """The part of ``points`` that moving the refunded amount from before to before+now frees."""
    if whole == 0:
        if points:
            raise ValueError(f"{points} points were earned on nothing; cannot apportion them")
        return 0
    # Floor division of non-negative ints is round-down, and f(whole) == points exactly.
    return points * (before + now) // whole - points * before // whole


def _check_same_sale(original: EarnResult, original_lines: Sequence[BasketLine]) -> None:
    sold = [(line.line_no, line.sku, line.net_minor) for line in original_lines]
    earned = [(line.line_no, line.sku, line.net_minor) for line in original.lines]
    if sold != earned:
        raise ValueError(
            "original_lines do not match the lines of the original earn result "
            "(line numbers, SKUs and net amounts must be the same, in the same order)"
        )


def _cumulative(name: str, amounts: Mapping[int, int], nets: Mapping[int, int]) -> dict[int, int]:
    if unknown := sorted(set(amounts) - set(nets)):
        raise ValueError(f"{name} names lines that are not in the sale: {unknown}")
    for line_no, amount in amounts.items():
        if type(amount) is not int or amount < 0:
            raise ValueError(f"{name}[{line_no}] must be an int >= 0, not {amount!r}")
    return {line_no: amounts.get(line_no, 0) for line_no in nets}
