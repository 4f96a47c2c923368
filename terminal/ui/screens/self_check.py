"""Member self-check: the customer scans a card and sees name, balance, tier and offers.

Customer-facing, so it shows nothing else: no basket, no menus, no footer. Leaving it needs
the signed-in cashier's PIN. What is shown is cleared after a short while, so the next
customer does not see the previous member's balance.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from shared.codes import LoyaltyCard, MemberQR
from shared.money import format_points
from terminal.till.errors import CardBlockedError, TillError
from terminal.till.service import MemberView, Till
from terminal.ui.keymap import SELF_CHECK_KEYS, bindings
from terminal.ui.pins import check_signed_in_pin
from terminal.ui.screens.pin import PinScreen
from terminal.ui.widgets.member_panel import tier_name

__all__ = ["SelfCheckScreen"]

WELCOME = "Welcome!\n\nScan your loyalty card\nto see your points"


class SelfCheckScreen(Screen[None]):
    BINDINGS = bindings(SELF_CHECK_KEYS)
    CLEAR_AFTER_S = 20.0

    def __init__(self, till: Till) -> None:
        super().__init__()
        self.till = till
        self._clear_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="self-check"):
            yield Static(Content(WELCOME), id="self-check-card")

    @property
    def card(self) -> Static:
        return self.query_one("#self-check-card", Static)

    @property
    def text(self) -> str:
        return str(self.card.content)

    def handle_scan(self, data: str) -> None:
        code = self.till.classify(data)
        if isinstance(code, LoyaltyCard | MemberQR):
            number = code.number if isinstance(code, LoyaltyCard) else code.card_number
            try:
                self._show_member(self.till.member_view(number))
            except CardBlockedError:
                self._show_text("This card can no longer be used.\n\nPlease ask at the till.")
            except TillError:
                self._show_text("We could not find this card.\n\nPlease ask at the till.")
        else:
            self._show_text("That is not a loyalty card.\n\nPlease scan your loyalty card.")

    def _show_member(self, view: MemberView) -> None:
        rows = [
            Content(f"Hello, {view.name}").stylize("bold"),
            Content(""),
            Content(format_points(view.balance)).stylize("bold"),
            Content(f"{view.standing.name if view.standing else tier_name(view.tier)} tier"),
        ]
        if view.standing is not None:
            said = (view.standing.progress, view.standing.grace_text, view.standing.expiring_text)
            rows += [Content(line) for line in said if line]
        if view.offers:
            rows += [Content(""), Content("Your offers").stylize("bold")]
            rows += [Content(f"• {o.title}: {o.description}") for o in view.offers]
        self.card.update(Content("\n").join(rows))
        self._clear_later()

    def _show_text(self, text: str) -> None:
        self.card.update(Content(text))
        self._clear_later()

    def _clear_later(self) -> None:
        if self._clear_timer is not None:
            self._clear_timer.stop()
        self._clear_timer = self.set_timer(self.CLEAR_AFTER_S, self.clear)

    def clear(self) -> None:
        self.card.update(Content(WELCOME))

    def action_leave(self) -> None:
        def unlocked(ok: bool | None) -> None:
            if ok:
                self.dismiss(None)

        self.app.push_screen(
            PinScreen(
                "Cashier PIN to leave self-check",
                lambda _number, pin: check_signed_in_pin(self.till, pin),
            ),
            unlocked,
        )
