"""Refund items of an earlier sale: find it by receipt, choose lines and quantities, refund.

The money goes back in cash, to the card, to the member's store credit, onto a new credit
slip (printed with its barcode) or onto the gift card the sale was paid with: F6 steps
through the choices this sale allows (store credit needs the sale's member, the gift card a
sale paid with one; a return keyed without the original: cash or card).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Footer, Input, Label, Static

from shared.codes import ReceiptRef
from shared.journal import JournalEntry, Sale, TenderMethod
from shared.money import Money
from shared.receipt import short_card
from terminal.store.cashiers import Cashier
from terminal.till.approvals import SupervisorNeededError
from terminal.till.errors import TillError
from terminal.till.returning import OriginalUnavailableError, RefundTo
from terminal.till.service import ReturnableLine, SaleDone, Till
from terminal.ui.entry import EntryRefusedError, parse_amount, parse_quantity, parse_receipt_ref
from terminal.ui.keymap import RETURN_KEYS, bindings
from terminal.ui.pins import check_supervisor_pin
from terminal.ui.screens.dialog import Dialog, on_top
from terminal.ui.screens.pin import PinScreen
from terminal.ui.screens.prompt import PromptScreen
from terminal.ui.widgets.message_line import MessageLine

__all__ = ["ReturnsScreen"]

REFUND_CHOICES = (
    RefundTo.CASH,
    RefundTo.CARD,
    RefundTo.STORE_CREDIT,
    RefundTo.CREDIT_SLIP,
    RefundTo.GIFT_CARD,
)
"""The order F6 steps through them."""

_KEYED_METHODS = {RefundTo.CASH: TenderMethod.CASH, RefundTo.CARD: TenderMethod.CARD}
"""A return keyed without the original sale refunds in cash or to the card only."""


class ReturnsScreen(Dialog[SaleDone | None]):
    """Dismisses with the journaled return, or None.

    Quantities are not capped here: the core decides what may still come back and says so,
    in the same words the scripted ``till`` commands use.
    """

    BINDINGS = bindings(RETURN_KEYS)
    AUTO_FOCUS = "#receipt"
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(self, till: Till, receipt: ReceiptRef | None = None) -> None:
        super().__init__()
        self.till = till
        self._first_receipt = receipt
        self.sale: JournalEntry | None = None
        self.lines: list[ReturnableLine] = []
        self.quantities: dict[int, int] = {}
        self.refund_to = RefundTo.CASH
        self.keyed: ReceiptRef | None = None
        """Another till's receipt HQ could not give: lines are keyed from the paper receipt
        and refunded without points (``Till.return_without_original``)."""
        self.keyed_lines: dict[int, tuple[int, int]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Return", classes="dialog-title")
            yield Input(
                placeholder="Scan the receipt barcode, or key its number (e.g. T1-12) — Enter",
                id="receipt",
            )
            yield DataTable[Text](id="return-lines", cursor_type="row", zebra_stripes=True)
            yield Static(id="return-summary")
            yield MessageLine(id="return-message")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("#", width=3)
        table.add_column("Item", width=34)
        for label in ("Sold", "Left", "Return"):
            table.add_column(Text(label, justify="right"), width=6)
        table.add_column(Text("Each", justify="right"), width=10)
        self._show()
        if self._first_receipt is not None:
            self.load(self._first_receipt)

    @property
    def message(self) -> MessageLine:
        return self.query_one(MessageLine)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one(DataTable)

    # --- finding the sale -------------------------------------------------------------------

    def handle_scan(self, data: str) -> None:
        code = self.till.classify(data)
        if isinstance(code, ReceiptRef):
            self.load(code)
        else:
            self.message.warn("That is not a receipt barcode — scan the receipt's barcode")

    @on_top
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        code = self.till.classify(text)
        if isinstance(code, ReceiptRef):
            self.load(code)
            return
        try:
            self.load(parse_receipt_ref(text, self.till.config.terminal_id))
        except TillError as error:
            self._refused(error)

    def _refused(self, error: TillError) -> None:
        self.message.refuse(error)
        self.query_one("#receipt", Input).select_all()  # typing replaces the wrong number

    def load(self, receipt: ReceiptRef | int) -> None:
        try:
            entry, lines = self.till.find_sale(receipt)
        except OriginalUnavailableError as error:
            self._key_lines(error)
            return
        except TillError as error:
            self._refused(error)
            return
        self.keyed, self.keyed_lines = None, {}
        self.sale, self.lines, self.quantities = entry, lines, {}
        if self.refund_to not in self.choices():
            self.refund_to = RefundTo.CASH
        self.query_one("#receipt", Input).value = self._receipt_no()
        self.message.info("Choose the lines: F3 quantity, F5 everything, F12 refund")
        self._show()
        self.table.focus()

    def _key_lines(self, why: OriginalUnavailableError) -> None:
        """No original to show: the cashier keys what comes back from the paper receipt."""
        self.sale, self.lines, self.quantities = None, [], {}
        self.keyed = ReceiptRef(terminal=why.terminal_id, seq=why.seq)
        self.keyed_lines = {}
        if self.refund_to not in _KEYED_METHODS:
            self.refund_to = RefundTo.CASH
        self.message.warn(
            f"{why.message} — F3 keys a line from the receipt, F12 refunds it without points"
        )
        self._show()
        self.table.focus()

    def _receipt_no(self) -> str:
        if self.sale is not None and isinstance(self.sale.payload, Sale):
            return self.sale.payload.receipt_no
        return ""

    def _currency(self) -> str:
        if self.sale is not None and isinstance(self.sale.payload, Sale):
            return self.sale.payload.currency
        return self.till.config.currency

    # --- choosing lines ---------------------------------------------------------------------

    def _show(self, row: int | None = None) -> None:
        table = self.table
        keep = table.cursor_row if row is None else row
        table.clear()
        currency = self._currency()
        for no, (units, minor) in sorted(self.keyed_lines.items()):
            table.add_row(
                Text(str(no)),
                Text(f"Item of line {no} (keyed)"),
                Text("?", justify="right"),
                Text("?", justify="right"),
                Text(str(units), justify="right", style="bold"),
                Text(Money(minor, currency).format(), justify="right"),
                key=f"keyed-{no}",
            )
        for line in self.lines:
            wanted = self.quantities.get(line.line_no, 0)
            table.add_row(
                Text(str(line.line_no)),
                Text(line.description),
                Text(str(line.sold_quantity), justify="right"),
                Text(str(line.returnable_quantity), justify="right"),
                Text(str(wanted) if wanted else "", justify="right", style="bold"),
                Text(Money(line.unit_net_minor, currency).format(), justify="right"),
                key=str(line.line_no),
            )
        if self.lines:
            table.move_cursor(row=min(keep, len(self.lines) - 1))
        units = sum(self.quantities.values())
        where = self.refund_words()
        summary = f"Refund {where} (F6 to change) · {units} item(s) chosen"
        if self.keyed is not None:
            refund = Money(sum(minor for _, minor in self.keyed_lines.values()), currency)
            summary = (
                f"Receipt {self.keyed.terminal}-{self.keyed.seq}, without the original: "
                f"refund {refund.format()} {where} (F6 to change) · "
                "points not adjusted, HQ will reconcile"
            )
        elif self.sale is None:
            summary = "No receipt yet"
        self.query_one("#return-summary", Static).update(Content(summary))

    def _selected(self) -> ReturnableLine | None:
        if not self.lines:
            return None
        return self.lines[min(self.table.cursor_row, len(self.lines) - 1)]

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    @on_top
    def action_quantity(self) -> None:
        if self.keyed is not None:
            self._ask_keyed_line()
            return
        line = self._selected()
        if line is None:
            self.message.warn("Find the sale first: scan or key the receipt number")
            return
        row = self.table.cursor_row

        def set_quantity(text: str) -> None:
            self.quantities[line.line_no] = parse_quantity(text, allow_zero=True)
            self._show(row)

        self.app.push_screen(
            PromptScreen(
                "Return quantity",
                f"{line.description}: how many come back? ({line.returnable_quantity} left)",
                set_quantity,
                value=str(self.quantities.get(line.line_no, line.returnable_quantity)),
            )
        )

    def _ask_keyed_line(self) -> None:
        currency = self._currency()

        def add_line(text: str) -> None:
            parts = text.replace(";", " ").split()
            if len(parts) != 3:
                raise EntryRefusedError(
                    f"{text.strip() or 'Nothing'} is not a line, units and amount",
                    "type e.g. 2 1 4.50 (line 2 of the receipt, 1 unit, 4.50 back)",
                )
            no = parse_quantity(parts[0])
            units = parse_quantity(parts[1], allow_zero=True)
            minor = parse_amount(parts[2], currency, allow_zero=True)
            if units:
                self.keyed_lines[no] = (units, minor)
            else:
                self.keyed_lines.pop(no, None)
            self._show()

        self.app.push_screen(
            PromptScreen(
                "Key a line from the receipt",
                "Its line number on the receipt, how many come back and the amount to refund "
                "(0 units removes the line)",
                add_line,
                placeholder="2 1 4.50",
            )
        )

    def action_return_all(self) -> None:
        self.quantities = {line.line_no: line.returnable_quantity for line in self.lines}
        self._show()

    # --- where the money goes -----------------------------------------------------------------

    def _paid_with_gift_card(self) -> str | None:
        if self.sale is None or not isinstance(self.sale.payload, Sale):
            return None
        return next((t.gift_card for t in self.sale.payload.tenders if t.gift_card), None)

    def choices(self) -> tuple[RefundTo, ...]:
        """Where this refund may go (F6 steps through them)."""
        if self.keyed is not None:
            return tuple(_KEYED_METHODS)
        sale = self.sale.payload if self.sale is not None else None
        has_member = isinstance(sale, Sale) and sale.member is not None
        paid_card = self._paid_with_gift_card()
        return tuple(
            choice
            for choice in REFUND_CHOICES
            if (choice is not RefundTo.STORE_CREDIT or has_member)
            and (choice is not RefundTo.GIFT_CARD or paid_card is not None)
        )

    def refund_words(self) -> str:
        match self.refund_to:
            case RefundTo.CASH:
                return "in cash"
            case RefundTo.CARD:
                return "to the card"
            case RefundTo.STORE_CREDIT:
                return "to the member's store credit"
            case RefundTo.CREDIT_SLIP:
                return "on a new credit slip (printed)"
            case RefundTo.GIFT_CARD:
                card = self._paid_with_gift_card()
                return f"to gift card {short_card(card)}" if card else "to the gift card"

    def action_next_method(self) -> None:
        choices = self.choices()
        index = choices.index(self.refund_to) if self.refund_to in choices else -1
        self.refund_to = choices[(index + 1) % len(choices)]
        self._show()

    @on_top
    def action_confirm(self) -> None:
        if self.keyed is not None:
            self.refund(None)
            return
        if self.sale is None:
            self.message.warn("Find the sale first: scan or key the receipt number")
            return
        self.refund(None)

    def refund(self, supervisor: Cashier | None) -> None:
        """Make the refund; one above the till's limit asks a supervisor first, then again."""
        try:
            if self.keyed is not None:
                done = self.till.return_without_original(
                    self.keyed,
                    dict(self.keyed_lines),
                    _KEYED_METHODS.get(self.refund_to, TenderMethod.CASH),
                    supervisor=supervisor,
                )
            else:
                assert self.sale is not None
                done = self.till.return_items(
                    self.sale.seq,
                    dict(self.quantities),
                    supervisor=supervisor,
                    refund_to=self.refund_to,
                    original_terminal=self.sale.terminal_id,  # another till's: asked of HQ
                )
        except SupervisorNeededError as error:
            if supervisor is None:
                self.ask_supervisor(error)
            else:
                self.message.refuse(error)
            return
        except TillError as error:
            self.message.refuse(error)
            return
        self.dismiss(done)

    def ask_supervisor(self, why: SupervisorNeededError) -> None:
        ask = PinScreen(
            "Refund above the limit: a supervisor's number and PIN",
            lambda number, pin: check_supervisor_pin(self.till, number, pin),
            ask_number=True,
            detail=why.message,
        )

        def answered(ok: bool | None) -> None:
            if ok and isinstance(ask.verified, Cashier):
                self.refund(ask.verified)
            else:
                self.message.warn(f"{why.message} — nothing was refunded")

        self.app.push_screen(ask, answered)

    def action_cancel(self) -> None:
        self.dismiss(None)
