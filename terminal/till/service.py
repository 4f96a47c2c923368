"""The till's application core: every cashier action as one method, UI-independent.

The Textual screens and the scriptable ``till sale``/``till enrol`` commands both call this
class, so they write exactly the same journal entries. Each method that changes anything
does so in one ``TillDatabase.write()`` transaction: the journal entry and the local state
it changes commit together (DESIGN.md, invariant 1). A method that refuses raises a
:class:`~terminal.till.errors.TillError` and has changed nothing.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from shared.codes import (
    GiftCard,
    LoyaltyCard,
    MemberQR,
    ParsedCode,
    Product,
    ReceiptRef,
    Unrecognised,
    Voucher,
    parse_scan,
)
from shared.journal import (
    CardReplacement,
    Enrolment,
    EntryRef,
    JournalEntry,
    MemberRef,
    Payload,
    PointsRedeemed,
    Return,
    ReturnLine,
    Sale,
    SaleLine,
    ShiftClose,
    Tender,
    TenderMethod,
    Void,
)
from shared.money import Money, format_points
from shared.rules import BasketLine as EarnLine
from shared.rules import EarnContext, EarnResult, ProgramRules, compute_earn, plan_redemption
from shared.rules.redeem import RedemptionQuote
from shared.rules.returns import compute_return_reversal
from terminal.config import TillConfig
from terminal.store.cashiers import Cashier, check_pin
from terminal.store.catalog import Offer, current_rules, offers_for, product_by_sku
from terminal.store.database import TillDatabase
from terminal.store.journal import append_entry, get_entry, journal_tip
from terminal.store.members import (
    MemberRecord,
    active_card_of,
    assign_card,
    block_card,
    card_by_number,
    member_balance,
    member_by_key,
    redeemed_on,
    search_members,
    upsert_member,
)
from terminal.store.settings import get_setting, set_setting
from terminal.till.basket import AttachedMember, Basket
from terminal.till.basket import BasketLine as BasketLineT
from terminal.till.errors import (
    CardBlockedError,
    EnrolmentRefusedError,
    NotSignedInError,
    PaymentIncompleteError,
    RedemptionRefusedError,
    ReturnRefusedError,
    ScanNotUnderstoodError,
    SignInFailedError,
    TillError,
    UnknownCardError,
    UnknownProductError,
)

__all__ = ["MemberView", "ReturnableLine", "SaleDone", "ScanResult", "Till"]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class MemberView:
    """What the member panel and the self-check screen show."""

    member_key: str
    name: str
    card_number: str
    tier: str | None
    balance: int
    offers: tuple[Offer, ...]
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a scan did to the basket, in words for the status line."""

    kind: str  # product | member | receipt | ignored
    message: str
    receipt: ReceiptRef | None = None


@dataclass(frozen=True, slots=True)
class SaleDone:
    entry: JournalEntry
    print_job_id: int
    change_minor: int
    balance_after: int | None


@dataclass(frozen=True, slots=True)
class ReturnableLine:
    line_no: int
    description: str
    sold_quantity: int
    returnable_quantity: int
    unit_net_minor: int
    """Refund per unit: the line's net over its quantity (rounding remainder on the last)."""


class Till:
    """One till: its config, its database, the signed-in cashier and the clock."""

    def __init__(self, config: TillConfig, database: TillDatabase, clock: Clock = _utc_now):
        self.config = config
        self.database = database
        self.clock = clock
        self.cashier: Cashier | None = None
        self.codes = config.code_config()

    # --- time ----------------------------------------------------------------------------

    def _now(self) -> tuple[datetime, int, datetime]:
        """(UTC now, the store's UTC offset in minutes, the store's naive wall-clock time)."""
        now = self.clock()
        local = now.astimezone(self.config.zone)
        offset = local.utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset else 0
        return now, minutes, local.replace(tzinfo=None)

    # --- cashiers --------------------------------------------------------------------------

    def sign_in(self, cashier_id: str, pin: str) -> Cashier:
        with self.database.read() as db:
            cashier = check_pin(db, cashier_id.strip(), pin.strip())
        if cashier is None:
            raise SignInFailedError("Cashier number or PIN is wrong", "try again")
        self.cashier = cashier
        with self.database.write() as db:
            if get_setting(db, "shift_id") is None:
                seq, _ = journal_tip(db)
                set_setting(db, "shift_id", str(uuid.uuid4()))
                set_setting(db, "shift_opened_at", self.clock().isoformat())
                set_setting(db, "shift_first_seq", str(seq + 1))
        return cashier

    def sign_out(self) -> None:
        self.cashier = None

    def _cashier_id(self) -> str:
        if self.cashier is None:
            raise NotSignedInError(
                "Nobody is signed in", "sign in with your cashier number and PIN"
            )
        return self.cashier.cashier_id

    # --- rules -----------------------------------------------------------------------------

    def rules(self) -> ProgramRules:
        with self.database.read() as db:
            rules = current_rules(db)
        if rules is None:
            raise TillError("No loyalty program is loaded on this till", "sync with HQ first")
        return rules

    # --- scanning ---------------------------------------------------------------------------

    def classify(self, text: str) -> ParsedCode:
        return parse_scan(text, self.codes, now_unix=int(self.clock().timestamp()))

    def new_basket(self) -> Basket:
        return Basket(currency=self.config.currency)

    def scan(self, basket: Basket, code: ParsedCode) -> ScanResult:
        """Apply a classified scan to the basket: add a product or attach the member."""
        match code:
            case Product(gtin=gtin):
                line = self.add_product(basket, gtin)
                return ScanResult("product", f"{line.product.description} x{line.quantity}")
            case LoyaltyCard(number=number) | MemberQR(card_number=number):
                view = self.attach_member(basket, number)
                return ScanResult("member", f"{view.name} · {format_points(view.balance)}")
            case ReceiptRef():
                return ScanResult("receipt", "Receipt scanned — open Returns to refund", code)
            case GiftCard() | Voucher():
                raise ScanNotUnderstoodError(
                    f"{code.kind.replace('_', ' ').capitalize()}s are not taken at this till yet",
                    "take another form of payment",
                )
            case Unrecognised(reason=reason):
                raise ScanNotUnderstoodError(reason)
        raise ScanNotUnderstoodError("That code is not one this till uses", "scan again")

    # --- basket ------------------------------------------------------------------------------

    def add_product(
        self, basket: Basket, sku: str, quantity: int = 1, price_minor: int | None = None
    ) -> BasketLineT:
        with self.database.read() as db:
            product = product_by_sku(db, sku)
        if product is None:
            raise UnknownProductError(
                f"Product {sku} is not in the catalog", "key the price on a department instead"
            )
        if product.open_price and price_minor is None:
            raise UnknownProductError(f"{product.description} needs a price", "key in the amount")
        if price_minor is not None and price_minor < 0:
            raise UnknownProductError("A price cannot be negative", "key in the amount again")
        line = basket.add(product, quantity, price_minor)
        self._requote(basket)
        return line

    def set_quantity(self, basket: Basket, line_no: int, quantity: int) -> None:
        basket.set_quantity(line_no, quantity)
        self._requote(basket)

    def void_line(self, basket: Basket, line_no: int) -> None:
        basket.void_line(line_no)
        self._requote(basket)

    def _requote(self, basket: Basket) -> None:
        """Keep a redemption valid as the basket changes: re-plan it, or drop it."""
        if basket.redemption is None or basket.member is None:
            return
        try:
            basket.redemption = self._plan_redemption(basket, basket.redemption.points)
        except RedemptionRefusedError:
            basket.redemption = None

    # --- members -----------------------------------------------------------------------------

    def member_view(self, card_number: str) -> MemberView:
        """Who owns this card, with their balance — refuses unknown and blocked cards."""
        with self.database.read() as db:
            card = card_by_number(db, card_number)
            if card is None:
                raise UnknownCardError(
                    "This card is not registered",
                    "enrol the customer (F6) to assign it, or check the number",
                )
            member = member_by_key(db, card.member_key)
            if member is None:
                raise UnknownCardError(
                    "This card's member is missing from the till", "sync with HQ"
                )
            if card.blocked:
                raise CardBlockedError(
                    f"This card is blocked ({card.blocked_reason or 'reported lost'})",
                    "keep the card and ask the member for their current card",
                )
            _, _, local = self._now()
            return MemberView(
                member_key=member.member_key,
                name=member.name,
                card_number=card_number,
                tier=member.tier,
                balance=member_balance(db, member),
                offers=tuple(offers_for(db, member.tier, local.date().isoformat())),
            )

    def attach_member(self, basket: Basket, card_number: str) -> MemberView:
        view = self.member_view(card_number)
        with self.database.read() as db:
            member = member_by_key(db, view.member_key)
        assert member is not None
        basket.member = AttachedMember(member, card_number, view.balance)
        self._requote(basket)
        return view

    def detach_member(self, basket: Basket) -> None:
        basket.member = None
        basket.redemption = None

    def find_members(self, query: str) -> list[tuple[MemberRecord, str | None]]:
        """Members matching a phone, email or name, each with their active card."""
        with self.database.read() as db:
            return [(m, active_card_of(db, m.member_key)) for m in search_members(db, query)]

    # --- points ------------------------------------------------------------------------------

    def preview_earn(self, basket: Basket) -> EarnResult | None:
        """Points this basket will earn now (what the member panel shows live)."""
        if basket.member is None or basket.empty:
            return None
        return self._earn(self.rules(), basket.earn_lines(), basket)

    def _earn(self, rules: ProgramRules, lines: list[EarnLine], basket: Basket) -> EarnResult:
        _, _, local = self._now()
        return compute_earn(
            rules,
            lines,
            EarnContext(
                store_id=self.config.store_id,
                local_time=local,
                tier=basket.member.tier if basket.member else None,
            ),
            order_discount_minor=basket.discount_minor,
        )

    def redeem(self, basket: Basket, points: int | None) -> RedemptionQuote:
        """Redeem ``points`` (None = as many as allowed) against this basket."""
        basket.redemption = None
        quote = self._plan_redemption(basket, points)
        basket.redemption = quote
        return quote

    def cancel_redemption(self, basket: Basket) -> None:
        basket.redemption = None

    def _plan_redemption(self, basket: Basket, points: int | None) -> RedemptionQuote:
        if basket.member is None:
            raise RedemptionRefusedError("Scan the member's card first", "then redeem points")
        rules = self.rules()
        _, _, local = self._now()
        with self.database.read() as db:
            member = member_by_key(db, basket.member.member.member_key)
            assert member is not None
            balance = member_balance(db, member)
            used_today = redeemed_on(db, member.member_key, local.date().isoformat())
        # Offline (no sync yet): a per-member daily cap bounds the risk (DESIGN.md).
        cap_left = max(0, rules.offline.redemption_cap_points_per_day - used_today)
        quote = plan_redemption(
            rules,
            balance=min(balance, cap_left),
            basket_total_minor=basket.subtotal_minor,
            requested_points=points,
        )
        if not isinstance(quote, RedemptionQuote):
            reason = quote.reason
            if cap_left < balance and (points is None or points > cap_left):
                reason = (
                    f"The till is offline: at most {format_points(cap_left)} more can be "
                    f"redeemed for this member today (balance {format_points(balance)})"
                )
            raise RedemptionRefusedError(reason, "redeem fewer points, or none")
        return quote

    # --- completing a sale ----------------------------------------------------------------------

    def add_tender(self, basket: Basket, method: TenderMethod, amount_minor: int | None) -> None:
        """Take a tender; ``None`` = exactly what is still due."""
        due = basket.due_minor
        amount = due if amount_minor is None else amount_minor
        if amount <= 0:
            raise PaymentIncompleteError("Nothing left to pay", "complete the sale")
        if method is not TenderMethod.CASH and amount > due:
            raise PaymentIncompleteError(
                f"{method.value.replace('_', ' ')} cannot be more than the "
                f"{Money(due, basket.currency)} due",
                "only cash gives change",
            )
        basket.tenders.append(Tender(method=method, amount_minor=amount))

    def complete_sale(self, basket: Basket) -> SaleDone:
        """Journal the sale durably and queue its receipt. Nothing prints before the commit."""
        cashier_id = self._cashier_id()
        if basket.empty:
            raise PaymentIncompleteError("The basket is empty", "scan a product first")
        if basket.due_minor > 0:
            raise PaymentIncompleteError(
                f"{Money(basket.due_minor, basket.currency)} still to pay", "take a tender"
            )
        rules = self.rules() if basket.member else None
        now, offset, local = self._now()
        with self.database.write() as db:
            member_ref = None
            earned = None
            redeemed = None
            if basket.member is not None:
                self._check_card_still_usable(db, basket.member.card_number)
                member_ref = self._member_ref(basket.member.member)
                assert rules is not None
                if basket.redemption is not None:
                    self._check_redemption_still_fits(db, basket, rules, local.date().isoformat())
                    redeemed = PointsRedeemed(
                        points=basket.redemption.points,
                        discount_minor=basket.redemption.discount_minor,
                        rules_version=rules.version,
                    )
                earned = self._earn(rules, basket.earn_lines(), basket)
            change = -basket.due_minor
            seq, _ = journal_tip(db)
            sale = Sale(
                store_id=self.config.store_id,
                receipt_no=f"{self.config.terminal_id}-{seq + 1}",
                currency=basket.currency,
                lines=tuple(
                    SaleLine(
                        line_no=line.line_no,
                        sku=line.product.sku,
                        description=line.product.description,
                        category=line.product.category,
                        quantity=line.quantity,
                        unit_price_minor=line.unit_price_minor,
                        discount_minor=line.discount_minor,
                        net_minor=line.net_minor,
                        tax_rate_bp=line.product.tax_rate_bp,
                        tax_minor=line.tax_minor,
                    )
                    for line in basket.lines
                ),
                subtotal_minor=basket.subtotal_minor,
                total_minor=basket.total_minor,
                tax_minor=basket.tax_minor,
                tenders=tuple(basket.tenders),
                change_minor=change,
                member=member_ref,
                earned=earned,
                redeemed=redeemed,
            )
            entry = self._append(db, sale, now, offset, cashier_id)
            balance_after = None
            if basket.member is not None:
                key = basket.member.member.member_key
                self._add_points_effect(
                    db,
                    entry.seq,
                    key,
                    sale.points_earned - sale.points_redeemed,
                    sale.points_redeemed,
                    local.date().isoformat(),
                )
                balance_after = self._balance(db, key)
            job = self._queue_print(db, entry.seq, balance_after, self._tier(basket), now)
        return SaleDone(entry, job, change, balance_after)

    def _tier(self, basket: Basket) -> str | None:
        return basket.member.tier if basket.member else None

    def _check_card_still_usable(self, db: sqlite_utils.Database, card_number: str) -> None:
        card = card_by_number(db, card_number)
        if card is None or card.blocked:
            raise CardBlockedError(
                "The member's card was blocked during this sale",
                "remove the member (F4) or scan their current card",
            )

    def _check_redemption_still_fits(
        self, db: sqlite_utils.Database, basket: Basket, rules: ProgramRules, today: str
    ) -> None:
        """Re-check inside the write transaction: two tills' worth of clicks cannot overdraw."""
        assert basket.member is not None
        assert basket.redemption is not None
        member = member_by_key(db, basket.member.member.member_key)
        assert member is not None
        balance = member_balance(db, member)
        used = redeemed_on(db, member.member_key, today)
        cap_left = rules.offline.redemption_cap_points_per_day - used
        if basket.redemption.points > min(balance, cap_left):
            raise RedemptionRefusedError(
                "The member's points changed since the redemption was planned",
                "redeem again (F5)",
            )

    def _member_ref(self, member: MemberRecord) -> MemberRef:
        with self.database.read() as db:
            card = active_card_of(db, member.member_key)
        return MemberRef(
            card_number=card or "",
            member_id=member.member_id,
            local_member_id=member.local_member_id,
        )

    def _append(
        self,
        db: sqlite_utils.Database,
        payload: Payload,
        now: datetime,
        offset: int,
        cashier_id: str | None,
    ) -> JournalEntry:
        return append_entry(
            db,
            terminal_id=self.config.terminal_id,
            entry_id=str(uuid.uuid4()),
            occurred_at=now,
            utc_offset_min=offset,
            cashier_id=cashier_id,
            payload=payload,
        )

    @staticmethod
    def _add_points_effect(
        db: sqlite_utils.Database, seq: int, key: str, delta: int, redeemed: int, day: str
    ) -> None:
        if delta or redeemed:
            db.execute(
                "INSERT INTO points_effects (seq, member_key, delta, redeemed, local_date) "
                "VALUES (?, ?, ?, ?, ?)",
                [seq, key, delta, redeemed, day],
            )

    @staticmethod
    def _balance(db: sqlite_utils.Database, member_key: str) -> int | None:
        member = member_by_key(db, member_key)
        return member_balance(db, member) if member else None

    @staticmethod
    def _queue_print(
        db: sqlite_utils.Database, seq: int, balance: int | None, tier: str | None, now: datetime
    ) -> int:
        cursor = db.execute(
            "INSERT INTO print_jobs (seq, balance_after, tier_after, created_at) "
            "VALUES (?, ?, ?, ?)",
            [seq, balance, tier, now.isoformat()],
        )
        return int(cursor.lastrowid or 0)

    # --- returns and voids ---------------------------------------------------------------------

    def find_sale(self, ref: ReceiptRef | int) -> tuple[JournalEntry, list[ReturnableLine]]:
        """A sale of this till by receipt barcode or seq, with what can still be returned."""
        if isinstance(ref, ReceiptRef):
            if ref.terminal != self.config.terminal_id:
                raise ReturnRefusedError(
                    f"This receipt is from till {ref.terminal}",
                    "make the return at that till, or at any till once HQ sync is running",
                )
            seq = ref.seq
        else:
            seq = ref
        with self.database.read() as db:
            entry = get_entry(db, seq)
            if entry is None or not isinstance(entry.payload, Sale):
                raise ReturnRefusedError(f"No sale with receipt {self.config.terminal_id}-{seq}")
            voided = db.execute("SELECT 1 FROM voided_sales WHERE orig_seq = ?", [seq]).fetchone()
            if voided:
                raise ReturnRefusedError("That sale was voided", "nothing is left to return")
            returned = self._returned(db, seq)
        lines = [
            ReturnableLine(
                line_no=line.line_no,
                description=line.description,
                sold_quantity=line.quantity,
                returnable_quantity=line.quantity - returned[line.line_no][0],
                unit_net_minor=line.net_minor // line.quantity,
            )
            for line in entry.payload.lines
        ]
        return entry, lines

    def _returned(self, db: sqlite_utils.Database, seq: int) -> dict[int, tuple[int, int]]:
        rows = db.execute(
            "SELECT line_no, SUM(quantity), SUM(refund_minor) FROM returned_lines "
            "WHERE orig_terminal = ? AND orig_seq = ? GROUP BY line_no",
            [self.config.terminal_id, seq],
        ).fetchall()
        totals: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
        for line_no, quantity, refund in rows:
            totals[int(line_no)] = (int(quantity), int(refund))
        return totals

    def return_items(
        self,
        sale_seq: int,
        quantities: dict[int, int],
        method: TenderMethod = TenderMethod.CASH,
        reason: str | None = None,
    ) -> SaleDone:
        """Refund ``quantities`` (line_no → units) of an earlier sale of this till.

        Money back is what was paid: each line's net less its share of the points discount.
        Points earned are reversed, and points redeemed restored, in proportion (the shared
        engine). Every amount is cumulative-telescoping, so any sequence of partial returns
        refunds at most the sale and a full return refunds it exactly. Anything beyond what
        is left to return is refused.
        """
        cashier_id = self._cashier_id()
        quantities = {line: qty for line, qty in quantities.items() if qty}
        if not quantities:
            raise ReturnRefusedError("Choose at least one item to return")
        now, offset, local = self._now()
        with self.database.write() as db:
            entry = get_entry(db, sale_seq)
            if entry is None or not isinstance(entry.payload, Sale):
                raise ReturnRefusedError(
                    f"No sale with receipt {self.config.terminal_id}-{sale_seq}"
                )
            if db.execute("SELECT 1 FROM voided_sales WHERE orig_seq = ?", [sale_seq]).fetchone():
                raise ReturnRefusedError("That sale was voided", "nothing is left to return")
            sale = entry.payload
            paid = dict(
                zip(
                    [ln.line_no for ln in sale.lines],
                    line_amounts_paid(sale),
                    strict=True,
                )
            )
            before = self._returned(db, sale_seq)
            lines: list[ReturnLine] = []
            values_before: dict[int, int] = {}
            values_now: dict[int, int] = {}
            for line in sale.lines:
                done = before[line.line_no][0]
                values_before[line.line_no] = line.net_minor * done // line.quantity
            for line_no, qty in sorted(quantities.items()):
                sold = next((ln for ln in sale.lines if ln.line_no == line_no), None)
                if sold is None:
                    raise ReturnRefusedError(f"The sale has no line {line_no}")
                done = before[line_no][0]
                if qty < 0 or done + qty > sold.quantity:
                    raise ReturnRefusedError(
                        f"{sold.description}: {sold.quantity} sold, {done} already returned — "
                        f"at most {sold.quantity - done} can come back",
                        "change the quantity",
                    )
                after = done + qty
                values_now[line_no] = (
                    sold.net_minor * after // sold.quantity - values_before[line_no]
                )
                cash = (
                    paid[line_no] * after // sold.quantity - paid[line_no] * done // sold.quantity
                )
                lines.append(ReturnLine(original_line_no=line_no, quantity=qty, refund_minor=cash))
            refund = sum(line.refund_minor for line in lines)
            reversed_points = restored = 0
            if sale.member is not None and sale.earned is not None:
                reversal = compute_return_reversal(
                    sale.earned,
                    [
                        EarnLine(
                            line_no=ln.line_no,
                            sku=ln.sku,
                            category=ln.category,
                            quantity=ln.quantity,
                            net_minor=ln.net_minor,
                        )
                        for ln in sale.lines
                    ],
                    values_before,
                    values_now,
                    redeemed_points=sale.points_redeemed,
                )
                reversed_points = reversal.points_reversed
                restored = reversal.points_restored
            seq, _ = journal_tip(db)
            payload = Return(
                store_id=self.config.store_id,
                receipt_no=f"{self.config.terminal_id}-{seq + 1}",
                currency=sale.currency,
                original=EntryRef(
                    terminal_id=entry.terminal_id, seq=entry.seq, entry_id=entry.entry_id
                ),
                lines=tuple(lines),
                refund_minor=refund,
                tenders=(Tender(method=method, amount_minor=refund),) if refund else (),
                member=sale.member,
                points_reversed=reversed_points,
                points_restored=restored,
                reason=reason,
            )
            ret = self._append(db, payload, now, offset, cashier_id)
            for returned in lines:
                db.execute(
                    "INSERT INTO returned_lines (orig_terminal, orig_seq, line_no, quantity, "
                    "refund_minor, return_seq) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        entry.terminal_id,
                        sale_seq,
                        returned.original_line_no,
                        returned.quantity,
                        returned.refund_minor,
                        ret.seq,
                    ],
                )
            balance_after = None
            key = self._member_key_for(db, sale.member)
            if key is not None:
                self._add_points_effect(
                    db, ret.seq, key, restored - reversed_points, 0, local.date().isoformat()
                )
                balance_after = self._balance(db, key)
            job = self._queue_print(db, ret.seq, balance_after, None, now)
        return SaleDone(ret, job, 0, balance_after)

    def _member_key_for(self, db: sqlite_utils.Database, ref: MemberRef | None) -> str | None:
        if ref is None:
            return None
        card = card_by_number(db, ref.card_number)
        return card.member_key if card else None

    def void_sale(self, sale_seq: int, reason: str) -> JournalEntry:
        """Cancel a whole sale of the current shift (post-void): its points are undone."""
        cashier_id = self._cashier_id()
        now, offset, local = self._now()
        with self.database.write() as db:
            entry = get_entry(db, sale_seq)
            if entry is None or not isinstance(entry.payload, Sale):
                raise ReturnRefusedError(
                    f"No sale with receipt {self.config.terminal_id}-{sale_seq}"
                )
            first = int(get_setting(db, "shift_first_seq") or 1)
            if sale_seq < first:
                raise ReturnRefusedError(
                    "Only sales of the current shift can be voided", "make a return instead"
                )
            if db.execute("SELECT 1 FROM voided_sales WHERE orig_seq = ?", [sale_seq]).fetchone():
                raise ReturnRefusedError("That sale is already voided")
            if db.execute("SELECT 1 FROM returned_lines WHERE orig_seq = ?", [sale_seq]).fetchone():
                raise ReturnRefusedError(
                    "Part of that sale was returned", "return the rest instead"
                )
            sale = entry.payload
            void = self._append(
                db,
                Void(
                    original=EntryRef(
                        terminal_id=entry.terminal_id, seq=entry.seq, entry_id=entry.entry_id
                    ),
                    reason=reason,
                    total_minor=sale.total_minor,
                ),
                now,
                offset,
                cashier_id,
            )
            db.execute(
                "INSERT INTO voided_sales (orig_seq, void_seq) VALUES (?, ?)", [sale_seq, void.seq]
            )
            key = self._member_key_for(db, sale.member)
            if key is not None:
                self._add_points_effect(
                    db,
                    void.seq,
                    key,
                    sale.points_redeemed - sale.points_earned,
                    -sale.points_redeemed,
                    local.date().isoformat(),
                )
        return void

    # --- members: enrolment and cards -----------------------------------------------------------

    def enrol(
        self,
        *,
        name: str,
        phone: str | None,
        email: str | None,
        marketing_consent: bool,
        card_number: str,
    ) -> tuple[JournalEntry, MemberView]:
        """Sign up a member offline and assign the blank card just scanned."""
        cashier_id = self._cashier_id()
        name, phone, email = (
            name.strip(),
            (phone or "").strip() or None,
            (email or "").strip() or None,
        )
        if not name:
            raise EnrolmentRefusedError("The member's name is missing", "type their name")
        if not (phone or email):
            raise EnrolmentRefusedError("A phone number or an email is needed", "ask for one")
        if email and ("@" not in email or "." not in email.split("@")[-1]):
            raise EnrolmentRefusedError(f"{email} is not an email address", "check the spelling")
        code = self.classify(card_number)
        if not isinstance(code, LoyaltyCard):
            reason = code.reason if isinstance(code, Unrecognised) else "not a loyalty card"
            raise EnrolmentRefusedError(
                f"That card cannot be assigned: {reason}", "scan a blank card"
            )
        now, offset, _ = self._now()
        local_id = str(uuid.uuid4())
        with self.database.write() as db:
            if card_by_number(db, code.number) is not None:
                raise EnrolmentRefusedError(
                    "This card already belongs to a member", "take another blank card"
                )
            entry = self._append(
                db,
                Enrolment(
                    store_id=self.config.store_id,
                    local_member_id=local_id,
                    name=name,
                    phone=phone,
                    email=email,
                    marketing_consent=marketing_consent,
                    consent_text_version=self.config.consent_text_version,
                    card_number=code.number,
                ),
                now,
                offset,
                cashier_id,
            )
            key = f"L:{local_id}"
            upsert_member(
                db,
                member_key=key,
                name=name,
                phone=phone,
                email=email,
                tier=None,
                marketing_consent=marketing_consent,
                local_member_id=local_id,
            )
            assign_card(db, code.number, key)
        return entry, self.member_view(code.number)

    def replace_card(self, old_card: str, new_card: str, reason: str = "lost") -> JournalEntry:
        """Block a lost card and move the member (and so the balance) to a new card."""
        cashier_id = self._cashier_id()
        code = self.classify(new_card)
        if not isinstance(code, LoyaltyCard):
            raise EnrolmentRefusedError(
                "The new card is not a valid loyalty card", "scan a blank card"
            )
        if reason not in ("lost", "stolen", "damaged"):
            raise EnrolmentRefusedError("Reason must be lost, stolen or damaged")
        now, offset, _ = self._now()
        with self.database.write() as db:
            old = card_by_number(db, old_card)
            if old is None:
                raise UnknownCardError("The old card is not registered", "find the member by phone")
            if old.blocked:
                raise CardBlockedError(
                    "The old card is already blocked", "use the member's new card"
                )
            if card_by_number(db, code.number) is not None:
                raise EnrolmentRefusedError("The new card already belongs to a member")
            member = member_by_key(db, old.member_key)
            assert member is not None
            entry = self._append(
                db,
                CardReplacement(
                    member=MemberRef(
                        card_number=old_card,
                        member_id=member.member_id,
                        local_member_id=member.local_member_id,
                    ),
                    old_card_number=old_card,
                    new_card_number=code.number,
                    reason=reason,
                ),
                now,
                offset,
                cashier_id,
            )
            block_card(db, old_card, f"replaced ({reason})")
            assign_card(db, code.number, old.member_key)
        return entry

    # --- shift -----------------------------------------------------------------------------------

    def close_shift(self, cash_counted_minor: int | None = None) -> tuple[JournalEntry, int]:
        """Journal the Z report for everything since the shift opened; queue it for print."""
        cashier_id = self._cashier_id()
        now, offset, _ = self._now()
        with self.database.write() as db:
            first = int(get_setting(db, "shift_first_seq") or 1)
            opened = get_setting(db, "shift_opened_at")
            shift_id = get_setting(db, "shift_id") or str(uuid.uuid4())
            last, _ = journal_tip(db)
            sales_by: dict[TenderMethod, int] = defaultdict(int)
            refunds_by: dict[TenderMethod, int] = defaultdict(int)
            counts = {"sale": 0, "return": 0, "void": 0, "enrolment": 0}
            issued = redeemed = reversed_points = 0
            voided_cash = 0
            for seq in range(first, last + 1):
                entry = get_entry(db, seq)
                if entry is None:
                    continue
                p = entry.payload
                if p.kind in counts:
                    counts[p.kind] += 1
                if isinstance(p, Sale):
                    for tender in p.tenders:
                        sales_by[tender.method] += tender.amount_minor
                    if p.change_minor:
                        sales_by[TenderMethod.CASH] -= p.change_minor
                    issued += p.points_earned
                    redeemed += p.points_redeemed
                elif isinstance(p, Return):
                    for tender in p.tenders:
                        refunds_by[tender.method] += tender.amount_minor
                    reversed_points += p.points_reversed
                elif isinstance(p, Void):
                    original = get_entry(db, p.original.seq)
                    if original is not None and isinstance(original.payload, Sale):
                        sale = original.payload
                        cash = sum(
                            t.amount_minor for t in sale.tenders if t.method is TenderMethod.CASH
                        )
                        voided_cash += cash - sale.change_minor
                        reversed_points += sale.points_earned
            cash_expected = (
                sales_by.get(TenderMethod.CASH, 0)
                - refunds_by.get(TenderMethod.CASH, 0)
                - voided_cash
            )
            payload = ShiftClose(
                store_id=self.config.store_id,
                shift_id=shift_id,
                opened_at=datetime.fromisoformat(opened) if opened else now,
                currency=self.config.currency,
                first_seq=first,
                last_seq=last,
                sales_count=counts["sale"],
                sales_by_tender={k: max(0, v) for k, v in sales_by.items()},
                refunds_count=counts["return"],
                refunds_by_tender=dict(refunds_by),
                voids_count=counts["void"],
                points_issued=issued,
                points_redeemed=redeemed,
                points_reversed=reversed_points,
                enrolments=counts["enrolment"],
                cash_expected_minor=cash_expected,
                cash_counted_minor=cash_counted_minor,
            )
            entry = self._append(db, payload, now, offset, cashier_id)
            job = self._queue_print(db, entry.seq, None, None, now)
            set_setting(db, "shift_id", str(uuid.uuid4()))
            set_setting(db, "shift_opened_at", now.isoformat())
            set_setting(db, "shift_first_seq", str(entry.seq + 1))
        return entry, job

    # --- printing --------------------------------------------------------------------------------

    def reprint(self, seq: int) -> int:
        """Queue a copy of any past receipt (marked REPRINT, no drawer kick)."""
        now = self.clock()
        with self.database.write() as db:
            entry = get_entry(db, seq)
            if entry is None or entry.kind not in ("sale", "return", "shift_close"):
                raise TillError(f"No receipt {self.config.terminal_id}-{seq}")
            original = db.execute(
                "SELECT balance_after, tier_after FROM print_jobs WHERE seq = ? "
                "ORDER BY id LIMIT 1",
                [seq],
            ).fetchone()
            cursor = db.execute(
                "INSERT INTO print_jobs (seq, reprint, balance_after, tier_after, created_at) "
                "VALUES (?, 1, ?, ?, ?)",
                [
                    seq,
                    original[0] if original else None,
                    original[1] if original else None,
                    now.isoformat(),
                ],
            )
            return int(cursor.lastrowid or 0)

    # --- status ----------------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        with self.database.read() as db:
            seq, tip = journal_tip(db)
            acked = int(get_setting(db, "acked_seq") or 0)
            queued = db.execute(
                "SELECT COUNT(*) FROM print_jobs WHERE status != 'printed'"
            ).fetchone()[0]
            members = db.execute("SELECT COUNT(*) FROM members").fetchone()[0]
            rules = current_rules(db)
            sync_state = get_setting(db, "sync_state")
            sync_error = get_setting(db, "sync_error")
            last_sync = get_setting(db, "last_sync_at")
        return {
            "terminal_id": self.config.terminal_id,
            "store_id": self.config.store_id,
            "online": sync_state == "online",
            "sync_state": sync_state or ("offline" if self.config.server_url else "not configured"),
            "sync_error": sync_error,
            "last_seq": seq,
            "last_hash": tip,
            "unsent_entries": seq - acked,
            "last_sync": last_sync,
            "print_queue": int(queued),
            "members_cached": int(members),
            "rules_version": rules.version if rules else None,
            "cashier": self.cashier.cashier_id if self.cashier else None,
            "checked_at": datetime.fromtimestamp(time.time(), UTC).isoformat(),
        }


def line_amounts_paid(sale: Sale) -> list[int]:
    """What the customer paid for each line: net less its share of the points discount."""
    from shared.money import allocate

    discount = sale.redeemed.discount_minor if sale.redeemed else 0
    shares = allocate(discount, [line.net_minor for line in sale.lines])
    return [line.net_minor - share for line, share in zip(sale.lines, shares, strict=True)]
