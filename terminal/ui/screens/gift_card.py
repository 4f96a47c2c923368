"""Gift cards between sales: scan or key the card, see its balance, then sell or top it up.

The card decides what loading it means: a card this till has never seen is sold (activated),
an active one is topped up, a blocked one is refused. The balance shown is the one the till
knows — HQ's last figure plus this till's entries HQ has not had yet — and says so, because
on an offline till that is all there is. Loading goes on to the gift card payment screen
(cash or card only: stored value is never bought with stored value).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Footer, Input, Label, Static

from shared.codes import GiftCard
from shared.money import Money
from terminal.till.errors import TillError
from terminal.till.service import SaleDone, Till
from terminal.till.stored_value import GiftCardView
from terminal.ui.entry import EntryRefusedError, parse_amount
from terminal.ui.keymap import GIFT_CARD_KEYS, bindings
from terminal.ui.screens.dialog import Dialog, on_top
from terminal.ui.screens.gift_card_payment import GiftCardPaymentScreen
from terminal.ui.widgets.message_line import MessageLine

__all__ = ["GiftCardScreen", "balance_words"]


def balance_words(card: GiftCardView, currency: str) -> str:
    """A card's balance in words, saying where the figure comes from."""

    def money(minor: int) -> str:
        return Money(minor, currency).format()

    name = f"Gift card {card.masked}"
    if card.status == "unknown":
        return f"{name} is new to this till: no balance yet"
    if card.status == "blocked":
        why = card.blocked_reason or "reported lost"
        return f"{name} is blocked ({why}) · balance {money(card.balance_minor)}"
    words = f"{name} · balance {money(card.balance_minor)}"
    if card.unsent_minor:
        change = money(abs(card.unsent_minor))
        sign = "+" if card.unsent_minor > 0 else "−"
        return (
            f"{words} (HQ's last figure {money(card.hq_balance_minor)} {sign} {change} "
            "from this till not yet sent)"
        )
    return f"{words} (HQ's last figure)"


class GiftCardScreen(Dialog[SaleDone | None]):
    """Dismisses with the journaled load (sale or top-up), or None (Esc, or only a balance
    was checked)."""

    BINDINGS = bindings(GIFT_CARD_KEYS)
    AUTO_FOCUS = "#gift-card-number"
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(self, till: Till, card_number: str | None = None) -> None:
        super().__init__()
        self.till = till
        self._first_card = card_number
        self.card: GiftCardView | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog gift-card"):
            yield Label("Gift card", classes="dialog-title")
            yield Label("Card: scan it, or key its number, then Enter")
            yield Input(id="gift-card-number", placeholder="12–19 digits")
            yield Static(id="gift-card-state")
            yield Label("Amount to load, then Enter (payment follows: cash or card)")
            yield Input(id="gift-card-amount", placeholder="e.g. 25.00")
            yield MessageLine(id="gift-card-message")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._show()
        if self._first_card is not None:
            self.query_one("#gift-card-number", Input).value = self._first_card
            self.look_up(self._first_card)

    @property
    def message(self) -> MessageLine:
        return self.query_one(MessageLine)

    def _money(self, minor: int) -> str:
        return Money(minor, self.till.config.currency).format()

    def _show(self) -> None:
        state = self.query_one("#gift-card-state", Static)
        if self.card is None:
            state.update(Content("No card yet"))
            return
        words = balance_words(self.card, self.till.config.currency)
        if self.card.status == "unknown":
            words += " · an amount sells (activates) it"
        elif self.card.status == "active":
            words += " · an amount tops it up"
        state.update(Content(words))

    # --- the card -------------------------------------------------------------------------------

    def handle_scan(self, data: str) -> None:
        code = self.till.classify(data)
        if not isinstance(code, GiftCard):
            self.message.warn("That is not a gift card — scan the gift card")
            return
        self.query_one("#gift-card-number", Input).value = code.number
        self.look_up(code.number)

    def look_up(self, text: str) -> bool:
        """Show the card's balance; True when it can be loaded (new or active)."""
        try:
            card = self.till.gift_card_balance(text)
        except TillError as error:
            self.card = None
            self._show()
            self.message.refuse(error)
            self.query_one("#gift-card-number", Input).select_all()
            return False
        if card.status == "unknown" and not self.till.codes.is_gift_card_number(card.card_number):
            self.card = None
            self._show()
            self.message.error(
                f"{card.masked} is not a gift card of this program — scan the gift card again"
            )
            self.query_one("#gift-card-number", Input).select_all()
            return False
        self.card = card
        self._show()
        if card.status == "blocked":
            self.message.error("This card cannot be loaded — keep the card and ask HQ")
            return False
        self.message.info("Key the amount and Enter, or Esc when done")
        self.query_one("#gift-card-amount", Input).focus()
        return True

    @on_top
    def action_balance(self) -> None:
        text = self.query_one("#gift-card-number", Input).value.strip()
        if not text:
            self.message.warn("Scan the gift card first, or key its number")
            return
        if self.look_up(text) and self.card is not None:
            self.message.info(balance_words(self.card, self.till.config.currency))

    # --- loading it -----------------------------------------------------------------------------

    @on_top
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "gift-card-number":
            if event.value.strip():
                self.look_up(event.value)
            return
        try:
            self.load(event.value)
        except TillError as error:
            self.message.refuse(error)
            event.input.select_all()

    def load(self, amount_text: str) -> None:
        """Go on to payment for loading ``amount_text`` onto the card shown."""
        typed = self.query_one("#gift-card-number", Input).value.strip()
        if self.card is None or not typed or not self.look_up(typed):
            if self.card is None:
                raise EntryRefusedError("Scan the gift card first", "then key the amount")
            return
        card = self.card
        amount = parse_amount(amount_text, self.till.config.currency)
        activation = card.status == "unknown"

        def paid(done: SaleDone | None) -> None:
            if done is None:
                self.message.info("Not loaded: nothing was taken")
                self.query_one("#gift-card-amount", Input).focus()
                return
            self.dismiss(done)

        self.app.push_screen(
            GiftCardPaymentScreen(self.till, card, amount, activation=activation), paid
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
