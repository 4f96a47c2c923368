"""Gift cards, credit slips and store credit at the till (docs/till-stored-value.md).

Money HQ holds, spent like cash but only as far as a balance goes. The till knows each
balance as HQ's figure from the last pull plus its own entries HQ had not applied
(terminal/store/stored_value.py), and takes from a card or a member's store credit:

- never from a blocked card, never more than the balance it knows;
- within ``rules.offline.giftcard_cap_minor_per_day`` per card (or member) and day beyond
  HQ's last figure on its own word; above it the till asks HQ live (a gift card:
  ``GET /api/v1/sync/giftcard/{number}``; store credit: the member lookup) and refuses
  clearly when HQ cannot be reached.

A gift card is sold (activated) or topped up with a ``GiftCardLoad`` entry paid in cash or
by card, never with stored value. Change comes only out of cash (the payload checks it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlite_utils

from shared.bounds import MAX_MINOR, MAX_TENDERS
from shared.codes import luhn_valid
from shared.journal import GiftCardLoad, Tender, TenderMethod
from shared.journal.payloads import STORED_VALUE_METHODS
from shared.money import Money
from shared.protocol import LiveGiftCardResponse
from shared.receipt import short_card
from terminal.store.journal import journal_tip
from terminal.store.stored_value import (
    account_balance,
    add_money_effect,
    apply_gift_card,
    credit_account,
    gift_account,
    gift_card_record,
    know_new_card,
    offline_spent_on,
    unsent_effects,
)
from terminal.sync.errors import SyncError, SyncRejectedError
from terminal.till.base import TillBase
from terminal.till.basket import Basket
from terminal.till.errors import PaymentIncompleteError, StoredValueRefusedError
from terminal.till.results import SaleDone

__all__ = [
    "GiftCardLookup",
    "GiftCardView",
    "StoredValueActions",
    "movement",
]

log = logging.getLogger(__name__)

GiftCardLookup = Callable[[str], LiveGiftCardResponse]
"""gift card number -> HQ's live balance (``SyncClient.gift_card``); raises ``SyncError``."""

_OTHER_PAYMENT = "take the rest in another tender"


@dataclass(frozen=True, slots=True)
class GiftCardView:
    """A gift card or credit slip as this till sees it (``till giftcard balance``)."""

    card_number: str
    masked: str
    """Last four digits only, for screens and receipts."""
    balance_minor: int
    """HQ's balance + this till's unsent effects."""
    hq_balance_minor: int
    unsent_minor: int
    status: str
    """active | blocked | unknown (never seen by this till)."""
    blocked_reason: str | None = None


def movement(
    kind: str, card_number: str | None, amount_minor: int, balance_minor: int
) -> dict[str, object]:
    """One receipt line about stored value (``print_jobs.stored_value``): ``kind`` is
    activated | topped_up | paid | refunded | credit_slip | store_credit_paid |
    store_credit_refunded; the amount is positive; the balance is what is left after."""
    return {
        "kind": kind,
        "card": card_number,
        "amount_minor": amount_minor,
        "balance_minor": balance_minor,
    }


class StoredValueActions(TillBase):
    """Gift cards and store credit: balances, loads, and taking them as tenders."""

    hq_gift_card: GiftCardLookup | None = None
    """Asks HQ for a gift card's live balance (``till run`` and ``till sale`` set it when the
    till syncs; None: the till stays within its offline cap)."""

    # --- balances ------------------------------------------------------------------------------

    def gift_card_balance(self, card_number: str) -> GiftCardView:
        """A gift card's balance as this till sees it: HQ's figure + its unsent entries."""
        number = self._gift_number(card_number)
        with self.database.read() as db:
            record = gift_card_record(db, number)
            if record is None:
                return GiftCardView(number, short_card(number), 0, 0, 0, "unknown")
            unsent = unsent_effects(db, gift_account(number), record.applied_through_seq)
        return GiftCardView(
            number,
            short_card(number),
            record.hq_balance_minor + unsent,
            record.hq_balance_minor,
            unsent,
            record.status,
            record.blocked_reason,
        )

    def store_credit_balance(self, member_key: str) -> int:
        """A member's store credit: HQ's figure + this till's unsent entries."""
        with self.database.read() as db:
            return account_balance(db, credit_account(member_key))

    # --- loading a card ------------------------------------------------------------------------

    def sell_gift_card(
        self,
        card_number: str,
        amount_minor: int,
        tenders: Sequence[tuple[TenderMethod, int | None]],
    ) -> SaleDone:
        """Activate a new gift card with ``amount_minor`` paid by ``tenders`` (method, amount;
        None = the rest). A card this till knows as active is refused: top it up instead."""
        return self._load(card_number, amount_minor, tenders, activation=True)

    def top_up_gift_card(
        self,
        card_number: str,
        amount_minor: int,
        tenders: Sequence[tuple[TenderMethod, int | None]],
    ) -> SaleDone:
        """Add ``amount_minor`` to an active gift card this till knows."""
        return self._load(card_number, amount_minor, tenders, activation=False)

    def _load(
        self,
        card_number: str,
        amount_minor: int,
        tenders: Sequence[tuple[TenderMethod, int | None]],
        *,
        activation: bool,
    ) -> SaleDone:
        cashier_id = self._cashier_id()
        number = self._gift_number(card_number)
        masked = short_card(number)
        if not self.codes.is_gift_card_number(number):
            raise StoredValueRefusedError(
                f"{masked} is not a gift card of this program", "scan the gift card again"
            )
        if not 0 < amount_minor <= MAX_MINOR:
            raise StoredValueRefusedError(
                f"A gift card is loaded with 0.01 to {self._money(MAX_MINOR)}", "check the amount"
            )
        taken = self._load_tenders(amount_minor, tenders)
        paid = sum(t.amount_minor for t in taken)
        now, offset, local = self._now()
        today = local.date().isoformat()
        with self._storable("gift card"), self.database.write() as db:
            record = gift_card_record(db, number)
            if record is not None and record.status == "blocked":
                raise StoredValueRefusedError(
                    f"Gift card {masked} is blocked ({record.blocked_reason or 'reported lost'})",
                    "keep the card and ask HQ",
                )
            if activation and record is not None:
                raise StoredValueRefusedError(
                    f"Gift card {masked} is already active",
                    "top it up instead (`till giftcard topup`)",
                )
            if not activation and record is None:
                raise StoredValueRefusedError(
                    f"Gift card {masked} is not active at this till",
                    "sell it first (`till giftcard sell`), or sync with HQ",
                )
            seq, _ = journal_tip(db)
            payload = GiftCardLoad(
                store_id=self.config.store_id,
                receipt_no=f"{self.config.terminal_id}-{seq + 1}",
                currency=self.config.currency,
                card_number=number,
                amount_minor=amount_minor,
                activation=activation,
                tenders=tuple(taken),
                change_minor=paid - amount_minor,
            )
            entry = self._append(db, payload, now, offset, cashier_id)
            if activation:
                know_new_card(db, number)
            account = gift_account(number)
            add_money_effect(db, entry.seq, account, amount_minor, today)
            said = [
                movement(
                    "activated" if activation else "topped_up",
                    number,
                    amount_minor,
                    account_balance(db, account),
                )
            ]
            job = self._queue_print(db, entry.seq, None, None, now, stored_value=json.dumps(said))
        return SaleDone(entry, job, paid - amount_minor, None)

    def _load_tenders(
        self, amount_minor: int, tenders: Sequence[tuple[TenderMethod, int | None]]
    ) -> list[Tender]:
        if not tenders:
            raise PaymentIncompleteError("Take a tender for the gift card", "cash or card")
        if len(tenders) > MAX_TENDERS:
            raise PaymentIncompleteError(f"At most {MAX_TENDERS} tenders", "take fewer")
        taken: list[Tender] = []
        due = amount_minor
        for method, amount in tenders:
            if method in STORED_VALUE_METHODS or method is TenderMethod.VOUCHER:
                raise StoredValueRefusedError(
                    "A gift card cannot be paid with a gift card, store credit or a voucher",
                    "take cash or card",
                )
            value = due if amount is None else amount
            if value <= 0:
                raise PaymentIncompleteError("Nothing left to pay", "drop the extra tender")
            if method is not TenderMethod.CASH and value > due:
                raise PaymentIncompleteError(
                    f"{method.value} cannot be more than the {self._money(due)} due",
                    "only cash gives change",
                )
            taken.append(Tender(method=method, amount_minor=value))
            due -= value
        if due > 0:
            raise PaymentIncompleteError(f"{self._money(due)} still to pay", "take a tender")
        return taken

    # --- paying with stored value --------------------------------------------------------------

    def _stored_value_tender(
        self, basket: Basket, method: TenderMethod, amount_minor: int | None, card: str | None
    ) -> Tender:
        """A gift card or store-credit tender for ``basket``, checked against the balance
        the till knows and the offline cap (asking HQ live beyond it). ``amount_minor`` None:
        what is due, or as much as the balance covers."""
        account, label, number = self._account_for(basket, method, card)
        _, _, local = self._now()
        today = local.date().isoformat()
        cap = self.rules().offline.giftcard_cap_minor_per_day
        with self.database.read() as db:
            if number is not None:
                self._refuse_blocked(db, number)
            known = account_balance(db, account)
            spent = offline_spent_on(db, account, today)
        in_basket = _in_basket(basket, method, number)
        offline_here = 0 if account in basket.live_approved else in_basket
        available = known - in_basket
        cap_left = max(0, cap - spent - offline_here)
        due = basket.due_minor
        amount = min(due, max(0, available)) if amount_minor is None else amount_minor
        if amount <= 0:
            raise StoredValueRefusedError(
                f"{label} has nothing left to pay with" if due > 0 else "Nothing left to pay",
                _OTHER_PAYMENT if due > 0 else "complete the sale",
            )
        if amount > due:
            raise StoredValueRefusedError(
                f"{label} cannot pay more than the {self._money(due)} due",
                "only cash gives change",
            )
        approved = basket.live_approved.get(account)
        if approved is not None and amount <= approved - in_basket:
            return self._tender(method, amount, number)
        if amount <= min(available, cap_left):
            return self._tender(method, amount, number)
        live = self._live_stored_value(basket, account, number)
        if live is None:
            if amount > available:
                raise StoredValueRefusedError(
                    f"{label} has {self._money(max(0, available))} left", _OTHER_PAYMENT
                )
            why = "HQ cannot be reached" if self._can_ask(account) else "The till is offline"
            raise StoredValueRefusedError(
                f"{why}: at most {self._money(cap_left)} more can be paid from {label} today "
                f"(balance {self._money(available)})",
                _OTHER_PAYMENT,
            )
        if number is not None:
            with self.database.read() as db:
                self._refuse_blocked(db, number)
        if amount > live - in_basket:
            raise StoredValueRefusedError(
                f"{label} has {self._money(max(0, live - in_basket))} left (HQ)", _OTHER_PAYMENT
            )
        basket.live_approved[account] = live
        return self._tender(method, amount, number)

    def _account_for(
        self, basket: Basket, method: TenderMethod, card: str | None
    ) -> tuple[str, str, str | None]:
        """(account, how the cashier is told of it, gift card number or None)."""
        if method is TenderMethod.GIFT_CARD:
            if not card:
                raise StoredValueRefusedError("Scan the gift card", "then take the amount")
            number = self._gift_number(card)
            with self.database.read() as db:
                known = gift_card_record(db, number) is not None
            if not known and not self._ask_unknown_card(number):
                raise StoredValueRefusedError(
                    f"Gift card {short_card(number)} is not known to this till",
                    "sync with HQ, or take another form of payment",
                )
            return gift_account(number), f"Gift card {short_card(number)}", number
        if basket.member is None:
            raise StoredValueRefusedError(
                "Store credit belongs to a member", "scan the member's card first"
            )
        return credit_account(basket.member.member.member_key), "The member's store credit", None

    def _ask_unknown_card(self, number: str) -> bool:
        """A card this till has never heard of: HQ's live word, kept; False if none."""
        if self.hq_gift_card is None:
            return False
        try:
            answer = self.hq_gift_card(number)
        except SyncRejectedError as error:
            if error.status_code == 404:
                raise StoredValueRefusedError(
                    f"HQ has no gift card {short_card(number)}",
                    "check the card, or take another form of payment",
                ) from error
            return False
        except SyncError:
            return False
        with self.database.write() as db:
            apply_gift_card(db, answer.card, answer.applied_through_seq)
        return True

    def _refuse_blocked(self, db: sqlite_utils.Database, number: str) -> None:
        record = gift_card_record(db, number)
        if record is not None and record.status == "blocked":
            raise StoredValueRefusedError(
                f"Gift card {short_card(number)} is blocked "
                f"({record.blocked_reason or 'reported lost'})",
                "keep the card; take another form of payment",
            )

    def _can_ask(self, account: str) -> bool:
        return (self.hq_gift_card if account.startswith("gift:") else self.hq) is not None

    def _live_stored_value(self, basket: Basket, account: str, number: str | None) -> int | None:
        """HQ's live balance + this till's entries HQ had not applied; None when HQ cannot
        answer. A gift card's answer is kept as the till's figure for it (a fresher HQ
        balance, and its status)."""
        try:
            if number is not None:
                if self.hq_gift_card is None:
                    return None
                answer = self.hq_gift_card(number)
                with self.database.write() as db:
                    apply_gift_card(db, answer.card, answer.applied_through_seq)
                    unsent = unsent_effects(db, account, answer.applied_through_seq)
                return answer.card.balance_minor + unsent
            if self.hq is None or basket.member is None:
                return None
            live = self.hq(basket.member.card_number)
            with self.database.read() as db:
                unsent = unsent_effects(db, account, live.applied_through_seq)
            return live.member.store_credit_minor + unsent
        except (SyncError, OSError, ValueError):
            log.info("HQ stored-value lookup failed", exc_info=True)
            return None

    @staticmethod
    def _tender(method: TenderMethod, amount: int, number: str | None) -> Tender:
        return Tender(method=method, amount_minor=amount, reference=number)

    def _stored_value_effects(
        self, db: sqlite_utils.Database, basket: Basket, today: str
    ) -> list[tuple[str, str | None, int, bool]]:
        """Inside the sale's write transaction: (account, card number, amount, live) per
        account the basket pays from, re-checked against the balance and the cap now."""
        totals: dict[tuple[str, str | None], int] = {}
        for tender in basket.tenders:
            key: tuple[str, str | None]
            if tender.method is TenderMethod.GIFT_CARD:
                assert tender.reference is not None
                key = (gift_account(tender.reference), tender.reference)
            elif tender.method is TenderMethod.STORE_CREDIT:
                if basket.member is None:
                    raise StoredValueRefusedError(
                        "Store credit belongs to a member", "scan the member's card again"
                    )
                key = (credit_account(basket.member.member.member_key), None)
            else:
                continue
            totals[key] = totals.get(key, 0) + tender.amount_minor
        cap = self.rules().offline.giftcard_cap_minor_per_day if totals else 0
        out = []
        for (account, number), total in totals.items():
            if number is not None:
                self._refuse_blocked(db, number)
            live = account in basket.live_approved
            limit = (
                basket.live_approved[account]
                if live
                else min(account_balance(db, account), cap - offline_spent_on(db, account, today))
            )
            if total > limit:
                raise StoredValueRefusedError(
                    "A balance changed since the tender was taken",
                    "go back from payment and take the tenders again",
                )
            out.append((account, number, total, live))
        return out

    def _gift_number(self, text: str) -> str:
        number = "".join(text.split()).replace("-", "")
        if not (
            number.isascii() and number.isdigit() and 12 <= len(number) <= 19
        ) or not luhn_valid(number):
            raise StoredValueRefusedError(
                "That is not a gift card number (12–19 digits, check digit)",
                "scan the gift card again",
            )
        return number

    def _money(self, minor: int) -> str:
        return Money(minor, self.config.currency).format()


def _in_basket(basket: Basket, method: TenderMethod, number: str | None) -> int:
    """What the basket already takes from that account."""
    return sum(
        t.amount_minor
        for t in basket.tenders
        if t.method is method and (number is None or t.reference == number)
    )
