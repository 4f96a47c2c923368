"""Closing the shift (Z report), reprints and the till's status."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime

from shared.journal import (
    GiftCardLoad,
    JournalEntry,
    Return,
    Sale,
    ShiftClose,
    TenderMethod,
    Void,
)
from shared.receipt import Receipt
from shared.rules.model import Campaign, Reward
from terminal.store.catalog import current_rules, rules_version
from terminal.store.contact import hq_online
from terminal.store.journal import get_entry, journal_tip
from terminal.store.settings import get_setting, set_setting
from terminal.till.base import TillBase
from terminal.till.campaign_vouchers import find_campaign
from terminal.till.errors import (
    TillError,
)
from terminal.till.receipts import receipt_for_entry, z_report_lines
from terminal.till.rewards import find_reward

__all__ = ["ShiftActions"]

_RECEIPTED = ("sale", "return", "giftcard_load", "shift_close")
"""Entries with a printed receipt (or Z report) that can be printed again."""


class ShiftActions(TillBase):
    """The shift, the print queue and status."""

    # --- shift -----------------------------------------------------------------------------------

    def close_shift(self, cash_counted_minor: int | None = None) -> tuple[JournalEntry, int]:
        """Journal the Z report for everything since the shift opened; queue it for print."""
        cashier_id = self._cashier_id()
        now, offset, _ = self._now()
        with self._storable("Z report"), self.database.write() as db:
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
                elif isinstance(p, GiftCardLoad):
                    # Money taken for gift cards is in the drawer (cash) like a sale's.
                    for tender in p.tenders:
                        sales_by[tender.method] += tender.amount_minor
                    if p.change_minor:
                        sales_by[TenderMethod.CASH] -= p.change_minor
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
            if entry is None or entry.kind not in _RECEIPTED:
                raise TillError(f"No receipt {self.config.terminal_id}-{seq}")
            original = db.execute(
                "SELECT balance_after, tier_after, balance_provisional, stored_value "
                "FROM print_jobs WHERE seq = ? ORDER BY id LIMIT 1",
                [seq],
            ).fetchone()
            # A copy says what the original said, provisional balance and gift card
            # balances included.
            cursor = db.execute(
                "INSERT INTO print_jobs (seq, reprint, balance_after, tier_after, "
                "balance_provisional, created_at, stored_value) VALUES (?, 1, ?, ?, ?, ?, ?)",
                [
                    seq,
                    original[0] if original else None,
                    original[1] if original else None,
                    original[2] if original else 0,
                    now.isoformat(),
                    original[3] if original else None,
                ],
            )
            return int(cursor.lastrowid or 0)

    def receipt_for(
        self,
        entry: JournalEntry,
        *,
        balance_after: int | None,
        tier_after: str | None,
        reprint: bool = False,
        provisional: bool = False,
        stored_value: str | None = None,
    ) -> Receipt:
        """The customer receipt for a sale, return or gift card load of this till; a
        return's names the items and the receipt of the sale it refunds (when that sale was
        made here). ``stored_value``: ``print_jobs.stored_value`` (JSON), the gift cards and
        store credit the entry moved with their balances left."""
        original = None
        payload = entry.payload
        if isinstance(payload, Return) and payload.original.terminal_id == entry.terminal_id:
            with self.database.read() as db:
                original = get_entry(db, payload.original.seq)
        rewards: dict[str, Reward] = {}
        if isinstance(payload, Sale) and payload.rewards:
            # Named and described as the rules version the sale bought them under.
            with self.database.read() as db:
                for bought in payload.rewards:
                    rules = rules_version(db, bought.rules_version)
                    reward = find_reward(rules, bought.reward_id) if rules else None
                    if reward is not None:
                        rewards[bought.reward_id] = reward
        campaigns: dict[str, Campaign] = {}
        if isinstance(payload, Sale) and payload.campaign_vouchers:
            # Named and described as the rules version the till issued them under.
            with self.database.read() as db:
                for given in payload.campaign_vouchers:
                    rules = rules_version(db, given.rules_version)
                    campaign = find_campaign(rules, given.campaign_id) if rules else None
                    if campaign is not None:
                        campaigns[given.campaign_id] = campaign
        return receipt_for_entry(
            entry,
            self.config,
            balance_after=balance_after,
            tier_after=tier_after,
            reprint=reprint,
            provisional=provisional,
            original=original,
            stored_value=json.loads(stored_value) if stored_value else (),
            rewards=rewards,
            campaigns=campaigns,
        )

    def z_report(self, entry: JournalEntry) -> list[str]:
        """The lines of a Z report entry, naming the cashier who closed the shift."""
        name = None
        if entry.cashier_id is not None:
            with self.database.read() as db:
                row = db.execute(
                    "SELECT name FROM cashiers WHERE cashier_id = ?", [entry.cashier_id]
                ).fetchone()
            name = str(row[0]) if row else None
        return z_report_lines(entry, self.config, cashier_name=name)

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
            refused_seq = get_setting(db, "refused_seq")
            last_sync = get_setting(db, "last_sync_at")
            online = hq_online(db, datetime.now(UTC))
        return {
            "terminal_id": self.config.terminal_id,
            "store_id": self.config.store_id,
            # A round that succeeded within the last minute (terminal.store.contact), on the
            # engine's clock (real time), not the state the till last recorded.
            "online": online,
            "sync_state": sync_state or ("offline" if self.config.server_url else "not configured"),
            "sync_error": sync_error,
            # The journal alarm (invariant 10) on its own, so monitoring need not parse states.
            "sync_alarm": sync_error if sync_state == "alarm" else None,
            "refused_seq": int(refused_seq) if refused_seq and refused_seq.isdigit() else None,
            "last_seq": seq,
            "last_hash": tip,
            # Never negative: after a truncation the remembered ack can be past the tip.
            "unsent_entries": max(0, seq - acked),
            "last_sync": last_sync,
            "print_queue": int(queued),
            "members_cached": int(members),
            "rules_version": rules.version if rules else None,
            "cashier": self.cashier.cashier_id if self.cashier else None,
            "checked_at": datetime.fromtimestamp(time.time(), UTC).isoformat(),
        }
