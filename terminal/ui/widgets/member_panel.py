"""Who the sale is for: name, tier, balance, points this sale earns (live), offers."""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content
from textual.widgets import Static

from shared.codes.generate import mask_card_number
from shared.money import Money, format_points
from shared.rules import EarnResult
from shared.rules.redeem import RedemptionQuote
from terminal.till.service import MemberView

__all__ = ["MemberPanel", "MemberShown"]

_WIDTH = 30


@dataclass(frozen=True, slots=True)
class MemberShown:
    """Everything the panel shows for one basket state."""

    view: MemberView
    currency: str
    earn: EarnResult | None
    redemption: RedemptionQuote | None
    breakdown: bool = False


class MemberPanel(Static):
    DEFAULT_CLASSES = "member-panel"

    def show(self, shown: MemberShown | None) -> None:
        self.set_class(shown is None, "-empty")
        self.update(render_member(shown))

    @property
    def text(self) -> str:
        return str(self.content)


def render_member(shown: MemberShown | None) -> Content:
    if shown is None:
        return Content("No member\n\nScan a loyalty card, or F2 to find one").stylize("dim")
    view = shown.view
    earn = shown.earn.total_points if shown.earn else 0
    rows: list[Content] = [
        Content(view.name).stylize("bold"),
        Content(f"{tier_name(view.tier)} · card {mask_card_number(view.card_number)}"),
        Content(""),
        _row("Balance", format_points(view.balance)),
        _row("This sale earns", "+" + format_points(earn)),
    ]
    if shown.redemption is not None:
        discount = Money(shown.redemption.discount_minor, shown.currency).format()
        rows.append(_row("Redeeming", f"{format_points(shown.redemption.points)} = {discount}"))
    rows.append(Content(""))
    if not shown.breakdown:
        rows.append(Content("Ctrl+B: how the points add up").stylize("dim"))
    elif shown.earn is None:
        rows.append(Content("Nothing earned yet").stylize("dim"))
    else:
        rows += [Content(f"  {line}") for line in shown.earn.summary_lines()]
        rows += [Content(f"  {note}").stylize("italic") for note in shown.earn.notes]
    if view.offers:
        rows += [Content(""), Content("Offers").stylize("bold")]
        rows += [Content(f"• {offer.title}") for offer in view.offers]
    return Content("\n").join(rows)


def tier_name(tier: str | None) -> str:
    return (tier or "member").replace("-", " ").capitalize()


def _row(label: str, value: str) -> Content:
    gap = max(1, _WIDTH - len(label) - len(value))
    return Content(f"{label}{' ' * gap}{value}")
