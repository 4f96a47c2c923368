"""Ask before doing something the cashier may not mean (quitting with a sale open)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Label, Static

from terminal.ui.screens.dialog import Dialog

__all__ = ["ConfirmScreen"]


class ConfirmScreen(Dialog[bool]):
    """Dismisses with True for ``yes``, False for Back (Esc). Back has the focus: Enter
    pressed out of habit changes nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back", key_display="Esc")]
    DEFAULT_CLASSES = "dialog-screen"
    AUTO_FOCUS = "#confirm-back"

    def __init__(self, title: str, text: str, yes: str) -> None:
        super().__init__()
        self._title = title
        self._text = text
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog confirm"):
            yield Label(self._title, classes="dialog-title")
            yield Static(Content(self._text), id="confirm-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Back (Esc)", id="confirm-back", variant="primary")
                yield Button(self._yes, id="confirm-yes", variant="error")

    @property
    def text(self) -> str:
        return self._text

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_back(self) -> None:
        self.dismiss(False)
