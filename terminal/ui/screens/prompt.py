"""A small dialog asking for one value (quantity, price, points); stays open on a refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Label, Static

from terminal.till.errors import TillError
from terminal.ui.screens.dialog import Dialog, on_top
from terminal.ui.widgets.message_line import MessageLine

__all__ = ["PromptScreen"]


class PromptScreen(Dialog[bool]):
    """Ask for one value; ``accept`` acts on it or raises a TillError (shown here).

    Dismisses with True once ``accept`` succeeded, False on Esc. Keeping the dialog open on
    a refusal lets the cashier correct the value without starting over.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back", key_display="Esc")]
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(
        self,
        title: str,
        label: str,
        accept: Callable[[str], None],
        *,
        placeholder: str = "",
        value: str = "",
        password: bool = False,
        takes_scans: bool = False,
    ) -> None:
        """``takes_scans``: a scan answers the prompt as if its text were keyed and Entered
        (a gift card number); otherwise a scan is not used here, as on any dialog."""
        super().__init__()
        self._takes_scans = takes_scans
        self._title = title
        self._label = label
        self._accept = accept
        self._placeholder = placeholder
        self._value = value
        self._password = password

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(Content(self._label), classes="prompt-label")
            yield Input(
                value=self._value,
                placeholder=self._placeholder,
                password=self._password,
                id="prompt-value",
            )
            yield MessageLine(id="prompt-message")
            yield Label("Enter: OK   Esc: back", classes="dialog-hint")

    @on_top
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._answer(event.value)

    def handle_scan(self, data: str) -> None:
        if not self._takes_scans:
            self.query_one(MessageLine).warn(
                "Scan not used here — go back (Esc) to the sale, then scan"
            )
            return
        self.query_one(Input).value = data
        self._answer(data)

    @on_top
    def _answer(self, text: str) -> None:
        try:
            self._accept(text)
        except TillError as error:
            self.query_one(MessageLine).refuse(error)
            self.query_one(Input).select_all()
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
