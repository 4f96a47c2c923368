"""The till locked while the cashier steps away: only their PIN unlocks it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input, Label

from terminal.till.errors import TillError
from terminal.till.service import Till
from terminal.ui.pins import check_signed_in_pin
from terminal.ui.widgets.message_line import MessageLine
from terminal.ui.widgets.status_bar import StatusBar

__all__ = ["LockScreen"]


class LockScreen(Screen[None]):
    """A full screen (the sale under it stays hidden and untouched)."""

    AUTO_FOCUS = "#unlock-pin"

    def __init__(self, till: Till) -> None:
        super().__init__()
        self.till = till

    def compose(self) -> ComposeResult:
        who = self.till.cashier.name if self.till.cashier else "the cashier"
        yield StatusBar()
        with Vertical(classes="dialog lock"):
            yield Label("Till locked", classes="dialog-title")
            yield Label(f"{who} is signed in. Their PIN unlocks the till.")
            yield Input(id="unlock-pin", password=True, restrict=r"[0-9]*", max_length=8)
            yield MessageLine(id="message")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            check_signed_in_pin(self.till, event.value)
        except TillError as error:
            self.query_one(MessageLine).refuse(error)
            event.input.clear()
            return
        self.dismiss(None)

    def handle_scan(self, data: str) -> None:
        self.query_one(MessageLine).warn("The till is locked — unlock it first, then scan")
