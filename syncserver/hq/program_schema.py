"""How each field of :class:`shared.rules.ProgramRules` is shown to HQ staff: its label, its
kind of input, and where it sits in the document.

The dashboard's program editor, the plain-language summary and the version diff all read this
one description, and a test walks ``ProgramRules.model_fields`` to prove every field of the
model appears here exactly once (a new rules field cannot be silently missing from the form).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "LIST_BY_PATH",
    "SECTIONS",
    "WEEKDAYS",
    "FieldSpec",
    "Kind",
    "ListSpec",
    "SectionSpec",
    "document_paths",
    "item_value",
]

Kind = Literal[
    "text",  # a non-empty name (id, code, SKU, category)
    "int",  # a whole number; empty means the model's default
    "optional_int",  # a whole number or empty (null)
    "money",  # minor units in the document, typed as a decimal amount ("3.50")
    "ratio",  # an exact ratio string: "1.5" or "3/2"
    "bool",  # a checkbox
    "currency",  # a select of the known currencies
    "rounding",  # a select of shared.money.Rounding
    "date",  # ISO date or empty (open)
    "names",  # comma-separated names, empty = all (null)
    "weekdays",  # checkboxes 0..6, none = every day (null)
    "hours",  # [from, to) whole hours, both empty = all day (null)
    "target",  # a unit bonus's "sku" or "category"
    "datetime",  # a local date and time (the editor's sample basket)
    "choice",  # a select of FieldSpec.choices
    "lines",  # a text area, one item per line (a tier's perks); empty = none
    "percent",  # basis points in the document, typed as a percentage ("12.5")
]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    key: str
    """The document key (inside its section or list item)."""
    label: str
    kind: Kind
    help: str = ""
    required: bool = False
    """Empty input is an error ("required") rather than the model's default or null."""
    readonly: bool = False
    empty: str = ""
    """What an empty value means, in summaries and diffs ("no maximum")."""
    choices: tuple[tuple[str, str], ...] = ()
    """For ``choice``: (document value, label), the model's default first."""
    default: str | int | None = None
    """The model's default, shown in the form and in diffs when a document (an older
    version) leaves the field out."""

    def choice_label(self, value: object) -> str | None:
        return next((label for key, label in self.choices if key == value), None)


@dataclass(frozen=True, slots=True)
class ListSpec:
    path: str
    """Dotted document path of the list: "campaigns", "earn.category_multipliers"."""
    title: str
    item: str
    """What one row is called: "Campaign", "Category multiplier"."""
    shape: Literal["models", "mapping", "names", "bonuses"]
    """models: a list of objects; mapping: an object of name -> value (first field is the
    key); names: a list of strings (one field); bonuses: unit bonuses (sku or category)."""
    fields: tuple[FieldSpec, ...]
    help: str = ""
    wide: bool = False
    """Rows with many fields are laid out as cards rather than table rows."""

    @property
    def key(self) -> str:
        return self.path.rsplit(".", 1)[-1]


@dataclass(frozen=True, slots=True)
class SectionSpec:
    key: str | None
    """The document key of the section's object ("earn"), or None for top-level fields."""
    anchor: str
    title: str
    fields: tuple[FieldSpec, ...] = ()
    lists: tuple[ListSpec, ...] = ()
    help: str = ""

    def path(self, field: FieldSpec) -> str:
        return f"{self.key}.{field.key}" if self.key else field.key


_CAMPAIGNS = ListSpec(
    path="campaigns",
    title="Campaigns",
    item="Campaign",
    shape="models",
    wide=True,
    help=(
        "A promotion: a multiplier (at least 1) on the lines it targets, and/or bonus points "
        "once per qualifying order. Leave a filter empty to mean 'all'. Where several "
        "campaigns match a line, the highest multiplier wins; bonuses add up."
    ),
    fields=(
        FieldSpec("id", "Campaign id", "text", "short, unique, e.g. spring-bonus", required=True),
        FieldSpec("name", "Name", "text", "printed on receipts", required=True),
        FieldSpec("multiplier", "Multiplier", "ratio", "1 = no multiplier; 2 = double points"),
        FieldSpec("bonus_points", "Bonus points per order", "int"),
        FieldSpec("starts", "Starts", "date", "inclusive; empty = open"),
        FieldSpec("ends", "Ends", "date", "inclusive; empty = open"),
        FieldSpec("weekdays", "Weekdays", "weekdays", "none ticked = every day"),
        FieldSpec("hours", "Hours", "hours", "from (inclusive) to (exclusive); 22–2 wraps"),
        FieldSpec("stores", "Stores", "names", "comma-separated store ids; empty = all"),
        FieldSpec("categories", "Categories", "names", "comma-separated; empty = all lines"),
        FieldSpec("skus", "SKUs", "names", "comma-separated; empty = all lines"),
        FieldSpec("min_spend_minor", "Minimum spend on its items", "money"),
        FieldSpec(
            "voucher.value_minor",
            "Voucher: amount off / percentage cap",
            "money",
            "a voucher for the next visit to each qualifying sale; empty = no voucher "
            "(with a percentage: the most it takes off)",
            empty="none",
        ),
        FieldSpec("voucher.percent_bp", "Voucher: percent off", "percent", "0.01–100", empty="—"),
        FieldSpec(
            "voucher.min_spend_minor",
            "Voucher: minimum spend to redeem",
            "money",
            "on the later sale",
        ),
        FieldSpec(
            "voucher.valid_days",
            "Voucher: valid for (days)",
            "int",
            "1–3650, the day of issue counting as the first",
        ),
    ),
)

_TIERS = ListSpec(
    path="tiers",
    title="Tiers",
    item="Tier",
    shape="models",
    help=(
        "Membership levels; a tier's multiplier applies to every line its members buy, and "
        "its perks are shown at the till and printed on the receipt."
    ),
    fields=(
        FieldSpec("code", "Code", "text", required=True),
        FieldSpec("name", "Name", "text", required=True),
        FieldSpec(
            "threshold_points",
            "Threshold",
            "int",
            "in the qualifying unit below: points, cents of spend, or visits",
            required=True,
        ),
        FieldSpec("multiplier", "Multiplier", "ratio"),
        FieldSpec("perks", "Perks", "lines", "one per line, e.g. Free delivery", empty="none"),
    ),
)

_REWARDS = ListSpec(
    path="rewards",
    title="Rewards",
    item="Reward",
    shape="models",
    wide=True,
    help=(
        "What members buy with points: an amount or a percentage off (optionally on some "
        "categories, from a minimum spend), a free product, or bonus points on the next visit. "
        "Fill in only the fields its kind uses. Delivered as a printed voucher for later, or "
        "taken off the sale at once (not a bonus multiplier: that is always a voucher)."
    ),
    fields=(
        FieldSpec("id", "Reward id", "text", "short, unique, e.g. five-off", required=True),
        FieldSpec("name", "Name", "text", "shown at the till and printed", required=True),
        FieldSpec("points", "Price (points)", "int", required=True),
        FieldSpec(
            "kind",
            "Kind",
            "choice",
            choices=(
                ("voucher_amount", "an amount off"),
                ("voucher_percent", "a percentage off"),
                ("free_product", "a free product"),
                ("bonus_multiplier", "bonus points on the next visit"),
            ),
            required=True,
        ),
        FieldSpec(
            "value_minor",
            "Amount off / percentage cap",
            "money",
            "amount off: required; percentage: the most it takes off (empty = no cap)",
            empty="none",
        ),
        FieldSpec("percent_bp", "Percent off", "percent", "percentage only: 0.01–100", empty="—"),
        FieldSpec("min_spend_minor", "Minimum spend", "money", "on the lines it applies to"),
        FieldSpec(
            "categories",
            "Categories",
            "names",
            "amount or percentage: comma-separated; empty = every line",
        ),
        FieldSpec("sku", "Free product (SKU)", "text", "free product only", empty="—"),
        FieldSpec(
            "multiplier",
            "Points multiplier",
            "ratio",
            'bonus points only: above 1, at most 10, e.g. "2"',
            empty="—",
        ),
        FieldSpec(
            "delivery",
            "Delivery",
            "choice",
            choices=(("voucher", "a printed voucher for later"), ("apply_now", "off this sale")),
            default="voucher",
        ),
        FieldSpec(
            "valid_days",
            "Voucher valid for (days)",
            "int",
            "1–3650, the day of issue counting as the first",
            default=30,
        ),
        FieldSpec("starts", "On sale from", "date", "inclusive; empty = open"),
        FieldSpec("ends", "On sale until", "date", "inclusive; empty = open"),
        FieldSpec("tiers", "Tiers", "names", "comma-separated tier codes; empty = every member"),
        FieldSpec(
            "stock",
            "Stock",
            "optional_int",
            "how many can be issued in all; empty = no limit",
            empty="no limit",
        ),
    ),
)

_TIER_QUALIFICATION = SectionSpec(
    key="tier_qualification",
    anchor="section-tier-qualification",
    title="Tier qualification",
    help=(
        "A member moves up at once when a sale takes their qualifying total over a tier's "
        "threshold; they move down only at a review, to the tier they requalify for."
    ),
    fields=(
        FieldSpec(
            "metric",
            "Qualify by",
            "choice",
            choices=(("points", "points earned"), ("spend", "spend"), ("visits", "visits")),
            default="points",
        ),
        FieldSpec(
            "period",
            "Counted over",
            "choice",
            choices=(("rolling", "a rolling window"), ("calendar_year", "the calendar year")),
            default="rolling",
            help="calendar year: reviewed on 1 January",
        ),
        FieldSpec(
            "window_months",
            "Window (months)",
            "int",
            "rolling window: 1–120; reviewed this long after a tier is reached",
            default=12,
        ),
        FieldSpec(
            "grace_months",
            "Grace (months)",
            "int",
            "0–24: a member who misses keeps the tier this much longer, once",
            default=0,
        ),
        FieldSpec("one_tier_down", "At most one tier down per review", "bool"),
    ),
)

_EXPIRY = SectionSpec(
    key="expiry",
    anchor="section-expiry",
    title="Points expiry",
    help="Points are kept in lots, one per earning; redemptions use the oldest points first.",
    fields=(
        FieldSpec(
            "mode",
            "Points expire",
            "choice",
            choices=(
                ("never", "never"),
                ("months_after_earn", "months after they are earned"),
                ("end_of_year", "at the end of a year"),
                ("inactivity", "months after the last visit"),
            ),
            default="never",
        ),
        FieldSpec(
            "months",
            "Months",
            "optional_int",
            "1–120: for 'after they are earned' and 'after the last visit'",
            empty="—",
        ),
        FieldSpec(
            "years",
            "Years after the year earned",
            "int",
            "end of a year: 0 = 31 Dec of the same year, 1 = of the next",
            default=1,
        ),
    ),
)

SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec(
        key=None,
        anchor="section-program",
        title="Program",
        fields=(
            FieldSpec(
                "program_id",
                "Program id",
                "text",
                "fixed once a version is published",
                required=True,
            ),
            FieldSpec("currency", "Currency", "currency", required=True),
            FieldSpec(
                "rounding",
                "Rounding of each line's points",
                "rounding",
                "down never issues a fraction of a point too many",
                required=True,
            ),
        ),
    ),
    SectionSpec(
        key="earn",
        anchor="section-earn",
        title="Earning",
        fields=(
            FieldSpec(
                "points_per_unit",
                "Points per spend unit",
                "ratio",
                'exact: "1", "1.5" or "3/2"',
                required=True,
            ),
            FieldSpec(
                "spend_unit_minor",
                "Spend unit",
                "money",
                "e.g. 1.00 = points per whole euro",
                required=True,
            ),
            FieldSpec("min_spend_minor", "Minimum spend", "money", "below it an order earns 0"),
            FieldSpec("per_order_points", "Visit bonus (points per order)", "int"),
            FieldSpec(
                "earn_on_discounted",
                "Spend paid with redeemed points still earns",
                "bool",
            ),
        ),
        lists=(
            ListSpec(
                path="earn.category_multipliers",
                title="Category multipliers",
                item="Category multiplier",
                shape="mapping",
                help="Multiply the points of every line in a category (0 = no points).",
                fields=(
                    FieldSpec("category", "Category", "text", required=True),
                    FieldSpec("multiplier", "Multiplier", "ratio", required=True),
                ),
            ),
            ListSpec(
                path="earn.sku_multipliers",
                title="SKU multipliers",
                item="SKU multiplier",
                shape="mapping",
                help="A SKU's multiplier replaces its category's.",
                fields=(
                    FieldSpec("sku", "SKU", "text", required=True),
                    FieldSpec("multiplier", "Multiplier", "ratio", required=True),
                ),
            ),
            ListSpec(
                path="earn.excluded_categories",
                title="Excluded categories",
                item="Excluded category",
                shape="names",
                help="Never earn and never count as spend (tobacco, gift cards, deposits).",
                fields=(FieldSpec("category", "Category", "text", required=True),),
            ),
            ListSpec(
                path="earn.excluded_skus",
                title="Excluded SKUs",
                item="Excluded SKU",
                shape="names",
                fields=(FieldSpec("sku", "SKU", "text", required=True),),
            ),
            ListSpec(
                path="earn.unit_bonuses",
                title="Unit bonuses",
                item="Unit bonus",
                shape="bonuses",
                help="Fixed points per unit bought, added after all multipliers.",
                fields=(
                    FieldSpec("applies_to", "Applies to", "target", required=True),
                    FieldSpec("name", "SKU or category", "text", required=True),
                    FieldSpec("points_per_unit", "Points per unit", "int", required=True),
                ),
            ),
        ),
    ),
    SectionSpec(key=None, anchor="section-campaigns", title="Campaigns", lists=(_CAMPAIGNS,)),
    SectionSpec(key=None, anchor="section-tiers", title="Tiers", lists=(_TIERS,)),
    _TIER_QUALIFICATION,
    SectionSpec(
        key="redemption",
        anchor="section-redemption",
        title="Redemption",
        help="Points points are worth the value; every redemption is a whole number of cents.",
        fields=(
            FieldSpec("points", "Points", "int", "this many points …", required=True),
            FieldSpec("value_minor", "… are worth", "money", required=True),
            FieldSpec(
                "step_points",
                "Redeem in steps of (points)",
                "optional_int",
                "empty = points",
                empty="the points above",
            ),
            FieldSpec("min_points", "Minimum per redemption (points)", "int"),
            FieldSpec(
                "max_points_per_transaction",
                "Maximum per transaction (points)",
                "optional_int",
                "empty = no maximum",
                empty="no maximum",
            ),
            FieldSpec("max_basket_percent", "Maximum share of the basket (%)", "int", "1–100"),
        ),
    ),
    SectionSpec(key=None, anchor="section-rewards", title="Rewards", lists=(_REWARDS,)),
    _EXPIRY,
    SectionSpec(
        key="offline",
        anchor="section-offline",
        title="Offline tills",
        fields=(
            FieldSpec(
                "redemption_cap_points_per_day",
                "Offline redemption cap (points per member per day)",
                "int",
                "the till refuses more while it cannot reach HQ",
                required=True,
            ),
            FieldSpec(
                "voucher_cap_minor_per_day",
                "Offline voucher cap (per till per day)",
                "money",
                "voucher value a till takes off sales per day without HQ's word",
            ),
            FieldSpec(
                "giftcard_cap_minor_per_day",
                "Offline gift card cap (per card per day)",
                "money",
                "what a gift card or store credit pays per day beyond HQ's last balance",
            ),
        ),
    ),
)

LIST_BY_PATH: dict[str, ListSpec] = {
    spec.path: spec for section in SECTIONS for spec in section.lists
}


def item_value(item: Mapping[str, Any], key: str) -> Any:
    """A list item's value for a field key, following a dotted key into a nested object
    ("voucher.value_minor" of a campaign); None when absent."""
    value: Any = item
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def document_paths() -> Iterator[str]:
    """Every document field the spec covers, as dotted paths ("campaigns.hours"), plus
    ``version`` (which the editor sets itself)."""
    yield "version"
    for section in SECTIONS:
        for field in section.fields:
            yield section.path(field)
        for spec in section.lists:
            if spec.shape == "models":
                for field in spec.fields:
                    yield f"{spec.path}.{field.key}"
            elif spec.shape == "bonuses":
                yield f"{spec.path}.sku"
                yield f"{spec.path}.category"
                yield f"{spec.path}.points_per_unit"
            else:
                yield spec.path
