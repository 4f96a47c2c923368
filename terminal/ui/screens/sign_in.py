"""Sign in with a cashier number and a PIN (masked)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Label

from terminal.till.errors import TillError
from terminal.ui.context import till_app
from terminal.ui.widgets.message_line import MessageLine
from terminal.ui.widgets.status_bar import StatusBar

__all__ = ["SignInScreen"]


class SignInScreen(Screen[None]):
    AUTO_FOCUS = "#cashier"

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(classes="dialog sign-in"):
            yield Label(self._title(), classes="dialog-title")
            yield Label("Cashier number")
            yield Input(id="cashier", restrict=r"[0-9]*", max_length=8)
            yield Label("PIN")
            yield Input(id="pin", password=True, restrict=r"[0-9]*", max_length=8)
            yield MessageLine(id="message")
        yield Footer(compact=True, show_command_palette=False)

    def _title(self) -> str:
        config = till_app(self).till.config
        return f"{config.store_name} · till {config.terminal_id} · sign in"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "cashier":
            self.query_one("#pin", Input).focus()
            return
        self.sign_in()

    def sign_in(self) -> None:
        app = till_app(self)
        cashier = self.query_one("#cashier", Input)
        pin = self.query_one("#pin", Input)
        try:
            app.till.sign_in(cashier.value, pin.value)
        except TillError as error:
            self.query_one(MessageLine).refuse(error)
            pin.clear()
            (pin if cashier.value else cashier).focus()
            return
        app.signed_in()

    def handle_scan(self, data: str) -> None:
        self.query_one(MessageLine).warn("Sign in first, then scan")
