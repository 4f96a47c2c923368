"""Ask for a PIN (and, for a supervisor, their number) before something guarded."""

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

__all__ = ["CASHIER_ID_CHARACTERS", "CASHIER_ID_LENGTH", "PinScreen"]

CASHIER_ID_CHARACTERS = r"[A-Za-z0-9]*"
"""What a cashier (or supervisor) number may hold: HQ allows letters and digits."""
CASHIER_ID_LENGTH = 16


class PinScreen(Dialog[bool]):
    """Dismisses with True once ``verify(number, pin)`` accepts, False on Esc.

    What ``verify`` returned (the supervisor who approved, say) is kept in :attr:`verified`
    for the caller's dismiss callback.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back", key_display="Esc")]
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(
        self,
        title: str,
        verify: Callable[[str, str], object],
        *,
        ask_number: bool = False,
        detail: str | None = None,
    ) -> None:
        """``detail``: what is being approved, in a line or two under the title."""
        super().__init__()
        self._title = title
        self._verify = verify
        self._ask_number = ask_number
        self._detail = detail
        self.verified: object | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            if self._detail:
                yield Static(Content(self._detail), classes="prompt-label", id="pin-detail")
            if self._ask_number:
                yield Label("Supervisor number")
                yield Input(
                    id="pin-number",
                    restrict=CASHIER_ID_CHARACTERS,
                    max_length=CASHIER_ID_LENGTH,
                )
            yield Label("PIN")
            yield Input(id="pin-value", password=True, restrict=r"[0-9]*", max_length=8)
            yield MessageLine(id="pin-message")
            yield Label("Enter: OK   Esc: back", classes="dialog-hint")

    @on_top
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "pin-number":
            self.query_one("#pin-value", Input).focus()
            return
        number = self.query_one("#pin-number", Input).value if self._ask_number else ""
        pin_input = self.query_one("#pin-value", Input)
        try:
            result = self._verify(number, pin_input.value)
        except TillError as error:
            self.query_one(MessageLine).refuse(error)
            pin_input.clear()
            return
        self.verified = result
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
