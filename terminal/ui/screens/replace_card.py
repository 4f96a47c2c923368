"""Replace a lost card: block the old one and move the member (and the points) to a new one."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Input, Label, RadioButton, RadioSet

from terminal.till.errors import TillError
from terminal.till.service import Till
from terminal.ui.keymap import FORM_KEYS, bindings
from terminal.ui.screens.dialog import Dialog, on_top
from terminal.ui.widgets.message_line import MessageLine

__all__ = ["ReplaceCardScreen"]

REASONS = ("lost", "stolen", "damaged")


class ReplaceCardScreen(Dialog[str | None]):
    """Dismisses with the new card number, or None."""

    BINDINGS = bindings(FORM_KEYS)
    AUTO_FOCUS = "#old-card"
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(self, till: Till) -> None:
        super().__init__()
        self.till = till

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Replace a member's card", classes="dialog-title")
            yield Label("Old card (its number, or scan it if the member still has it)")
            yield Input(id="old-card", restrict=r"[0-9 ]*")
            yield Label("New card: scan a blank card")
            yield Input(id="new-card", restrict=r"[0-9 ]*")
            yield Label("Why")
            with RadioSet(id="reason"):
                for index, reason in enumerate(REASONS):
                    yield RadioButton(reason.capitalize(), value=index == 0, id=f"reason-{reason}")
            yield MessageLine(id="replace-message")
        yield Footer(compact=True, show_command_palette=False)

    @property
    def message(self) -> MessageLine:
        return self.query_one(MessageLine)

    def _card(self, which: str) -> Input:
        return self.query_one(f"#{which}-card", Input)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "old-card":
            self._card("new").focus()
        else:
            self.action_submit()

    def handle_scan(self, data: str) -> None:
        """Fill the focused card field; from anywhere else, the first empty one."""
        old, new = self._card("old"), self._card("new")
        target = self.focused if self.focused in (old, new) else (new if old.value else old)
        assert isinstance(target, Input)
        target.value = data.strip()
        if target is old:
            new.focus()
        self.message.info("Card scanned")

    def reason(self) -> str:
        pressed = self.query_one(RadioSet).pressed_index
        return REASONS[pressed] if pressed >= 0 else REASONS[0]

    @on_top
    def action_submit(self) -> None:
        old = self._card("old").value.replace(" ", "")
        new = self._card("new").value.replace(" ", "")
        try:
            self.till.replace_card(old, new, self.reason())
        except TillError as error:
            self.message.refuse(error)
            return
        self.dismiss(new)

    def action_cancel(self) -> None:
        self.dismiss(None)
