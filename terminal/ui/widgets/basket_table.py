"""The lines of the sale being rung up; the highlighted row is the "selected line"."""

from __future__ import annotations

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from shared.money import Money
from terminal.till.basket import Basket

__all__ = ["BasketTable"]


class BasketTable(DataTable[Text]):
    DEFAULT_CLASSES = "basket-table"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.add_column("#", width=3, key="line")
        self.add_column("Item", width=40, key="item")
        self.add_column(Text("Qty", justify="right"), width=5, key="qty")
        self.add_column(Text("Price", justify="right"), width=10, key="price")
        self.add_column(Text("Amount", justify="right"), width=11, key="amount")

    def show(self, basket: Basket, select_line: int | None = None) -> None:
        """Redraw from the basket; keep the selection, or move it to ``select_line``."""
        keep = select_line if select_line is not None else self.selected_line_no()
        self.clear()
        for line in basket.lines:
            self.add_row(
                Text(str(line.line_no)),
                Text(line.product.description, overflow="ellipsis", no_wrap=True),
                Text(str(line.quantity), justify="right"),
                Text(Money(line.unit_price_minor, basket.currency).format(), justify="right"),
                Text(Money(line.net_minor, basket.currency).format(), justify="right"),
                key=str(line.line_no),
            )
        if not basket.lines:
            return
        numbers = [line.line_no for line in basket.lines]
        row = numbers.index(keep) if keep in numbers else len(numbers) - 1
        self.move_cursor(row=row)

    def selected_line_no(self) -> int | None:
        if self.row_count == 0:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        key = self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        return int(key) if key is not None else None
