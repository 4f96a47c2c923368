"""Single-use vouchers taken off a sale at the till (docs/till-stored-value.md).

A voucher is checked offline against what the till knows from HQ's pulls: issued, not
expired on the store's date, not used at this till already (its own journal), the basket's
member's when it is bound to a member, and the basket reaching its minimum spend. The
discount comes after the points discount: a fixed voucher takes ``min(value, what is left)``,
a percentage voucher that share of what is left, capped by its value when it has one.

Offline risk is bounded per till and day: the discounts this till took today on vouchers HQ
has not confirmed (``voucher_uses.confirmed``) stay within
``rules.offline.voucher_cap_minor_per_day``. Beyond it, and for a code the till has never
heard of, the till asks HQ live (``GET /api/v1/sync/voucher/{code}``) and refuses clearly
when HQ cannot be reached. A voucher used at two offline tills is accepted at both and
becomes HQ's ``voucher_reused`` exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlite_utils

from shared.codes import Voucher
from shared.journal import VoucherUse
from shared.money import Money
from shared.protocol import LiveVoucherResponse
from shared.rules import ProgramRules
from shared.rules.model import Reward
from shared.rules.rewards import reward_discount, reward_effect, reward_refusal
from terminal.store.members import MemberRecord
from terminal.store.rewards import reward_of_voucher
from terminal.store.stored_value import (
    VoucherRecord,
    apply_voucher,
    unconfirmed_voucher_discounts_on,
    voucher_record,
    voucher_used_here,
)
from terminal.sync.errors import SyncError, SyncRejectedError
from terminal.till.base import TillBase
from terminal.till.basket import Basket, BasketVoucher
from terminal.till.errors import VoucherRefusedError

__all__ = ["VoucherActions", "VoucherLookup", "bound_to", "find_reward", "voucher_discount"]

log = logging.getLogger(__name__)

VoucherLookup = Callable[[str], LiveVoucherResponse]
"""voucher code -> HQ's live state of it (``SyncClient.voucher``); raises ``SyncError``."""

_OTHER_PAYMENT = "take another form of payment"


def voucher_discount(voucher: VoucherRecord, remaining_minor: int) -> int:
    """What ``voucher`` takes off a basket that still comes to ``remaining_minor`` (after
    the points discount and the vouchers before it). Integers only; a percentage rounds
    down (the customer never gets more than the voucher says)."""
    if remaining_minor <= 0:
        return 0
    if voucher.percent_bp is None:
        return min(voucher.value_minor, remaining_minor)
    share = remaining_minor * voucher.percent_bp // 10_000
    if voucher.value_minor > 0:
        share = min(share, voucher.value_minor)
    return min(share, remaining_minor)


def bound_to(record: VoucherRecord, member: MemberRecord) -> bool:
    """Whether a member-bound voucher is ``member``'s: HQ binds it to the member id; a reward
    voucher this till issued to a member HQ has not numbered yet names their local key."""
    return record.member_id is not None and record.member_id in (
        member.member_id,
        member.member_key,
    )


def find_reward(rules: ProgramRules, reward_id: str) -> Reward | None:
    return next((reward for reward in rules.rewards if reward.id == reward_id), None)


def _carries_no_value(record: VoucherRecord) -> bool:
    """A voucher whose value is not money (a free product, a bonus multiplier): what it gives
    comes from the reward that issued it."""
    return record.value_minor == 0 and record.percent_bp is None


def _before_rewards(basket: Basket) -> int:
    """What is left to pay after the points and the vouchers already taken: a voucher comes
    before any reward bought on the sale (rewards are re-priced after it)."""
    return basket.subtotal_minor - basket.points_discount_minor - basket.voucher_discount_minor


class VoucherActions(TillBase):
    """Vouchers on the basket: add, remove, keep their discounts right as it changes."""

    hq_voucher: VoucherLookup | None = None
    """Asks HQ for a voucher's live state (``till run`` and ``till sale`` set it when the
    till syncs; None: the till never asks, and stays within its offline cap)."""

    def add_voucher(self, basket: Basket, code: str) -> BasketVoucher:
        """Take the voucher ``code`` (typed or scanned, any case or spacing) off the sale.

        Refuses (:class:`VoucherRefusedError`, the basket unchanged) a code that is not a
        voucher, one already on the sale or used at this till, one HQ never issued (or that
        HQ cannot be asked about), a redeemed, voided or expired one, another member's, one
        below its minimum spend, and one beyond the offline daily cap that HQ cannot vouch
        for."""
        canonical = self._voucher_code(code)
        if basket.empty:
            raise VoucherRefusedError("Scan the goods first", "then scan the voucher")
        if any(v.code == canonical for v in basket.vouchers):
            raise VoucherRefusedError(f"Voucher {canonical} is already on this sale")
        rules = self.rules()
        _, _, local = self._now()
        today = local.date().isoformat()
        with self.database.read() as db:
            self._refuse_if_used_here(db, canonical)
            record = voucher_record(db, canonical)
            taken_today = unconfirmed_voucher_discounts_on(db, today)
        confirmed = False
        if record is None:
            record = self._ask_hq(
                canonical, f"Voucher {canonical} is not known to this till", "sync with HQ, or "
            )
            confirmed = True
        self._check_usable(record, basket, today)
        discount = self._discount_or_refuse(record, basket)
        cap = rules.offline.voucher_cap_minor_per_day
        pending = sum(v.discount_minor for v in basket.vouchers if not v.hq_confirmed)
        if not confirmed and taken_today + pending + discount > cap:
            left = max(0, cap - taken_today - pending)
            record = self._ask_hq(
                canonical,
                f"At most {self._money(left)} more in vouchers can be taken at this till today "
                "without HQ",
                "",
            )
            confirmed = True
            self._check_usable(record, basket, today)
            discount = self._discount_or_refuse(record, basket)
        voucher = BasketVoucher(canonical, discount, hq_confirmed=confirmed)
        basket.vouchers.append(voucher)
        self._keep(basket)
        return voucher

    def remove_voucher(self, basket: Basket, code: str) -> None:
        basket.vouchers = [v for v in basket.vouchers if v.code != code]
        self._requote_vouchers(basket)
        self._keep(basket)

    # --- what a voucher takes off ------------------------------------------------------------

    def _discount_or_refuse(self, record: VoucherRecord, basket: Basket) -> int:
        """What ``record`` takes off the basket now (after the points and the vouchers
        already on it), or a refusal saying why it takes nothing."""
        remaining = _before_rewards(basket)
        reward_id = None
        if _carries_no_value(record):
            with self.database.read() as db:
                reward_id = reward_of_voucher(db, record.code)
        discount = self._reward_voucher_discount(reward_id, basket, remaining)
        if discount is None:
            discount = voucher_discount(record, remaining)
        if discount > 0:
            return discount
        reward = find_reward(self.rules(), reward_id) if reward_id is not None else None
        if reward is not None:
            why = reward_refusal(
                reward, basket.earn_lines(), remaining, currency=self.config.currency
            )
            if reward.kind == "bonus_multiplier":
                raise VoucherRefusedError(
                    f"Voucher {record.code} is for {reward_effect(reward, self.config.currency)}, "
                    "which this till cannot apply yet",
                    "keep the voucher; take another form of payment",
                )
            raise VoucherRefusedError(
                f"Voucher {record.code}: {why or 'nothing is left to pay for it to take off'}",
                "add to the sale, or keep the voucher for another time",
            )
        raise VoucherRefusedError("Nothing is left to pay for the voucher to take off")

    def _reward_voucher_discount(
        self, reward_id: str | None, basket: Basket, remaining: int
    ) -> int | None:
        """A free-product voucher a reward issued at this till: one unit of its product
        (``reward_discount`` on what is left, as the reward applied now would take); a
        bonus multiplier's: nothing; None for any other voucher (its own value or percentage
        speaks)."""
        reward = find_reward(self.rules(), reward_id) if reward_id is not None else None
        if reward is None or reward.kind in ("voucher_amount", "voucher_percent"):
            return None
        if reward.kind == "bonus_multiplier":
            return 0
        return reward_discount(reward, basket.earn_lines(), max(0, remaining))

    # --- checks -------------------------------------------------------------------------------

    def _voucher_code(self, text: str) -> str:
        parsed = self.classify(text.strip())
        if not isinstance(parsed, Voucher):
            raise VoucherRefusedError(
                f"{text.strip()[:40]!r} is not a voucher code",
                "check the code (V-XXXX-XXXX-XXXX) and key it again",
            )
        return parsed.code

    def _refuse_if_used_here(self, db: sqlite_utils.Database, code: str) -> None:
        used = voucher_used_here(db, code)
        if used is not None:
            raise VoucherRefusedError(
                f"Voucher {code} was already used at this till "
                f"(receipt {self.config.terminal_id}-{used})",
                _OTHER_PAYMENT,
            )

    def _check_usable(self, record: VoucherRecord, basket: Basket, today: str) -> None:
        code = record.code
        if record.status == "redeemed":
            raise VoucherRefusedError(f"Voucher {code} was already used", _OTHER_PAYMENT)
        if record.status == "voided":
            raise VoucherRefusedError(f"Voucher {code} was cancelled by HQ", _OTHER_PAYMENT)
        if record.status == "expired" or (record.expires_on and today > record.expires_on):
            until = f" (valid until {record.expires_on})" if record.expires_on else ""
            raise VoucherRefusedError(f"Voucher {code} has expired{until}", _OTHER_PAYMENT)
        if record.member_id is not None:
            if basket.member is None:
                raise VoucherRefusedError(
                    f"Voucher {code} belongs to a member", "scan their card first, then the voucher"
                )
            if not bound_to(record, basket.member.member):
                raise VoucherRefusedError(
                    f"Voucher {code} belongs to another member", _OTHER_PAYMENT
                )
        if basket.subtotal_minor < record.min_spend_minor:
            raise VoucherRefusedError(
                f"Voucher {code} needs a spend of at least {self._money(record.min_spend_minor)} "
                f"(this sale: {self._money(basket.subtotal_minor)})",
                "add to the sale, or keep the voucher for another time",
            )

    def _ask_hq(self, code: str, why: str, before: str) -> VoucherRecord:
        """HQ's live word on ``code`` (kept as the till's record of it); refused clearly —
        ``why`` and what to do — when HQ cannot be asked or does not know the code."""
        if self.hq_voucher is None:
            raise VoucherRefusedError(
                f"{why}, and this till is offline", f"{before}{_OTHER_PAYMENT}"
            )
        try:
            answer = self.hq_voucher(code)
        except SyncRejectedError as error:
            if error.status_code == 404:
                raise VoucherRefusedError(
                    f"HQ never issued voucher {code}", f"check the code, or {_OTHER_PAYMENT}"
                ) from error
            raise VoucherRefusedError(
                f"{why}, and HQ refused to check it ({error.message})", _OTHER_PAYMENT
            ) from error
        except SyncError as error:
            log.info("HQ voucher lookup failed: %s", error.message)
            raise VoucherRefusedError(
                f"{why}, and HQ cannot be reached", f"{before}{_OTHER_PAYMENT}"
            ) from error
        if answer.voucher.code != code:
            raise VoucherRefusedError(
                f"HQ answered for another voucher than {code}", _OTHER_PAYMENT
            )
        with self.database.write() as db:
            apply_voucher(db, answer.voucher)
        return VoucherRecord.from_state(answer.voucher)

    # --- as the basket changes ------------------------------------------------------------------

    def _requote_vouchers(self, basket: Basket) -> None:
        """Recompute each voucher's discount after the points and the vouchers before it;
        drop one the basket no longer qualifies for (below its minimum spend, nothing left,
        bound to a member who is not on the sale)."""
        if not basket.vouchers:
            return
        with self.database.read() as db:
            records = {v.code: voucher_record(db, v.code) for v in basket.vouchers}
            rewards = {
                code: reward_of_voucher(db, code)
                for code, record in records.items()
                if record is not None and _carries_no_value(record)
            }
        remaining = basket.subtotal_minor - basket.points_discount_minor
        kept: list[BasketVoucher] = []
        for voucher in basket.vouchers:
            record = records[voucher.code]
            if record is None or basket.subtotal_minor < record.min_spend_minor:
                continue
            if record.member_id is not None and (
                basket.member is None or not bound_to(record, basket.member.member)
            ):
                continue  # another member's (or the member left the sale)
            discount = self._reward_voucher_discount(rewards.get(voucher.code), basket, remaining)
            if discount is None:
                discount = voucher_discount(record, remaining)
            if discount <= 0:
                continue
            kept.append(BasketVoucher(voucher.code, discount, voucher.hq_confirmed))
            remaining -= discount
        basket.vouchers = kept

    def _voucher_uses(
        self, db: sqlite_utils.Database, basket: Basket, today: str
    ) -> tuple[VoucherUse, ...]:
        """Inside the sale's write transaction: re-check the vouchers against this till's
        journal and the offline cap as they stand now (a scripted sale may have run meanwhile)."""
        if not basket.vouchers:
            return ()
        rules = self.rules()
        unconfirmed = 0
        for voucher in basket.vouchers:
            self._refuse_if_used_here(db, voucher.code)
            if not voucher.hq_confirmed:
                unconfirmed += voucher.discount_minor
        cap = rules.offline.voucher_cap_minor_per_day
        if unconfirmed and unconfirmed_voucher_discounts_on(db, today) + unconfirmed > cap:
            raise VoucherRefusedError(
                "The vouchers on this sale now come to more than this till may take offline "
                f"today ({self._money(cap)})",
                "remove a voucher, or take another form of payment",
            )
        return tuple(
            VoucherUse(code=v.code, discount_minor=v.discount_minor) for v in basket.vouchers
        )

    def _money(self, minor: int) -> str:
        return Money(minor, self.config.currency).format()
