"""Take payment: cash (change shown), external card, store credit; split as needed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Footer, Input, Label, Static

from shared.journal import TenderMethod
from shared.money import Money
from terminal.till.basket import Basket
from terminal.till.errors import TillError
from terminal.till.receipts import TENDER_LABELS
from terminal.till.service import SaleDone, Till
from terminal.ui.entry import parse_amount
from terminal.ui.keymap import PAYMENT_KEYS, bindings
from terminal.ui.screens.dialog import Dialog, on_top
from terminal.ui.widgets.message_line import MessageLine
from terminal.ui.widgets.totals import Totals

__all__ = ["PaymentScreen"]


class PaymentScreen(Dialog[SaleDone | None]):
    """Dismisses with the completed sale, or None if the cashier went back (tenders dropped).

    Completing is a separate step (F12, or Enter on an empty field once paid) so a mistyped
    cash amount can still be taken back with Esc before anything is journaled.
    """

    BINDINGS = bindings(PAYMENT_KEYS)
    AUTO_FOCUS = "#amount"
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(self, till: Till, basket: Basket) -> None:
        super().__init__()
        self.till = till
        self.basket = basket

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog payment"):
            yield Label("Payment", classes="dialog-title")
            yield Totals(id="payment-totals")
            yield Static(id="tenders")
            yield Label("Cash tendered, then Enter (empty = exact amount)")
            yield Input(id="amount", placeholder=self._money(self.basket.due_minor))
            yield MessageLine(id="payment-message")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._show()

    @property
    def message(self) -> MessageLine:
        return self.query_one(MessageLine)

    def _money(self, minor: int) -> str:
        return Money(minor, self.basket.currency).format()

    def _show(self) -> None:
        self.query_one(Totals).show(self.basket)
        tenders = [
            f"{TENDER_LABELS[t.method]:<14}{self._money(t.amount_minor):>16}"
            for t in self.basket.tenders
        ]
        taken = self.query_one("#tenders", Static)
        taken.update(Content("\n".join(tenders)))
        taken.display = bool(tenders)
        amount = self.query_one("#amount", Input)
        amount.placeholder = self._money(max(0, self.basket.due_minor))
        if self.basket.tenders and self.basket.due_minor <= 0:
            change = -self.basket.due_minor
            state = f"Change due {self._money(change)}" if change else "Paid in full"
            self.message.success(f"{state} — Enter or F12 completes the sale")

    @on_top
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip() and self.basket.tenders and self.basket.due_minor <= 0:
            self.action_complete()
        else:
            self.tender(TenderMethod.CASH)

    def action_tender_card(self) -> None:
        self.tender(TenderMethod.CARD)

    def action_tender_store_credit(self) -> None:
        self.tender(TenderMethod.STORE_CREDIT)

    @on_top
    def tender(self, method: TenderMethod) -> None:
        field = self.query_one("#amount", Input)
        try:
            text = field.value.strip()
            amount = parse_amount(text, self.basket.currency) if text else None
            self.till.add_tender(self.basket, method, amount)
        except TillError as error:
            self.message.refuse(error)
            field.select_all()  # the corrected amount replaces it
            return
        field.clear()
        taken = self.basket.tenders[-1]
        self.message.success(f"{TENDER_LABELS[method]} {self._money(taken.amount_minor)} taken")
        self._show()

    @on_top
    def action_complete(self) -> None:
        try:
            done = self.till.complete_sale(self.basket)
        except TillError as error:
            self.message.refuse(error)
            return
        self.dismiss(done)

    @on_top
    def action_cancel(self) -> None:
        self.till.drop_tenders(self.basket)
        self.dismiss(None)
