"""Who the sale is for: name, tier (by name, with its perks), balance, points this sale earns
(live), progress to the next tier, the next points to expire, offers."""

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
    rewards: int = 0
    """How many rewards the member can buy now (``Till.rewards_for``)."""
    reward_points: int = 0
    """Points the rewards chosen on this sale cost."""


class MemberPanel(Static):
    DEFAULT_CLASSES = "member-panel"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: MemberShown | None = None

    def on_resize(self) -> None:
        self.update(render_member(self._shown, self._room()))

    def show(self, shown: MemberShown | None) -> None:
        self._shown = shown
        self.set_class(shown is None, "-empty")
        self.update(render_member(shown, self._room()))

    def _room(self) -> int:
        """Columns a line can use (the scrollbar's column kept free)."""
        return self.size.width - 1 if self.size.width > 1 else _WIDTH + 4

    @property
    def text(self) -> str:
        return str(self.content)


def render_member(shown: MemberShown | None, room: int = _WIDTH + 4) -> Content:
    """The panel for ``room`` columns: rows of label … value line up at up to _WIDTH."""
    if shown is None:
        return Content("No member\n\nScan a loyalty card, or F2 to find one").stylize("dim")
    width = min(_WIDTH, room)
    view = shown.view
    standing = view.standing
    earn = shown.earn.total_points if shown.earn else 0
    tier = standing.name if standing is not None else tier_name(view.tier)
    card = f"{tier} · card {mask_card_number(view.card_number)}"
    if len(card) > room:  # a small screen: the last four digits are what is checked
        card = f"{tier} · card …{view.card_number[-4:]}"
    rows: list[Content] = [
        Content(view.name).stylize("bold"),
        Content(card),
    ]
    if standing is not None:
        rows += [Content(f"  {perk}").stylize("italic") for perk in standing.perks]
    rows += [
        Content(""),
        _row("Balance", format_points(view.balance), width),
        _row("This sale earns", "+" + format_points(earn), width, short="Earns"),
    ]
    if shown.redemption is not None:
        discount = Money(shown.redemption.discount_minor, shown.currency).format()
        rows.append(
            _row("Redeeming", f"{format_points(shown.redemption.points)} = {discount}", width)
        )
    if shown.reward_points:
        rows.append(_row("Rewards", "-" + format_points(shown.reward_points), width))
    if shown.rewards:
        plural = "reward" if shown.rewards == 1 else "rewards"
        rows.append(Content(f"{shown.rewards} {plural} — F11").stylize("bold"))
    if standing is not None:
        # What comes next for the member: grace, the next tier, the next points to expire.
        if standing.grace_text:
            rows.append(Content(standing.grace_text).stylize("bold"))
        if standing.progress:
            rows.append(Content(standing.progress))
        if standing.expiring_text:
            rows.append(Content(standing.expiring_text).stylize("bold"))
    rows.append(Content(""))
    if not shown.breakdown:
        hint = "Ctrl+B: how the points add up"
        rows.append(Content(hint if len(hint) <= width else "Ctrl+B: points detail").stylize("dim"))
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


def _row(label: str, value: str, width: int = _WIDTH, *, short: str = "") -> Content:
    if short and len(label) + 1 + len(value) > width:
        label = short  # a small screen: keep it on one line
    gap = max(1, width - len(label) - len(value))
    return Content(f"{label}{' ' * gap}{value}")
