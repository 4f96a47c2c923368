"""Running totals of the sale: subtotal, points discount, total, tax, paid and due."""

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

    def show(self, basket: Basket) -> None:
        def money(minor: int) -> str:
            return Money(minor, basket.currency).format()

        items = sum(line.quantity for line in basket.lines)
        rows: list[Content] = [_row(f"Items ({items})", money(basket.subtotal_minor))]
        if basket.discount_minor:
            rows.append(_row("Points discount", money(-basket.discount_minor)))
        rows.append(_row("TOTAL", money(basket.total_minor), "bold reverse"))
        rows.append(_row("incl. tax", money(basket.tax_minor), "dim"))
        if basket.tenders:
            rows.append(_row("Paid", money(basket.paid_minor)))
            if basket.due_minor > 0:
                rows.append(_row("Due", money(basket.due_minor), "bold"))
            else:
                rows.append(_row("Change", money(-basket.due_minor), "bold"))
        if self.last_done:
            rows += [Content(""), Content(self.last_done).stylize("dim")]
        self.update(Content("\n").join(rows))

    @property
    def text(self) -> str:
        return str(self.content)


def _row(label: str, amount: str, style: str = "") -> Content:
    gap = max(1, _WIDTH - len(label) - len(amount))
    row = Content(f"{label}{' ' * gap}{amount}")
    return row.stylize(style) if style else row
