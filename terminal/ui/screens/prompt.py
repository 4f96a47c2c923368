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
    ) -> None:
        super().__init__()
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
        try:
            self._accept(event.value)
        except TillError as error:
            self.query_one(MessageLine).refuse(error)
            event.input.select_all()
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
