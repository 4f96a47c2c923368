"""Paying for a gift card sold or topped up: cash (change shown) or card, split as needed.

Stored value is never bought with stored value, so this screen offers cash and card only.
The tenders are collected here and handed to the core in one go when the cashier completes
(``Till.sell_gift_card`` / ``top_up_gift_card``), which checks them again.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Footer, Input, Label, Static

from shared.journal import TenderMethod
from shared.money import Money
from terminal.till.errors import PaymentIncompleteError, TillError
from terminal.till.receipts import TENDER_LABELS
from terminal.till.service import SaleDone, Till
from terminal.till.stored_value import GiftCardView
from terminal.ui.entry import parse_amount
from terminal.ui.keymap import GIFT_CARD_PAYMENT_KEYS, bindings
from terminal.ui.screens.dialog import Dialog, on_top
from terminal.ui.widgets.message_line import MessageLine

__all__ = ["GiftCardPaymentScreen"]


class GiftCardPaymentScreen(Dialog[SaleDone | None]):
    """Dismisses with the journaled load, or None if the cashier went back."""

    BINDINGS = bindings(GIFT_CARD_PAYMENT_KEYS)
    AUTO_FOCUS = "#gift-card-tendered"
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(
        self, till: Till, card: GiftCardView, amount_minor: int, *, activation: bool
    ) -> None:
        super().__init__()
        self.till = till
        self.card = card
        self.amount_minor = amount_minor
        self.activation = activation
        self.tenders: list[tuple[TenderMethod, int]] = []

    @property
    def what(self) -> str:
        return "Sell gift card" if self.activation else "Top up gift card"

    @property
    def due_minor(self) -> int:
        return self.amount_minor - sum(amount for _, amount in self.tenders)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog payment"):
            yield Label(f"{self.what} {self.card.masked}", classes="dialog-title")
            yield Static(id="gift-card-due", classes="gift-card-due")
            yield Static(id="gift-card-tenders")
            yield Label("Cash, then Enter (empty = exact) · F3 card")
            yield Input(id="gift-card-tendered", placeholder=self._money(self.amount_minor))
            yield MessageLine(id="gift-card-payment-message")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._show()

    @property
    def message(self) -> MessageLine:
        return self.query_one(MessageLine)

    def _money(self, minor: int) -> str:
        return Money(minor, self.till.config.currency).format()

    def _show(self) -> None:
        due = self.due_minor
        rows = [f"{'Load onto the card':<22}{self._money(self.amount_minor):>14}"]
        if self.tenders:
            paid = self.amount_minor - due
            rows.append(f"{'Paid':<22}{self._money(paid):>14}")
            label = "Due" if due > 0 else "Change"
            rows.append(f"{label:<22}{self._money(abs(due)):>14}")
        self.query_one("#gift-card-due", Static).update(Content("\n".join(rows)))
        taken = self.query_one("#gift-card-tenders", Static)
        taken.update(
            Content(
                "\n".join(
                    f"{TENDER_LABELS[method]:<22}{self._money(amount):>14}"
                    for method, amount in self.tenders
                )
            )
        )
        taken.display = bool(self.tenders)
        self.query_one("#gift-card-tendered", Input).placeholder = self._money(max(0, due))
        if self.tenders and due <= 0:
            state = f"Change due {self._money(-due)}" if due else "Paid in full"
            self.message.success(f"{state} — Enter or F12 loads the card")

    @on_top
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip() and self.tenders and self.due_minor <= 0:
            self.action_complete()
        else:
            self.tender(TenderMethod.CASH)

    def action_tender_card(self) -> None:
        self.tender(TenderMethod.CARD)

    @on_top
    def tender(self, method: TenderMethod) -> None:
        field = self.query_one("#gift-card-tendered", Input)
        due = self.due_minor
        try:
            text = field.value.strip()
            amount = parse_amount(text, self.till.config.currency) if text else due
            if due <= 0:
                raise PaymentIncompleteError("Nothing left to pay", "F12 loads the card")
            if method is not TenderMethod.CASH and amount > due:
                raise PaymentIncompleteError(
                    f"{TENDER_LABELS[method].lower()} cannot be more than the "
                    f"{self._money(due)} due",
                    "only cash gives change",
                )
        except TillError as error:
            self.message.refuse(error)
            field.select_all()
            return
        field.clear()
        self.tenders.append((method, amount))
        self.message.success(f"{TENDER_LABELS[method]} {self._money(amount)} taken")
        self._show()

    @on_top
    def action_complete(self) -> None:
        load = self.till.sell_gift_card if self.activation else self.till.top_up_gift_card
        try:
            if self.due_minor > 0:
                raise PaymentIncompleteError(
                    f"{self._money(self.due_minor)} still to pay", "take a tender"
                )
            done = load(self.card.card_number, self.amount_minor, list(self.tenders))
        except TillError as error:
            self.message.refuse(error)
            return
        self.dismiss(done)

    @on_top
    def action_cancel(self) -> None:
        self.dismiss(None)
