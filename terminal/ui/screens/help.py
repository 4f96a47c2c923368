"""F1: every key of the till, screen by screen (from the one keymap the bindings use).

Above the keys, whatever the till was started with for its users to know (``till demo``:
who signs in, which cards to scan, where HQ is) — the till's screen covers the terminal
that printed it. On a small screen the two columns stack and the dialog scrolls.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Label, Static

from terminal.ui.keymap import KEYMAP, TillKey
from terminal.ui.screens.dialog import Dialog

__all__ = ["HelpScreen"]

_KEY_WIDTH = 8


class HelpScreen(Dialog[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", key_display="Esc"),
        Binding("f1", "close", "Close", show=False),
    ]
    DEFAULT_CLASSES = "dialog-screen"
    AUTO_FOCUS = "#help-scroll"  # the arrow keys scroll it

    def __init__(self, about: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.about = about

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label("Keys", classes="dialog-title")
            with VerticalScroll(id="help-scroll"):
                if self.about:
                    yield Static(Content("\n".join(self.about)), classes="help-about")
                with Horizontal(id="keymap"):
                    yield Static(
                        render_keys(KEYMAP[:2], with_scanning=True), classes="keymap-column"
                    )
                    yield Static(render_keys(KEYMAP[2:]), classes="keymap-column")
            yield Label("Esc: close  ·  ↑ ↓ scroll", classes="dialog-hint")

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
