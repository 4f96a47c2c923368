"""Campaign vouchers: "spend €50, get €5 off your next visit" (docs/rules.md, "Campaigns").

A campaign with a ``voucher`` gives every sale it qualifies for a single-use voucher, printed
on the receipt. The till decides at completion with the rules version it holds; HQ decides
again from the version the sale names and issues the same codes. Pure and integer-only: the
caller passes the store's wall-clock time, no I/O.

"Spend" is what the customer paid for the campaign's lines: the targeted lines that can earn
(the earn rules' exclusions — tobacco, gift cards, deposits — never count as spend), at their
proportional share of what was left to pay after the points discount, the vouchers and the
rewards (the same share :func:`shared.rules.rewards.reward_discount` uses). A €50 basket paid
€45 after a €5 voucher has spent €45.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from shared.bounds import MAX_TENDERS
from shared.money import Money
from shared.rules.basket import BasketLine
from shared.rules.model import Campaign, ProgramRules, VoucherOffer
from shared.rules.rewards import VoucherTerms, percent_text

__all__ = [
    "MAX_CAMPAIGN_VOUCHERS",
    "campaign_spend",
    "campaign_vouchers",
    "offer_terms",
    "offer_text",
]

MAX_CAMPAIGN_VOUCHERS = MAX_TENDERS
"""The most vouchers one sale is given (``Sale.campaign_vouchers`` holds no more): the first
qualifying campaigns in the rules' order."""


def campaign_spend(
    rules: ProgramRules, campaign: Campaign, lines: Sequence[BasketLine], paid_minor: int
) -> int:
    """What a sale of ``lines`` whose total after every order discount is ``paid_minor`` spent
    on ``campaign``'s lines: their share of ``paid_minor``, rounded down."""
    total = sum(line.net_minor for line in lines)
    if type(paid_minor) is not int or not 0 <= paid_minor <= total:
        raise ValueError(
            f"paid_minor must be an int from 0 to the basket's {total}, not {paid_minor!r}"
        )
    if total == 0:
        return 0
    targeted = sum(
        line.net_minor
        for line in lines
        if rules.earn.exclusion_reason(line.sku, line.category) is None
        and campaign.targets(line.sku, line.category)
    )
    return targeted * paid_minor // total


def offer_terms(offer: VoucherOffer, issued_on: date) -> VoucherTerms:
    """The voucher ``offer`` gives on ``issued_on``: usable from that day for ``valid_days``
    days (30 days issued on 1 March: the last day is 30 March)."""
    return VoucherTerms(
        value_minor=offer.value_minor or 0,
        percent_bp=offer.percent_bp,
        min_spend_minor=offer.min_spend_minor,
        expires_on=issued_on + timedelta(days=offer.valid_days - 1),
    )


def campaign_vouchers(
    rules: ProgramRules,
    lines: Sequence[BasketLine],
    store_id: str,
    local_time: datetime,
    paid_minor: int,
) -> list[tuple[Campaign, VoucherTerms]]:
    """The vouchers a sale of ``lines`` at ``store_id`` at ``local_time`` (the store's wall
    clock) earns, one per qualifying campaign with a voucher, in the rules' order.

    ``paid_minor``: the sale's total after the points discount, the vouchers and the rewards.
    A campaign qualifies when it is running (dates, weekdays, hours, stores), the sale spent
    something on its lines, and that spend reaches its ``min_spend_minor``. A member is not
    needed: whether the voucher is bound to one is the caller's business. At most
    :data:`MAX_CAMPAIGN_VOUCHERS`, the first in the rules' order.
    """
    issued: list[tuple[Campaign, VoucherTerms]] = []
    for campaign in rules.campaigns:
        if campaign.voucher is None or not campaign.is_running(store_id, local_time):
            continue
        spend = campaign_spend(rules, campaign, lines, paid_minor)
        if spend <= 0 or spend < campaign.min_spend_minor:
            continue
        issued.append((campaign, offer_terms(campaign.voucher, local_time.date())))
    return issued[:MAX_CAMPAIGN_VOUCHERS]


def offer_text(offer: VoucherOffer, currency: str) -> str:
    """What the voucher gives, for a receipt or a page: "€5.00 off", "10% off (at most
    €3.00)", with "with at least €20.00 spent" when it has a minimum."""
    if offer.percent_bp is not None:
        text = f"{percent_text(offer.percent_bp)} off"
        if offer.value_minor is not None:
            text += f" (at most {Money(offer.value_minor, currency).format()})"
    else:
        assert offer.value_minor is not None  # the model requires one of the two
        text = f"{Money(offer.value_minor, currency).format()} off"
    if offer.min_spend_minor:
        text += f" with at least {Money(offer.min_spend_minor, currency).format()} spent"
    return text
