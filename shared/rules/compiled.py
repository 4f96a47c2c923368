"""Earning rules "compiled" once per rules version: the ratios parsed into exact fractions and
a memo of what each (SKU, category) earns, for :mod:`shared.rules.earn`.

A published rules version never changes, so everything here is computed once per
:class:`ProgramRules` instance (by identity: ``model_copy(update=...)`` makes a new instance
with its own compiled data) and dropped when the instance is. The till and the server both
earn through it, so they still share one engine.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from fractions import Fraction

from shared.money import Rounding
from shared.rules.model import Campaign, EarnRules, ProgramRules

__all__ = ["CompiledCampaign", "CompiledRules", "ProductTerms", "compiled", "round_ratio"]

_MAX_MEMO = 50_000
"""(SKU, category) pairs remembered per rules version; beyond it terms are computed afresh
(a catalogue is far smaller; the bound only stops a stream of made-up SKUs growing it)."""

_MAX_SCALED = 256
"""(campaign, tier) pairs remembered per (SKU, category): a tier code comes from the entry,
and a till making up codes must not grow the memo without bound."""

ONE = Fraction(1)


@dataclass(frozen=True, slots=True)
class CompiledCampaign:
    """A campaign that takes part in earning (a multiplier above 1 or a bonus)."""

    campaign: Campaign
    multiplier: Fraction
    rank: int
    """Orders multipliers as the fractions do (equal multipliers, equal rank): comparing
    ranks is comparing multipliers, without Fraction arithmetic per line."""


@dataclass(frozen=True, slots=True)
class ProductTerms:
    """What the rules say about one (SKU, category), whatever the basket."""

    exclusion: str | None
    """Why it never earns (excluded SKU or category), or None."""
    product: Fraction
    """The SKU's multiplier, else its category's, else 1."""
    unit_bonus: int
    """Fixed points per unit."""
    campaigns: frozenset[int]
    """Indexes into :attr:`CompiledRules.campaigns` of the campaigns that target it."""
    rate: Fraction
    """Points per minor unit of eligible spend before campaign and tier: ppu / unit x product."""
    scaled: dict[tuple[int, str | None], tuple[int, int]] = field(default_factory=dict)
    """Memo: (winning campaign index or -1, tier code) -> the reduced numerator and
    denominator of rate x campaign x tier."""


@dataclass(frozen=True, slots=True)
class CompiledRules:
    earn: EarnRules
    """Not the ProgramRules: the cache below must not keep the instance it is keyed by alive."""
    ppu: Fraction
    """``earn.points_per_unit`` as a fraction."""
    rate: Fraction
    """Points per minor unit: ppu / spend_unit_minor."""
    rounding: Rounding
    tiers: dict[str, Fraction]
    """Tier code -> multiplier (the first tier with the code; codes are unique)."""
    campaigns: tuple[CompiledCampaign, ...]
    """The campaigns that take part in earning, in the rules' order."""
    memo: dict[tuple[str, str], ProductTerms] = field(default_factory=dict)

    def terms(self, sku: str, category: str) -> ProductTerms:
        key = (sku, category)
        found = self.memo.get(key)
        if found is not None:
            return found
        earn = self.earn
        product = earn.product_multiplier(sku, category)
        terms = ProductTerms(
            exclusion=earn.exclusion_reason(sku, category),
            product=product,
            unit_bonus=earn.unit_bonus_per_unit(sku, category),
            campaigns=frozenset(
                i for i, c in enumerate(self.campaigns) if c.campaign.targets(sku, category)
            ),
            rate=self.rate * product,
        )
        if len(self.memo) < _MAX_MEMO:
            self.memo[key] = terms
        return terms

    def scaled(
        self, terms: ProductTerms, winner: int, tier: str | None, tier_multiplier: Fraction
    ) -> tuple[int, int]:
        """rate x campaign x tier for a line with ``terms``, as (numerator, denominator)."""
        key = (winner, tier)
        found = terms.scaled.get(key)
        if found is None:
            campaign = self.campaigns[winner].multiplier if winner >= 0 else ONE
            value = terms.rate * campaign * tier_multiplier
            found = (value.numerator, value.denominator)
            if len(terms.scaled) < _MAX_SCALED:
                terms.scaled[key] = found
        return found


_CACHE: dict[int, tuple[weakref.ref[ProgramRules], CompiledRules]] = {}


def compiled(rules: ProgramRules) -> CompiledRules:
    """The compiled earning rules of ``rules``, computed on first use and kept while
    ``rules`` lives."""
    key = id(rules)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is rules:
        return hit[1]
    result = _compile(rules)

    def forget(_: object, key: int = key) -> None:
        _CACHE.pop(key, None)

    _CACHE[key] = (weakref.ref(rules, forget), result)
    return result


def _compile(rules: ProgramRules) -> CompiledRules:
    earn = rules.earn
    ppu = earn.points_per_unit_fraction
    tiers: dict[str, Fraction] = {}
    for tier in rules.tiers:
        tiers.setdefault(tier.code, tier.multiplier_fraction)
    taking_part = [
        (campaign, campaign.multiplier_fraction)
        for campaign in rules.campaigns
        # A campaign that gives no points (only a voucher) has nothing to say about them:
        # shared.rules.campaign_vouchers decides its voucher.
        if campaign.multiplier_fraction != 1 or campaign.bonus_points
    ]
    ranks = {m: rank for rank, m in enumerate(sorted({m for _, m in taking_part}))}
    return CompiledRules(
        earn=earn,
        ppu=ppu,
        rate=ppu / earn.spend_unit_minor,
        rounding=rules.rounding,
        tiers=tiers,
        campaigns=tuple(CompiledCampaign(c, m, ranks[m]) for c, m in taking_part),
    )


def round_ratio(numerator: int, denominator: int, mode: Rounding) -> int:
    """``round_fraction(Fraction(numerator, denominator), mode)`` without building the
    Fraction (``denominator`` > 0): rounding n/d does not depend on reducing it first."""
    if denominator == 1:
        return numerator
    magnitude = abs(numerator)
    whole, remainder = divmod(magnitude, denominator)
    if remainder == 0 or mode is Rounding.DOWN:
        result = whole
    else:
        twice = 2 * remainder
        if twice > denominator:
            result = whole + 1
        elif twice < denominator:
            result = whole
        elif mode is Rounding.HALF_UP:
            result = whole + 1
        else:  # HALF_EVEN on an exact half
            result = whole + (whole % 2)
    return -result if numerator < 0 else result
