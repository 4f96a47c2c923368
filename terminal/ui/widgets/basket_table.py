"""The lines of the sale being rung up; the highlighted row is the "selected line".

Qty, Price and Amount are what the cashier and the customer check: they always keep the
room their longest value needs, and the item's description gets what is left (cut with
"…" on a small screen, 80 columns, rather than pushing the amounts off the edge).
"""

from __future__ import annotations

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from shared.money import Money
from terminal.till.basket import Basket, BasketLine

__all__ = ["BasketTable"]

_MIN_ITEM = 8
"""The description never gets less than this (a very narrow window scrolls instead)."""
_SCROLLBAR = 1
"""Room kept for the vertical scrollbar (the stylesheet makes it one column wide)."""


def _item_text(line: BasketLine, currency: str) -> str:
    """The description; a line sold at a supervisor-approved price says so, with the
    catalog's price (the Price column shows what is charged)."""
    if line.original_price_minor is None:
        return line.product.description
    was = Money(line.original_price_minor, currency).format()
    return f"{line.product.description} · price changed, was {was}"


class BasketTable(DataTable[Text]):
    DEFAULT_CLASSES = "basket-table"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._basket: Basket | None = None

    def on_mount(self) -> None:
        self._add_columns([])

    def on_resize(self) -> None:
        if self._basket is not None:
            self.show(self._basket)

    def show(self, basket: Basket, select_line: int | None = None) -> None:
        """Redraw from the basket; keep the selection, or move it to ``select_line``."""
        keep = select_line if select_line is not None else self.selected_line_no()
        self._basket = basket
        rows = [
            (
                str(line.line_no),
                _item_text(line, basket.currency),
                f"{line.quantity:,}",
                Money(line.unit_price_minor, basket.currency).format(),
                Money(line.net_minor, basket.currency).format(),
            )
            for line in basket.lines
        ]
        self.clear(columns=True)
        self._add_columns(rows)
        for (number, item, qty, price, amount), line in zip(rows, basket.lines, strict=True):
            self.add_row(
                Text(number),
                Text(item, overflow="ellipsis", no_wrap=True),
                Text(qty, justify="right"),
                Text(price, justify="right"),
                Text(amount, justify="right"),
                key=str(line.line_no),
            )
        if not basket.lines:
            return
        numbers = [line.line_no for line in basket.lines]
        row = numbers.index(keep) if keep in numbers else len(numbers) - 1
        self.move_cursor(row=row)

    def _add_columns(self, rows: list[tuple[str, str, str, str, str]]) -> None:
        def widest(index: int, heading: str, least: int) -> int:
            return max([least, len(heading), *(len(row[index]) for row in rows)])

        number = widest(0, "#", 2)
        qty = widest(2, "Qty", 3)
        price = widest(3, "Price", 7)
        amount = widest(4, "Amount", 8)
        padding = 2 * self.cell_padding * 5
        room = self.size.width - _SCROLLBAR - padding - number - qty - price - amount
        item = max(_MIN_ITEM, room) if self.size.width else 40
        self.add_column("#", width=number, key="line")
        self.add_column("Item", width=item, key="item")
        self.add_column(Text("Qty", justify="right"), width=qty, key="qty")
        self.add_column(Text("Price", justify="right"), width=price, key="price")
        self.add_column(Text("Amount", justify="right"), width=amount, key="amount")

    def selected_line_no(self) -> int | None:
        if self.row_count == 0:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        key = self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        return int(key) if key is not None else None
