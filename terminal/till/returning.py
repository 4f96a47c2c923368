"""Returns and post-voids against earlier sales of this till."""

from __future__ import annotations

from collections import defaultdict

import sqlite_utils

from shared.bounds import MAX_TEXT
from shared.codes import (
    ReceiptRef,
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
from shared.money import Money
from shared.rules import BasketLine as EarnLine
from shared.rules.returns import compute_return_reversal
from shared.text import unsafe_character
from terminal.store.cashiers import Cashier
from terminal.store.journal import get_entry, journal_tip
from terminal.store.settings import get_setting
from terminal.till.approvals import is_supervisor, require_supervisor
from terminal.till.base import TillBase
from terminal.till.errors import (
    ReturnRefusedError,
)
from terminal.till.results import ReturnableLine, SaleDone

__all__ = ["ReturningActions"]


class ReturningActions(TillBase):
    """Returns and voids: money and points back, never more than the sale."""

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
        supervisor: Cashier | None = None,
    ) -> SaleDone:
        """Refund ``quantities`` (line_no → units) of an earlier sale of this till.

        Money back is what was paid: each line's net less its share of the points discount.
        Points earned are reversed, and points redeemed restored, in proportion (the shared
        engine). Every amount is cumulative-telescoping, so any sequence of partial returns
        refunds at most the sale and a full return refunds it exactly. Anything beyond what
        is left to return is refused.

        A refund above ``config.refund_limit_minor`` needs ``supervisor`` (whose number and PIN
        ``approvals.approve`` checked): without one it is refused with
        :class:`SupervisorNeededError`, and the entry names who approved it.
        """
        cashier_id = self._cashier_id()
        quantities = {line: qty for line, qty in quantities.items() if qty}
        if not quantities:
            raise ReturnRefusedError("Choose at least one item to return")
        now, offset, local = self._now()
        with self._storable("return"), self.database.write() as db:
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
            if refund > self.config.refund_limit_minor:
                limit = Money(self.config.refund_limit_minor, sale.currency).format()
                require_supervisor(
                    supervisor,
                    f"A refund of {Money(refund, sale.currency).format()} is above this till's "
                    f"limit of {limit}",
                    "a supervisor approves it with their number and PIN",
                )
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
                approved_by=supervisor.cashier_id if is_supervisor(supervisor) else None,
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


def line_amounts_paid(sale: Sale) -> list[int]:
    """What the customer paid for each line: net less its share of the points discount."""
    from shared.money import allocate

    discount = sale.redeemed.discount_minor if sale.redeemed else 0
    shares = allocate(discount, [line.net_minor for line in sale.lines])
    return [line.net_minor - share for line, share in zip(sale.lines, shares, strict=True)]
