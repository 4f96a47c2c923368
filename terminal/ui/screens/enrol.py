"""Enrol a new member, fully offline: name, phone and/or email, consent, then a blank card.

Phone and email are checked as the cashier leaves each field (Enter): a mistake is said on
the message line with an example and the field keeps the focus; a good one is shown as it
will be stored (E.164 phone, lower-case domain). The till checks again when enrolling."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Footer, Input, Label

from shared.emails import validate_email
from shared.phones import validate_phone
from terminal.till.errors import TillError
from terminal.till.service import MemberView, Till
from terminal.ui.keymap import FORM_KEYS, bindings
from terminal.ui.screens.dialog import Dialog, on_top
from terminal.ui.widgets.message_line import MessageLine

__all__ = ["EnrolScreen"]

_FIELDS = ("name", "phone", "email")
_CHECKED = ("phone", "email")


class EnrolScreen(Dialog[MemberView | None]):
    """Dismisses with the new member (their card is the one just scanned), or None."""

    BINDINGS = bindings(FORM_KEYS)
    AUTO_FOCUS = "#name"
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(self, till: Till) -> None:
        super().__init__()
        self.till = till

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Enrol a new member", classes="dialog-title")
            yield Label("Name")
            yield Input(id="name")
            yield Label("Phone and/or email")
            yield Input(id="phone", placeholder="Phone")
            yield Input(id="email", placeholder="Email")
            yield Checkbox("Agrees to marketing messages", id="consent")
            yield Label("Card: scan a blank card (or key its number)")
            yield Input(id="card", restrict=r"[0-9 ]*")
            yield MessageLine(id="enrol-message")
        yield Footer(compact=True, show_command_palette=False)

    @property
    def message(self) -> MessageLine:
        return self.query_one(MessageLine)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id in _FIELDS:
            if self._contact_ok(event.input.id):
                self.focus_next()
        else:
            self.action_submit()

    def _contact_ok(self, field: str | None) -> bool:
        """Check the phone or email field; show it normalised, or the problem (focus stays)."""
        if field not in _CHECKED:
            return True
        widget = self.query_one(f"#{field}", Input)
        text = widget.value.strip()
        if not text:
            return True
        try:
            if field == "phone":
                normalised = validate_phone(text, self.till.config.country)
            else:
                normalised = validate_email(text)
        except ValueError as error:
            self.message.warn(str(error))
            widget.focus()
            return False
        widget.value = normalised
        return True

    def handle_scan(self, data: str) -> None:
        """The blank card's scan fills the card field, whichever field has focus."""
        card = self.query_one("#card", Input)
        card.value = data.strip()
        self.message.info("Card scanned — Enter or F12 to enrol")

    @on_top
    def action_submit(self) -> None:
        def value(field: str) -> str:
            return self.query_one(f"#{field}", Input).value

        if not all(self._contact_ok(field) for field in _CHECKED):
            return
        try:
            _, view = self.till.enrol(
                name=value("name"),
                phone=value("phone"),
                email=value("email"),
                marketing_consent=self.query_one(Checkbox).value,
                card_number=value("card").replace(" ", ""),
            )
        except TillError as error:
            self.message.refuse(error)
            return
        self.dismiss(view)

    def action_cancel(self) -> None:
        self.dismiss(None)
