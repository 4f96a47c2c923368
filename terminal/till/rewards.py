"""Rewards bought with points at the till (docs/till-rewards.md).

The member panel lists what the attached member can buy now (``shared.rules.rewards
.affordable``): on sale on the store's date, open to their tier, in stock and within their
points — the balance the till shows less what this sale already commits (the points
discount and the rewards already chosen). Stock counts HQ's figure from the last pull plus
this till's own purchases HQ had not applied (terminal/store/rewards.py).

An ``apply_now`` reward takes its discount off this sale after the points and the vouchers,
in the order chosen (``reward_discount``); it is re-priced whenever the basket changes, and
a sale on which one no longer takes anything off is refused with ``reward_refusal``'s
sentence until the cashier removes it or the basket qualifies again. A ``voucher`` reward
takes nothing off: completing the sale issues its code (``generate_voucher_code``), known to
this till at once (``vouchers``, bound to the member, ``voucher_terms``) and printed on the
receipt as a barcode.

The points leave the member's balance at the till with the sale. A void gives them back and
cancels the voucher; a return does not (the reward bought is kept).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import sqlite_utils

from shared.codes import generate_voucher_code
from shared.journal.payloads import RewardPurchase
from shared.rules import ProgramRules
from shared.rules.model import Reward
from shared.rules.rewards import (
    affordable,
    purchase_refusal,
    reward_discount,
    reward_refusal,
    voucher_terms,
)
from terminal.store.catalog import product_by_sku
from terminal.store.members import member_balance, member_by_key
from terminal.store.rewards import issued_counts, record_reward_effect
from terminal.store.stored_value import know_issued_voucher
from terminal.till.basket import Basket, BasketReward, BasketVoucher
from terminal.till.errors import RewardRefusedError
from terminal.till.vouchers import VoucherActions, find_reward

__all__ = ["RewardActions", "find_reward"]

_REMOVE = "take the reward off the sale, or choose another"


def _after_vouchers(basket: Basket) -> int:
    """What is left to pay after the points and the vouchers: the first reward works on it."""
    return max(
        0, basket.subtotal_minor - basket.points_discount_minor - basket.voucher_discount_minor
    )


class RewardActions(VoucherActions):
    """Rewards on the basket: list what the member can buy, buy, remove, keep them priced."""

    def rewards_for(self, basket: Basket) -> list[Reward]:
        """What the attached member can buy now, cheapest first (none without a member);
        a reward already chosen on this sale is not offered again."""
        if basket.member is None:
            return []
        rules = self.rules()
        _, _, local = self._now()
        today = local.date()
        with self.database.read() as db:
            balance = self._points_left(db, basket, today)
            issued = issued_counts(db)
        chosen = {item.reward_id for item in basket.rewards}
        return [
            reward
            for reward in affordable(
                rules, balance=balance, tier=basket.member.tier, today=today, issued=issued
            )
            if reward.id not in chosen
        ]

    def reward_product_names(self, rewards: list[Reward]) -> dict[str, str]:
        """Free products' names from the catalog (SKU -> description), for the rewards list."""
        skus = {reward.sku for reward in rewards if reward.sku is not None}
        with self.database.read() as db:
            found = {sku: product_by_sku(db, sku) for sku in skus}
        return {sku: product.description for sku, product in found.items() if product}

    def buy_reward(self, basket: Basket, reward_id: str) -> BasketReward:
        """Add reward ``reward_id`` to the sale for the attached member, or refuse
        (:class:`RewardRefusedError`, the basket unchanged) with the reason: no member, not
        in the rules the till holds, already chosen, not buyable now (dates, tier, stock,
        points), or — applied now — taking nothing off this sale."""
        if basket.member is None:
            raise RewardRefusedError("Scan the member's card first", "then choose a reward")
        rules = self.rules()
        reward = find_reward(rules, reward_id.strip())
        if reward is None:
            raise RewardRefusedError(
                f"There is no reward {reward_id.strip()[:40]!r} in the program "
                f"(rules version {rules.version})",
                "choose one from the member's rewards list",
            )
        if any(item.reward_id == reward.id for item in basket.rewards):
            raise RewardRefusedError(f"{reward.name} is already on this sale")
        _, _, local = self._now()
        today = local.date()
        with self.database.read() as db:
            balance = self._points_left(db, basket, today)
            issued = issued_counts(db).get(reward.id, 0)
        refusal = purchase_refusal(
            reward, balance=balance, tier=basket.member.tier, today=today, issued=issued
        )
        if refusal is not None:
            raise RewardRefusedError(refusal, "choose another reward, or none")
        discount = 0
        if reward.delivery == "apply_now":
            if basket.empty:
                raise RewardRefusedError("Scan the goods first", f"then choose {reward.name}")
            remaining = basket.total_minor
            lines = basket.earn_lines()
            why = reward_refusal(reward, lines, remaining, currency=basket.currency)
            if why is not None:
                raise RewardRefusedError(why, "choose another reward, or none")
            discount = reward_discount(reward, lines, remaining)
        item = BasketReward(
            reward.id, reward.name, reward.points, reward.delivery == "apply_now", discount
        )
        basket.rewards.append(item)
        self._keep(basket)
        return item

    def remove_reward(self, basket: Basket, reward_id: str) -> None:
        basket.rewards = [item for item in basket.rewards if item.reward_id != reward_id]
        self._requote_rewards(basket)
        self._keep(basket)

    def add_voucher(self, basket: Basket, code: str) -> BasketVoucher:
        voucher = super().add_voucher(basket, code)
        self._requote_rewards(basket)  # a voucher comes before the rewards
        self._keep(basket)
        return voucher

    # --- as the basket changes --------------------------------------------------------------------

    def _requote_vouchers(self, basket: Basket) -> None:
        """Every change that re-prices the vouchers (lines, points, member) re-prices the
        rewards after them."""
        super()._requote_vouchers(basket)
        self._requote_rewards(basket)

    def _requote_rewards(self, basket: Basket) -> None:
        """Recompute each applied reward's discount on what the points, the vouchers and the
        rewards before it left; the rewards go with the member. A reward that no longer
        applies stays at 0 (the sale says why when it is completed)."""
        if not basket.rewards:
            return
        if basket.member is None:
            basket.rewards = []
            return
        rules = self.rules()
        lines = basket.earn_lines()
        remaining = _after_vouchers(basket)
        priced: list[BasketReward] = []
        for item in basket.rewards:
            reward = find_reward(rules, item.reward_id)
            discount = 0
            if item.apply_now and reward is not None and reward.delivery == "apply_now":
                discount = reward_discount(reward, lines, remaining)
            priced.append(replace(item, discount_minor=discount))
            remaining -= discount
        basket.rewards = priced

    def _points_left(self, db: sqlite_utils.Database, basket: Basket, today: date) -> int:
        """The member's balance as the till shows it, less what this sale already commits."""
        assert basket.member is not None
        member = member_by_key(db, basket.member.member.member_key)
        balance = member_balance(db, member, today=today) if member is not None else 0
        return balance - basket.points_committed

    # --- completing the sale ----------------------------------------------------------------------

    def _reward_purchases(
        self, db: sqlite_utils.Database, basket: Basket, rules: ProgramRules, today: date
    ) -> tuple[RewardPurchase, ...]:
        """Inside the sale's write transaction: re-check each reward against the rules, the
        member's points and the stock as they stand now, and issue the voucher codes."""
        if not basket.rewards:
            return ()
        assert basket.member is not None
        member = member_by_key(db, basket.member.member.member_key)
        balance = member_balance(db, member, today=today) if member is not None else 0
        balance -= basket.redemption.points if basket.redemption else 0
        issued = issued_counts(db)
        rng = random.SystemRandom()
        purchases: list[RewardPurchase] = []
        remaining = _after_vouchers(basket)
        lines = basket.earn_lines()
        for item in basket.rewards:
            reward = find_reward(rules, item.reward_id)
            if reward is None:
                raise RewardRefusedError(
                    f"{item.name} is no longer in the program (rules version {rules.version})",
                    _REMOVE,
                )
            if reward.points != item.points or (reward.delivery == "apply_now") != item.apply_now:
                raise RewardRefusedError(
                    f"{reward.name} changed since it was chosen (now {reward.points:,} points)",
                    "remove it and choose it again",
                )
            refusal = purchase_refusal(
                reward,
                balance=balance,
                tier=basket.member.tier,
                today=today,
                issued=issued.get(reward.id, 0),
            )
            if refusal is not None:
                raise RewardRefusedError(refusal, _REMOVE)
            balance -= reward.points
            code = None
            if item.apply_now:
                if item.discount_minor <= 0:
                    why = reward_refusal(reward, lines, remaining, currency=basket.currency)
                    raise RewardRefusedError(
                        why or f"{reward.name} takes nothing off this sale", _REMOVE
                    )
                remaining -= item.discount_minor
            else:
                code = generate_voucher_code(rng)
            purchases.append(
                RewardPurchase(
                    reward_id=reward.id,
                    points=reward.points,
                    rules_version=rules.version,
                    discount_minor=item.discount_minor,
                    voucher_code=code,
                )
            )
        return tuple(purchases)

    def _record_reward_purchases(
        self,
        db: sqlite_utils.Database,
        seq: int,
        purchases: tuple[RewardPurchase, ...],
        rules: ProgramRules,
        member_id: str,
        today: date,
    ) -> None:
        """After the sale is journaled (same transaction): count each purchase against the
        reward's stock, and make each voucher issued known to this till, bound to the
        member (``member_id``: HQ's id, or the local key of a member HQ has not numbered)."""
        for purchase in purchases:
            record_reward_effect(db, seq, purchase.reward_id, 1, purchase.voucher_code)
            if purchase.voucher_code is None:
                continue
            reward = find_reward(rules, purchase.reward_id)
            assert reward is not None  # checked by _reward_purchases
            terms = voucher_terms(reward, today)
            know_issued_voucher(
                db,
                purchase.voucher_code,
                terms,
                member_id=member_id,
                source=f"reward:{reward.id}",
                categories=reward.categories,
            )
