"""The loyalty program's rules: versioned JSON data, validated into frozen pydantic models.

Rules are data, not code, so HQ can publish a new version without a release and the till and
the server can both recompute a sale with exactly the version the till used (docs/design.md,
invariant 5). Everything a rules file can get wrong is caught here, with a message that
names the field, so the engine itself never meets a contradictory program.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from fractions import Fraction
from typing import Annotated, Literal, Self

from pydantic import BeforeValidator, Field, StrictBool, field_validator, model_validator

from shared.bounds import MAX_POINTS
from shared.money import CURRENCIES, Rounding, parse_ratio
from shared.rules._fields import (
    FrozenModel,
    Name,
    NonNegativeInt,
    PositiveInt,
    Ratio,
    Version,
    refuse_float,
)

__all__ = [
    "Campaign",
    "EarnRules",
    "ExpiryRules",
    "OfflineRules",
    "ProgramRules",
    "RedemptionRules",
    "Reward",
    "Tier",
    "TierQualification",
    "UnitBonus",
    "VoucherOffer",
]

Weekday = Annotated[int, Field(strict=True, ge=0, le=6), BeforeValidator(refuse_float)]
"""0 = Monday … 6 = Sunday, as :meth:`datetime.date.weekday` counts."""

Hour = Annotated[int, Field(strict=True, ge=0, le=23), BeforeValidator(refuse_float)]

Percent = Annotated[int, Field(strict=True, ge=1, le=100), BeforeValidator(refuse_float)]


def _refuse_timestamp(value: object) -> object:
    # Lax pydantic reads a number as a Unix timestamp; in a rules file it is a mistake.
    if isinstance(value, int | float):
        raise ValueError(f'write dates as ISO strings such as "2025-04-12", not {value!r}')
    return value


IsoDate = Annotated[date, BeforeValidator(_refuse_timestamp)]
"""An ISO date string in JSON ("2025-04-12") or a :class:`datetime.date`; never a number."""


def _duplicates(values: Iterable[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


class UnitBonus(FrozenModel):
    """Fixed points for every unit of one SKU or one category, added after multipliers."""

    sku: Name | None = None
    category: Name | None = None
    points_per_unit: PositiveInt

    @model_validator(mode="after")
    def _exactly_one_target(self) -> Self:
        if (self.sku is None) == (self.category is None):
            raise ValueError("a unit bonus names exactly one of 'sku' or 'category'")
        return self

    def applies_to(self, sku: str, category: str) -> bool:
        return sku == self.sku if self.sku is not None else category == self.category


class EarnRules(FrozenModel):
    """How spend turns into points before campaigns and tiers."""

    points_per_unit: Ratio
    """Points for every ``spend_unit_minor`` of eligible spend, e.g. "1"."""
    spend_unit_minor: PositiveInt
    """The spend unit in minor units, e.g. 100 = per 1.00 of currency."""
    min_spend_minor: NonNegativeInt = 0
    """Below this eligible spend the order earns nothing."""
    per_order_points: NonNegativeInt = 0
    """Fixed points for every qualifying order (a visit bonus)."""
    category_multipliers: dict[Name, Ratio] = Field(default_factory=dict)
    sku_multipliers: dict[Name, Ratio] = Field(default_factory=dict)
    """A SKU's multiplier replaces its category's."""
    excluded_categories: tuple[Name, ...] = ()
    excluded_skus: tuple[Name, ...] = ()
    """Lines that never earn (tobacco, gift cards, deposits) and never count as spend."""
    unit_bonuses: tuple[UnitBonus, ...] = ()
    earn_on_discounted: StrictBool = False
    """Whether spend paid with an order discount (e.g. redeemed points) still earns."""

    @property
    def points_per_unit_fraction(self) -> Fraction:
        return parse_ratio(self.points_per_unit)

    @model_validator(mode="after")
    def _no_contradictions(self) -> Self:
        for kind, names in (
            ("excluded_categories", self.excluded_categories),
            ("excluded_skus", self.excluded_skus),
        ):
            if repeated := _duplicates(names):
                raise ValueError(f"{kind} lists {', '.join(repeated)} more than once")
        # A multiplier on something that can never earn is a mistake in the rules file,
        # and silently ignoring one of the two would surprise whoever wrote it.
        for kind, multipliers, excluded in (
            ("category", self.category_multipliers, self.excluded_categories),
            ("SKU", self.sku_multipliers, self.excluded_skus),
        ):
            if clash := sorted(set(multipliers) & set(excluded)):
                raise ValueError(
                    f"{kind} {', '.join(clash)} is both excluded and given a multiplier; "
                    "remove one of the two"
                )
        return self

    def exclusion_reason(self, sku: str, category: str) -> str | None:
        """Why a line never earns, or None when it may."""
        if sku in self.excluded_skus:
            return f"excluded SKU {sku}"
        if category in self.excluded_categories:
            return f"excluded category {category}"
        return None

    def product_multiplier(self, sku: str, category: str) -> Fraction:
        """The SKU's multiplier if it has one, else its category's, else 1."""
        if sku in self.sku_multipliers:
            return parse_ratio(self.sku_multipliers[sku])
        if category in self.category_multipliers:
            return parse_ratio(self.category_multipliers[category])
        return Fraction(1)

    def unit_bonus_per_unit(self, sku: str, category: str) -> int:
        """Fixed points per unit; every matching bonus adds up."""
        return sum(b.points_per_unit for b in self.unit_bonuses if b.applies_to(sku, category))


BasisPoints = Annotated[int, Field(strict=True, ge=1, le=10_000), BeforeValidator(refuse_float)]
"""A percentage in hundredths of a percent: 1000 = 10 %, 10000 = 100 %."""

ValidDays = Annotated[int, Field(strict=True, ge=1, le=3650), BeforeValidator(refuse_float)]


class VoucherOffer(FrozenModel):
    """The voucher a campaign gives a qualifying sale for a later visit (docs/rules.md,
    "Campaigns"): an amount off (``value_minor``), or a percentage off (``percent_bp``) with
    ``value_minor`` as its cap. The campaign's own filters say which sales qualify; the
    ``min_spend_minor`` here is what the later sale must spend to redeem it."""

    value_minor: PositiveInt | None = None
    """The amount off; with ``percent_bp``, the most the percentage takes off (null: no cap)."""
    percent_bp: BasisPoints | None = None
    """The percentage off, in basis points (1000 = 10 %)."""
    min_spend_minor: NonNegativeInt = 0
    """What the sale that redeems the voucher must spend."""
    valid_days: ValidDays = 30
    """How long it can be used, the day it is issued counting as the first."""

    @model_validator(mode="after")
    def _amount_or_percent(self) -> Self:
        if self.value_minor is None and self.percent_bp is None:
            raise ValueError(
                "a campaign voucher needs 'value_minor' (an amount off) or 'percent_bp' "
                "(a percentage off, with 'value_minor' as its cap)"
            )
        return self


class Campaign(FrozenModel):
    """A time-, store- or product-limited promotion: a multiplier, a bonus, a voucher for the
    next visit (``voucher``), or any of them together.

    Every filter left null means "no restriction". ``categories`` and ``skus`` together name
    the lines the campaign targets: a line whose category is listed *or* whose SKU is listed.
    """

    id: Name
    name: Name
    multiplier: Ratio = "1"
    """Multiplies the targeted lines' points; where several campaigns match, the highest wins."""
    bonus_points: NonNegativeInt = 0
    """Fixed points once per qualifying order; bonuses of all qualifying campaigns add up."""
    starts: IsoDate | None = None
    ends: IsoDate | None = None
    """Inclusive."""
    weekdays: tuple[Weekday, ...] | None = None
    hours: tuple[Hour, Hour] | None = None
    """[from_hour, to_hour): 17–20 is 17:00–19:59; 22–2 wraps past midnight."""
    stores: tuple[Name, ...] | None = None
    categories: tuple[Name, ...] | None = None
    skus: tuple[Name, ...] | None = None
    min_spend_minor: NonNegativeInt = 0
    """Eligible spend on the targeted lines needed for the campaign to apply."""
    voucher: VoucherOffer | None = None
    """A voucher each qualifying sale gets for a later visit, printed on its receipt
    (shared/rules/campaign_vouchers.py); null: none."""

    @property
    def multiplier_fraction(self) -> Fraction:
        return parse_ratio(self.multiplier)

    @field_validator("multiplier")
    @classmethod
    def _never_lowers_points(cls, value: str) -> str:
        # A campaign below 1 would make a bigger basket earn less once it qualifies;
        # stopping points on an item is what the exclusion lists are for.
        if parse_ratio(value) < 1:
            raise ValueError(
                f"a campaign multiplier must be at least 1, not {value!r}; "
                "use excluded_categories/excluded_skus to stop points"
            )
        return value

    @field_validator("weekdays", "stores", "categories", "skus")
    @classmethod
    def _non_empty_and_unique(cls, values: tuple[object, ...] | None) -> tuple[object, ...] | None:
        if values is None:
            return None
        if not values:
            raise ValueError("an empty list matches nothing; use null to mean 'all'")
        if repeated := _duplicates(str(v) for v in values):
            raise ValueError(f"lists {', '.join(repeated)} more than once")
        return values

    @field_validator("hours")
    @classmethod
    def _hours_not_equal(cls, hours: tuple[int, int] | None) -> tuple[int, int] | None:
        if hours is not None and hours[0] == hours[1]:
            raise ValueError(
                f"hours [{hours[0]}, {hours[1]}) is ambiguous; use null for the whole day"
            )
        return hours

    @model_validator(mode="after")
    def _dates_ordered(self) -> Self:
        if self.starts is not None and self.ends is not None and self.starts > self.ends:
            raise ValueError(f"campaign {self.id}: starts {self.starts} is after ends {self.ends}")
        return self

    def is_running(self, store_id: str, local_time: datetime) -> bool:
        """Whether the campaign is on at this store at this wall-clock time."""
        day = local_time.date()
        if self.starts is not None and day < self.starts:
            return False
        if self.ends is not None and day > self.ends:
            return False
        if self.weekdays is not None and day.weekday() not in self.weekdays:
            return False
        if self.stores is not None and store_id not in self.stores:
            return False
        if self.hours is not None:
            start, end = self.hours
            hour = local_time.hour
            in_window = start <= hour < end if start < end else hour >= start or hour < end
            if not in_window:
                return False
        return True

    def targets(self, sku: str, category: str) -> bool:
        """Whether a line is one the campaign is about (ignoring time, store and spend)."""
        if self.categories is None and self.skus is None:
            return True
        return (self.categories is not None and category in self.categories) or (
            self.skus is not None and sku in self.skus
        )


Months = Annotated[int, Field(strict=True, ge=1, le=120), BeforeValidator(refuse_float)]
"""A number of months in a rule (1 to 120)."""

GraceMonths = Annotated[int, Field(strict=True, ge=0, le=24), BeforeValidator(refuse_float)]

Perk = Annotated[str, Field(strict=True, min_length=1, max_length=60)]
"""One benefit of a tier as the till and the receipt show it ("Free delivery")."""


class Tier(FrozenModel):
    """A membership level; its multiplier applies to every line the member buys."""

    code: Name
    name: Name
    threshold_points: NonNegativeInt
    """The qualifying total that reaches this tier, in the unit of
    :attr:`TierQualification.metric`: points earned, spend in minor units, or visits. The
    name says points because that is the default metric (and what older rules files say)."""
    multiplier: Ratio = "1"
    perks: tuple[Perk, ...] = ()
    """Shown at the till with the member and printed on the receipt; the engine ignores them."""

    @property
    def multiplier_fraction(self) -> Fraction:
        return parse_ratio(self.multiplier)


class TierQualification(FrozenModel):
    """How a member qualifies for a tier and when HQ reviews it (docs/rules.md, "Tiers").

    Upgrades happen at once, when a sale takes the qualifying total over a threshold.
    Downgrades happen only at a review: HQ's ``tiers review`` (daily inside ``serve``) looks at
    every member whose review date has come and keeps them in the tier they requalify for.
    """

    metric: Literal["points", "spend", "visits"] = "points"
    """What counts: points earned (net of returns), spend in minor units (net of refunds),
    or visits (sales with the card shown, net of voids)."""
    period: Literal["rolling", "calendar_year"] = "rolling"
    """``rolling``: the last ``window_months`` months; a tier reached on a day is reviewed
    ``window_months`` after that day. ``calendar_year``: the current calendar year; tiers
    are reviewed on 1 January against the year just ended."""
    window_months: Months = 12
    """Length of the rolling window (ignored for ``calendar_year``)."""
    grace_months: GraceMonths = 0
    """A member who fails to requalify keeps the tier this much longer, once."""
    one_tier_down: StrictBool = False
    """A review moves a member down at most one tier."""


class ExpiryRules(FrozenModel):
    """When earned points expire (docs/rules.md, "Points expiry"). Points are kept in lots,
    one per earning, and every use takes the oldest lot first (FIFO)."""

    mode: Literal["never", "months_after_earn", "end_of_year", "inactivity"] = "never"
    """``months_after_earn``: a lot expires ``months`` after the day it was earned.
    ``end_of_year``: a lot expires on 31 December of the ``years``-th year after the year it
    was earned (0 = the same year). ``inactivity``: all of a member's points expire
    ``months`` after their last visit (any visit extends every lot)."""
    months: Months | None = None
    years: Annotated[int, Field(strict=True, ge=0, le=50), BeforeValidator(refuse_float)] = 1

    @model_validator(mode="after")
    def _months_when_needed(self) -> Self:
        if self.mode in ("months_after_earn", "inactivity") and self.months is None:
            raise ValueError(f"expiry mode {self.mode!r} needs 'months'")
        return self


class RedemptionRules(FrozenModel):
    """How points pay for a purchase: ``points`` points are worth ``value_minor``."""

    points: PositiveInt
    value_minor: PositiveInt
    step_points: PositiveInt | None = None
    """Redeem in multiples of this; null means multiples of ``points``."""
    min_points: NonNegativeInt = 0
    max_points_per_transaction: PositiveInt | None = None
    max_basket_percent: Percent = 100
    """The discount is at most this percentage of the basket."""

    @property
    def step(self) -> int:
        return self.step_points if self.step_points is not None else self.points

    @property
    def smallest_redemption(self) -> int:
        """The fewest points that can be redeemed: the first step multiple >= min_points."""
        return -(-max(self.min_points, self.step) // self.step) * self.step

    def discount_minor(self, points: int) -> int:
        """The exact discount for a number of points that is a multiple of :attr:`step`."""
        if points % self.step:
            raise ValueError(f"{points} is not a multiple of the {self.step}-point step")
        return points * self.value_minor // self.points

    @model_validator(mode="after")
    def _whole_discounts(self) -> Self:
        # Every redeemable amount is a multiple of the step, so this one check makes every
        # discount a whole number of minor units: no rounding at the till, ever.
        if self.step * self.value_minor % self.points:
            raise ValueError(
                f"step_points {self.step} x value_minor {self.value_minor} must be divisible "
                f"by points {self.points}, so every redemption is worth whole minor units"
            )
        cap = self.max_points_per_transaction
        if cap is not None and cap // self.step * self.step < self.smallest_redemption:
            raise ValueError(
                f"max_points_per_transaction {cap} allows no redemption: the smallest is "
                f"{self.smallest_redemption} points (min_points {self.min_points}, "
                f"step {self.step})"
            )
        return self


class OfflineRules(FrozenModel):
    """Bounds on what a till may do while it cannot reach the server."""

    redemption_cap_points_per_day: NonNegativeInt
    """Points one member may redeem per day at a till that is offline (enforced by the till)."""
    voucher_cap_minor_per_day: NonNegativeInt = 10_000
    """Voucher value (minor units) one till may take off sales per day without HQ's word
    that the codes are unused (docs/vouchers.md): the most a voucher used twice offline
    can cost."""
    giftcard_cap_minor_per_day: NonNegativeInt = 10_000
    """Money one gift card (or a member's store credit) may pay per day at a till beyond
    what HQ last confirmed live; above it the till asks HQ (docs/giftcards.md)."""


RewardKind = Literal["voucher_amount", "voucher_percent", "free_product", "bonus_multiplier"]


Stock = Annotated[int, Field(strict=True, ge=0, le=MAX_POINTS), BeforeValidator(refuse_float)]

RewardPoints = Annotated[
    int, Field(strict=True, gt=0, le=MAX_POINTS), BeforeValidator(refuse_float)
]

MAX_REWARD_MULTIPLIER = 10
"""A bonus multiplier above x10 on a whole visit is a typo, not an offer."""


def _null_means_every_tier(value: object) -> object:
    # The editor's empty "tiers" input arrives as null; both null and [] mean every tier.
    return () if value is None else value


class Reward(FrozenModel):
    """Something a member buys with points (docs/rules.md, "Rewards").

    ``delivery`` says what buying it does: ``apply_now`` takes it off the sale in progress,
    ``voucher`` issues a single-use voucher printed on the receipt for a later visit. A
    bonus multiplier is always a voucher (it is for the next visit); the others may be either.
    """

    id: Name
    name: Name
    """Shown at the till and printed on the receipt."""
    points: RewardPoints
    """Its price in points."""
    kind: RewardKind
    value_minor: PositiveInt | None = None
    """voucher_amount: the amount off (required). voucher_percent: the cap (null: none)."""
    percent_bp: BasisPoints | None = None
    """voucher_percent: the percentage off, in basis points (1000 = 10 %)."""
    min_spend_minor: NonNegativeInt = 0
    """Spend on the lines it applies to that the sale must reach for it to apply."""
    categories: tuple[Name, ...] | None = None
    """voucher_amount / voucher_percent: only these categories' lines (null: every line)."""
    sku: Name | None = None
    """free_product: the product one unit of which is free."""
    multiplier: Ratio | None = None
    """bonus_multiplier: the points of the next visit are multiplied by this ("2")."""
    valid_days: ValidDays = 30
    """How long an issued voucher can be used, the day it is issued counting as the first."""
    starts: IsoDate | None = None
    ends: IsoDate | None = None
    """When it can be bought, inclusive; null: open."""
    tiers: Annotated[tuple[Name, ...], BeforeValidator(_null_means_every_tier)] = ()
    """Tier codes whose members may buy it; empty: every member."""
    stock: Stock | None = None
    """How many can be issued in all (null: no limit)."""
    delivery: Literal["apply_now", "voucher"] = "voucher"

    @field_validator("categories", "tiers")
    @classmethod
    def _unique_names(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if values is not None and (repeated := _duplicates(values)):
            raise ValueError(f"lists {', '.join(repeated)} more than once")
        return values

    @field_validator("categories")
    @classmethod
    def _categories_not_empty(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if values is not None and not values:
            raise ValueError("an empty list matches nothing; use null to mean every line")
        return values

    @field_validator("multiplier")
    @classmethod
    def _multiplier_raises_points(cls, value: str | None) -> str | None:
        if value is not None and not 1 < parse_ratio(value) <= MAX_REWARD_MULTIPLIER:
            raise ValueError(
                f"a bonus multiplier is above 1 and at most {MAX_REWARD_MULTIPLIER}, not {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _fields_fit_the_kind(self) -> Self:
        wanted = {
            "voucher_amount": ("value_minor",),
            "voucher_percent": ("percent_bp",),
            "free_product": ("sku",),
            "bonus_multiplier": ("multiplier",),
        }[self.kind]
        allowed = {
            "voucher_amount": {"value_minor", "categories"},
            "voucher_percent": {"percent_bp", "value_minor", "categories"},
            "free_product": {"sku"},
            "bonus_multiplier": {"multiplier"},
        }[self.kind]
        for key in wanted:
            if getattr(self, key) is None:
                raise ValueError(f"reward {self.id}: a {self.kind} reward needs '{key}'")
        for key in ("value_minor", "percent_bp", "categories", "sku", "multiplier"):
            if key not in allowed and getattr(self, key) is not None:
                raise ValueError(
                    f"reward {self.id}: a {self.kind} reward has no '{key}'; remove it"
                )
        if self.kind == "bonus_multiplier":
            if self.delivery != "voucher":
                raise ValueError(
                    f"reward {self.id}: a bonus multiplier is for the next visit; "
                    "set 'delivery' to voucher"
                )
            if self.min_spend_minor:
                raise ValueError(
                    f"reward {self.id}: a bonus multiplier has no 'min_spend_minor'; remove it"
                )
        if self.starts is not None and self.ends is not None and self.starts > self.ends:
            raise ValueError(f"reward {self.id}: starts {self.starts} is after ends {self.ends}")
        return self

    @property
    def multiplier_fraction(self) -> Fraction:
        return parse_ratio(self.multiplier) if self.multiplier is not None else Fraction(1)

    def on_sale(self, today: date) -> bool:
        """Whether its dates allow buying it on ``today`` (the store's calendar)."""
        return (self.starts is None or self.starts <= today) and (
            self.ends is None or today <= self.ends
        )

    def open_to(self, tier: str | None) -> bool:
        """Whether a member in ``tier`` (None: no tier) may buy it."""
        return not self.tiers or tier in self.tiers


class ProgramRules(FrozenModel):
    """One version of a loyalty program's rules."""

    program_id: Name
    version: Version
    currency: Name
    rounding: Rounding
    """Applied per line, so the breakdown lines sum exactly to the total."""
    earn: EarnRules
    campaigns: tuple[Campaign, ...] = ()
    tiers: tuple[Tier, ...] = ()
    tier_qualification: TierQualification = TierQualification()
    expiry: ExpiryRules = ExpiryRules()
    redemption: RedemptionRules
    offline: OfflineRules
    rewards: tuple[Reward, ...] = ()
    """What members can buy with points (docs/rules.md, "Rewards")."""

    @classmethod
    def from_json(cls, text: str | bytes) -> ProgramRules:
        """Parse and validate a rules document; a :class:`pydantic.ValidationError` says where."""
        return cls.model_validate_json(text)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, code: str) -> str:
        if code not in CURRENCIES:
            raise ValueError(f"unknown currency {code!r}; known: {', '.join(sorted(CURRENCIES))}")
        return code

    @model_validator(mode="after")
    def _unique_codes(self) -> Self:
        if repeated := _duplicates(c.id for c in self.campaigns):
            raise ValueError(f"campaign ids must be unique; repeated: {', '.join(repeated)}")
        if repeated := _duplicates(t.code for t in self.tiers):
            raise ValueError(f"tier codes must be unique; repeated: {', '.join(repeated)}")
        if repeated := _duplicates(str(t.threshold_points) for t in self.tiers):
            raise ValueError(
                f"tier thresholds must be distinct; repeated: {', '.join(repeated)} points"
            )
        if repeated := _duplicates(r.id for r in self.rewards):
            raise ValueError(f"reward ids must be unique; repeated: {', '.join(repeated)}")
        codes = {t.code for t in self.tiers}
        for reward in self.rewards:
            if unknown := sorted(set(reward.tiers) - codes):
                raise ValueError(
                    f"reward {reward.id}: unknown tier {', '.join(unknown)}; "
                    f"known: {', '.join(sorted(codes)) or 'none (the program has no tiers)'}"
                )
        return self

    def tier(self, code: str) -> Tier | None:
        return next((t for t in self.tiers if t.code == code), None)

    @property
    def tiers_by_threshold(self) -> tuple[Tier, ...]:
        """The tiers from the lowest threshold to the highest."""
        return tuple(sorted(self.tiers, key=lambda t: t.threshold_points))
