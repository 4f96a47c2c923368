"""Redemption: how many points a member may use on a basket, and what they are worth.

Every limit is checked here, once, so the till can show the cashier one clear sentence when a
redemption is not possible, together with the most that is.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from shared.money import Money, format_points
from shared.rules._fields import FrozenModel, NonNegativeInt, PositiveInt
from shared.rules.model import ProgramRules

__all__ = ["RedemptionQuote", "RedemptionRefusal", "RefusalCode", "plan_redemption"]


class RefusalCode(StrEnum):
    """Why a redemption was refused, for code; the refusal's ``reason`` is for people."""

    NOT_POSITIVE = "not_positive"
    NOT_A_STEP = "not_a_step"
    BELOW_MINIMUM = "below_minimum"
    OVER_BALANCE = "over_balance"
    OVER_TRANSACTION_MAX = "over_transaction_max"
    OVER_BASKET_CAP = "over_basket_cap"
    NOTHING_TO_REDEEM = "nothing_to_redeem"


class RedemptionQuote(FrozenModel):
    """Use ``points`` for a discount of exactly ``discount_minor``."""

    kind: Literal["quote"] = "quote"
    points: PositiveInt
    discount_minor: PositiveInt


class RedemptionRefusal(FrozenModel):
    """The redemption cannot go ahead; ``max_points`` is the most that could (0 = none)."""

    kind: Literal["refusal"] = "refusal"
    code: RefusalCode
    reason: str
    max_points: NonNegativeInt
    max_discount_minor: NonNegativeInt


def plan_redemption(
    rules: ProgramRules,
    *,
    balance: int,
    basket_total_minor: int,
    requested_points: int | None = None,
) -> RedemptionQuote | RedemptionRefusal:
    """Quote a redemption of ``requested_points``, or of as many as allowed when None.

    Points are redeemed in multiples of the step and never exceed the balance, the
    per-transaction maximum or the share of the basket the program allows. A negative
    balance (an offline overdraft) simply has nothing to redeem.
    """
    if type(basket_total_minor) is not int or basket_total_minor < 0:
        raise ValueError(f"basket_total_minor must be an int >= 0, not {basket_total_minor!r}")
    if type(balance) is not int:
        raise ValueError(f"balance must be an int, not {balance!r}")
    limits = _Limits(rules, balance, basket_total_minor)

    if requested_points is None:
        if limits.max_points < limits.smallest:
            return limits.refuse(*limits.why_nothing())
        return limits.quote(limits.max_points)

    if type(requested_points) is not int:
        raise ValueError(f"requested_points must be an int or None, not {requested_points!r}")
    checks = (
        (requested_points <= 0, RefusalCode.NOT_POSITIVE, "Enter a positive number of points."),
        (
            requested_points % limits.step != 0,
            RefusalCode.NOT_A_STEP,
            f"Points are redeemed in steps of {format_points(limits.step)}; "
            f"{format_points(requested_points)} is not a multiple.",
        ),
        (
            requested_points < limits.min_points,
            RefusalCode.BELOW_MINIMUM,
            f"The minimum redemption is {format_points(limits.min_points)}.",
        ),
        (
            requested_points > limits.available,
            RefusalCode.OVER_BALANCE,
            f"The member has only {format_points(limits.available)}.",
        ),
        (
            requested_points > limits.transaction_max,
            RefusalCode.OVER_TRANSACTION_MAX,
            f"At most {format_points(limits.transaction_max)} can be redeemed per transaction.",
        ),
        (
            requested_points > limits.basket_cap_points,
            RefusalCode.OVER_BASKET_CAP,
            limits.basket_cap_sentence(),
        ),
    )
    for failed, code, reason in checks:
        if failed:
            return limits.refuse(code, reason)
    return limits.quote(requested_points)


class _Limits:
    """The caps that apply to one member and one basket, in points."""

    def __init__(self, rules: ProgramRules, balance: int, basket_total_minor: int) -> None:
        redemption = rules.redemption
        self.rules = rules
        self.step = redemption.step
        self.min_points = redemption.min_points
        self.smallest = redemption.smallest_redemption
        self.available = max(balance, 0)
        self.basket_total_minor = basket_total_minor
        self.basket_cap_minor = basket_total_minor * redemption.max_basket_percent // 100
        # The most points whose discount stays within the basket cap (rounded down).
        self.basket_cap_points = self.basket_cap_minor * redemption.points // redemption.value_minor
        self.transaction_max = redemption.max_points_per_transaction or self.available
        largest = min(self.available, self.transaction_max, self.basket_cap_points)
        self.max_points = largest // self.step * self.step

    def money(self, minor: int) -> str:
        return Money(minor, self.rules.currency).format()

    def discount(self, points: int) -> int:
        return self.rules.redemption.discount_minor(points)

    def quote(self, points: int) -> RedemptionQuote:
        return RedemptionQuote(points=points, discount_minor=self.discount(points))

    def refuse(self, code: RefusalCode, reason: str) -> RedemptionRefusal:
        possible = self.max_points if self.max_points >= self.smallest else 0
        if possible:
            reason += f" Up to {format_points(possible)} ({self.money(self.discount(possible))})."
        return RedemptionRefusal(
            code=code,
            reason=reason,
            max_points=possible,
            max_discount_minor=self.discount(possible),
        )

    def basket_cap_sentence(self) -> str:
        percent = self.rules.redemption.max_basket_percent
        share = "the basket" if percent == 100 else f"{percent}% of the basket"
        return (
            f"The discount may be at most {share} ({self.money(self.basket_cap_minor)}), "
            f"which is {format_points(self.basket_cap_points)}."
        )

    def why_nothing(self) -> tuple[RefusalCode, str]:
        """Name the limit that leaves less than the minimum (or nothing) to redeem."""
        binding = min(self.available, self.transaction_max, self.basket_cap_points)
        if self.available == binding:
            if self.available == 0:
                return RefusalCode.NOTHING_TO_REDEEM, "The member has no points to redeem."
            return (
                RefusalCode.BELOW_MINIMUM,
                f"The member has {format_points(self.available)}; "
                f"redeeming needs at least {format_points(self.smallest)}.",
            )
        if self.basket_cap_points == binding:
            if self.basket_total_minor == 0:
                return RefusalCode.NOTHING_TO_REDEEM, "The basket is empty."
            return (
                RefusalCode.OVER_BASKET_CAP,
                self.basket_cap_sentence()
                + f" Redeeming needs at least {format_points(self.smallest)}.",
            )
        # Validation guarantees the transaction maximum allows the smallest redemption, so
        # it can never be the only reason nothing is redeemable.
        raise AssertionError("unreachable: the transaction maximum always allows a redemption")
