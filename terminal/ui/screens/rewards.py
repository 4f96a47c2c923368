"""The member's rewards: what they can buy with their points now, cheapest first.

Each row says what the reward gives (``reward_effect``), its price and whether it comes off
this sale or is a voucher printed on the receipt. Enter buys the highlighted one: the
screen answers with its id and the sale screen asks the till (which may still refuse, and
says why in the message line). The list is the till's ``rewards_for``: the balance less
what this sale already commits, the member's tier, the store's date and the stock.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Label

from shared.money import format_points
from shared.rules.model import Reward
from shared.rules.rewards import reward_effect
from terminal.ui.keymap import REWARD_KEYS, bindings
from terminal.ui.screens.dialog import Dialog, on_top

__all__ = ["RewardsScreen", "delivery_words"]


def delivery_words(reward: Reward) -> str:
    return "apply now" if reward.delivery == "apply_now" else "voucher"


class RewardsScreen(Dialog[str | None]):
    """Dismisses with the chosen reward's id, or None (Esc)."""

    BINDINGS = bindings(REWARD_KEYS)
    AUTO_FOCUS = "#rewards"
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(
        self,
        member_name: str,
        rewards: list[Reward],
        currency: str,
        product_names: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.member_name = member_name
        self.rewards = rewards
        self.currency = currency
        self.product_names = product_names or {}
        """A free product's SKU -> its name in the catalog."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide rewards"):
            yield Label(f"Rewards for {self.member_name}", classes="dialog-title")
            yield DataTable[Text](id="rewards", cursor_type="row", zebra_stripes=True)
            yield Label(
                "Enter buys the highlighted reward with points · Esc: back to the sale",
                classes="dialog-hint",
            )
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Reward", key="name")
        table.add_column("Gives", key="effect")
        table.add_column(Text("Points", justify="right"), key="points")
        table.add_column("How", key="how")
        for reward in self.rewards:
            table.add_row(
                Text(reward.name, overflow="ellipsis", no_wrap=True),
                Text(self._effect(reward), overflow="ellipsis", no_wrap=True),
                Text(format_points(reward.points), justify="right"),
                Text(delivery_words(reward)),
                key=reward.id,
            )

    def _effect(self, reward: Reward) -> str:
        name = self.product_names.get(reward.sku) if reward.sku is not None else None
        return reward_effect(reward, self.currency, name)

    def rows(self) -> list[list[str]]:
        """The list as the cashier reads it (for tests and the help of a screen reader)."""
        table = self.query_one(DataTable)
        return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]

    @on_top
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.dismiss(event.row_key.value)

    @on_top
    def action_cancel(self) -> None:
        self.dismiss(None)
