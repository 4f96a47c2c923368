"""Returns and post-voids against earlier sales: this till's own, and any other till's.

A receipt of another till: when HQ can be asked, the till fetches the sale and the returns
HQ holds against it (``GET /api/v1/sync/original``) and takes points back exactly as for its
own sales, telescoping over HQ's returns plus its own (sent or not). When HQ cannot be asked
the cashier may still refund the money — keyed line by line from the customer's receipt —
but no points move: the entry says ``original_unavailable`` and HQ, which can see the sale,
raises ``return_mismatch`` naming the points to adjust (docs/ledger.md).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import sqlite_utils
from pydantic import ValidationError

from shared.bounds import MAX_TEXT
from shared.codes import (
    ReceiptRef,
    generate_gift_card_number,
)
from shared.journal import (
    EntryRef,
    JournalEntry,
    Return,
    ReturnLine,
    Sale,
    Tender,
    TenderMethod,
    Void,
)
from shared.journal.payloads import STORED_VALUE_METHODS
from shared.money import Money
from shared.protocol import OriginalSaleResponse
from shared.rules import BasketLine as EarnLine
from shared.rules.returns import compute_return_reversal
from shared.text import unsafe_character
from terminal.store.cashiers import Cashier
from terminal.store.journal import get_entry, journal_tip
from terminal.store.rewards import record_reward_effect, voucher_codes_issued_by
from terminal.store.settings import get_setting
from terminal.store.stored_value import (
    account_balance,
    add_money_effect,
    credit_account,
    gift_account,
    gift_card_record,
    know_new_card,
)
from terminal.sync.errors import SyncError, SyncRejectedError
from terminal.till.approvals import is_supervisor, require_supervisor
from terminal.till.errors import (
    ReturnRefusedError,
)
from terminal.till.receipts import POINTS_NOT_ADJUSTED
from terminal.till.results import ReturnableLine, SaleDone
from terminal.till.stored_value import StoredValueActions, movement

__all__ = [
    "POINTS_NOT_ADJUSTED",
    "UNKNOWN_ENTRY_ID",
    "OriginalLookup",
    "OriginalUnavailableError",
    "RefundTo",
    "ReturningActions",
]


class RefundTo(StrEnum):
    """Where a refund goes (``return_items(refund_to=...)``)."""

    CASH = "cash"
    CARD = "card"
    STORE_CREDIT = "store_credit"
    """The return's member's store credit (refused for a sale without a member)."""
    CREDIT_SLIP = "credit_slip"
    """A new credit slip: a gift card number generated here, printed with its barcode."""
    GIFT_CARD = "gift_card"
    """Back onto the gift card the sale was paid with."""


OriginalLookup = Callable[[str, int], OriginalSaleResponse]
"""(terminal id, seq) -> HQ's copy of that sale and its returns (``SyncClient.original_sale``);
raises ``SyncOfflineError`` when HQ cannot answer, ``SyncRejectedError`` when it says no."""

UNKNOWN_ENTRY_ID = "00000000-0000-0000-0000-000000000000"
"""The entry id a return made without the original names it by: the till cannot know it
(HQ finds the sale by terminal and seq; docs/ledger.md)."""


class OriginalUnavailableError(ReturnRefusedError):
    """Another till's receipt, and HQ cannot be asked for the sale: only a refund without
    points (:meth:`ReturningActions.return_without_original`) is possible."""

    def __init__(self, message: str, next_step: str, terminal_id: str, seq: int) -> None:
        super().__init__(message, next_step)
        self.terminal_id = terminal_id
        self.seq = seq


_NONE: Mapping[int, tuple[int, int]] = {}


@dataclass(frozen=True, slots=True)
class _Original:
    """The sale a return is against and the units per line already returned."""

    entry: JournalEntry
    sale: Sale
    returned: Mapping[int, tuple[int, int]]
    """line_no -> (units, refund) already refunded, by every till HQ or this till knows of."""
    others: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    """Of those, what other tills refunded (HQ's list; this till counts its own itself)."""


class ReturningActions(StoredValueActions):
    """Returns and voids: money and points back, never more than the sale."""

    hq_original: OriginalLookup | None = None
    """Asks HQ for another till's sale (``till run`` sets it when the till syncs; None: the
    till never asks, and another till's receipt can only be refunded without points)."""

    # --- returns and voids ---------------------------------------------------------------------

    def find_sale(self, ref: ReceiptRef | int) -> tuple[JournalEntry, list[ReturnableLine]]:
        """A sale by receipt barcode or seq, with what can still be returned: this till's from
        its journal, another till's from HQ (:class:`OriginalUnavailableError` when HQ cannot
        be asked)."""
        if isinstance(ref, ReceiptRef) and ref.terminal != self.config.terminal_id:
            original = self._foreign_original(ref.terminal, ref.seq)
        else:
            seq = ref.seq if isinstance(ref, ReceiptRef) else ref
            elsewhere = self._returned_elsewhere(seq)
            with self.database.read() as db:
                original = self._own_original(db, seq, elsewhere)
        lines = [
            ReturnableLine(
                line_no=line.line_no,
                description=line.description,
                sold_quantity=line.quantity,
                returnable_quantity=max(0, line.quantity - original.returned[line.line_no][0]),
                unit_net_minor=line.net_minor // line.quantity,
            )
            for line in original.sale.lines
        ]
        return original.entry, lines

    def _own_original(
        self,
        db: sqlite_utils.Database,
        seq: int,
        elsewhere: Mapping[int, tuple[int, int]] = _NONE,
    ) -> _Original:
        entry = get_entry(db, seq)
        if entry is None or not isinstance(entry.payload, Sale):
            raise ReturnRefusedError(f"No sale with receipt {self.config.terminal_id}-{seq}")
        if db.execute("SELECT 1 FROM voided_sales WHERE orig_seq = ?", [seq]).fetchone():
            raise ReturnRefusedError("That sale was voided", "nothing is left to return")
        own = self._returned(db, self.config.terminal_id, seq)
        return _Original(entry, entry.payload, _merge(elsewhere, own), elsewhere)

    def _returned_elsewhere(self, seq: int) -> Mapping[int, tuple[int, int]]:
        """What other tills refunded of this till's own sale ``seq``, as far as HQ knows.

        Best effort: a till that cannot ask HQ counts its own returns only (as before returns
        at any till existed); if another till took goods of the sale back meanwhile, HQ's
        recomputation raises ``return_mismatch`` for the difference."""
        if self.hq_original is None:
            return _NONE
        try:
            answer = self.hq_original(self.config.terminal_id, seq)
            returns = [JournalEntry.model_validate(record) for record in answer.returns]
        except (SyncError, ValidationError, ValueError):
            return _NONE
        return self._by_others(returns)

    def _by_others(self, returns: list[JournalEntry]) -> dict[int, tuple[int, int]]:
        """Units and refunds per line in returns made at other tills than this one (this till
        counts its own from its own records, sent or not)."""
        others: defaultdict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
        for ret in returns:
            if ret.terminal_id == self.config.terminal_id or not isinstance(ret.payload, Return):
                continue
            for line in ret.payload.lines:
                units, refund = others[line.original_line_no]
                others[line.original_line_no] = (units + line.quantity, refund + line.refund_minor)
        return dict(others)

    def _foreign_original(self, terminal_id: str, seq: int) -> _Original:
        """Another till's sale as HQ holds it, with every return HQ or this till made of it."""
        receipt = f"{terminal_id}-{seq}"
        without = (
            "refund it without points (line by line from the receipt), "
            "or make the return at that till"
        )
        if self.hq_original is None:
            raise OriginalUnavailableError(
                f"Receipt {receipt} is from till {terminal_id} and this till does not sync with HQ",
                without,
                terminal_id,
                seq,
            )
        try:
            answer = self.hq_original(terminal_id, seq)
        except SyncRejectedError as error:
            if error.status_code == 409:
                raise ReturnRefusedError(
                    f"Sale {receipt} was voided at its till", "nothing is left to return"
                ) from error
            if error.status_code == 404:
                raise ReturnRefusedError(
                    f"HQ has no sale {receipt} to return against",
                    "check the receipt number; a sale made offline at that till reaches HQ "
                    "when it syncs",
                ) from error
            raise OriginalUnavailableError(
                f"HQ did not give the sale {receipt}: {error.message}", without, terminal_id, seq
            ) from error
        except SyncError as error:
            raise OriginalUnavailableError(
                f"Receipt {receipt} is from till {terminal_id} and HQ cannot be reached "
                f"({error.message})",
                without,
                terminal_id,
                seq,
            ) from error
        try:
            entry = JournalEntry.model_validate(answer.entry)
            returns = [JournalEntry.model_validate(record) for record in answer.returns]
        except (ValidationError, ValueError) as error:
            raise OriginalUnavailableError(
                f"HQ's copy of sale {receipt} does not check out", without, terminal_id, seq
            ) from error
        if (
            entry.terminal_id != terminal_id
            or entry.seq != seq
            or not isinstance(entry.payload, Sale)
        ):
            raise OriginalUnavailableError(
                f"HQ answered with another entry than sale {receipt}", without, terminal_id, seq
            )
        others = self._by_others(returns)
        with self.database.read() as db:
            own = self._returned(db, terminal_id, seq)
        return _Original(entry, entry.payload, _merge(others, own), others)

    def _returned(
        self, db: sqlite_utils.Database, terminal_id: str, seq: int
    ) -> defaultdict[int, tuple[int, int]]:
        """line_no -> (units, refund) this till refunded of sale terminal_id#seq."""
        rows = db.execute(
            "SELECT line_no, SUM(quantity), SUM(refund_minor) FROM returned_lines "
            "WHERE orig_terminal = ? AND orig_seq = ? GROUP BY line_no",
            [terminal_id, seq],
        ).fetchall()
        totals: defaultdict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
        for line_no, quantity, refund in rows:
            totals[int(line_no)] = (int(quantity), int(refund))
        return totals

    def return_items(
        self,
        sale_seq: int,
        quantities: dict[int, int],
        method: TenderMethod = TenderMethod.CASH,
        reason: str | None = None,
        supervisor: Cashier | None = None,
        *,
        original_terminal: str | None = None,
        refund_to: RefundTo | None = None,
    ) -> SaleDone:
        """Refund ``quantities`` (line_no → units) of an earlier sale: this till's, or
        ``original_terminal``'s (asked of HQ again now, so returns made meanwhile count).

        Money back is what was paid: each line's net less its share of the points discount.
        Points earned are reversed, and points redeemed restored, in proportion (the shared
        engine). Every amount is cumulative-telescoping, so any sequence of partial returns
        refunds at most the sale and a full return refunds it exactly. Anything beyond what
        is left to return is refused.

        A refund above ``config.refund_limit_minor`` needs ``supervisor`` (whose number and PIN
        ``approvals.approve`` checked): without one it is refused with
        :class:`SupervisorNeededError`, and the entry names who approved it.

        ``refund_to`` (else ``method``) says where the money goes: cash, card, the member's
        store credit (refused when the sale had no member), a new credit slip (a gift card
        number generated here, printed with its barcode), or the gift card the sale was paid
        with (refused when it was not paid with one).
        """
        cashier_id = self._cashier_id()
        if refund_to is None:
            refund_to = _REFUND_TO_FOR_METHOD.get(method, RefundTo.CASH)
        quantities = {line: qty for line, qty in quantities.items() if qty}
        if not quantities:
            raise ReturnRefusedError("Choose at least one item to return")
        foreign = elsewhere = None
        if original_terminal not in (None, self.config.terminal_id):
            assert original_terminal is not None
            foreign = self._foreign_original(original_terminal, sale_seq)
        else:
            elsewhere = self._returned_elsewhere(sale_seq)
        now, offset, local = self._now()
        with self._storable("return"), self.database.write() as db:
            if foreign is None:
                original = self._own_original(db, sale_seq, elsewhere or _NONE)
            else:  # this till's own returns of it as they stand in this transaction
                own = self._returned(db, foreign.entry.terminal_id, sale_seq)
                original = _Original(foreign.entry, foreign.sale, _merge(foreign.others, own))
            entry, sale, before = original.entry, original.sale, original.returned
            paid = dict(
                zip(
                    [ln.line_no for ln in sale.lines],
                    line_amounts_paid(sale),
                    strict=True,
                )
            )
            lines: list[ReturnLine] = []
            values_before: dict[int, int] = {}
            values_now: dict[int, int] = {}
            for line in sale.lines:
                done = min(before[line.line_no][0], line.quantity)
                values_before[line.line_no] = line.net_minor * done // line.quantity
            for line_no, qty in sorted(quantities.items()):
                sold = next((ln for ln in sale.lines if ln.line_no == line_no), None)
                if sold is None:
                    raise ReturnRefusedError(f"The sale has no line {line_no}")
                done = before[line_no][0]
                if qty < 0 or done + qty > sold.quantity:
                    raise ReturnRefusedError(
                        f"{sold.description}: {sold.quantity} sold, {done} already returned — "
                        f"at most {max(0, sold.quantity - done)} can come back",
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
            self._check_refund_limit(refund, sale.currency, supervisor)
            key = self._member_key_for(db, sale.member)
            tender, account = self._refund_tender(db, sale, refund_to, refund, key)
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
                tenders=(tender,) if tender is not None else (),
                member=sale.member,
                points_reversed=reversed_points,
                points_restored=restored,
                reason=reason,
                approved_by=supervisor.cashier_id if is_supervisor(supervisor) else None,
            )
            ret = self._append(db, payload, now, offset, cashier_id)
            self._record_returned(db, entry.terminal_id, entry.seq, lines, ret.seq)
            balance_after = None
            if key is not None:
                self._add_points_effect(
                    db, ret.seq, key, restored - reversed_points, 0, local.date().isoformat()
                )
                balance_after = self._balance(db, key, local.date())
            said = None
            if tender is not None and account is not None:
                said = self._refund_effect(
                    db, ret.seq, tender, account, refund_to, local.date().isoformat()
                )
            job = self._queue_print(db, ret.seq, balance_after, None, now, stored_value=said)
        return SaleDone(ret, job, 0, balance_after)

    def _refund_tender(
        self,
        db: sqlite_utils.Database,
        sale: Sale,
        refund_to: RefundTo,
        refund: int,
        member_key: str | None,
    ) -> tuple[Tender | None, str | None]:
        """The refund's tender and the stored-value account it credits (None: cash or card)."""
        if not refund:
            return None, None
        if refund_to is RefundTo.STORE_CREDIT:
            if member_key is None:
                raise ReturnRefusedError(
                    "This sale had no member, so there is no store credit to refund to",
                    "refund to a credit slip, or in cash",
                )
            tender = Tender(method=TenderMethod.STORE_CREDIT, amount_minor=refund)
            return tender, credit_account(member_key)
        if refund_to is RefundTo.GIFT_CARD:
            card = next((t.gift_card for t in sale.tenders if t.gift_card), None)
            if card is None:
                raise ReturnRefusedError(
                    "The sale was not paid with a gift card",
                    "refund to a credit slip, or in cash",
                )
            self._refuse_blocked(db, card)
            tender = Tender(method=TenderMethod.GIFT_CARD, amount_minor=refund, reference=card)
            return tender, gift_account(card)
        if refund_to is RefundTo.CREDIT_SLIP:
            number = self._new_credit_slip_number(db)
            tender = Tender(method=TenderMethod.GIFT_CARD, amount_minor=refund, reference=number)
            return tender, gift_account(number)
        method = TenderMethod.CARD if refund_to is RefundTo.CARD else TenderMethod.CASH
        return Tender(method=method, amount_minor=refund), None

    def _new_credit_slip_number(self, db: sqlite_utils.Database) -> str:
        """A gift card number in this till's range that no card it knows has."""
        rng = random.SystemRandom()
        for _ in range(100):
            number = generate_gift_card_number(self.codes, rng)
            if gift_card_record(db, number) is None:
                return number
        raise ReturnRefusedError(
            "Could not find a free credit slip number", "refund in cash, and tell HQ support"
        )

    @staticmethod
    def _refund_effect(
        db: sqlite_utils.Database,
        seq: int,
        tender: Tender,
        account: str,
        refund_to: RefundTo,
        day: str,
    ) -> str:
        """Credit the account and say so on the receipt (JSON for ``print_jobs``)."""
        if refund_to is RefundTo.CREDIT_SLIP and tender.gift_card is not None:
            know_new_card(db, tender.gift_card)
        add_money_effect(db, seq, account, tender.amount_minor, day)
        kind = {
            RefundTo.CREDIT_SLIP: "credit_slip",
            RefundTo.GIFT_CARD: "refunded",
            RefundTo.STORE_CREDIT: "store_credit_refunded",
        }[refund_to]
        balance = account_balance(db, account)
        return json.dumps([movement(kind, tender.gift_card, tender.amount_minor, balance)])

    def return_without_original(
        self,
        receipt: ReceiptRef,
        lines: Mapping[int, tuple[int, int]],
        method: TenderMethod = TenderMethod.CASH,
        reason: str | None = None,
        supervisor: Cashier | None = None,
    ) -> SaleDone:
        """Refund goods of another till's sale that this till cannot see (HQ out of reach):
        ``lines`` maps the receipt's line number to (units, refund in minor units), keyed
        from the customer's receipt. Money only — no points move, and the entry says so
        (``original_unavailable``): HQ works out the points from the sale and raises
        ``return_mismatch`` for HQ staff to adjust the member (:data:`POINTS_NOT_ADJUSTED`).

        The refund limit and supervisor approval apply as to any refund."""
        cashier_id = self._cashier_id()
        if receipt.terminal == self.config.terminal_id:
            raise ReturnRefusedError(
                f"Receipt {receipt.terminal}-{receipt.seq} is this till's own",
                "find the sale and return it as usual",
            )
        if method in STORED_VALUE_METHODS:
            # No member and no gift card to name without the sale: money goes back as it can.
            raise ReturnRefusedError(
                "Without the original sale the refund cannot go to store credit or a gift card",
                "refund in cash or to the card",
            )
        wanted = {no: (qty, minor) for no, (qty, minor) in sorted(lines.items()) if qty}
        if not wanted:
            raise ReturnRefusedError("Choose at least one item to return")
        for no, (qty, minor) in wanted.items():
            if qty < 0 or minor < 0:
                raise ReturnRefusedError(
                    f"Line {no}: the quantity and the amount must not be negative",
                    "key them again",
                )
        now, offset, _local = self._now()
        with self._storable("return"), self.database.write() as db:
            returned = [
                ReturnLine(original_line_no=no, quantity=qty, refund_minor=minor)
                for no, (qty, minor) in wanted.items()
            ]
            refund = sum(line.refund_minor for line in returned)
            self._check_refund_limit(refund, self.config.currency, supervisor)
            seq, _ = journal_tip(db)
            payload = Return(
                store_id=self.config.store_id,
                receipt_no=f"{self.config.terminal_id}-{seq + 1}",
                currency=self.config.currency,
                original=EntryRef(
                    terminal_id=receipt.terminal, seq=receipt.seq, entry_id=UNKNOWN_ENTRY_ID
                ),
                lines=tuple(returned),
                refund_minor=refund,
                tenders=(Tender(method=method, amount_minor=refund),) if refund else (),
                reason=reason,
                approved_by=supervisor.cashier_id if is_supervisor(supervisor) else None,
                original_unavailable=True,
            )
            ret = self._append(db, payload, now, offset, cashier_id)
            self._record_returned(db, receipt.terminal, receipt.seq, returned, ret.seq)
            job = self._queue_print(db, ret.seq, None, None, now)
        return SaleDone(ret, job, 0, None)

    def _check_refund_limit(self, refund: int, currency: str, supervisor: Cashier | None) -> None:
        if refund > self.config.refund_limit_minor:
            limit = Money(self.config.refund_limit_minor, currency).format()
            require_supervisor(
                supervisor,
                f"A refund of {Money(refund, currency).format()} is above this till's "
                f"limit of {limit}",
                "a supervisor approves it with their number and PIN",
            )

    @staticmethod
    def _record_returned(
        db: sqlite_utils.Database,
        terminal_id: str,
        seq: int,
        lines: list[ReturnLine],
        return_seq: int,
    ) -> None:
        for returned in lines:
            db.execute(
                "INSERT INTO returned_lines (orig_terminal, orig_seq, line_no, quantity, "
                "refund_minor, return_seq) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    terminal_id,
                    seq,
                    returned.original_line_no,
                    returned.quantity,
                    returned.refund_minor,
                    return_seq,
                ],
            )

    def void_sale(self, sale_seq: int, reason: str) -> JournalEntry:
        """Cancel a whole sale of the current shift (post-void): its points are undone."""
        cashier_id = self._cashier_id()
        reason = reason.strip()
        found = unsafe_character(reason)
        if found is not None or not 1 <= len(reason) <= MAX_TEXT:
            # What the Void entry could not carry (shared.bounds): said before anything else.
            raise ReturnRefusedError(
                f"The reason must be 1–{MAX_TEXT} printable characters",
                "type the reason again",
            )
        now, offset, local = self._now()
        with self._storable("void"), self.database.write() as db:
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
            if db.execute(
                "SELECT 1 FROM returned_lines WHERE orig_terminal = ? AND orig_seq = ?",
                [self.config.terminal_id, sale_seq],
            ).fetchone():
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
                # Every point the sale spent comes back, rewards included.
                self._add_points_effect(
                    db,
                    void.seq,
                    key,
                    sale.points_spent - sale.points_earned,
                    -sale.points_spent,
                    local.date().isoformat(),
                )
            # The rewards it bought go back to their stock; the vouchers it issued are void.
            for reward in sale.rewards:
                record_reward_effect(db, void.seq, reward.reward_id, -1, None)
            issued = voucher_codes_issued_by(db, sale_seq)
            issued += [voucher.voucher_code for voucher in sale.campaign_vouchers]
            for code in issued:
                db.execute("UPDATE vouchers SET status = 'voided' WHERE code = ?", [code])
            # Money the sale took from gift cards or store credit goes back onto them.
            for tender in sale.tenders:
                if tender.gift_card is not None:
                    account = gift_account(tender.gift_card)
                elif tender.method is TenderMethod.STORE_CREDIT and key is not None:
                    account = credit_account(key)
                else:
                    continue
                add_money_effect(
                    db, void.seq, account, tender.amount_minor, local.date().isoformat()
                )
        return void


_REFUND_TO_FOR_METHOD = {
    TenderMethod.CASH: RefundTo.CASH,
    TenderMethod.CARD: RefundTo.CARD,
    TenderMethod.STORE_CREDIT: RefundTo.STORE_CREDIT,
    TenderMethod.GIFT_CARD: RefundTo.GIFT_CARD,
}


def line_amounts_paid(sale: Sale) -> list[int]:
    """What the customer paid for each line: net less its share of the order discounts
    (points and vouchers)."""
    from shared.money import allocate

    discount = sale.order_discount_minor
    shares = allocate(discount, [line.net_minor for line in sale.lines])
    return [line.net_minor - share for line, share in zip(sale.lines, shares, strict=True)]


def _merge(
    hq: Mapping[int, tuple[int, int]], own: Mapping[int, tuple[int, int]]
) -> defaultdict[int, tuple[int, int]]:
    """Units and refunds per line: HQ's (other tills') plus this till's own."""
    out: defaultdict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for source in (hq, own):
        for no, (units, refund) in source.items():
            was = out[no]
            out[no] = (was[0] + units, was[1] + refund)
    return out
