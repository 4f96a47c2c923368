"""Ringing up a sale: scans, basket lines, the member, points redemption, tenders, commit."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import date

import sqlite_utils
from pydantic import ValidationError

from shared.bounds import MAX_MINOR, MAX_POINTS, MAX_TENDERS
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
from shared.journal import (
    PointsRedeemed,
    PriceOverride,
    Sale,
    SaleLine,
    Tender,
    TenderMethod,
)
from shared.journal.payloads import STORED_VALUE_METHODS, RewardPurchase, TierUpgrade
from shared.money import Money, format_points
from shared.points.tiers import contribution, upgrade_for
from shared.rules import BasketLine as EarnLine
from shared.rules import EarnContext, EarnResult, ProgramRules, compute_earn, plan_redemption
from shared.rules.model import Reward
from shared.rules.redeem import RedemptionQuote
from terminal.store.cashiers import Cashier
from terminal.store.catalog import current_rules, product_by_sku
from terminal.store.journal import journal_tip
from terminal.store.members import (
    card_by_number,
    claim_tier,
    member_balance,
    member_by_key,
    member_standing,
    redeemed_on,
)
from terminal.store.open_sale import clear_open_sale
from terminal.store.stored_value import account_balance, add_money_effect, record_voucher_use
from terminal.till.approvals import (
    check_keyed_price,
    check_new_price,
    check_price_change,
    require_supervisor,
)
from terminal.till.base import describe_validation_error
from terminal.till.basket import AttachedMember, Basket
from terminal.till.basket import BasketLine as BasketLineT
from terminal.till.campaign_vouchers import decide_campaign_vouchers, record_campaign_vouchers
from terminal.till.errors import (
    CardBlockedError,
    JournalRefusedError,
    PaymentIncompleteError,
    RedemptionRefusedError,
    ScanNotUnderstoodError,
    UnknownProductError,
)
from terminal.till.results import MemberView, SaleDone, ScanResult
from terminal.till.rewards import RewardActions
from terminal.till.standing import qualifying_total
from terminal.till.stored_value import StoredValueActions, movement

__all__ = ["SellingActions", "parse_points"]

log = logging.getLogger(__name__)


class SellingActions(RewardActions, StoredValueActions):
    """Selling: everything between the first scan and the durable sale."""

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
            case Voucher(code=voucher_code):
                voucher = self.add_voucher(basket, voucher_code)
                return ScanResult(
                    "voucher", f"Voucher {voucher.code} −{self._money(voucher.discount_minor)}"
                )
            case GiftCard(number=number):
                # Paying with it (or checking its balance) is the payment screen's choice.
                card = self.gift_card_balance(number)
                status = card.status if card.status != "active" else "balance"
                return ScanResult(
                    "gift_card",
                    f"Gift card {card.masked} · {status} {self._money(card.balance_minor)}",
                    gift_card=card.card_number,
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
        check_keyed_price(product, price_minor, basket.currency)
        line = basket.add(product, quantity, price_minor)
        self._requote(basket)
        self._keep(basket)
        return line

    def change_price(
        self, basket: Basket, line_no: int, price_minor: int, supervisor: Cashier | None
    ) -> BasketLineT:
        """Sell a line at another unit price than the catalog's, as ``supervisor`` (checked
        by ``approvals.approve``) allowed; back at the catalog price nobody need approve."""
        line = basket.line(line_no)
        check_price_change(self.config, line)
        check_new_price(line, price_minor, basket.currency)
        if price_minor != line.product.price_minor:
            require_supervisor(
                supervisor,
                "Changing a price needs a supervisor",
                "a supervisor approves it with their number and PIN",
            )
        basket.set_price(line_no, price_minor, supervisor.cashier_id if supervisor else None)
        self._requote(basket)
        self._keep(basket)
        return line

    def set_quantity(self, basket: Basket, line_no: int, quantity: int) -> None:
        basket.set_quantity(line_no, quantity)
        self._requote(basket)
        self._keep(basket)

    def void_line(self, basket: Basket, line_no: int) -> None:
        basket.void_line(line_no)
        self._requote(basket)
        self._keep(basket)

    def _requote(self, basket: Basket) -> None:
        """Keep a redemption and the vouchers valid as the basket changes: re-plan them
        (points first, vouchers on what is left), or drop them."""
        if basket.redemption is not None and basket.member is not None:
            try:
                basket.redemption = self._plan_redemption(basket, basket.redemption.points)
            except RedemptionRefusedError:
                basket.redemption = None
        self._requote_vouchers(basket)

    # --- points ------------------------------------------------------------------------------

    def attach_member(self, basket: Basket, card_number: str) -> MemberView:
        view = self.member_view(card_number)
        with self.database.read() as db:
            member = member_by_key(db, view.member_key)
        assert member is not None
        if basket.member is None or basket.member.member.member_key != member.member_key:
            basket.live_approved.clear()  # another member's store credit approval
        basket.member = AttachedMember(member, card_number, view.balance)
        self._requote(basket)
        self._keep(basket)
        return view

    def detach_member(self, basket: Basket) -> None:
        basket.member = None
        basket.redemption = None
        basket.hq_approved_balance = None
        # The member's store credit and member-bound vouchers go with them.
        basket.tenders = [t for t in basket.tenders if t.method is not TenderMethod.STORE_CREDIT]
        basket.live_approved = {
            k: v for k, v in basket.live_approved.items() if not k.startswith("credit:")
        }
        self._requote_vouchers(basket)  # a member's vouchers go
        self._keep(basket)

    def preview_earn(self, basket: Basket) -> EarnResult | None:
        """Points this basket will earn now (what the member panel shows live)."""
        if basket.member is None or basket.empty:
            return None
        with self.database.read() as db:
            bonuses = self._points_bonuses(db, basket)
        return self._earn(self.rules(), basket.earn_lines(), basket, bonuses)

    def _earn(
        self,
        rules: ProgramRules,
        lines: list[EarnLine],
        basket: Basket,
        points_bonuses: Sequence[Reward] = (),
    ) -> EarnResult:
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
            points_bonuses=points_bonuses,
        )

    def redeem(self, basket: Basket, points: int | None) -> RedemptionQuote:
        """Redeem ``points`` (None = as many as allowed) against this basket."""
        basket.redemption = None
        try:
            quote = self._plan_redemption(basket, points)
            basket.redemption = quote
        finally:
            self._requote_vouchers(basket)  # vouchers come after the points
            self._keep(basket)  # refused: the earlier redemption is gone, as on screen
        return quote

    def redeem_typed(self, basket: Basket, text: str) -> RedemptionQuote | None:
        """Points to redeem as a cashier or a script types them, with one meaning wherever
        they are typed (the till's redeem prompt, ``till sale --redeem``): empty or "max" =
        as many as allowed, 0 = none (any redemption is cancelled), N = N points."""
        points = parse_points(text)
        if points == 0:
            self.cancel_redemption(basket)
            return None
        return self.redeem(basket, points)

    def cancel_redemption(self, basket: Basket) -> None:
        basket.redemption = None
        self._requote_vouchers(basket)
        self._keep(basket)

    def _plan_redemption(self, basket: Basket, points: int | None) -> RedemptionQuote:
        if basket.member is None:
            raise RedemptionRefusedError("Scan the member's card first", "then redeem points")
        rules = self.rules()
        _, _, local = self._now()
        with self.database.read() as db:
            member = member_by_key(db, basket.member.member.member_key)
            assert member is not None
            # Points the rewards chosen on this sale cost are not there to redeem.
            balance = member_balance(db, member, today=local.date()) - basket.reward_points
            used_today = redeemed_on(db, member.member_key, local.date().isoformat())
        # Offline, a per-member daily cap bounds the risk (docs/design.md); above it the till asks
        # HQ for the live balance when it can, and refuses clearly when it cannot.
        cap_left = max(0, rules.offline.redemption_cap_points_per_day - used_today)
        allowed = min(balance, cap_left)
        basket.hq_approved_balance = None
        beyond_cap = cap_left < balance and (points is None or points > cap_left)
        hq_unreachable = False
        if beyond_cap and self.hq is not None:
            live = self._live_balance(basket.member.card_number, member.member_key)
            if live is None:
                hq_unreachable = True
            else:
                allowed = live - basket.reward_points
                basket.hq_approved_balance = allowed
        quote = plan_redemption(
            rules,
            balance=allowed,
            basket_total_minor=basket.subtotal_minor,
            requested_points=points,
        )
        if not isinstance(quote, RedemptionQuote):
            reason = quote.reason
            if beyond_cap and basket.hq_approved_balance is None:
                why = "HQ cannot be reached" if hq_unreachable else "The till is offline"
                reason = (
                    f"{why}: at most {format_points(cap_left)} more can be redeemed for this "
                    f"member today (balance {format_points(balance)})"
                )
            raise RedemptionRefusedError(reason, "redeem fewer points, or none")
        return quote

    def _live_balance(self, card_number: str, member_key: str) -> int | None:
        """HQ's balance now plus this till's entries HQ has not applied; None if HQ does not
        answer (the caller then stays within the offline cap)."""
        assert self.hq is not None
        try:
            live = self.hq(card_number)
        except Exception:
            log.info("HQ balance lookup failed", exc_info=True)
            return None
        with self.database.read() as db:
            row = db.execute(
                "SELECT COALESCE(SUM(delta), 0) FROM points_effects "
                "WHERE member_key = ? AND seq > ?",
                [member_key, live.applied_through_seq],
            ).fetchone()
        return live.member.balance + int(row[0])

    # --- completing a sale ----------------------------------------------------------------------

    def add_tender(
        self,
        basket: Basket,
        method: TenderMethod,
        amount_minor: int | None,
        *,
        card_number: str | None = None,
    ) -> None:
        """Take a tender; ``None`` = exactly what is still due (a gift card or store credit:
        as much of it as the balance covers).

        ``TenderMethod.GIFT_CARD`` takes from the card ``card_number`` (a gift card or a
        credit slip); ``TenderMethod.STORE_CREDIT`` from the basket's member's store credit.
        Both are refused (:class:`StoredValueRefusedError`) beyond the balance the till
        knows, for a blocked or unknown card, and beyond the offline daily cap when HQ
        cannot confirm the balance live (terminal/till/stored_value.py)."""
        if method is TenderMethod.VOUCHER:
            raise PaymentIncompleteError(
                "A voucher is not a tender", "scan it on the sale (`--voucher CODE`)"
            )
        due = basket.due_minor
        amount = due if amount_minor is None else amount_minor
        tender: Tender | None = None
        if method in STORED_VALUE_METHODS and due > 0:
            tender = self._stored_value_tender(basket, method, amount_minor, card_number)
            amount = tender.amount_minor
        if amount <= 0:
            raise PaymentIncompleteError("Nothing left to pay", "complete the sale")
        # What a sale can journal (shared.bounds): refused as it is keyed, not at the end.
        if basket.paid_minor + amount > MAX_MINOR:
            raise PaymentIncompleteError(
                f"{Money(amount, basket.currency)} is more than a till can take "
                f"(at most {Money(MAX_MINOR, basket.currency)} in all)",
                "check the amount",
            )
        if len(basket.tenders) >= MAX_TENDERS:
            raise PaymentIncompleteError(
                f"A sale takes at most {MAX_TENDERS} tenders", "take the rest in one tender"
            )
        if method is not TenderMethod.CASH and amount > due:
            raise PaymentIncompleteError(
                f"{method.value.replace('_', ' ')} cannot be more than the "
                f"{Money(due, basket.currency)} due",
                "only cash gives change",
            )
        basket.tenders.append(tender or Tender(method=method, amount_minor=amount))
        self._keep(basket)

    def drop_tenders(self, basket: Basket) -> None:
        """The cashier went back from payment: the tenders taken are removed."""
        basket.tenders.clear()
        basket.live_approved.clear()
        self._keep(basket)

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
        today = local.date().isoformat()
        with self._storable("sale"), self.database.write() as db:
            vouchers = self._voucher_uses(db, basket, today)
            money = self._stored_value_effects(db, basket, today)
            member_ref = None
            earned = None
            redeemed = None
            rewards: tuple[RewardPurchase, ...] = ()
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
                rewards = self._reward_purchases(db, basket, rules, local.date())
                earned = self._earn(
                    rules, basket.earn_lines(), basket, self._points_bonuses(db, basket)
                )
            # Any sale may earn a campaign's voucher, with or without a member.
            campaign_rules = rules if rules is not None else current_rules(db)
            campaign_vouchers = decide_campaign_vouchers(
                campaign_rules,
                basket.earn_lines(),
                self.config.store_id,
                local,
                basket.total_minor,
            )
            tier = self._tier(basket)
            upgrade = (
                self._tier_upgrade(db, basket, rules, earned, local.date())
                if rules is not None and earned is not None
                else None
            )
            change = -basket.due_minor
            seq, _ = journal_tip(db)
            sale = Sale(
                store_id=self.config.store_id,
                receipt_no=f"{self.config.terminal_id}-{seq + 1}",
                currency=basket.currency,
                lines=tuple(_sale_line(line) for line in basket.lines),
                subtotal_minor=basket.subtotal_minor,
                total_minor=basket.total_minor,
                tax_minor=basket.tax_minor,
                tenders=tuple(basket.tenders),
                change_minor=change,
                member=member_ref,
                earned=earned,
                redeemed=redeemed,
                tier=tier,
                tier_upgrade=upgrade,
                vouchers=vouchers,
                rewards=rewards,
                campaign_vouchers=campaign_vouchers,
            )
            entry = self._append(db, sale, now, offset, cashier_id)
            if campaign_vouchers:
                assert campaign_rules is not None
                holder = basket.member.member if basket.member is not None else None
                record_campaign_vouchers(
                    db,
                    campaign_vouchers,
                    campaign_rules,
                    (holder.member_id or holder.member_key) if holder is not None else None,
                    local.date(),
                )
            for voucher in basket.vouchers:
                record_voucher_use(
                    db,
                    entry.seq,
                    voucher.code,
                    voucher.discount_minor,
                    today,
                    confirmed=voucher.hq_confirmed,
                )
            said = []
            for account, number, total, live in money:
                add_money_effect(db, entry.seq, account, -total, today, live=live)
                kind = "paid" if number is not None else "store_credit_paid"
                said.append(movement(kind, number, total, account_balance(db, account)))
            balance_after = None
            if basket.member is not None:
                key = basket.member.member.member_key
                # Points spent on rewards leave the balance at once, like those redeemed.
                self._add_points_effect(
                    db,
                    entry.seq,
                    key,
                    sale.points_earned - sale.points_spent,
                    sale.points_spent,
                    local.date().isoformat(),
                )
                if rewards:
                    assert rules is not None
                    bound_to = basket.member.member.member_id or key
                    self._record_reward_purchases(
                        db, entry.seq, rewards, rules, bound_to, local.date()
                    )
                if upgrade is not None:
                    # The member's next sales here earn in the new tier until HQ answers.
                    claim_tier(db, key, upgrade.to_tier, entry.seq)
                    tier = upgrade.to_tier
                balance_after = self._balance(db, key, local.date())
            job = self._queue_print(
                db,
                entry.seq,
                balance_after,
                tier,
                now,
                stored_value=json.dumps(said) if said else None,
            )
            if basket.durable:
                # In the journal's transaction: never journaled and still offered back.
                clear_open_sale(db)
        basket.kept = False
        return SaleDone(entry, job, change, balance_after)

    def _tier(self, basket: Basket) -> str | None:
        return basket.member.tier if basket.member else None

    def _tier_upgrade(
        self,
        db: sqlite_utils.Database,
        basket: Basket,
        rules: ProgramRules,
        earned: EarnResult,
        today: date,
    ) -> TierUpgrade | None:
        """The upgrade this sale makes, offline-first (docs/rules.md, "Tiers"): HQ's
        qualifying total as of the pull + this till's entries HQ had not applied + this sale.
        The sale itself earns in the tier the member had when it began."""
        assert basket.member is not None
        if not rules.tiers:
            return None
        member = member_by_key(db, basket.member.member.member_key)
        stored = member_standing(db, basket.member.member.member_key)
        if member is None or stored is None:
            return None
        this_sale = contribution(
            earned=earned.total_points, spend_minor=basket.total_minor, visit=True
        )
        total, _ = qualifying_total(db, rules, member, stored, today, plus=this_sale)
        current = member.current_tier
        reached = upgrade_for(rules, current, total)
        if reached is None:
            return None
        return TierUpgrade(
            from_tier=current,
            to_tier=reached.code,
            qualifying_total=total,
            threshold=reached.threshold_points,
        )

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
        balance = member_balance(db, member, today=date.fromisoformat(today))
        balance -= basket.reward_points
        used = redeemed_on(db, member.member_key, today)
        cap_left = rules.offline.redemption_cap_points_per_day - used
        limit = basket.hq_approved_balance
        if limit is None:
            limit = min(balance, cap_left)
        if basket.redemption.points > limit:
            raise RedemptionRefusedError(
                "The member's points changed since the redemption was planned",
                "redeem again (F5)",
            )


def parse_points(text: str) -> int | None:
    """Typed points: None for empty or "max" (as many as allowed), else a whole number."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not cleaned or cleaned.lower() == "max":
        return None
    if not cleaned.isascii() or not cleaned.isdigit():
        raise RedemptionRefusedError(
            f"{text.strip()} is not a number of points", "type e.g. 500, 0 for none, or max"
        )
    if len(cleaned) > len(str(MAX_POINTS)) or int(cleaned) > MAX_POINTS:
        raise RedemptionRefusedError(
            f"{cleaned} points is more than any balance can hold", "type e.g. 500"
        )
    return int(cleaned)


def _sale_line(line: BasketLineT) -> SaleLine:
    """The journal's line for a basket line; a product whose catalog data the journal cannot
    carry (a control character HQ sent in a description, say) is refused by name."""
    try:
        return SaleLine(
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
            price_override=None
            if line.original_price_minor is None or line.price_approved_by is None
            else PriceOverride(
                original_price_minor=line.original_price_minor, approved_by=line.price_approved_by
            ),
        )
    except ValidationError as error:
        raise JournalRefusedError(
            f"Line {line.line_no} ({line.product.sku}) cannot be recorded: "
            f"{describe_validation_error(error)}",
            "void the line and sell it on a department (e.g. DEPT-GROCERY 2.49) — "
            "nothing was journaled; tell HQ the product's catalog entry is damaged",
        ) from error
