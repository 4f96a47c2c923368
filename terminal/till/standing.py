"""A member's tier, progress and expiring points as the till says them (docs/rules.md,
"Tiers" and "Points expiry"): on the member panel, on the receipt and in ``till balance``.

HQ is the truth; the till only adds what HQ cannot know yet. The qualifying total is HQ's
figure as of the last pull plus this till's own entries HQ had not applied
(``unsent_qualifying``), and the next expiring points are HQ's less this till's unsent
redemptions, taken off the soonest lot as HQ's book will. A tier this till moved the member
up to (``tier_claimed``) counts until a pull brings HQ's answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from shared.money import format_points
from shared.points.tiers import Contribution, progress, qualifying_window
from shared.receipt import TierStanding
from shared.rules import ProgramRules
from terminal.store.members import (
    Debit,
    MemberRecord,
    MemberStanding,
    lots_left,
    member_standing,
    unsent_debits,
    unsent_qualifying,
)

__all__ = [
    "Standing",
    "day_text",
    "next_expiring",
    "qualifying_total",
    "standing_from_json",
    "standing_of",
    "standing_to_json",
    "tier_display_name",
]


@dataclass(frozen=True, slots=True)
class Standing:
    """What the till says about a member's tier and points, as of ``today``."""

    tier: str | None
    """The tier code the till sells with (its own claim, else HQ's)."""
    name: str
    """The tier's name ("Silver"), never its code."""
    perks: tuple[str, ...]
    claimed: bool
    """Moved up at this till; HQ has not confirmed it yet."""
    grace_until: date | None
    total: int
    """The qualifying total in the program's metric (HQ's + this till's unsent entries)."""
    progress: str
    """ "488 pts to Gold by 31 Dec"; "" when there is nothing to say (no tiers, unknown)."""
    expiring: tuple[date, int] | None
    today: date

    @property
    def grace_text(self) -> str:
        if self.grace_until is None:
            return ""
        day = self.grace_until  # a formal date: always with its year
        return f"On grace until {day.day} {day:%b} {day.year}"

    @property
    def expiring_text(self) -> str:
        """ "1,200 pts expire on 31 Jan"; "" when no points are due to expire."""
        if self.expiring is None:
            return ""
        day, points = self.expiring
        verb = "expires" if points == 1 else "expire"
        return f"{format_points(points)} {verb} on {day_text(day, self.today)}"

    def for_receipt(self, *, upgraded: bool = False) -> TierStanding:
        return TierStanding(
            name=self.name,
            upgraded=upgraded,
            perks=self.perks,
            progress=self.progress or None,
            grace=self.grace_text or None,
            expiring=self.expiring_text or None,
        )


def day_text(day: date, today: date) -> str:
    """ "31 Jan" within the coming year, "31 Jan 2028" further off (or in the past)."""
    near = today <= day and (day.year == today.year or (day - today).days < 300)
    return f"{day.day} {day:%b}" if near else f"{day.day} {day:%b} {day.year}"


def tier_display_name(rules: ProgramRules | None, code: str | None) -> str:
    """The tier's name in the rules; a code the rules do not know, tidied ("gold-plus" →
    "Gold plus"); no tier at all is "Member"."""
    tier = rules.tier(code) if rules is not None and code else None
    if tier is not None:
        return tier.name
    return (code or "member").replace("-", " ").replace("_", " ").capitalize()


def qualifying_total(
    db: sqlite_utils.Database,
    rules: ProgramRules,
    member: MemberRecord,
    standing: MemberStanding,
    today: date,
    *,
    plus: Contribution | None = None,
) -> tuple[int, bool]:
    """(The member's qualifying total, whether HQ's part of it is known).

    HQ's figure counts only while its window is today's: a calendar year that has turned
    since the pull starts again from this till's own entries."""
    q = rules.tier_qualification
    hq = standing.qualifying
    known = standing.qualifying_as_of is not None or member.member_id is None
    if standing.qualifying_as_of is not None and q.period == "calendar_year":
        try:
            as_of: date | None = date.fromisoformat(standing.qualifying_as_of)
        except ValueError:
            as_of = None
        if as_of is None or qualifying_window(q, as_of)[0] < qualifying_window(q, today)[0]:
            hq = Contribution()
    own = unsent_qualifying(
        db, member.member_key, standing.applied_through_seq, points_only=q.metric == "points"
    )
    total = hq.total(q) + own.total(q) + (plus.total(q) if plus else 0)
    return total, known


def next_expiring(
    expiring: tuple[tuple[date, int], ...], debits: list[Debit], today: date
) -> tuple[date, int] | None:
    """The soonest (day, points) still to expire after the ``debits`` this till made that
    HQ has not seen (taken as HQ's FIFO book takes them, :func:`lots_left`); days already
    past are HQ's expiry run's (the balance leaves them out, ``lapsed_points``)."""
    for day, points in lots_left(expiring, debits):
        if day >= today:
            return day, points
    return None


def standing_of(
    db: sqlite_utils.Database,
    rules: ProgramRules | None,
    member: MemberRecord,
    today: date,
) -> Standing:
    """The member's standing as the till shows it now."""
    stored = member_standing(db, member.member_key)
    code = member.current_tier
    tier = rules.tier(code) if rules is not None and code else None
    if stored is None or rules is None:
        return Standing(code, tier_display_name(rules, code), (), False, None, 0, "", None, today)
    total, known = qualifying_total(db, rules, member, stored, today)
    said = progress(rules, code, total, today).text if known and rules.tiers else ""
    said = said[:1].upper() + said[1:]  # "Top tier"
    grace = None
    if stored.tier_grace and stored.tier_review_on and not stored.tier_claimed:
        try:
            grace = date.fromisoformat(stored.tier_review_on)
        except ValueError:
            grace = None
    debits = unsent_debits(db, member.member_key, stored.applied_through_seq)
    return Standing(
        tier=code,
        name=tier_display_name(rules, code),
        perks=tier.perks if tier is not None else (),
        claimed=stored.tier_claimed is not None,
        grace_until=grace,
        total=total,
        progress=said,
        expiring=next_expiring(stored.expiring, debits, today),
        today=today,
    )


def standing_to_json(standing: TierStanding) -> str:
    """A receipt's standing as ``print_jobs.standing`` keeps it."""
    return json.dumps(
        {
            "name": standing.name,
            "upgraded": standing.upgraded,
            "perks": list(standing.perks),
            "progress": standing.progress,
            "grace": standing.grace,
            "expiring": standing.expiring,
        },
        ensure_ascii=False,
    )


def standing_from_json(text: str | None) -> TierStanding | None:
    """The standing a print job kept; None when it kept none (or it cannot be read: the
    receipt then prints without it rather than not at all)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        return TierStanding(
            name=str(data["name"]),
            upgraded=bool(data.get("upgraded")),
            perks=tuple(str(perk) for perk in data.get("perks") or ()),
            progress=data.get("progress"),
            grace=data.get("grace"),
            expiring=data.get("expiring"),
        )
    except (ValueError, TypeError, KeyError):
        return None
