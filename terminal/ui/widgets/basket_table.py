"""The lines of the sale being rung up; the highlighted row is the "selected line".

Qty, Price and Amount are what the cashier and the customer check: they always keep the
room their longest value needs, and the item's description gets what is left (cut with
"…" on a small screen, 80 columns, rather than pushing the amounts off the edge).

Vouchers taken off the sale follow the lines as rows of their own ("Voucher V-…  −€5.00"),
so the cashier sees them, and can select one and take it off (Del) like a line. Rewards the
member buys follow them the same way ("Reward: Free bread  −€1.12"; a voucher reward shows
its price in points: it takes nothing off this sale).
"""

from __future__ import annotations

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from shared.money import Money
from terminal.till.basket import Basket, BasketLine

__all__ = ["REWARD_ROW", "VOUCHER_ROW", "BasketTable"]

VOUCHER_ROW = "voucher:"
"""Row keys of voucher rows start with this, then the voucher code (lines: their number)."""
REWARD_ROW = "reward:"
"""Row keys of reward rows start with this, then the reward's id."""

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
        keep_voucher = self._selected_key() if self.selected_line_no() is None else None
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
        keys = [str(line.line_no) for line in basket.lines]
        for voucher in basket.vouchers:
            off = Money(-voucher.discount_minor, basket.currency).format()
            rows.append(("", f"Voucher {voucher.code}", "", "", off))
            keys.append(VOUCHER_ROW + voucher.code)
        for reward in basket.rewards:
            if reward.apply_now:
                amount = Money(-reward.discount_minor, basket.currency).format()
                rows.append(("", f"Reward: {reward.name}", "", "", amount))
            else:
                rows.append(
                    ("", f"Reward voucher: {reward.name}", "", "", f"{reward.points:,} pts")
                )
            keys.append(REWARD_ROW + reward.reward_id)
        self.clear(columns=True)
        self._add_columns(rows)
        for (number, item, qty, price, amount), key in zip(rows, keys, strict=True):
            voucher_row = key.startswith((VOUCHER_ROW, REWARD_ROW))
            self.add_row(
                Text(number),
                Text(
                    item, overflow="ellipsis", no_wrap=True, style="italic" if voucher_row else ""
                ),
                Text(qty, justify="right"),
                Text(price, justify="right"),
                Text(amount, justify="right"),
                key=key,
            )
        if not keys:
            return
        if select_line is None and keep_voucher is not None and keep_voucher in keys:
            self.move_cursor(row=keys.index(keep_voucher))
            return
        numbers = [line.line_no for line in basket.lines]
        row = numbers.index(keep) if keep in numbers else len(numbers) - 1
        self.move_cursor(row=max(0, row))

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

    def _selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        return self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value

    def selected_line_no(self) -> int | None:
        """The selected basket line's number (None: no line, or a voucher is selected)."""
        key = self._selected_key()
        if key is None or key.startswith((VOUCHER_ROW, REWARD_ROW)):
            return None
        return int(key)

    def selected_voucher(self) -> str | None:
        """The selected voucher's code (None: a line, or nothing, is selected)."""
        key = self._selected_key()
        return key.removeprefix(VOUCHER_ROW) if key and key.startswith(VOUCHER_ROW) else None

    def selected_reward(self) -> str | None:
        """The selected reward's id (None: a line, a voucher, or nothing, is selected)."""
        key = self._selected_key()
        return key.removeprefix(REWARD_ROW) if key and key.startswith(REWARD_ROW) else None
