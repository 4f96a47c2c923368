"""The sale: scan or key items, attach the member, redeem points, pay. The till's home."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input

from shared.codes import (
    GiftCard,
    LoyaltyCard,
    MemberQR,
    ParsedCode,
    Product,
    ReceiptRef,
    Unrecognised,
    Voucher,
)
from shared.journal import GiftCardLoad, Return, Sale, Tender, TenderMethod
from shared.money import Money, format_points
from shared.receipt import short_card
from terminal.store.cashiers import Cashier
from terminal.store.catalog import product_by_sku
from terminal.till.approvals import check_new_price, check_price_change
from terminal.till.errors import TillError, UnknownProductError
from terminal.till.receipts import POINTS_NOT_ADJUSTED, TENDER_LABELS
from terminal.till.service import MemberView, SaleDone, Till
from terminal.ui import open_sale
from terminal.ui.context import till_app
from terminal.ui.entry import (
    EntryRefusedError,
    KeyedItem,
    parse_amount,
    parse_keyed_item,
    parse_quantity,
)
from terminal.ui.keymap import SALE_KEYS, bindings
from terminal.ui.pins import check_supervisor_pin
from terminal.ui.screens.enrol import EnrolScreen
from terminal.ui.screens.gift_card import GiftCardScreen
from terminal.ui.screens.lock import LockScreen
from terminal.ui.screens.member_search import MemberSearchScreen
from terminal.ui.screens.payment import PaymentScreen
from terminal.ui.screens.pin import PinScreen
from terminal.ui.screens.print_queue import PrintQueueScreen
from terminal.ui.screens.prompt import PromptScreen
from terminal.ui.screens.replace_card import ReplaceCardScreen
from terminal.ui.screens.returns import ReturnsScreen
from terminal.ui.screens.rewards import RewardsScreen
from terminal.ui.screens.self_check import SelfCheckScreen
from terminal.ui.screens.shift_close import ShiftClosed, ShiftCloseScreen
from terminal.ui.widgets.basket_table import BasketTable
from terminal.ui.widgets.entry_field import EntryField
from terminal.ui.widgets.key_bar import KeyBar
from terminal.ui.widgets.member_panel import MemberPanel, MemberShown
from terminal.ui.widgets.message_line import MessageLine
from terminal.ui.widgets.status_bar import StatusBar
from terminal.ui.widgets.totals import Totals

__all__ = ["SaleScreen"]


def receipt_number(done: SaleDone) -> str:
    payload = done.entry.payload
    return payload.receipt_no if isinstance(payload, Sale | Return) else f"#{done.entry.seq}"


def _refund_label(tender: Tender) -> str:
    """Where a refund went, in the words of the sale screen's summary."""
    if tender.method is TenderMethod.GIFT_CARD and tender.gift_card is not None:
        return f"gift card {short_card(tender.gift_card)}"
    return TENDER_LABELS[tender.method].lower()


ENTRY_HINT = "Scan, or key an EAN/SKU and Enter  ·  3*EAN sells three  ·  DEPT-FRESH 2.49"


class SaleScreen(Screen[None]):
    BINDINGS = bindings(SALE_KEYS)
    AUTO_FOCUS = "#entry"

    def __init__(self, till: Till) -> None:
        super().__init__()
        self.till = till
        # Kept in the till database as it changes: a crash offers it back (resume below).
        self.basket = till.start_sale()
        self.member: MemberView | None = None
        self.breakdown = False
        self.gift_card: str | None = None
        """A gift card scanned during this sale: the payment screen offers to pay with it."""

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Horizontal(id="sale-body"):
            with Vertical(id="sale-left"):
                yield BasketTable(id="basket")
                yield EntryField(placeholder=ENTRY_HINT, id="entry")
            with Vertical(id="sale-right"):
                yield MemberPanel(id="member")
                yield Totals(id="totals")
        yield MessageLine(id="message")
        yield KeyBar()

    def on_mount(self) -> None:
        self.table.border_title = "Sale"
        self.query_one(MemberPanel).border_title = "Member"
        self.query_one(Totals).border_title = "Total"
        self.refresh_sale()
        self.offer_open_sale()

    # --- the sale left open (terminal/ui/open_sale.py) -------------------------------------

    def offer_open_sale(self) -> None:
        open_sale.offer_open_sale(self)

    def open_sale_words(self) -> str | None:
        return open_sale.open_sale_words(self)

    # --- showing the sale -------------------------------------------------------------------

    @property
    def message(self) -> MessageLine:
        return self.query_one("#message", MessageLine)

    @property
    def entry(self) -> Input:
        return self.query_one("#entry", Input)

    @property
    def table(self) -> BasketTable:
        return self.query_one(BasketTable)

    def refresh_sale(self, select_line: int | None = None) -> None:
        """Redraw lines, totals and the member panel; points are re-quoted on every change."""
        self.table.show(self.basket, select_line)
        self.query_one(Totals).show(self.basket)
        panel = self.query_one(MemberPanel)
        if self.basket.member is None or self.member is None:
            panel.show(None)
            return
        try:
            earn = self.till.preview_earn(self.basket)
        except TillError as error:
            earn = None
            self.message.refuse(error)
        try:
            rewards = len(self.till.rewards_for(self.basket))
        except TillError:
            rewards = 0  # no program on the till: nothing to buy (the earn says why)
        panel.show(
            MemberShown(
                self.member,
                self.basket.currency,
                earn,
                self.basket.redemption,
                self.breakdown,
                rewards=rewards,
                reward_points=self.basket.reward_points,
            )
        )

    def _changed(self, select_line: int | None = None) -> None:
        self.refresh_sale(select_line)
        if self.basket.keep_error:
            self.message.error(self.basket.keep_error)
        till_app(self).refresh_status()

    def _money(self, minor: int) -> str:
        return Money(minor, self.basket.currency).format()

    # --- scans and the entry field --------------------------------------------------------

    def handle_scan(self, data: str) -> None:
        """A scan from any scanner, whatever field has focus."""
        try:
            self.apply_code(self.till.classify(data))
        except TillError as error:
            self.message.refuse(error)

    def apply_code(self, code: ParsedCode) -> None:
        """What a scan does: add the product, attach the member, or open the return."""
        if isinstance(code, ReceiptRef):
            self.open_returns(code)
            return
        if isinstance(code, GiftCard) and self.basket.empty:
            self.open_gift_card(code.number)  # between sales: sell, top up or check it
            return
        result = self.till.scan(self.basket, code)
        if isinstance(code, LoyaltyCard | MemberQR) and self.basket.member is not None:
            self.member = self.till.member_view(self.basket.member.card_number)
        if result.kind == "gift_card":
            self.gift_card = result.gift_card
            self.message.success(f"{result.message} — F12, then F5 pays with it")
        elif result.kind == "voucher":
            self.message.success(f"{result.message} — Del on its row takes it off")
        else:
            self.message.success(result.message)
        line = self.basket.lines[-1].line_no if result.kind == "product" else None
        self._changed(line)
        if result.kind == "voucher":
            self.table.move_cursor(row=self.table.row_count - 1)  # its row: Del removes it

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "entry":
            return
        event.stop()
        text = event.value.strip()
        event.input.clear()
        if not text:
            if self.basket.lines:
                self.message.info("F12 to pay · F3 quantity · Del void the selected line")
            return
        try:
            self.enter(text)
        except TillError as error:
            self.message.refuse(error)

    def enter(self, text: str) -> None:
        """A keyed line: a code like a scan, ``qty*code``, or a SKU with an optional price."""
        item = parse_keyed_item(text)
        code = self.till.classify(item.code)
        plain = item.quantity == 1 and item.price_text is None
        scannable = Product | LoyaltyCard | MemberQR | ReceiptRef | Voucher | GiftCard
        if plain and isinstance(code, scannable):
            self.apply_code(code)
        elif isinstance(code, Product):
            self.add_keyed(code.gtin, item)
        elif isinstance(code, scannable):
            raise EntryRefusedError(
                "Only a product takes a quantity or a price", "key the code on its own"
            )
        elif isinstance(code, Unrecognised) and any(c.isalpha() for c in item.code):
            self.add_keyed(item.code, item)  # a SKU such as DEPT-FRESH
        else:
            self.till.scan(self.basket, code)  # refuses, with the parser's reason

    def add_keyed(self, sku: str, item: KeyedItem) -> None:
        with self.till.database.read() as db:
            product = product_by_sku(db, sku) or product_by_sku(db, sku.upper())
        if product is None:
            raise UnknownProductError(
                f"Product {sku} is not in the catalog",
                "key the price on a department instead (e.g. DEPT-GROCERY 2.49)",
            )
        sku = product.sku
        if item.price_text is not None:
            self._add(sku, item.quantity, parse_amount(item.price_text, self.basket.currency))
        elif product.open_price:

            def priced(text: str) -> None:
                self._add(sku, item.quantity, parse_amount(text, self.basket.currency))

            self.app.push_screen(
                PromptScreen(
                    "Price",
                    f"{product.description}: price of one item",
                    priced,
                    placeholder="e.g. 2.49",
                )
            )
        else:
            self._add(sku, item.quantity, None)

    def _add(self, sku: str, quantity: int, price_minor: int | None) -> None:
        line = self.till.add_product(self.basket, sku, quantity, price_minor)
        self.message.success(
            f"{line.product.description} x{line.quantity} · {self._money(line.net_minor)}"
        )
        self._changed(line.line_no)

    # --- lines ------------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_void_line(self) -> None:
        reward = self.table.selected_reward()
        if reward is not None:
            chosen = next(r for r in self.basket.rewards if r.reward_id == reward)
            self.till.remove_reward(self.basket, reward)
            self.message.success(f"{chosen.name} taken off this sale: no points spent on it")
            self._changed()
            return
        voucher = self.table.selected_voucher()
        if voucher is not None:
            self.till.remove_voucher(self.basket, voucher)
            self.message.success(f"Voucher {voucher} taken off this sale")
            self._changed()
            return
        line_no = self.table.selected_line_no()
        if line_no is None:
            self.message.warn("There is no line to void")
            return
        line = self.basket.line(line_no)
        self.till.void_line(self.basket, line_no)
        self.message.success(f"Voided {line.product.description} x{line.quantity}")
        self._changed()

    def _voucher_selected(self) -> bool:
        """A voucher or reward row is selected: say that only Del acts on it."""
        voucher = self.table.selected_voucher()
        if voucher is not None:
            self.message.warn(
                f"Voucher {voucher} is selected — ↑ to choose a line, or Del to take it off"
            )
        reward = self.table.selected_reward()
        if reward is not None:
            self.message.warn("A reward is selected — ↑ to choose a line, or Del to take it off")
        return voucher is not None or reward is not None

    def action_quantity(self) -> None:
        line_no = self.table.selected_line_no()
        if self._voucher_selected():
            return
        if line_no is None:
            self.message.warn("Scan an item first, then change its quantity (F3)")
            return
        line = self.basket.line(line_no)

        def set_quantity(text: str) -> None:
            quantity = parse_quantity(text, allow_zero=True)
            self.till.set_quantity(self.basket, line_no, quantity)
            if quantity == 0:
                self.message.success(f"Voided {line.product.description}")
            else:
                self.message.success(f"{line.product.description} x{quantity}")
            self._changed(line_no)

        typed = self.entry.value.strip()
        if typed:  # "3" then F3: the quantity was keyed first
            self.entry.clear()
            try:
                set_quantity(typed)
            except TillError as error:
                self.message.refuse(error)
            return
        self.app.push_screen(
            PromptScreen(
                "Quantity",
                f"{line.product.description}: how many? (0 removes the line)",
                set_quantity,
                value=str(line.quantity),
            )
        )

    def action_change_price(self) -> None:
        """Ctrl+P: the selected line at another price, which a supervisor approves."""
        line_no = self.table.selected_line_no()
        if self._voucher_selected():
            return
        if line_no is None:
            self.message.warn("Scan an item first, then change its price (Ctrl+P)")
            return
        line = self.basket.line(line_no)
        try:
            check_price_change(self.till.config, line)
        except TillError as error:
            self.message.refuse(error)
            return
        chosen: list[int] = []

        def priced(text: str) -> None:
            price = parse_amount(text, self.basket.currency)
            check_new_price(line, price, self.basket.currency)
            chosen.append(price)

        typed = self.entry.value.strip()
        if typed:  # "2.49" then Ctrl+P: the price was keyed first, as for F3
            self.entry.clear()
            try:
                priced(typed)
            except TillError as error:
                self.message.refuse(error)
                return
            self.approve_price(line_no, chosen[-1])
            return
        now = self._money(line.unit_price_minor)
        if line.original_price_minor is not None:
            now += f", catalog {self._money(line.original_price_minor)}"
        self.app.push_screen(
            PromptScreen(
                "Change the price",
                f"{line.product.description}: new price of one item (now {now})",
                priced,
                placeholder="e.g. 2.49",
            ),
            lambda ok: self.approve_price(line_no, chosen[-1]) if ok and chosen else None,
        )

    def approve_price(self, line_no: int, price_minor: int) -> None:
        """Ask a supervisor for a new price, then set it (back at the catalog price: no one)."""
        line = self.basket.line(line_no)
        if price_minor == line.product.price_minor:
            self._set_price(line_no, price_minor, None)
            return
        ask = PinScreen(
            "Change a price: a supervisor's number and PIN",
            lambda number, pin: check_supervisor_pin(self.till, number, pin),
            ask_number=True,
            detail=f"{line.product.description}: {self._money(line.unit_price_minor)} → "
            f"{self._money(price_minor)} each",
        )

        def answered(ok: bool | None) -> None:
            if ok and isinstance(ask.verified, Cashier):
                self._set_price(line_no, price_minor, ask.verified)
            else:
                self.message.info("Price not changed")

        self.app.push_screen(ask, answered)

    def _set_price(self, line_no: int, price_minor: int, supervisor: Cashier | None) -> None:
        try:
            line = self.till.change_price(self.basket, line_no, price_minor, supervisor)
        except TillError as error:
            self.message.refuse(error)
            return
        text = f"{line.product.description}: {self._money(price_minor)} each"
        if line.original_price_minor is not None and supervisor is not None:
            text += (
                f" (catalog {self._money(line.original_price_minor)}, approved by "
                f"{supervisor.name})"
            )
        self.message.success(text)
        self._changed(line_no)

    # --- the member -----------------------------------------------------------------------

    def attach(self, card_number: str) -> None:
        try:
            self.member = self.till.attach_member(self.basket, card_number)
        except TillError as error:
            self.message.refuse(error)
            return
        self.message.success(f"Member: {self.member.name} · {format_points(self.member.balance)}")
        self._changed()

    def action_find_member(self) -> None:
        def chosen(card_number: str | None) -> None:
            if card_number:
                self.attach(card_number)

        self.app.push_screen(MemberSearchScreen(self.till), chosen)

    def action_remove_member(self) -> None:
        if self.basket.member is None:
            self.message.warn("No member on this sale")
            return
        self.till.detach_member(self.basket)
        self.member = None
        self.message.success("Member removed from this sale")
        self._changed()

    def action_toggle_breakdown(self) -> None:
        self.breakdown = not self.breakdown
        self.refresh_sale()

    def action_redeem(self) -> None:
        if self.basket.member is None or self.member is None:
            self.message.warn("Scan the member's card first, then redeem points (F5)")
            return
        if self.basket.empty:
            self.message.warn("Scan the items first, then redeem points (F5)")
            return

        def redeem(text: str) -> None:
            had = self.basket.redemption is not None
            # The same words as ``till sale --redeem``: empty/max, 0 = none, N points.
            quote = self.till.redeem_typed(self.basket, text)
            if quote is None:
                self.message.success("Redemption cancelled" if had else "No points redeemed")
            else:
                self.message.success(
                    f"Redeemed {format_points(quote.points)}: "
                    f"{self._money(quote.discount_minor)} off"
                )
            self._changed()

        self.app.push_screen(
            PromptScreen(
                "Redeem points",
                f"{self.member.name} has {format_points(self.member.balance)}. "
                "Points to redeem (empty or max = as many as allowed, 0 = none):",
                redeem,
                placeholder="as many as allowed",
            )
        )

    def action_rewards(self) -> None:
        """F11: the rewards the member can buy now; Enter on one buys it for this sale."""
        if self.basket.member is None or self.member is None:
            self.message.warn("Scan the member's card first, then choose a reward (F11)")
            return
        try:
            rewards = self.till.rewards_for(self.basket)
        except TillError as error:
            self.message.refuse(error)
            return
        if not rewards:
            self.message.warn(f"{self.member.name} cannot buy a reward now")
            return

        def chosen(reward_id: str | None) -> None:
            if reward_id is None:
                return
            try:
                item = self.till.buy_reward(self.basket, reward_id)
            except TillError as error:
                self.message.refuse(error)
                return
            if item.apply_now:
                self.message.success(
                    f"{item.name}: {self._money(item.discount_minor)} off for "
                    f"{format_points(item.points)} — Del on its row takes it off"
                )
            else:
                self.message.success(
                    f"{item.name} for {format_points(item.points)}: its voucher prints on "
                    "the receipt — Del on its row takes it off"
                )
            self._changed()
            self.table.move_cursor(row=self.table.row_count - 1)  # its row: Del removes it

        names = self.till.reward_product_names(rewards)
        screen = RewardsScreen(self.member.name, rewards, self.basket.currency, names)
        self.app.push_screen(screen, chosen)

    def action_enrol(self) -> None:
        def enrolled(view: MemberView | None) -> None:
            if view is not None:
                self.attach(view.card_number)
                self.message.success(f"Welcome {view.name}! Enrolled and attached to this sale")

        self.app.push_screen(EnrolScreen(self.till), enrolled)

    def action_replace_card(self) -> None:
        def replaced(new_card: str | None) -> None:
            if new_card:
                self.message.success("Card replaced: the old card is blocked, points moved")

        self.app.push_screen(ReplaceCardScreen(self.till), replaced)

    # --- paying, returns, printing ----------------------------------------------------------

    def action_pay(self) -> None:
        if self.basket.empty:
            self.message.warn("The basket is empty — scan a product first")
            return
        self.app.push_screen(PaymentScreen(self.till, self.basket, self.gift_card), self.paid)

    def paid(self, done: SaleDone | None) -> None:
        if done is None:
            self.message.info("Payment cancelled: the sale is still open")
            self._changed()
            return
        receipt = receipt_number(done)
        summary = f"Last sale {receipt} · change {self._money(done.change_minor)}"
        if done.balance_after is not None:
            summary += f"\nMember balance now {format_points(done.balance_after)}"
        self.query_one(Totals).last_done = summary
        self.basket = self.till.start_sale()
        self.member = None
        self.gift_card = None
        self.message.success(f"Sale {receipt} complete. Printing the receipt…")
        self._changed()
        till_app(self).print_jobs([done.print_job_id])

    def open_returns(self, receipt: ReceiptRef | None = None) -> None:
        def returned(done: SaleDone | None) -> None:
            if done is None:
                return
            payload = done.entry.payload
            if isinstance(payload, Return):
                method = ", ".join(_refund_label(t) for t in payload.tenders)
                self.query_one(Totals).last_done = (
                    f"Last refund {payload.receipt_no} · {self._money(payload.refund_minor)}"
                    + (f" by {method}" if method else "")
                    + (" · points not adjusted" if payload.original_unavailable else "")
                )
            if isinstance(payload, Return) and payload.original_unavailable:
                self.message.warn(f"Refund done. {POINTS_NOT_ADJUSTED}. Printing the receipt…")
            else:
                self.message.success("Refund done. Printing the receipt…")
            self._changed()
            till_app(self).print_jobs([done.print_job_id])

        self.app.push_screen(ReturnsScreen(self.till, receipt), returned)

    def open_gift_card(self, card_number: str | None = None) -> None:
        """Sell, top up or check a gift card: between sales only (its payment is its own)."""
        if not self.basket.empty:
            self.message.warn("Finish the sale first, then sell or top up a gift card (Ctrl+G)")
            return

        def loaded(done: SaleDone | None) -> None:
            payload = done.entry.payload if done is not None else None
            if done is None or not isinstance(payload, GiftCardLoad):
                return
            what = "activated" if payload.activation else "topped up"
            card = short_card(payload.card_number)
            self.query_one(Totals).last_done = (
                f"Gift card {card} {what} {self._money(payload.amount_minor)} · change "
                f"{self._money(done.change_minor)}"
            )
            self.message.success(f"Gift card {card} {what}. Printing the receipt…")
            self._changed()
            till_app(self).print_jobs([done.print_job_id])

        self.app.push_screen(GiftCardScreen(self.till, card_number), loaded)

    def action_gift_card(self) -> None:
        self.open_gift_card()

    def action_returns(self) -> None:
        self.open_returns()

    def action_print_queue(self) -> None:
        self.app.push_screen(PrintQueueScreen(till_app(self).print_queue))

    def action_close_shift(self) -> None:
        if not self.basket.empty:
            self.message.warn("Finish or void the open sale before closing the shift")
            return

        def closed(result: ShiftClosed | None) -> None:
            if result is None:
                return
            self.query_one(Totals).last_done = result.summary
            self.message.success("Shift closed. Printing the Z report…")
            self._changed()
            till_app(self).print_jobs([result.print_job_id])

        self.app.push_screen(ShiftCloseScreen(self.till), closed)

    # --- leaving the till -------------------------------------------------------------------

    def action_self_check(self) -> None:
        self.app.push_screen(SelfCheckScreen(self.till))

    def action_lock(self) -> None:
        self.app.push_screen(LockScreen(self.till))

    def action_sign_out(self) -> None:
        if not self.basket.empty:
            self.message.warn("Finish or void the open sale before signing out")
            return
        till_app(self).sign_out()
