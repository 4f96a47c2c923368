"""Close the shift: count the cash, confirm, and the Z report is journaled and printed."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Input, Label

from shared.journal import JournalEntry, ShiftClose
from shared.money import Money
from terminal.till.errors import TillError
from terminal.till.service import Till
from terminal.ui.entry import EntryRefusedError, parse_amount
from terminal.ui.keymap import FORM_KEYS, bindings
from terminal.ui.screens.dialog import Dialog, on_top
from terminal.ui.widgets.message_line import MessageLine

__all__ = ["ShiftCloseScreen", "ShiftClosed"]


@dataclass(frozen=True, slots=True)
class ShiftClosed:
    entry: JournalEntry
    print_job_id: int
    summary: str
    """A few lines for the sale screen's totals panel."""


class ShiftCloseScreen(Dialog[ShiftClosed | None]):
    """Two steps, so a shift is never closed by one stray key: type the count, confirm it."""

    BINDINGS = bindings(FORM_KEYS)
    AUTO_FOCUS = "#counted"
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(self, till: Till) -> None:
        super().__init__()
        self.till = till
        self.confirming: int | None = None
        """The counted amount waiting for the cashier's confirmation."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Close the shift", classes="dialog-title")
            yield Label("Count the cash in the drawer and type the total.")
            yield Input(id="counted", placeholder="e.g. 412.30")
            yield MessageLine(id="shift-message")
        yield Footer(compact=True, show_command_palette=False)

    @property
    def message(self) -> MessageLine:
        return self.query_one(MessageLine)

    def _money(self, minor: int) -> str:
        return Money(minor, self.till.config.currency).format()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.confirming = None  # a changed count must be confirmed again

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    @on_top
    def action_submit(self) -> None:
        try:
            text = self.query_one("#counted", Input).value.strip()
            if not text:
                raise EntryRefusedError("Count the cash first", "type the total, e.g. 412.30")
            counted = parse_amount(text, self.till.config.currency, allow_zero=True)
        except TillError as error:
            self.message.refuse(error)
            return
        if self.confirming != counted:
            self.confirming = counted
            self.message.warn(
                f"Close the shift with {self._money(counted)} counted? "
                "Enter or F12 again to confirm, Esc to go back"
            )
            return
        try:
            entry, job = self.till.close_shift(counted)
        except TillError as error:
            self.message.refuse(error)
            return
        self.dismiss(ShiftClosed(entry, job, self._summary(entry)))

    def _summary(self, entry: JournalEntry) -> str:
        z = entry.payload
        if not isinstance(z, ShiftClose):
            return "Shift closed"
        counted = z.cash_counted_minor or 0
        difference = counted - z.cash_expected_minor
        return (
            f"Shift closed: Z report {self.till.config.terminal_id}-{entry.seq}\n"
            f"Sales {z.sales_count} · cash expected {self._money(z.cash_expected_minor)}\n"
            f"counted {self._money(counted)} · difference {self._money(difference)}"
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
