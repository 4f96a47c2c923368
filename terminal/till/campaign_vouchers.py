"""Campaign vouchers issued at the till: "spend €50, get €5 off your next visit"
(docs/till-rewards.md, "Campaign vouchers").

At completion, inside the sale's write transaction, the till asks
``shared.rules.campaign_vouchers`` which campaigns the sale qualifies for with the rules it
holds (what the customer paid, after the points, vouchers and rewards), generates a code for
each, journals them on the sale (``Sale.campaign_vouchers``), makes each known to this till's
``vouchers`` table at once (bound to the member if the sale has one, so it can be used here
on the next visit even before HQ hears of it) and prints it on the receipt with its barcode
and expiry. A void of the sale voids them here (terminal/till/returning.py); a return does
not (the voucher was given for the visit, like points spent on a reward).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime

import sqlite_utils

from shared.codes import generate_voucher_code
from shared.journal.payloads import CampaignVoucher
from shared.rules import BasketLine, ProgramRules
from shared.rules.campaign_vouchers import campaign_vouchers, offer_terms
from shared.rules.model import Campaign
from terminal.store.stored_value import know_issued_voucher

__all__ = ["decide_campaign_vouchers", "find_campaign", "record_campaign_vouchers"]


def find_campaign(rules: ProgramRules, campaign_id: str) -> Campaign | None:
    return next((c for c in rules.campaigns if c.id == campaign_id), None)


def decide_campaign_vouchers(
    rules: ProgramRules | None,
    lines: Sequence[BasketLine],
    store_id: str,
    local_time: datetime,
    paid_minor: int,
) -> tuple[CampaignVoucher, ...]:
    """The campaign vouchers this sale earns, each with a new code (none without rules)."""
    if rules is None:
        return ()
    # Lines with a negative net are left out of the earn lines; what was paid is then at
    # most what the lines left in are worth (HQ decides on the same: ledger/campaign_vouchers).
    paid = min(paid_minor, sum(line.net_minor for line in lines))
    rng = random.SystemRandom()
    return tuple(
        CampaignVoucher(
            campaign_id=campaign.id,
            rules_version=rules.version,
            voucher_code=generate_voucher_code(rng),
        )
        for campaign, _ in campaign_vouchers(rules, lines, store_id, local_time, paid)
    )


def record_campaign_vouchers(
    db: sqlite_utils.Database,
    issued: Sequence[CampaignVoucher],
    rules: ProgramRules,
    member_id: str | None,
    today: date,
) -> None:
    """After the sale is journaled (same transaction): make each voucher known to this till,
    bound to ``member_id`` (HQ's id, or the local key of a member HQ has not numbered; None:
    unbound, anyone holding the paper can use it)."""
    for voucher in issued:
        campaign = find_campaign(rules, voucher.campaign_id)
        # Decided from these rules a moment ago, in the same transaction.
        assert campaign is not None
        assert campaign.voucher is not None
        terms = offer_terms(campaign.voucher, today)
        know_issued_voucher(
            db,
            voucher.voucher_code,
            terms,
            member_id=member_id,
            source=f"campaign:{campaign.id}",
        )
