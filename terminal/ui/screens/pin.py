"""Ask for a PIN (and, for a supervisor, their number) before something guarded."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from terminal.till.errors import TillError
from terminal.ui.widgets.message_line import MessageLine

__all__ = ["PinScreen"]


class PinScreen(ModalScreen[bool]):
    """Dismisses with True once ``verify(number, pin)`` accepts, False on Esc."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back", key_display="Esc")]
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(
        self, title: str, verify: Callable[[str, str], object], *, ask_number: bool = False
    ) -> None:
        super().__init__()
        self._title = title
        self._verify = verify
        self._ask_number = ask_number

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            if self._ask_number:
                yield Label("Supervisor number")
                yield Input(id="pin-number", restrict=r"[0-9]*", max_length=8)
            yield Label("PIN")
            yield Input(id="pin-value", password=True, restrict=r"[0-9]*", max_length=8)
            yield MessageLine(id="pin-message")
            yield Label("Enter: OK   Esc: back", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "pin-number":
            self.query_one("#pin-value", Input).focus()
            return
        number = self.query_one("#pin-number", Input).value if self._ask_number else ""
        pin_input = self.query_one("#pin-value", Input)
        try:
            self._verify(number, pin_input.value)
        except TillError as error:
            self.query_one(MessageLine).refuse(error)
            pin_input.clear()
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
