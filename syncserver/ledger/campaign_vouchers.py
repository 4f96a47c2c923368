"""Campaign vouchers a till issued with a sale, at HQ (docs/ledger.md, "Campaign vouchers").

For each ``Sale.campaign_vouchers`` item, HQ decides again with
``shared.rules.campaign_vouchers`` from the rules version the item names (the sale's lines,
the store, the store's wall clock as the till journaled it, and what was paid after every
order discount) and issues the code through :func:`issue_voucher` (source
``campaign:<id>``, bound to the sale's member if any, the campaign's terms from the store's
day of the sale):

* a voucher those rules do not give (the campaign has no voucher there, the sale did not
  qualify, HQ lacks the version) is still issued when HQ knows the campaign's voucher terms
  — the customer holds the paper — and raises ``campaign_voucher_mismatch`` (amount: the
  voucher's value, minor units); without terms it cannot be issued, and the exception says so;
* a code HQ already has raises ``voucher_invalid`` and is not issued again (as for reward
  vouchers).

A void of the sale voids its campaign vouchers that were not used
(``syncserver.ledger.rewards.void_reward_purchases`` voids every voucher the sale issued).
"""

from __future__ import annotations

from shared.journal import JournalEntry, Sale
from shared.journal.payloads import CampaignVoucher
from shared.rules import BasketLine, ProgramRules
from shared.rules.campaign_vouchers import campaign_vouchers, offer_terms
from shared.rules.model import Campaign
from syncserver.ledger.context import LedgerContext
from syncserver.ledger.stored_value import money_text
from syncserver.ledger.vouchers import issue_sale_voucher, local_day
from syncserver.storage.postings import PostingSource

__all__ = ["campaign_source", "post_campaign_vouchers"]


def campaign_source(campaign_id: str) -> str:
    """A campaign voucher's ``vouchers.source``."""
    return f"campaign:{campaign_id}"


def _lines(sale: Sale) -> tuple[list[BasketLine], int]:
    """The lines the till decided on (as ``Basket.earn_lines``) and what was paid for them."""
    lines = sale.basket_lines(returns=False)
    return lines, min(sale.total_minor, sum(line.net_minor for line in lines))


def _find(rules: ProgramRules | None, campaign_id: str) -> Campaign | None:
    if rules is None:
        return None
    return next((c for c in rules.campaigns if c.id == campaign_id), None)


def _why_not(
    rules: ProgramRules | None, campaign: Campaign | None, item: CampaignVoucher
) -> str | None:
    """Why the rules version ``item`` names gives no such voucher, or None when it does."""
    if rules is None:
        return f"rules version {item.rules_version} is not known to HQ"
    if campaign is None:
        return f"rules version {item.rules_version} has no campaign {item.campaign_id}"
    if campaign.voucher is None:
        return f"campaign {campaign.id} gives no voucher in rules version {item.rules_version}"
    return None


def post_campaign_vouchers(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    sale: Sale,
    member_id: str | None,
) -> None:
    """Check and issue each campaign voucher the sale's till printed."""
    if not sale.campaign_vouchers:
        return
    lines, paid = _lines(sale)
    local = entry.local_time
    for item in sale.campaign_vouchers:
        rules = ctx.rules(item.rules_version)
        campaign = _find(rules, item.campaign_id)
        what = f"sale {source.label()} issued campaign voucher {item.voucher_code}"
        problem = _why_not(rules, campaign, item)
        if problem is None:
            assert rules is not None
            given = {c.id for c, _ in campaign_vouchers(rules, lines, sale.store_id, local, paid)}
            if item.campaign_id not in given:
                problem = (
                    f"the sale does not qualify for campaign {item.campaign_id} in rules version "
                    f"{item.rules_version} (store {sale.store_id}, {local:%Y-%m-%d %H:%M}, "
                    f"{money_text(paid, sale.currency)} paid)"
                )
        if campaign is None or campaign.voucher is None:
            assert problem is not None
            ctx.raise_exception(
                "campaign_voucher_mismatch",
                source,
                member_id,
                0,
                f"{what}: {problem}; HQ knows no terms for it, so it is not issued "
                "(the customer's receipt shows a code HQ will refuse)",
            )
            continue
        terms = offer_terms(campaign.voucher, local_day(entry))
        if problem is not None:
            ctx.raise_exception(
                "campaign_voucher_mismatch",
                source,
                member_id,
                terms.value_minor,
                f"{what}: {problem}; issued anyway (the customer holds it)",
            )
        issue_sale_voucher(
            ctx,
            source,
            entry,
            code=item.voucher_code,
            terms=terms,
            currency=sale.currency,
            member_id=member_id,
            origin=campaign_source(campaign.id),
            taken=f"{what}, a code HQ already has for another voucher: not issued again; the "
            "customer's receipt shows a code that is not theirs",
        )
