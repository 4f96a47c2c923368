"""Find a member without their card: by phone (any format, or its last digits), email or
any words of the name (case and accents do not matter); choosing one attaches them."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Input, Label

from shared.codes import LoyaltyCard, MemberQR
from shared.phones import MIN_SUFFIX_DIGITS, looks_like_phone
from terminal.till.service import Till
from terminal.ui.screens.dialog import Dialog, on_top
from terminal.ui.widgets.member_panel import tier_name
from terminal.ui.widgets.message_line import MessageLine

__all__ = ["MemberSearchScreen"]

_NO_CARD = "-"


class MemberSearchScreen(Dialog[str | None]):
    """Dismisses with the chosen member's active card number, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Back", key_display="Esc"),
        Binding("down", "results", "Results", show=False),
    ]
    AUTO_FOCUS = "#query"
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(self, till: Till) -> None:
        super().__init__()
        self.till = till

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Find a member", classes="dialog-title")
            yield Input(
                placeholder="Phone or its last digits, email, or words of the name — Enter",
                id="query",
            )
            yield DataTable[Text](id="results", cursor_type="row", zebra_stripes=True)
            yield MessageLine(id="search-message")
            yield Label(
                "Enter: search / choose   ↓: to the results   Esc: back", classes="dialog-hint"
            )
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # No balance here: the panel shows the true one (server + unsent) once attached.
        for label, width in (("Name", 24), ("Phone", 17), ("Email", 34), ("Tier", 7)):
            table.add_column(label, width=width)
        table.add_column("Card", width=10)

    @property
    def message(self) -> MessageLine:
        return self.query_one(MessageLine)

    @on_top
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        query = event.value.strip()
        if len(query) < 2:
            self.message.warn("Type at least two letters or digits")
            return
        if looks_like_phone(query) and sum(ch.isdecimal() for ch in query) < MIN_SUFFIX_DIGITS:
            self.message.warn(f"Type at least {MIN_SUFFIX_DIGITS} digits of the phone number")
            return
        table = self.query_one(DataTable)
        table.clear()
        found = self.till.find_members(query)
        for index, (member, card) in enumerate(found):
            table.add_row(
                Text(member.name),
                Text(member.phone or ""),
                Text(member.email or ""),
                Text(tier_name(member.tier)),
                Text(f"•••• {card[-4:]}" if card else "none"),
                key=f"{index}:{card or _NO_CARD}",
            )
        if not found:
            self.message.warn(f"No member matches {query}")
            return
        self.message.info(f"{len(found)} found — ↓ and Enter to choose")
        table.focus()

    def action_results(self) -> None:
        self.query_one(DataTable).focus()

    @on_top
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value or ""
        card = key.split(":", 1)[-1]
        if card == _NO_CARD:
            self.message.warn("This member has no active card — replace their card first (Ctrl+R)")
            return
        self.dismiss(card)

    def handle_scan(self, data: str) -> None:
        code = self.till.classify(data)
        if isinstance(code, LoyaltyCard):
            self.dismiss(code.number)
        elif isinstance(code, MemberQR):
            self.dismiss(code.card_number)
        else:
            self.message.warn("That is not a loyalty card — search by phone, email or name")

    def action_cancel(self) -> None:
        self.dismiss(None)
