"""Take payment: cash (change shown), external card, gift card, store credit; split as needed.

A gift card (or credit slip) and the member's store credit pay only as far as the balance the
till knows goes (terminal/till/stored_value.py decides, and asks HQ live beyond the offline
cap): with no amount typed they take what is due, or as much as the balance covers. Each
stored-value tender is listed with the balance left on it, as the receipt prints it.

Taking one may ask HQ for a live balance (beyond the offline cap, or a card the till has
never seen), so it runs in a worker thread; until it answers the screen takes no other
tender and does not complete or go back.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Footer, Input, Label, Static
from textual.worker import Worker, WorkerState

from shared.codes import GiftCard
from shared.journal import Tender, TenderMethod
from shared.journal.payloads import STORED_VALUE_METHODS
from shared.money import Money
from terminal.till.basket import Basket
from terminal.till.errors import TillError
from terminal.till.receipts import tender_label
from terminal.till.service import SaleDone, Till
from terminal.ui.entry import parse_amount
from terminal.ui.keymap import PAYMENT_KEYS, bindings
from terminal.ui.screens.dialog import Dialog, on_top
from terminal.ui.screens.prompt import PromptScreen
from terminal.ui.widgets.message_line import MessageLine
from terminal.ui.widgets.totals import Totals

__all__ = ["PaymentScreen"]

_STORED_VALUE = "stored-value-tender"
"""The worker group of a gift card or store credit tender being taken."""


class PaymentScreen(Dialog[SaleDone | None]):
    """Dismisses with the completed sale, or None if the cashier went back (tenders dropped).

    Completing is a separate step (F12, or Enter on an empty field once paid) so a mistyped
    cash amount can still be taken back with Esc before anything is journaled.
    """

    BINDINGS = bindings(PAYMENT_KEYS)
    AUTO_FOCUS = "#amount"
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(self, till: Till, basket: Basket, gift_card: str | None = None) -> None:
        """``gift_card``: a card scanned during the sale, which F5 pays with first."""
        super().__init__()
        self.till = till
        self.basket = basket
        self.gift_card = gift_card
        self.asking = False
        """A gift card or store credit tender is being taken (perhaps asking HQ)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog payment"):
            yield Label("Payment", classes="dialog-title")
            yield Totals(id="payment-totals")
            yield Static(id="tenders")
            yield Static(id="stored-value")
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
        tenders = [self._tender_row(t) for t in self.basket.tenders]
        taken = self.query_one("#tenders", Static)
        taken.update(Content("\n".join(tenders)))
        taken.display = bool(tenders)
        offer = self.query_one("#stored-value", Static)
        words = self._stored_value_offer()
        offer.update(Content(words))
        offer.display = bool(words)
        amount = self.query_one("#amount", Input)
        amount.placeholder = self._money(max(0, self.basket.due_minor))
        if self.basket.tenders and self.basket.due_minor <= 0:
            change = -self.basket.due_minor
            state = f"Change due {self._money(change)}" if change else "Paid in full"
            self.message.success(f"{state} — Enter or F12 completes the sale")

    def _tender_row(self, tender: Tender) -> str:
        row = f"{tender_label(tender):<18}{self._money(tender.amount_minor):>12}"
        left = self._left_after(tender)
        return row if left is None else f"{row}  left {self._money(left)}"

    def _left_after(self, tender: Tender) -> int | None:
        """What stays on the tender's card or store credit once the sale is done (None: cash
        or card)."""
        if tender.method is TenderMethod.GIFT_CARD and tender.reference is not None:
            known = self.till.gift_card_balance(tender.reference).balance_minor
            taken = sum(
                t.amount_minor for t in self.basket.tenders if t.reference == tender.reference
            )
        elif tender.method is TenderMethod.STORE_CREDIT and self.basket.member is not None:
            known = self.till.store_credit_balance(self.basket.member.member.member_key)
            taken = sum(
                t.amount_minor for t in self.basket.tenders if t.method is TenderMethod.STORE_CREDIT
            )
        else:
            return None
        return max(0, known - taken)

    def _stored_value_offer(self) -> str:
        """What else could pay: the member's store credit, a gift card scanned in the sale."""
        offers = []
        if self.basket.member is not None and not any(
            t.method is TenderMethod.STORE_CREDIT for t in self.basket.tenders
        ):
            credit = self.till.store_credit_balance(self.basket.member.member.member_key)
            if credit > 0:
                offers.append(f"Store credit {self._money(credit)} (F4)")
        if self.gift_card is not None and not self._card_taken(self.gift_card):
            card = self.till.gift_card_balance(self.gift_card)
            offers.append(f"Gift card {card.masked} {self._money(card.balance_minor)} (F5)")
        return " · ".join(offers)

    def _card_taken(self, number: str) -> bool:
        return any(t.reference == number for t in self.basket.tenders)

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
    def action_tender_gift_card(self) -> None:
        """F5: the card scanned during the sale if it has not paid yet, else ask for one."""
        if self.gift_card is not None and not self._card_taken(self.gift_card):
            self.tender(TenderMethod.GIFT_CARD, self.gift_card)
            return
        chosen: list[str] = []

        def card_number(text: str) -> None:
            chosen.append(self.till.gift_card_balance(text).card_number)  # refuses a bad one

        def answered(ok: bool | None) -> None:
            if ok and chosen:
                self.tender(TenderMethod.GIFT_CARD, chosen[-1])

        self.app.push_screen(
            PromptScreen(
                "Pay with a gift card",
                "Scan the gift card or credit slip, or key its number",
                card_number,
                placeholder="12–19 digits",
                takes_scans=True,
            ),
            answered,
        )

    def handle_scan(self, data: str) -> None:
        """A gift card scanned here pays (the amount typed, or as much as it covers)."""
        code = self.till.classify(data)
        if not isinstance(code, GiftCard):
            self.message.warn("Only a gift card is taken here — Esc goes back to the sale")
            return
        self.tender(TenderMethod.GIFT_CARD, code.number)

    def _still_asking(self) -> bool:
        if self.asking:
            self.message.warn("Still checking the balance — a moment, please")
        return self.asking

    def tender(self, method: TenderMethod, card_number: str | None = None) -> None:
        """Take a tender of the amount typed (empty: what is due, or what a balance covers);
        a refusal is said in the message line. Not while the dialog is covered."""
        if not self.is_active or self._still_asking():
            return
        field = self.query_one("#amount", Input)
        try:
            text = field.value.strip()
            amount = parse_amount(text, self.basket.currency) if text else None
            if method not in STORED_VALUE_METHODS:
                self.till.add_tender(self.basket, method, amount)
        except TillError as error:
            self._refused(error)
            return
        if method in STORED_VALUE_METHODS:
            self.asking = True
            self.message.info("Checking the balance…")
            self._take_stored_value(method, amount, card_number)
            return
        self._taken()

    @work(thread=True, group=_STORED_VALUE, exit_on_error=False)
    def _take_stored_value(
        self, method: TenderMethod, amount: int | None, card_number: str | None
    ) -> TillError | None:
        """Off the UI thread: the core may ask HQ live. The refusal, or None once taken."""
        try:
            self.till.add_tender(self.basket, method, amount, card_number=card_number)
        except TillError as error:
            return error
        return None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != _STORED_VALUE or not worker.is_finished:
            return
        self.asking = False
        if event.state is WorkerState.SUCCESS and worker.result is None:
            taken = self.basket.tenders[-1]
            if taken.method is TenderMethod.GIFT_CARD:
                self.gift_card = taken.reference  # F5 asks for another card next time
            self._taken()
        elif event.state is WorkerState.SUCCESS and isinstance(worker.result, TillError):
            self._refused(worker.result)
        else:
            self.message.error(
                f"The balance could not be checked ({worker.error}) — take another tender"
            )

    def _refused(self, error: TillError) -> None:
        self.message.refuse(error)
        self.query_one("#amount", Input).select_all()  # the corrected amount replaces it

    def _taken(self) -> None:
        self.query_one("#amount", Input).clear()
        taken = self.basket.tenders[-1]
        words = f"{tender_label(taken)} {self._money(taken.amount_minor)} taken"
        left = self._left_after(taken)
        if left is not None:
            words += f", {self._money(left)} left"
        self.message.success(words)
        self._show()

    @on_top
    def action_complete(self) -> None:
        if self._still_asking():
            return
        try:
            done = self.till.complete_sale(self.basket)
        except TillError as error:
            self.message.refuse(error)
            return
        self.dismiss(done)

    @on_top
    def action_cancel(self) -> None:
        if self._still_asking():
            return
        self.till.drop_tenders(self.basket)
        self.dismiss(None)
