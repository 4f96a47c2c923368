"""Rewards: what a member can buy with points, what one takes off a sale, what voucher it issues.

The catalog is part of the program rules (:class:`shared.rules.model.Reward`), so the till and
HQ read the same version. These functions are pure and integer-only: no clock (the caller
passes the store's date), no I/O. docs/rules.md, "Rewards", has the semantics and a worked
example that a test runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import NamedTuple

from shared.money import Money, format_points
from shared.rules.basket import BasketLine
from shared.rules.model import ProgramRules, Reward

__all__ = [
    "VoucherTerms",
    "affordable",
    "percent_text",
    "purchase_refusal",
    "reward_discount",
    "reward_effect",
    "reward_refusal",
    "voucher_terms",
]

_FULL_PERCENT_BP = 10_000


class VoucherTerms(NamedTuple):
    """What the voucher a reward issues carries, as the ``vouchers`` table and
    :class:`shared.protocol.VoucherState` hold it.

    A free-product or bonus-multiplier voucher has ``value_minor`` 0 and no ``percent_bp``:
    what it does comes from its reward (the voucher's source names it, ``reward:<id>``).
    """

    value_minor: int
    """voucher_amount: the amount off; voucher_percent: the cap (0: none)."""
    percent_bp: int | None
    min_spend_minor: int
    expires_on: date
    """The last day it can be used, in the store's calendar."""


# ---------------------------------------------------------------------------------------------
# Buying


def purchase_refusal(
    reward: Reward,
    *,
    balance: int,
    tier: str | None,
    today: date,
    issued: int = 0,
) -> str | None:
    """Why a member cannot buy ``reward`` now (one sentence for the till), or None if they can.

    ``issued``: how many of this reward have been issued so far (counts against its stock).
    """
    if reward.starts is not None and today < reward.starts:
        return f"{reward.name} can be bought from {reward.starts.isoformat()}"
    if reward.ends is not None and today > reward.ends:
        return f"{reward.name} could be bought until {reward.ends.isoformat()}"
    if not reward.open_to(tier):
        return f"{reward.name} is only for tiers {', '.join(reward.tiers)}"
    if reward.stock is not None and issued >= reward.stock:
        return f"{reward.name} is sold out ({reward.stock:,} issued)"
    if balance < reward.points:
        return (
            f"{reward.name} costs {format_points(reward.points)}; "
            f"the balance is {format_points(balance)}"
        )
    return None


def affordable(
    rules: ProgramRules,
    *,
    balance: int,
    tier: str | None,
    today: date,
    issued: Mapping[str, int] | None = None,
) -> list[Reward]:
    """The rewards a member with ``balance`` points in ``tier`` can buy on ``today``: on sale,
    open to the tier, in stock, at most the balance; cheapest first (then by id).

    ``issued``: reward id -> how many have been issued so far (absent: none), for stock.
    """
    counts = issued or {}
    buyable = [
        reward
        for reward in rules.rewards
        if purchase_refusal(
            reward, balance=balance, tier=tier, today=today, issued=counts.get(reward.id, 0)
        )
        is None
    ]
    return sorted(buyable, key=lambda reward: (reward.points, reward.id))


# ---------------------------------------------------------------------------------------------
# Applying to a sale


def _applies_to(reward: Reward, line: BasketLine) -> bool:
    if reward.kind == "free_product":
        return line.sku == reward.sku
    return reward.categories is None or line.category in reward.categories


def _check_sale(lines: Sequence[BasketLine], subtotal_after_points: int) -> int:
    """The basket's total before the points discount, after checking the inputs."""
    total = sum(line.net_minor for line in lines)
    if type(subtotal_after_points) is not int or not 0 <= subtotal_after_points <= total:
        raise ValueError(
            f"subtotal_after_points must be an int from 0 to the basket's {total}, "
            f"not {subtotal_after_points!r}"
        )
    return total


def _spend(reward: Reward, lines: Sequence[BasketLine]) -> int:
    """What the sale spends on the lines the reward applies to, before the points discount
    (a free product's and a bonus multiplier's minimum spend is on the whole basket)."""
    if reward.kind == "voucher_amount" or reward.kind == "voucher_percent":
        return sum(line.net_minor for line in lines if _applies_to(reward, line))
    return sum(line.net_minor for line in lines)


def reward_discount(reward: Reward, lines: Sequence[BasketLine], subtotal_after_points: int) -> int:
    """What ``reward`` takes off a sale of ``lines`` (net of line discounts) whose total after
    the points discount is ``subtotal_after_points``; 0 when it does not apply.

    Points are redeemed first and spread over every line in proportion, so the reward works
    on its lines' share of what is left to pay (rounded down). The result is never negative,
    never more than that share (so never more than the basket), and never more than the
    reward's value or cap. A bonus multiplier takes nothing off: it multiplies points.
    """
    total = _check_sale(lines, subtotal_after_points)
    if reward.kind == "bonus_multiplier" or total == 0:
        return 0
    if _spend(reward, lines) < reward.min_spend_minor:
        return 0
    targeted = [line for line in lines if _applies_to(reward, line)]
    # The targeted lines' part of what is left to pay: never more than the subtotal.
    share = sum(line.net_minor for line in targeted) * subtotal_after_points // total
    if reward.kind == "voucher_amount":
        assert reward.value_minor is not None  # the model requires it for this kind
        return min(reward.value_minor, share)
    if reward.kind == "voucher_percent":
        assert reward.percent_bp is not None
        off = share * reward.percent_bp // _FULL_PERCENT_BP
        return off if reward.value_minor is None else min(off, reward.value_minor)
    # free_product: one unit, at the dearest unit price among its lines.
    unit_prices = [line.net_minor // line.quantity for line in targeted]
    return min(max(unit_prices, default=0), share)


def reward_refusal(
    reward: Reward,
    lines: Sequence[BasketLine],
    subtotal_after_points: int,
    *,
    currency: str,
) -> str | None:
    """Why ``reward`` takes nothing off this sale (one sentence for the till), or None when
    :func:`reward_discount` is above 0."""
    total = _check_sale(lines, subtotal_after_points)
    if reward.kind == "bonus_multiplier":
        return f"{reward.name} takes nothing off a sale: it multiplies the next visit's points"
    if reward.kind == "free_product" and not any(_applies_to(reward, line) for line in lines):
        return f"{reward.name}: add {reward.sku} to the sale first"
    spend = _spend(reward, lines)
    if spend < reward.min_spend_minor:
        on = f" on {', '.join(reward.categories)}" if reward.categories is not None else ""
        return (
            f"{reward.name} needs {Money(reward.min_spend_minor, currency).format()}{on}; "
            f"this sale has {Money(spend, currency).format()}"
        )
    if reward_discount(reward, lines, subtotal_after_points) > 0:
        return None
    if total and reward.categories is not None and spend == 0:
        return f"{reward.name} applies only to {', '.join(reward.categories)}: none in this sale"
    return f"{reward.name} takes nothing off: nothing is left to pay on its items"


# ---------------------------------------------------------------------------------------------
# Issuing a voucher


def voucher_terms(reward: Reward, issued_on: date) -> VoucherTerms:
    """The voucher ``reward`` issues on ``issued_on``: usable from that day for
    ``valid_days`` days (30 days issued on 1 March: the last day is 30 March)."""
    if reward.delivery != "voucher":
        raise ValueError(f"reward {reward.id} applies to the sale; it issues no voucher")
    value = reward.value_minor or 0
    percent = reward.percent_bp if reward.kind == "voucher_percent" else None
    if reward.kind in ("free_product", "bonus_multiplier"):
        value = 0
    return VoucherTerms(
        value_minor=value,
        percent_bp=percent,
        min_spend_minor=reward.min_spend_minor,
        expires_on=issued_on + timedelta(days=reward.valid_days - 1),
    )


# ---------------------------------------------------------------------------------------------
# In words


def percent_text(basis_points: int) -> str:
    """1000 -> "10%", 1250 -> "12.5%", 5 -> "0.05%" (exact)."""
    whole, rest = divmod(basis_points, 100)
    return f"{whole}.{rest:02d}".rstrip("0") + "%" if rest else f"{whole}%"


def reward_effect(reward: Reward, currency: str, product_name: str | None = None) -> str:
    """What the reward gives, for a till's list and HQ's summary: "€5.00 off",
    "10% off bakery (at most €3.00)", "a free OAT-MILK", "×2 points on the next visit".

    ``product_name``: a free product's name from the catalog, said instead of its SKU."""
    on = f" {', '.join(reward.categories)}" if reward.categories is not None else ""
    if reward.kind == "voucher_amount":
        assert reward.value_minor is not None
        text = f"{Money(reward.value_minor, currency).format()} off{on}"
    elif reward.kind == "voucher_percent":
        assert reward.percent_bp is not None
        text = f"{percent_text(reward.percent_bp)} off{on}"
        if reward.value_minor is not None:
            text += f" (at most {Money(reward.value_minor, currency).format()})"
    elif reward.kind == "free_product":
        text = f"a free {product_name or reward.sku}"
    else:
        text = f"×{reward.multiplier} points on the next visit"
    if reward.min_spend_minor:
        text += f" with at least {Money(reward.min_spend_minor, currency).format()} spent"
    return text
