"""F1: every key of the till, screen by screen (from the one keymap the bindings use)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from terminal.ui.keymap import KEYMAP, TillKey

__all__ = ["HelpScreen"]

_KEY_WIDTH = 8


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", key_display="Esc"),
        Binding("f1", "close", "Close", show=False),
    ]
    DEFAULT_CLASSES = "dialog-screen"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label("Keys", classes="dialog-title")
            with Horizontal(id="keymap"):
                yield Static(render_keys(KEYMAP[:2], with_scanning=True), classes="keymap-column")
                yield Static(render_keys(KEYMAP[2:]), classes="keymap-column")
            yield Label("Esc: close", classes="dialog-hint")

    @property
    def text(self) -> str:
        return "\n".join(str(column.content) for column in self.query(Static))

    def action_close(self) -> None:
        self.dismiss(None)


def render_keys(
    sections: tuple[tuple[str, tuple[TillKey, ...]], ...], *, with_scanning: bool = False
) -> Content:
    rows: list[Content] = []
    for section, keys in sections:
        if rows:
            rows.append(Content(""))
        rows.append(Content(section).stylize("bold underline"))
        for key in keys:
            rows.append(Content.assemble((f"{key.display:<{_KEY_WIDTH}}", "bold"), key.help))
    if with_scanning:
        rows += [
            Content(""),
            Content("Scanning").stylize("bold underline"),
            Content("A scan works whatever field has focus: a"),
            Content("product goes on the sale, a loyalty card or"),
            Content("member QR attaches the member, and a receipt"),
            Content("barcode opens Returns."),
        ]
    return Content("\n").join(rows)
