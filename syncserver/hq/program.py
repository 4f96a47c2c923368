"""The loyalty program as HQ staff see it: versions in plain language, what changed between
two versions, a sample basket's points, drafts, and publishing with who and why.

Every write is one transaction with its audit row. Errors are the API's own
(``syncserver.errors``), so the JSON API and the dashboard show the same message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import Connection

from shared.bounds import MAX_MINOR, MAX_QUANTITY
from shared.money import CURRENCIES, Money, Rounding, format_points, parse_ratio
from shared.points.tiers import describe_total
from shared.rules import (
    BasketLine,
    Campaign,
    EarnContext,
    EarnResult,
    ProgramRules,
    Reward,
    compute_earn,
)
from shared.rules.campaign_vouchers import offer_text
from shared.rules.rewards import percent_text, reward_effect
from shared.text import check_safe_text, unsafe_character
from syncserver.errors import ConflictError, MalformedError, NotFoundError
from syncserver.hq.program_schema import SECTIONS, WEEKDAYS, FieldSpec, ListSpec, item_value
from syncserver.hq.rules import (
    MAX_VERSION,
    PublishResult,
    RulesConflictError,
    publish_next_version,
)
from syncserver.hq.tiers import expiry_sentence, qualification_sentence
from syncserver.settings import utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.database import Database, run_write
from syncserver.storage.rules import delete_draft, draft_record, insert_draft, update_draft

__all__ = [
    "MAX_NOTE",
    "Change",
    "PreviewResponse",
    "ProgramSummary",
    "SampleBasket",
    "SampleLine",
    "clean_note",
    "describe",
    "diff_documents",
    "field_text",
    "minor_text",
    "preview",
    "publish_version",
    "ratio_text",
    "remove_draft",
    "save_draft",
]

MAX_NOTE = 2000

# ---------------------------------------------------------------------------------------------
# Numbers as staff read them (exact: no float anywhere)


def _decimal(value: Fraction) -> str | None:
    """``value`` as an exact decimal ("1.5"), or None when it has no finite one (1/3)."""
    for places in range(13):
        scaled = value * 10**places
        if scaled.denominator == 1:
            whole, frac = divmod(abs(scaled.numerator), 10**places)
            sign = "-" if value < 0 else ""
            return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"
    return None


def ratio_text(text: str) -> str:
    """A rules ratio for people: "3/2" -> "1.5", "4/3" stays "4/3"; text that is not a ratio
    is shown as it is."""
    try:
        value = parse_ratio(text)
    except ValueError:
        return text
    return _decimal(value) or f"{value.numerator}/{value.denominator}"


def _exponent(currency: str) -> int:
    known = CURRENCIES.get(currency)
    return known.exponent if known else 2


def minor_text(minor: int, currency: str) -> str:
    """Minor units as a plain decimal an input can hold and :meth:`Money.parse` reads back:
    1250 EUR -> "12.50" (no thousands separators)."""
    exponent = _exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent)
    return f"{sign}{whole}.{frac:0{exponent}d}" if exponent else f"{sign}{whole}"


def money_text(minor: int, currency: str) -> str:
    if currency in CURRENCIES:
        return Money(minor, currency).format()
    return f"{minor_text(minor, currency)} {currency}"


def _fraction_money(minor: Fraction, currency: str) -> str:
    """An exact, possibly fractional number of minor units as money ("€0.005"); a value with
    no finite decimal stays a fraction of minor units."""
    if minor.denominator == 1:
        return money_text(minor.numerator, currency)
    major = _decimal(minor / 10 ** _exponent(currency))
    symbol = CURRENCIES[currency].symbol if currency in CURRENCIES else f"{currency} "
    return f"{symbol}{major}" if major else f"{minor.numerator}/{minor.denominator} minor units"


def _points(n: int) -> str:
    return f"{n:,} point{'' if n == 1 else 's'}"


def _day(value: date | str | None) -> str:
    if value is None:
        return "open"
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
    else:
        day = value
    return f"{day.day} {day:%b %Y}"


def _hours(hours: Any) -> str:
    if not hours:
        return "all day"
    start, end = hours
    return f"{start:02d}:00–{end:02d}:00" if isinstance(start, int) else f"{start}–{end}"


def _weekdays(days: Any) -> str:
    if not days:
        return "every day"
    return ", ".join(WEEKDAYS[d] if isinstance(d, int) and 0 <= d < 7 else str(d) for d in days)


def field_text(spec: FieldSpec, value: Any, currency: str) -> str:
    """One document value, formatted by its kind for summaries and diffs."""
    kind = spec.kind
    if value is None and spec.default is not None:
        value = spec.default  # a document from before the field existed: its default
    if kind == "money" and isinstance(value, int) and not isinstance(value, bool):
        return money_text(value, currency)
    if kind == "choice":
        label = spec.choice_label(value)
        return label if label is not None else "—" if value is None else str(value)
    if kind == "lines":
        if not value:
            return spec.empty or "none"
        return "; ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
    if kind == "percent" and isinstance(value, int) and not isinstance(value, bool):
        return percent_text(value)
    if kind == "ratio" and isinstance(value, str):
        return ratio_text(value)
    if kind == "bool":
        return "yes" if value else "no"
    if value is None and spec.empty:
        return spec.empty
    if kind == "optional_int" and value is None:
        return "none"
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if kind == "date":
        return _day(value)
    if kind == "names":
        return "all" if not value else ", ".join(str(v) for v in value)
    if kind == "weekdays":
        return _weekdays(value)
    if kind == "hours":
        return _hours(value)
    return "—" if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# A version in plain language

_ROUNDING = {
    Rounding.DOWN: "rounded down on each line (a fraction of a point is never issued)",
    Rounding.HALF_UP: "rounded to the nearest point on each line (halves round up)",
    Rounding.HALF_EVEN: "rounded to the nearest point on each line (halves round to even)",
}


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    id: str
    name: str
    effect: str
    when: str
    where: str
    status: str
    """``active`` (its dates include today; weekdays and hours still apply), ``upcoming`` or
    ``ended``."""


@dataclass(frozen=True, slots=True)
class TierSummary:
    code: str
    name: str
    threshold: str
    """In the qualifying unit: "2,500 pts", "€500.00", "12 visits"."""
    multiplier: str
    perks: list[str]


@dataclass(frozen=True, slots=True)
class RewardSummary:
    id: str
    name: str
    effect: str
    """"€5.00 off", "10% off bakery (at most €3.00)", "a free OAT-MILK"."""
    price: str
    """"500 pts"."""
    delivery: str
    """"printed voucher, valid 30 days" or "taken off the sale"."""
    when: str
    who: str
    """"every member" or the tier names."""
    stock: str
    status: str
    """``active`` (on sale today), ``upcoming`` or ``ended``, as for campaigns."""

    @property
    def sentence(self) -> str:
        """One line of the summary: "€5.00 off for 500 pts, valid 30 days"."""
        valid = self.delivery.removeprefix("printed voucher, ")
        return f"{self.effect} for {self.price}, {valid}"


@dataclass(frozen=True, slots=True)
class ProgramSummary:
    earn_rate: str
    """"1.5 points"."""
    earn_per: str
    """"€1.00": the spend that earns ``earn_rate``."""
    point_worth: str
    """"€0.01": what one point is worth when redeemed."""
    earning: list[str]
    category_multipliers: list[tuple[str, str]]
    sku_multipliers: list[tuple[str, str]]
    excluded_categories: list[str]
    excluded_skus: list[str]
    unit_bonuses: list[str]
    campaigns: list[CampaignSummary]
    tiers: list[TierSummary]
    tier_rules: str
    """"Tiers: by points earned in the last 12 months; review 12 months after …"."""
    expiry: str
    """"Points expire 12 months after they are earned." """
    redemption: list[str]
    point_value: str
    offline: str
    rewards: list[RewardSummary]
    rewards_line: str
    """"Rewards: €5.00 off for 500 pts, valid 30 days; …" (or that there are none)."""


def _dates_status(starts: date | None, ends: date | None, today: date) -> str:
    if ends is not None and ends < today:
        return "ended"
    if starts is not None and starts > today:
        return "upcoming"
    return "active"


def _dates(starts: date | None, ends: date | None) -> str:
    if starts is None and ends is None:
        return "always"
    if ends is None:
        return f"from {_day(starts)}"
    if starts is None:
        return f"until {_day(ends)}"
    return f"{_day(starts)} – {_day(ends)}"


def _reward_summary(rules: ProgramRules, reward: Reward, today: date) -> RewardSummary:
    days = f"{reward.valid_days} day{'' if reward.valid_days == 1 else 's'}"
    names = [tier.name if (tier := rules.tier(code)) else code for code in reward.tiers]
    return RewardSummary(
        id=reward.id,
        name=reward.name,
        effect=reward_effect(reward, rules.currency),
        price=format_points(reward.points),
        delivery=f"printed voucher, valid {days}"
        if reward.delivery == "voucher"
        else "taken off the sale",
        when=_dates(reward.starts, reward.ends),
        who=", ".join(names) if names else "every member",
        stock="no limit" if reward.stock is None else f"{reward.stock:,} in all",
        status=_dates_status(reward.starts, reward.ends, today),
    )


def _campaign_status(campaign: Campaign, today: date) -> str:
    if campaign.ends is not None and campaign.ends < today:
        return "ended"
    if campaign.starts is not None and campaign.starts > today:
        return "upcoming"
    return "active"


def _campaign_effect(campaign: Campaign, currency: str) -> str:
    parts = []
    if campaign.multiplier_fraction != 1:
        targets = [*(campaign.categories or ()), *(f"SKU {s}" for s in campaign.skus or ())]
        on = f" on {', '.join(targets)}" if targets else " on every line"
        parts.append(f"×{ratio_text(campaign.multiplier)} points{on}")
    if campaign.bonus_points:
        parts.append(f"+{_points(campaign.bonus_points)} per order")
    if campaign.voucher is not None:
        days = campaign.voucher.valid_days
        parts.append(
            f"a voucher for the next visit: {offer_text(campaign.voucher, currency)}, "
            f"valid {days} day{'' if days == 1 else 's'}"
        )
    if campaign.min_spend_minor:
        parts.append(f"with at least {money_text(campaign.min_spend_minor, currency)} on its items")
    return "; ".join(parts) or "no effect (multiplier 1, no bonus)"


def _campaign_when(campaign: Campaign) -> str:
    if campaign.starts is None and campaign.ends is None:
        dates = "always"
    elif campaign.ends is None:
        dates = f"from {_day(campaign.starts)}"
    elif campaign.starts is None:
        dates = f"until {_day(campaign.ends)}"
    else:
        dates = f"{_day(campaign.starts)} – {_day(campaign.ends)}"
    parts = [dates]
    if campaign.weekdays is not None:
        parts.append(_weekdays(campaign.weekdays))
    if campaign.hours is not None:
        parts.append(_hours(campaign.hours))
    return "; ".join(parts)


def _by_price(reward: Reward) -> tuple[int, str]:
    return reward.points, reward.id


def describe(rules: ProgramRules, today: date) -> ProgramSummary:
    """What a version does, in sentences and small tables."""
    cur = rules.currency
    earn = rules.earn
    per = ratio_text(earn.points_per_unit)
    unit = "point" if earn.points_per_unit_fraction == 1 else "points"
    earning = [
        f"{per} {unit} per {money_text(earn.spend_unit_minor, cur)} of eligible spend, "
        f"{_ROUNDING[rules.rounding]}."
    ]
    if earn.min_spend_minor:
        earning.append(
            f"Orders with less than {money_text(earn.min_spend_minor, cur)} of eligible spend "
            "earn nothing."
        )
    if earn.per_order_points:
        earning.append(f"Visit bonus: {_points(earn.per_order_points)} per qualifying order.")
    earning.append(
        "Spend paid with redeemed points still earns points."
        if earn.earn_on_discounted
        else "Spend paid with redeemed points does not earn points."
    )
    bonuses = [
        f"{_points(b.points_per_unit)} per unit of "
        + (f"SKU {b.sku}" if b.sku is not None else f"category {b.category}")
        for b in earn.unit_bonuses
    ]
    red = rules.redemption
    redemption = [
        f"{_points(red.points)} = {money_text(red.value_minor, cur)} off the basket.",
        f"Redeemed in steps of {_points(red.step)}"
        + (f", at least {_points(red.min_points)}" if red.min_points else "")
        + (
            f", at most {_points(red.max_points_per_transaction)} per transaction"
            if red.max_points_per_transaction is not None
            else ""
        )
        + f"; the discount is at most {red.max_basket_percent}% of the basket.",
    ]
    cap = rules.offline.redemption_cap_points_per_day
    offline = (
        f"While a till is offline, a member may redeem at most {_points(cap)} per day there."
        if cap
        else "No redemption while a till is offline (cap 0)."
    )
    offline += (
        f" Vouchers: at most {money_text(rules.offline.voucher_cap_minor_per_day, cur)} a day "
        "per till without HQ's word; gift cards and store credit: at most "
        f"{money_text(rules.offline.giftcard_cap_minor_per_day, cur)} a day per card beyond "
        "HQ's last balance."
    )
    worth = _fraction_money(Fraction(red.value_minor, red.points), cur)
    rewards = [_reward_summary(rules, r, today) for r in sorted(rules.rewards, key=_by_price)]
    return ProgramSummary(
        earn_rate=f"{per} {unit}",
        earn_per=money_text(earn.spend_unit_minor, cur),
        point_worth=worth,
        earning=earning,
        category_multipliers=[
            (k, f"×{ratio_text(v)}") for k, v in earn.category_multipliers.items()
        ],
        sku_multipliers=[(k, f"×{ratio_text(v)}") for k, v in earn.sku_multipliers.items()],
        excluded_categories=list(earn.excluded_categories),
        excluded_skus=list(earn.excluded_skus),
        unit_bonuses=bonuses,
        campaigns=[
            CampaignSummary(
                id=c.id,
                name=c.name,
                effect=_campaign_effect(c, cur),
                when=_campaign_when(c),
                where="all stores" if c.stores is None else ", ".join(c.stores),
                status=_campaign_status(c, today),
            )
            for c in rules.campaigns
        ],
        tiers=[
            TierSummary(
                code=t.code,
                name=t.name,
                threshold=describe_total(rules, t.threshold_points),
                multiplier=f"×{ratio_text(t.multiplier)}",
                perks=list(t.perks),
            )
            for t in sorted(rules.tiers, key=lambda t: t.threshold_points)
        ],
        tier_rules=qualification_sentence(rules.tier_qualification)
        if rules.tiers
        else "No tiers: every member earns at the base rate.",
        expiry=expiry_sentence(rules.expiry)
        + (" Redemptions use the oldest points first." if rules.expiry.mode != "never" else ""),
        redemption=redemption,
        point_value=f"1 point is worth {worth} when redeemed.",
        offline=offline,
        rewards=rewards,
        rewards_line=(
            "Rewards: " + "; ".join(r.sentence for r in rewards) + "."
            if rewards
            else "No rewards: points are redeemed as a discount only."
        ),
    )


# ---------------------------------------------------------------------------------------------
# What changed between two versions (or a version and a draft)


@dataclass(frozen=True, slots=True)
class Change:
    section: str
    item: str
    before: str | None
    """None: the item is new."""
    after: str | None
    """None: the item was removed."""

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed"


def _get(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _entity_key(spec: ListSpec, item: Any) -> str:
    if not isinstance(item, Mapping):
        return str(item)
    if spec.shape == "bonuses":
        if item.get("sku") is not None:
            return f"SKU {item.get('sku')}"
        return f"category {item.get('category')}"
    first = spec.fields[0].key
    return str(item.get(first))


def _entity_line(spec: ListSpec, item: Mapping[str, Any], currency: str) -> str:
    shown = []
    for f in spec.fields[1:]:
        value = item_value(item, f.key)
        if (value in (None, "", 0, "1") or value == []) and not f.required:
            continue
        shown.append(f"{f.label.lower()} {field_text(f, value, currency)}")
    return ", ".join(shown)


def _flatten(document: Mapping[str, Any]) -> dict[tuple[str, ...], tuple[str, str, str]]:
    """(key) -> (section, item label, value text) for every comparable part of a document."""
    currency = str(document.get("currency") or "")
    out: dict[tuple[str, ...], tuple[str, str, str]] = {}
    for section in SECTIONS:
        for f in section.fields:
            path = section.path(f)
            out[(path,)] = (section.title, f.label, field_text(f, _get(document, path), currency))
        for spec in section.lists:
            value = _get(document, spec.path)
            if spec.shape == "mapping":
                for name, ratio in (value or {}).items() if isinstance(value, Mapping) else ():
                    text = f"×{ratio_text(ratio)}" if isinstance(ratio, str) else str(ratio)
                    out[(spec.path, str(name))] = (section.title, f"{spec.item} {name}", text)
            elif spec.shape == "names":
                for name in value or ():
                    out[(spec.path, str(name))] = (section.title, f"{spec.item} {name}", "listed")
            elif spec.shape == "bonuses":
                for item in value or ():
                    if isinstance(item, Mapping):
                        key = _entity_key(spec, item)
                        points = item.get("points_per_unit")
                        text = _points(points) if isinstance(points, int) else str(points)
                        out[(spec.path, key)] = (
                            section.title,
                            f"{spec.item} on {key}",
                            f"{text} per unit",
                        )
            else:
                for item in value or ():
                    if not isinstance(item, Mapping):
                        continue
                    key = _entity_key(spec, item)
                    # (path, key, "") is the whole campaign or tier; (path, key, field) its parts.
                    out[(spec.path, key, "")] = (
                        section.title,
                        f"{spec.item} {key}",
                        _entity_line(spec, item, currency),
                    )
                    for f in spec.fields[1:]:
                        out[(spec.path, key, f.key)] = (
                            section.title,
                            f"{spec.item} {key} · {f.label}",
                            field_text(f, item_value(item, f.key), currency),
                        )
    return out


def diff_documents(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[Change]:
    """Field-level changes from ``before`` to ``after`` in the order of the form. A campaign
    or tier added or removed is one change, not one per field; ``version`` is not a change."""
    old = _flatten(before or {})
    new = _flatten(after)
    whole = {k[:2] for k in (*old, *new) if len(k) == 3 and k[2] == ""}
    one_side = {k for k in whole if ((*k, "") in old) != ((*k, "") in new)}
    changes: list[Change] = []
    for key in [*new, *(k for k in old if k not in new)]:
        if len(key) == 3:
            entity_line = key[2] == ""
            if entity_line != (key[:2] in one_side):
                continue  # a new or removed entity is one line; one in both, field by field
        was, now = old.get(key), new.get(key)
        section, item, _ = now or was  # type: ignore[misc]
        before_text = was[2] if was else None
        after_text = now[2] if now else None
        if before_text != after_text:
            changes.append(Change(section, item, before_text, after_text))
    order = {s.title: i for i, s in enumerate(SECTIONS)}
    changes.sort(key=lambda c: order.get(c.section, len(order)))
    return changes


# ---------------------------------------------------------------------------------------------
# A sample basket's points

# The bounds of the till's own basket lines (shared.bounds), so a sample basket is one the
# engine takes: a line's amount (quantity x unit price) is checked against MAX_MINOR below.
Count = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]
Minor = Annotated[int, Field(strict=True, ge=0, le=MAX_MINOR)]
Label = Annotated[
    str, Field(strict=True, min_length=1, max_length=100), AfterValidator(check_safe_text)
]


class SampleLine(BaseModel):
    """One line of a sample basket: ``quantity`` x ``unit_price_minor`` is its net amount."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: Label
    category: Label
    quantity: Count = 1
    unit_price_minor: Minor

    @field_validator("unit_price_minor")
    @classmethod
    def _line_amount(cls, value: int, info: ValidationInfo) -> int:
        quantity = info.data.get("quantity", 1)
        if isinstance(quantity, int) and quantity * value > MAX_MINOR:
            raise ValueError(
                f"quantity x unit_price_minor is {quantity * value:,}; a line holds at most "
                f"{MAX_MINOR:,} minor units"
            )
        return value


class SampleBasket(BaseModel):
    """A basket to compute points for, as a till would: where, when and who."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lines: list[SampleLine] = Field(min_length=1, max_length=200)
    store_id: Label = "S001"
    local_time: datetime | None = None
    """The store's wall-clock time, without a zone; default: now (UTC)."""
    tier: Label | None = None
    order_discount_minor: Minor = 0
    """An order-level discount, such as redeemed points."""

    @field_validator("local_time")
    @classmethod
    def _naive(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("local_time is the store's wall-clock time and must carry no zone")
        return value

    def total_minor(self) -> int:
        return sum(line.quantity * line.unit_price_minor for line in self.lines)


class PreviewResponse(BaseModel):
    earn: EarnResult
    """Exactly what the till and the server compute for this basket (shared compute_earn)."""
    receipt: list[str]
    """The receipt's points lines."""
    basket_total_minor: int


def preview(rules: ProgramRules, basket: SampleBasket) -> PreviewResponse:
    """The points ``basket`` earns under ``rules``, with the engine's breakdown."""
    when = basket.local_time or utc_now().replace(tzinfo=None, second=0, microsecond=0)
    try:
        lines = [
            BasketLine(
                line_no=number,
                sku=line.sku,
                category=line.category,
                quantity=line.quantity,
                net_minor=line.quantity * line.unit_price_minor,
            )
            for number, line in enumerate(basket.lines, start=1)
        ]
        context = EarnContext(store_id=basket.store_id, local_time=when, tier=basket.tier)
        result = compute_earn(
            rules, lines, context, order_discount_minor=basket.order_discount_minor
        )
    except ValidationError as error:
        # The engine's own models are stricter than a sample basket in places: say which
        # value they refused (a 422), never a 500.
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise MalformedError(f"basket: {where}: {first.get('msg', 'invalid')}") from None
    except (ValueError, OverflowError) as error:
        raise MalformedError(f"basket: {error}") from None
    return PreviewResponse(
        earn=result, receipt=list(result.summary_lines()), basket_total_minor=basket.total_minor()
    )


# ---------------------------------------------------------------------------------------------
# Writes: publishing and drafts


def clean_note(note: str | None) -> str:
    text = (note or "").strip()
    if len(text) < 3:
        raise MalformedError(
            "note: a note is required (at least 3 characters): say what changed and why"
        )
    if len(text) > MAX_NOTE:
        raise MalformedError(f"note: the note is too long ({MAX_NOTE} characters at most)")
    _refuse_control(text, "note")
    return text


def _refuse_control(text: str, field: str) -> None:
    """Tabs and line breaks are fine in a note; other control characters (PostgreSQL cannot
    store a NUL) are a 422 naming the field."""
    found = unsafe_character(text.translate(_LINE_BREAKS))
    if found is not None:
        position, character = found
        raise MalformedError(
            f"{field}: contains the control character U+{ord(character):04X} at position "
            f"{position}; remove it"
        )


_LINE_BREAKS = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def publish_version(
    database: Database,
    rules: ProgramRules,
    note: str | None,
    actor: Actor,
    *,
    base_version: int | None = None,
    draft_id: int | None = None,
) -> PublishResult:
    """Publish ``rules`` as the next version (the server numbers it: latest + 1, whatever
    ``rules.version`` says) with who and why; tills receive it on their next pull.
    ``base_version``: the version the change was made from (0: none was published), 409 when
    another was published since. ``draft_id``: the draft it came from, which goes."""
    text = clean_note(note)
    try:
        return publish_next_version(
            database,
            rules,
            actor=actor,
            note=text,
            base_version=base_version,
            draft_id=draft_id,
        )
    except RulesConflictError as error:
        raise ConflictError(str(error)) from None


def save_draft(
    database: Database,
    document: Mapping[str, Any],
    actor: Actor,
    *,
    note: str | None = None,
    base_version: int | None = None,
    draft_id: int | None = None,
) -> int:
    """Save unpublished rules (which need not pass validation yet) as a new draft, or over
    draft ``draft_id``; audited. Returns the draft's id."""
    program_id = str(document.get("program_id") or "")[:100]
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise MalformedError("version: a draft needs the version number it would publish as")
    if not 1 <= version <= MAX_VERSION:
        raise MalformedError(f"version: {version} is not a version number (1 to {MAX_VERSION})")
    if base_version is not None and not 0 <= base_version <= MAX_VERSION:
        raise MalformedError(f"base_version: {base_version} is not a version number")
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    cleaned = (note or "").strip()[:MAX_NOTE] or None
    _refuse_control(program_id, "program_id")
    _refuse_control(cleaned or "", "note")

    def work(conn: Connection) -> int:
        now = utc_now()
        values: dict[str, Any] = {
            "program_id": program_id,
            "version": version,
            "base_version": base_version,
            "document": text,
            "note": cleaned,
            "now": now,
        }
        if draft_id is None:
            saved = insert_draft(conn, created_by=actor.username, **values)
        elif update_draft(conn, draft_id, **values):
            saved = draft_id
        else:
            raise NotFoundError(f"draft {draft_id} no longer exists: it was published or deleted")
        record_action(
            conn,
            actor,
            "program.draft_save",
            now,
            target_kind="rules_draft",
            target_id=str(saved),
            detail={"version": version, "base_version": base_version, "new": draft_id is None},
        )
        return saved

    return run_write(database, work)


def remove_draft(database: Database, draft_id: int, actor: Actor) -> None:
    def work(conn: Connection) -> None:
        draft = draft_record(conn, draft_id)
        if draft is None or not delete_draft(conn, draft_id):
            raise NotFoundError(f"draft {draft_id} no longer exists: it was published or deleted")
        record_action(
            conn,
            actor,
            "program.draft_delete",
            utc_now(),
            target_kind="rules_draft",
            target_id=str(draft_id),
            detail={"version": draft.version, "created_by": draft.created_by},
        )

    run_write(database, work)
