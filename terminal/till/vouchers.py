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
from shared.rules.voucher_pricing import terms_discount, voucher_discount_on
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

__all__ = [
    "REWARD_SOURCE",
    "VoucherActions",
    "VoucherLookup",
    "bound_to",
    "find_reward",
    "reward_id_of",
    "voucher_discount",
]

log = logging.getLogger(__name__)

VoucherLookup = Callable[[str], LiveVoucherResponse]
"""voucher code -> HQ's live state of it (``SyncClient.voucher``); raises ``SyncError``."""

_OTHER_PAYMENT = "take another form of payment"

REWARD_SOURCE = "reward:"
"""A voucher's source when a reward bought with points issued it (``reward:<id>``)."""


def voucher_discount(voucher: VoucherRecord, remaining_minor: int) -> int:
    """What ``voucher`` takes off a basket that still comes to ``remaining_minor`` (after
    the points discount and the vouchers before it), by its own terms on the whole basket.
    Integers only; a percentage rounds down (the customer never gets more than the voucher
    says)."""
    return terms_discount(voucher.value_minor, voucher.percent_bp, remaining_minor)


def bound_to(record: VoucherRecord, member: MemberRecord) -> bool:
    """Whether a member-bound voucher is ``member``'s: HQ binds it to the member id; a reward
    voucher this till issued to a member HQ has not numbered yet names their local key."""
    return record.member_id is not None and record.member_id in (
        member.member_id,
        member.member_key,
    )


def find_reward(rules: ProgramRules, reward_id: str) -> Reward | None:
    return next((reward for reward in rules.rewards if reward.id == reward_id), None)


def reward_id_of(db: sqlite_utils.Database, record: VoucherRecord) -> str | None:
    """The reward that issued the voucher: its source says so (HQ's pull, or this till
    issuing it), else this till's own purchase record (a voucher issued here before the till
    kept sources); None for any other voucher."""
    if record.source is not None:
        return (
            record.source[len(REWARD_SOURCE) :] if record.source.startswith(REWARD_SOURCE) else None
        )
    return reward_of_voucher(db, record.code)


def _clamped(basket: Basket, remaining: int) -> int:
    """What is left to pay, within what ``reward_discount`` accepts (0 to the lines' total)."""
    return max(0, min(remaining, sum(line.net_minor for line in basket.earn_lines())))


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
        bonus = self._bonus_voucher(record, basket)
        if bonus is not None:
            basket.vouchers.append(bonus)
            self._keep(basket)
            return bonus
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

    def _bonus_reward(self, db: sqlite_utils.Database, record: VoucherRecord) -> Reward | None:
        """The bonus-multiplier reward whose voucher ``record`` is (None: any other)."""
        reward_id = reward_id_of(db, record)
        reward = find_reward(self.rules(), reward_id) if reward_id is not None else None
        return reward if reward is not None and reward.kind == "bonus_multiplier" else None

    def _bonus_voucher(self, record: VoucherRecord, basket: Basket) -> BasketVoucher | None:
        """A bonus-multiplier voucher goes on a member's sale taking nothing off (its
        reward multiplies the sale's points); None for any other voucher."""
        with self.database.read() as db:
            reward = self._bonus_reward(db, record)
        if reward is None:
            return None
        if basket.member is None:
            raise VoucherRefusedError(
                f"Voucher {record.code} is for {reward_effect(reward, self.config.currency)}",
                "scan the member's card first, then the voucher",
            )
        # Nothing off, so nothing against the offline cap; HQ marks it redeemed.
        return BasketVoucher(record.code, 0, hq_confirmed=False)

    def _points_bonuses(self, db: sqlite_utils.Database, basket: Basket) -> list[Reward]:
        """The bonus-multiplier rewards of the vouchers on the sale (those taking nothing
        off), for ``compute_earn``."""
        found = []
        for voucher in basket.vouchers:
            record = voucher_record(db, voucher.code) if voucher.discount_minor == 0 else None
            reward = self._bonus_reward(db, record) if record is not None else None
            if reward is not None:
                found.append(reward)
        return found

    def _discount_or_refuse(self, record: VoucherRecord, basket: Basket) -> int:
        """What ``record`` takes off the basket now (after the points and the vouchers
        already on it), or a refusal saying why it takes nothing."""
        remaining = _before_rewards(basket)
        with self.database.read() as db:
            reward_id = reward_id_of(db, record)
        discount = self._priced(record, reward_id, basket, remaining)
        if discount > 0:
            return discount
        reward = find_reward(self.rules(), reward_id) if reward_id is not None else None
        if reward is not None and reward.kind == "free_product":
            why = reward_refusal(
                reward,
                basket.earn_lines(),
                _clamped(basket, remaining),
                currency=self.config.currency,
            )
            raise VoucherRefusedError(
                f"Voucher {record.code}: {why or 'nothing is left to pay for it to take off'}",
                "add to the sale, or keep the voucher for another time",
            )
        if reward is None and reward_id is not None and voucher_discount(record, 1) == 0:
            raise VoucherRefusedError(
                f"Voucher {record.code} is for reward {reward_id}, which this till's rules "
                "do not have",
                f"sync with HQ, or {_OTHER_PAYMENT}",
            )
        categories = self._categories(record, reward)
        if categories is not None:
            raise VoucherRefusedError(
                f"Voucher {record.code} applies only to {', '.join(categories)}: "
                "nothing of those is left to pay on this sale",
                "add to the sale, or keep the voucher for another time",
            )
        raise VoucherRefusedError("Nothing is left to pay for the voucher to take off")

    @staticmethod
    def _categories(record: VoucherRecord, reward: Reward | None) -> tuple[str, ...] | None:
        """The categories a voucher is limited to: its reward's, as this till's rules say,
        when it knows the reward; else what HQ said of the voucher."""
        if reward is not None and reward.kind in ("voucher_amount", "voucher_percent"):
            return reward.categories
        return record.categories

    def _priced(
        self, record: VoucherRecord, reward_id: str | None, basket: Basket, remaining: int
    ) -> int:
        """What the voucher takes off what is left (``remaining``): a free product's, one unit
        of its product as its reward takes (``reward_discount``); a bonus multiplier's,
        nothing; any other, its own terms on its categories' share
        (``voucher_discount_on``, as HQ checks it)."""
        reward = find_reward(self.rules(), reward_id) if reward_id is not None else None
        if reward is not None and reward.kind == "bonus_multiplier":
            return 0
        if reward is not None and reward.kind == "free_product":
            return reward_discount(reward, basket.earn_lines(), _clamped(basket, remaining))
        return voucher_discount_on(
            basket.earn_lines(),
            remaining,
            value_minor=record.value_minor,
            percent_bp=record.percent_bp,
            min_spend_minor=record.min_spend_minor,
            categories=self._categories(record, reward),
        )

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
                code: reward_id_of(db, record)
                for code, record in records.items()
                if record is not None
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
            reward_id = rewards.get(voucher.code)
            reward = find_reward(self.rules(), reward_id) if reward_id is not None else None
            if reward is not None and reward.kind == "bonus_multiplier":
                if basket.member is not None:  # a points bonus needs a member to earn
                    kept.append(BasketVoucher(voucher.code, 0, voucher.hq_confirmed))
                continue
            discount = self._priced(record, reward_id, basket, remaining)
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
        uses = []
        for voucher in basket.vouchers:
            bonus = None
            if voucher.discount_minor == 0:
                record = voucher_record(db, voucher.code)
                reward = self._bonus_reward(db, record) if record is not None else None
                if reward is None:
                    raise VoucherRefusedError(
                        f"Voucher {voucher.code} takes nothing off and its reward is not "
                        "in this till's rules any more",
                        "remove the voucher, then complete the sale",
                    )
                bonus = reward.id
            uses.append(
                VoucherUse(
                    code=voucher.code,
                    discount_minor=voucher.discount_minor,
                    points_bonus_reward=bonus,
                )
            )
        return tuple(uses)

    def _money(self, minor: int) -> str:
        return Money(minor, self.config.currency).format()
