"""Running totals of the sale: subtotal, points, voucher and reward discounts, total, tax,
paid, due."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from shared.money import Money
from terminal.till.basket import Basket

__all__ = ["Totals"]

_WIDTH = 30


class Totals(Static):
    DEFAULT_CLASSES = "totals"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.last_done: str | None = None
        """A few lines about the sale, refund or shift close just done (so the change due
        stays in view while the next customer is rung up)."""
        self._basket: Basket | None = None

    def on_resize(self) -> None:
        if self._basket is not None:
            self.show(self._basket)

    def show(self, basket: Basket) -> None:
        self._basket = basket
        # Amounts line up on the right at up to _WIDTH columns; less on a small screen.
        width = min(_WIDTH, self.size.width) if self.size.width else _WIDTH

        def money(minor: int) -> str:
            return Money(minor, basket.currency).format()

        def row(label: str, amount: str, style: str = "") -> Content:
            return _row(label, amount, style, width)

        items = sum(line.quantity for line in basket.lines)
        rows: list[Content] = [row(f"Items ({items})", money(basket.subtotal_minor))]
        if basket.points_discount_minor:
            rows.append(row("Points discount", money(-basket.points_discount_minor)))
        if basket.voucher_discount_minor:
            count = len(basket.vouchers)
            label = "Voucher" if count == 1 else f"Vouchers ({count})"
            rows.append(row(label, money(-basket.voucher_discount_minor)))
        if basket.reward_discount_minor:
            count = sum(1 for reward in basket.rewards if reward.discount_minor)
            label = "Reward" if count == 1 else f"Rewards ({count})"
            rows.append(row(label, money(-basket.reward_discount_minor)))
        rows.append(row("TOTAL", money(basket.total_minor), "bold reverse"))
        rows.append(row("incl. tax", money(basket.tax_minor), "dim"))
        if basket.tenders:
            rows.append(row("Paid", money(basket.paid_minor)))
            if basket.due_minor > 0:
                rows.append(row("Due", money(basket.due_minor), "bold"))
            else:
                rows.append(row("Change", money(-basket.due_minor), "bold"))
        if self.last_done:
            rows += [Content(""), Content(self.last_done).stylize("dim")]
        self.update(Content("\n").join(rows))

    @property
    def text(self) -> str:
        return str(self.content)


def _row(label: str, amount: str, style: str = "", width: int = _WIDTH) -> Content:
    gap = max(1, width - len(label) - len(amount))
    row = Content(f"{label}{' ' * gap}{amount}")
    return row.stylize(style) if style else row
