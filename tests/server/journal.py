"""Genuine journal records for server tests, built with the real shared models and engine.

``JournalWriter`` plays one till: it chains entries with ``JournalEntry.create`` and computes
points with ``compute_earn``, exactly as a till does, but lets a test choose every detail
(a wrong rules version, a blocked card, an overdraft).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.codes import card_number_from_serial
from shared.journal import (
    CardIssue,
    CardReplacement,
    Enrolment,
    EntryRef,
    GiftCardLoad,
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
    VoucherUse,
)
from shared.journal.payloads import CampaignVoucher
from shared.rules import BasketLine, EarnContext, ProgramRules, compute_earn
from shared.rules.returns import compute_return_reversal
from terminal.config import TillConfig
from terminal.demo.seed import demo_rules

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
OFFSET_MIN = 60
RULES = demo_rules()
STORE = "S001"


def card(serial: int) -> str:
    """A valid loyalty card number (the default till card range)."""
    return card_number_from_serial(TillConfig().code_config(), serial)


Line = tuple[str, str, int, int]
"""(sku, category, quantity, unit price in minor units)"""

GROCERIES: list[Line] = [("4000000000017", "grocery", 2, 450), ("4000000000024", "dairy", 1, 300)]


class JournalWriter:
    def __init__(self, terminal_id: str, *, start: datetime = MONDAY) -> None:
        self.terminal_id = terminal_id
        self.now = start
        self.last: JournalEntry | None = None
        self.records: list[dict[str, Any]] = []

    def append(self, payload: Payload) -> JournalEntry:
        self.now += timedelta(minutes=1)
        entry = JournalEntry.create(
            previous=self.last,
            terminal_id=self.terminal_id,
            entry_id=str(uuid.uuid4()),
            occurred_at=self.now,
            utc_offset_min=OFFSET_MIN,
            cashier_id="1",
            payload=payload,
        )
        self.last = entry
        self.records.append(entry.to_record())
        return entry

    def since(self, seq: int) -> list[dict[str, Any]]:
        return [r for r in self.records if r["seq"] > seq]

    def sale(
        self,
        member: MemberRef | None,
        lines: list[Line] | None = None,
        *,
        redeem: int = 0,
        rules: ProgramRules = RULES,
        tier: str | None = None,
        vouchers: tuple[VoucherUse, ...] = (),
        tenders: tuple[Tender, ...] | None = None,
        campaign_vouchers: tuple[CampaignVoucher, ...] = (),
    ) -> JournalEntry:
        """A sale; ``tenders`` default to cash for the total (after points and vouchers)."""
        lines = lines or GROCERIES
        sale_lines = tuple(
            SaleLine(
                line_no=no,
                sku=sku,
                description=sku,
                category=category,
                quantity=qty,
                unit_price_minor=price,
                net_minor=qty * price,
            )
            for no, (sku, category, qty, price) in enumerate(lines, start=1)
        )
        subtotal = sum(line.net_minor for line in sale_lines)
        discount = rules.redemption.discount_minor(redeem) if redeem else 0
        voucher_discount = sum(v.discount_minor for v in vouchers)
        earned = None
        if member is not None:
            local = (self.now + timedelta(minutes=1, hours=OFFSET_MIN // 60)).replace(tzinfo=None)
            earned = compute_earn(
                rules,
                [
                    BasketLine(
                        line_no=line.line_no,
                        sku=line.sku,
                        category=line.category,
                        quantity=line.quantity,
                        net_minor=line.net_minor,
                    )
                    for line in sale_lines
                ],
                EarnContext(store_id=STORE, local_time=local, tier=tier),
                order_discount_minor=discount + voucher_discount,
                # A bonus-multiplier voucher multiplies the points, as a till does.
                points_bonuses=[
                    reward
                    for use in vouchers
                    for reward in rules.rewards
                    if reward.id == use.points_bonus_reward
                ],
            )
        total = subtotal - discount - voucher_discount
        if tenders is None:
            tenders = (Tender(method=TenderMethod.CASH, amount_minor=total),) if total else ()
        return self.append(
            Sale(
                store_id=STORE,
                receipt_no=f"{self.terminal_id}-{(self.last.seq if self.last else 0) + 1}",
                currency="EUR",
                lines=sale_lines,
                subtotal_minor=subtotal,
                total_minor=total,
                tenders=tenders,
                member=member,
                earned=earned,
                redeemed=PointsRedeemed(
                    points=redeem, discount_minor=discount, rules_version=rules.version
                )
                if redeem
                else None,
                vouchers=vouchers,
                campaign_vouchers=campaign_vouchers,
            )
        )

    def giftcard_load(
        self, card_number: str, amount: int, *, activation: bool = True
    ) -> JournalEntry:
        """A gift card sold (or topped up) for ``amount`` minor units, paid in cash."""
        return self.append(
            GiftCardLoad(
                store_id=STORE,
                receipt_no=f"{self.terminal_id}-G{(self.last.seq if self.last else 0) + 1}",
                currency="EUR",
                card_number=card_number,
                amount_minor=amount,
                activation=activation,
                tenders=(Tender(method=TenderMethod.CASH, amount_minor=amount),),
            )
        )

    def ret(
        self,
        sale: JournalEntry,
        member: MemberRef | None,
        *,
        reversed_points: int | None = None,
        restored: int | None = None,
        refund: int = 100,
        original: EntryRef | None = None,
        line_no: int = 1,
        quantity: int = 1,
        before: int | dict[int, int] = 0,
        unavailable: bool = False,
        tenders: tuple[Tender, ...] | None = None,
    ) -> JournalEntry:
        """A return of ``quantity`` units of line ``line_no`` (``before`` units of it already
        returned). Points: as a till computes them (the shared engine) unless given, and
        none when ``unavailable`` (the till refunded without the original)."""
        computed = (0, 0)
        if not unavailable and (reversed_points is None or restored is None):
            computed = return_points(sale, line_no, quantity, before)
        return self.append(
            Return(
                store_id=STORE,
                receipt_no=f"{self.terminal_id}-R",
                currency="EUR",
                original=original
                or (
                    EntryRef(terminal_id=sale.terminal_id, seq=sale.seq, entry_id=NO_ENTRY_ID)
                    if unavailable
                    else ref_of(sale)
                ),
                lines=(
                    ReturnLine(original_line_no=line_no, quantity=quantity, refund_minor=refund),
                ),
                refund_minor=refund,
                tenders=tenders or (Tender(method=TenderMethod.CASH, amount_minor=refund),),
                member=member,
                points_reversed=computed[0] if reversed_points is None else reversed_points,
                points_restored=computed[1] if restored is None else restored,
                original_unavailable=True if unavailable else None,
            )
        )

    def void(self, sale: JournalEntry, original: EntryRef | None = None) -> JournalEntry:
        assert isinstance(sale.payload, Sale)
        return self.append(
            Void(
                original=original or ref_of(sale),
                reason="wrong basket",
                total_minor=sale.payload.total_minor,
            )
        )

    def enrol(self, card_number: str, *, name: str = "Nadia New") -> JournalEntry:
        return self.append(
            Enrolment(
                store_id=STORE,
                local_member_id=str(uuid.uuid4()),
                name=name,
                phone="+49 170 5550000",
                marketing_consent=True,
                consent_text_version="2026-01",
                card_number=card_number,
            )
        )

    def replace_card(self, member: MemberRef, new_card: str) -> JournalEntry:
        return self.append(
            CardReplacement(
                member=member,
                old_card_number=member.card_number,
                new_card_number=new_card,
                reason="lost",
            )
        )

    def issue_card(self, member: MemberRef, new_card: str) -> JournalEntry:
        return self.append(CardIssue(member=member, card_number=new_card))

    def close_shift(self) -> JournalEntry:
        last = self.last.seq if self.last else 0
        return self.append(
            ShiftClose(
                store_id=STORE,
                shift_id=str(uuid.uuid4()),
                opened_at=MONDAY,
                currency="EUR",
                first_seq=1,
                last_seq=last,
                sales_count=0,
                sales_by_tender={},
                refunds_count=0,
                refunds_by_tender={},
                voids_count=0,
                points_issued=0,
                points_redeemed=0,
                points_reversed=0,
                enrolments=0,
                cash_expected_minor=0,
            )
        )


NO_ENTRY_ID = "00000000-0000-0000-0000-000000000000"
"""What a till that refunded without the original names its entry id with."""


def return_points(
    sale: JournalEntry, line_no: int, quantity: int, before: int | dict[int, int]
) -> tuple[int, int]:
    """(reversed, restored) for returning ``quantity`` units of a line after ``before`` units
    of it (an int) or of each line (a dict) came back, computed as the till does
    (terminal/till/returning.py) with the shared engine."""
    payload = sale.payload
    if not isinstance(payload, Sale) or payload.member is None or payload.earned is None:
        return 0, 0
    done = before if isinstance(before, dict) else {line_no: before}
    values_before = {
        ln.line_no: ln.net_minor * done.get(ln.line_no, 0) // ln.quantity for ln in payload.lines
    }
    values_now = {ln.line_no: 0 for ln in payload.lines}
    for ln in payload.lines:
        if ln.line_no == line_no:
            after = done.get(line_no, 0) + quantity
            values_now[line_no] = ln.net_minor * after // ln.quantity - values_before[line_no]
    reversal = compute_return_reversal(
        payload.earned,
        [
            BasketLine(
                line_no=ln.line_no,
                sku=ln.sku,
                category=ln.category,
                quantity=ln.quantity,
                net_minor=ln.net_minor,
            )
            for ln in payload.lines
        ],
        values_before,
        values_now,
        redeemed_points=payload.points_redeemed,
    )
    return reversal.points_reversed, reversal.points_restored


def ref_of(entry: JournalEntry) -> EntryRef:
    return EntryRef(terminal_id=entry.terminal_id, seq=entry.seq, entry_id=entry.entry_id)


def member_ref(
    card_number: str, member_id: str | None = None, local: str | None = None
) -> MemberRef:
    return MemberRef(card_number=card_number, member_id=member_id, local_member_id=local)
