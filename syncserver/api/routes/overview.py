"""HQ API: the overview (the same figures as the dashboard's home page)."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shared.money import Money, format_points
from shared.protocol import ErrorBody
from syncserver.api.deps import DatabaseDep, ViewerDep
from syncserver.hq.overview import (
    ACTIVE_WINDOWS,
    DORMANT_MONTHS,
    OFFLINE_AFTER,
    SERIES_DAYS,
    MoneyFigures,
    load_overview,
)
from syncserver.hq.tiers import FORECAST_MONTHS, ExpiryMonth
from syncserver.storage.database import Database

__all__ = ["OverviewView", "overview_view", "router"]

router = APIRouter(prefix="/api/v1/overview", tags=["overview"])

OFFLINE_LIST_LIMIT = 50
"""Offline tills listed at most (the count is always complete; /terminals has them all)."""


class MoneyView(BaseModel):
    minor: int = Field(description="Integer minor units (cents).")
    currency: str = Field(description="ISO 4217 code.")
    text: str = Field(description='Formatted for people, e.g. "€1,234.56".')

    @classmethod
    def of(cls, money: Money) -> MoneyView:
        return cls(minor=money.minor, currency=money.currency, text=money.format())


class PointValueView(BaseModel):
    points: int
    value_minor: int = Field(description="What `points` points are worth, in minor units.")
    currency: str
    rules_version: int = Field(description="The newest published rules version (its rate).")
    text: str = Field(description='For people, e.g. "100 pts = €1.00".')


class MembersFigures(BaseModel):
    total: int
    active_30_days: int = Field(description="Members with till activity in the last 30 days.")
    active_90_days: int = Field(description="Members with till activity in the last 90 days.")


class Liability(BaseModel):
    points: int = Field(description="Points outstanding: the sum of all member balances.")
    money: MoneyView | None = Field(
        description="Their value at the program's point value (nearest minor unit, halves "
        "away from zero); null until a rules version is published."
    )
    point_value: PointValueView | None


class MoneyLiabilityView(BaseModel):
    """What the program owes in money, and breakage, in one currency (minor units)."""

    currency: str
    total: MoneyView = Field(
        description="Gift cards and credit slips + store credit + open vouchers."
    )
    gift_cards: MoneyView = Field(description="Balances of gift cards and credit slips.")
    store_credit: MoneyView = Field(description="Members' store credit balances.")
    open_vouchers: MoneyView = Field(
        description="Fixed-value vouchers issued and not past their last day."
    )
    open_percent_vouchers: int = Field(
        description="Percent vouchers issued and not past their last day (no value until used)."
    )
    breakage_expired_vouchers: MoneyView = Field(
        description="Expired voucher value: vouchers the nightly run expired and fixed "
        "vouchers' unused remainders (program:voucher_breakage)."
    )
    breakage_dormant_gift_cards: MoneyView = Field(
        description=f"Positive balance of active gift cards unused for {DORMANT_MONTHS} months "
        "or more (still owed: the cards still work)."
    )
    dormant_gift_cards: int = Field(description="How many cards that is.")


def money_liability_view(figures: MoneyFigures) -> MoneyLiabilityView:
    def view(minor: int) -> MoneyView:
        return MoneyView.of(Money(minor, figures.currency))

    return MoneyLiabilityView(
        currency=figures.currency,
        total=view(figures.total_minor),
        gift_cards=view(figures.gift_cards_minor),
        store_credit=view(figures.store_credit_minor),
        open_vouchers=view(figures.open_vouchers_minor),
        open_percent_vouchers=figures.open_percent_vouchers,
        breakage_expired_vouchers=view(figures.voucher_breakage_minor),
        breakage_dormant_gift_cards=view(figures.dormant_minor),
        dormant_gift_cards=figures.dormant_cards,
    )


class DayView(BaseModel):
    day: date = Field(description="A UTC day.")
    issued: int = Field(description="Points earned at tills, less voided earn.")
    redeemed: int = Field(
        description="Points redeemed at tills, less voided redemptions and points returns "
        "gave back."
    )
    reversed: int = Field(description="Earned points that returns took back.")


class ExceptionKindView(BaseModel):
    kind: str
    count: int
    link: str = Field(description="The dashboard's exceptions queue, filtered to this kind.")


class OpenExceptions(BaseModel):
    total: int
    by_kind: list[ExceptionKindView]


class OfflineTillView(BaseModel):
    terminal_id: str
    store_id: str
    name: str
    last_contact: datetime | None = Field(
        description="The later of its last push and last pull; null: never in contact."
    )


class OfflineTills(BaseModel):
    count: int
    after_minutes: int = Field(description="Silent for longer than this counts as offline.")
    tills: list[OfflineTillView] = Field(
        description=f"The longest silent first, at most {OFFLINE_LIST_LIMIT}."
    )
    link: str = "/terminals"


class OverviewView(BaseModel):
    as_of: datetime = Field(
        description="When the member, liability and daily figures were computed."
    )
    cached: bool = Field(
        description="Those figures came from the server's short cache (large programs)."
    )
    age_seconds: int = Field(description="How old those figures are.")
    members: MembersFigures
    liability: Liability
    money_liability: list[MoneyLiabilityView] = Field(
        description="Money owed (gift cards, credit slips, store credit, open vouchers) and "
        "breakage, per currency (a program has one); computed and cached with the member "
        "and liability figures. Empty until any money has moved."
    )
    days: list[DayView] = Field(description=f"The last {SERIES_DAYS} UTC days, oldest first.")
    issued_total: int = Field(description="Issued over the days shown.")
    redeemed_total: int = Field(description="Redeemed over the days shown.")
    open_exceptions: OpenExceptions
    offline_tills: OfflineTills
    expiry_forecast: list[ExpiryMonth] = Field(
        description=f"Points expiring in each of the next {FORECAST_MONTHS} calendar months, "
        "the current one first (points past their day that the daily run has not expired "
        "yet count in the current month); empty while a large program's first forecast is "
        "computed in the background."
    )
    expiry_forecast_total: int = Field(description="The forecast's months together.")
    expiry_forecast_money: MoneyView | None = Field(
        description="Their value at the program's point value; null without rules."
    )
    expiry_forecast_as_of: datetime | None = Field(
        description="When the forecast was computed (kept up to ten minutes on large "
        "programs); null while it is being computed."
    )
    expiry_rule: str | None = Field(
        description="The program's expiry rule in words (\"Points expire 12 months after "
        'they are earned."); null until a rules version is published.'
    )


def exceptions_link(kind: str) -> str:
    return "/exceptions?" + urlencode({"kind": kind})


def overview_view(database: Database) -> OverviewView:
    """The overview as the API answers it (the dashboard renders the same object)."""
    overview = load_overview(database)
    figures = overview.figures
    value = overview.point_value
    liability = overview.liability
    forecast = overview.forecast
    expiring = sum(points for _, points in forecast.months) if forecast else 0
    short, long = ACTIVE_WINDOWS
    return OverviewView(
        as_of=figures.computed_at,
        cached=overview.cached,
        age_seconds=int(overview.age.total_seconds()),
        members=MembersFigures(
            total=figures.members_total,
            active_30_days=figures.active[short],
            active_90_days=figures.active[long],
        ),
        liability=Liability(
            points=figures.points_outstanding,
            money=MoneyView.of(liability) if liability is not None else None,
            point_value=PointValueView(
                points=value.points,
                value_minor=value.value_minor,
                currency=value.currency,
                rules_version=value.rules_version,
                text=f"{format_points(value.points)} = "
                f"{Money(value.value_minor, value.currency).format()}",
            )
            if value is not None
            else None,
        ),
        money_liability=[money_liability_view(each) for each in figures.money],
        days=[
            DayView(day=d.day, issued=d.issued, redeemed=d.redeemed, reversed=d.reversed)
            for d in figures.days
        ],
        issued_total=sum(d.issued for d in figures.days),
        redeemed_total=sum(d.redeemed for d in figures.days),
        open_exceptions=OpenExceptions(
            total=overview.open_exceptions_total,
            by_kind=[
                ExceptionKindView(kind=e.kind, count=e.count, link=exceptions_link(e.kind))
                for e in overview.open_exceptions
            ],
        ),
        offline_tills=OfflineTills(
            count=len(overview.offline_tills),
            after_minutes=int(OFFLINE_AFTER.total_seconds() // 60),
            tills=[
                OfflineTillView(
                    terminal_id=t.terminal_id,
                    store_id=t.store_id,
                    name=t.name,
                    last_contact=t.last_contact,
                )
                for t in overview.offline_tills[:OFFLINE_LIST_LIMIT]
            ],
        ),
        expiry_forecast=[
            ExpiryMonth(month=month, points=points) for month, points in forecast.months
        ]
        if forecast
        else [],
        expiry_forecast_total=expiring,
        expiry_forecast_money=MoneyView.of(value.value_of(expiring)) if value else None,
        expiry_forecast_as_of=forecast.computed_at if forecast else None,
        expiry_rule=overview.expiry_rule,
    )


@router.get("", responses={s: {"model": ErrorBody} for s in (401, 403)})
def get_overview(_user: ViewerDep, database: DatabaseDep) -> OverviewView:
    """Members (total, active in 30 and 90 days), points outstanding in points and money,
    points issued and redeemed per day over the last 30 days, open exceptions by kind and
    tills offline for more than an hour, the points expiring in each of the next 12 months,
    and the money liability (gift cards, credit slips, store credit, open vouchers) with
    breakage (expired vouchers, dormant gift cards). Large programs get the member,
    liability, money and daily figures from a cache of at most about a minute (``as_of``,
    ``cached``), the expiry forecast from one of at most ten minutes
    (``expiry_forecast_as_of``)."""
    return overview_view(database)
