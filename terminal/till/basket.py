"""The sale being rung up: lines, the attached member, the points redemption, tenders.

In-memory state owned by the UI. A *durable* basket (the till's sale screen) is also kept in
the ``open_sale`` row on every change (terminal/store/open_sale.py) so a crash can offer it
back; it becomes a sale only when ``Till.complete_sale`` journals it. Totals are integers in
minor units; prices include tax.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.bounds import MAX_LINES, MAX_MINOR, MAX_QUANTITY
from shared.journal import Tender
from shared.money import Money
from shared.rules import BasketLine as EarnLine
from shared.rules.redeem import RedemptionQuote
from terminal.store.catalog import Product
from terminal.store.members import MemberRecord
from terminal.store.open_sale import (
    OpenSaleDocument,
    SavedLine,
    SavedMember,
    SavedRedemption,
    SavedReward,
    SavedTender,
    SavedVoucher,
)
from terminal.till.errors import BasketLimitError
from terminal.till.tax import included_tax, tax_by_rate

__all__ = [
    "AttachedMember",
    "Basket",
    "BasketLine",
    "BasketReward",
    "BasketVoucher",
    "basket_document",
    "basket_from_document",
]


@dataclass
class BasketLine:
    line_no: int
    product: Product
    quantity: int
    unit_price_minor: int
    discount_minor: int = 0
    original_price_minor: int | None = None
    """The catalog price, when a supervisor changed this line's price (terminal/till/approvals)."""
    price_approved_by: str | None = None
    """Who approved the changed price (a supervisor's cashier id)."""

    @property
    def net_minor(self) -> int:
        return self.quantity * self.unit_price_minor - self.discount_minor

    @property
    def tax_minor(self) -> int:
        return included_tax(self.net_minor, self.product.tax_rate_bp)


@dataclass(frozen=True, slots=True)
class AttachedMember:
    member: MemberRecord
    card_number: str
    balance: int
    """Server balance + this till's unsent effects, when the card was scanned."""

    @property
    def tier(self) -> str | None:
        """The tier the member earns in here: this till's own upgrade until HQ answers."""
        return self.member.current_tier


@dataclass(frozen=True, slots=True)
class BasketVoucher:
    """A voucher taken off this basket (terminal/till/vouchers.py), after the points."""

    code: str
    discount_minor: int
    """What it takes off now; recomputed as the basket changes."""
    hq_confirmed: bool = False
    """HQ said live that the code is unused: it does not count against the offline cap."""


@dataclass(frozen=True, slots=True)
class BasketReward:
    """A reward the member buys with this sale (terminal/till/rewards.py): ``apply_now``
    takes ``discount_minor`` off after the points and the vouchers; a voucher reward takes
    nothing off and issues its voucher when the sale completes."""

    reward_id: str
    name: str
    points: int
    apply_now: bool
    discount_minor: int = 0
    """What it takes off now; recomputed as the basket changes (0: it no longer applies, and
    the sale is refused until it is removed or the basket qualifies again)."""


@dataclass
class Basket:
    currency: str
    lines: list[BasketLine] = field(default_factory=list)
    member: AttachedMember | None = None
    redemption: RedemptionQuote | None = None
    hq_approved_balance: int | None = None
    """Set when HQ confirmed the live balance for a redemption beyond the offline cap."""
    tenders: list[Tender] = field(default_factory=list)
    vouchers: list[BasketVoucher] = field(default_factory=list)
    """Vouchers taken off the sale, in the order they were scanned."""
    rewards: list[BasketReward] = field(default_factory=list)
    """Rewards the member buys with this sale, in the order chosen (after the vouchers)."""
    live_approved: dict[str, int] = field(default_factory=dict)
    """Stored-value accounts (``gift:<number>``, ``credit:<member key>``) whose balance HQ
    confirmed live for a payment beyond the offline cap: the balance it confirmed (plus this
    till's unsent effects)."""
    _next_line_no: int = 1
    durable: bool = False
    """Kept in the ``open_sale`` row as it changes (the sale screen's basket; not a scripted
    ``till sale``, which must not overwrite the sale open on the screen)."""
    kept: bool = False
    """This basket has written the ``open_sale`` row (so emptying it clears the row)."""
    started_at: datetime | None = None
    """When it was first kept (UTC)."""
    started_by: tuple[str, str] | None = None
    """(cashier id, name) of who started it."""
    keep_error: str | None = None
    """Why the last change could not be kept (the screen shows it); None when kept."""

    def add(
        self, product: Product, quantity: int = 1, price_minor: int | None = None
    ) -> BasketLine:
        """Add a product; a repeat scan of the same fixed-price product adds to its line.

        Refuses (:class:`BasketLimitError`, the basket unchanged) what the sale could not be
        journaled with: a quantity, price, line or total beyond shared.bounds, or one line
        too many. Checked here, as it is keyed, rather than at payment."""
        if quantity <= 0:
            raise ValueError("quantity must be at least 1")
        price = product.price_minor if price_minor is None else price_minor
        if not 0 <= price <= MAX_MINOR:
            raise BasketLimitError(
                f"{product.description}: a price of {self._money(price)} is beyond what a till "
                f"can sell (at most {self._money(MAX_MINOR)})",
                "check the price",
            )
        last = self.lines[-1] if self.lines else None
        if (
            last is not None
            and not product.open_price
            and last.product.sku == product.sku
            and last.unit_price_minor == price
        ):
            self._check_line(product, last.quantity + quantity, price, last.net_minor)
            last.quantity += quantity
            return last
        if len(self.lines) >= MAX_LINES:
            raise BasketLimitError(
                f"A sale holds at most {MAX_LINES} lines", "pay for these and start a new sale"
            )
        self._check_line(product, quantity, price, 0)
        line = BasketLine(self._next_line_no, product, quantity, price)
        self._next_line_no += 1
        self.lines.append(line)
        return line

    def line(self, line_no: int) -> BasketLine:
        for line in self.lines:
            if line.line_no == line_no:
                return line
        raise KeyError(f"no line {line_no} in the basket")

    def set_quantity(self, line_no: int, quantity: int) -> None:
        if quantity <= 0:
            self.void_line(line_no)
        else:
            line = self.line(line_no)
            self._check_line(line.product, quantity, line.unit_price_minor, line.net_minor)
            line.quantity = quantity

    def set_price(self, line_no: int, price_minor: int, approved_by: str | None) -> None:
        """Sell the line at ``price_minor`` each; its catalog price is kept beside it. Back at
        the catalog price, the line is an ordinary one again (nothing left to approve)."""
        line = self.line(line_no)
        if not 0 <= price_minor <= MAX_MINOR:
            raise BasketLimitError(
                f"{line.product.description}: a price of {self._money(price_minor)} is beyond "
                f"what a till can sell (at most {self._money(MAX_MINOR)})",
                "check the price",
            )
        self._check_line(line.product, line.quantity, price_minor, line.net_minor)
        original = line.product.price_minor
        line.unit_price_minor = price_minor
        if price_minor == original:
            line.original_price_minor = line.price_approved_by = None
        else:
            line.original_price_minor, line.price_approved_by = original, approved_by

    def _money(self, minor: int) -> str:
        return Money(minor, self.currency).format()

    def _check_line(self, product: Product, quantity: int, price: int, replaces: int) -> None:
        """Would a line of ``quantity`` × ``price`` (instead of one worth ``replaces``) keep
        the sale within shared.bounds?"""
        if quantity > MAX_QUANTITY:
            raise BasketLimitError(
                f"{product.description}: {quantity:,} items is more than one line can hold "
                f"({MAX_QUANTITY:,})",
                "check the quantity",
            )
        net = quantity * price
        if net > MAX_MINOR:
            raise BasketLimitError(
                f"{product.description}: {quantity:,} × {self._money(price)} is beyond what one "
                f"line can hold ({self._money(MAX_MINOR)})",
                "check the quantity and the price",
            )
        if self.subtotal_minor - replaces + net > MAX_MINOR:
            raise BasketLimitError(
                f"The sale would come to more than a till can take ({self._money(MAX_MINOR)})",
                "check the quantities and prices",
            )

    def void_line(self, line_no: int) -> None:
        self.lines.remove(self.line(line_no))

    @property
    def empty(self) -> bool:
        return not self.lines

    @property
    def subtotal_minor(self) -> int:
        return sum(line.net_minor for line in self.lines)

    @property
    def points_discount_minor(self) -> int:
        return self.redemption.discount_minor if self.redemption else 0

    @property
    def voucher_discount_minor(self) -> int:
        return sum(voucher.discount_minor for voucher in self.vouchers)

    @property
    def reward_discount_minor(self) -> int:
        return sum(reward.discount_minor for reward in self.rewards)

    @property
    def reward_points(self) -> int:
        """Points the rewards chosen on this sale cost."""
        return sum(reward.points for reward in self.rewards)

    @property
    def points_committed(self) -> int:
        """Points this sale takes from the member: the points discount and the rewards."""
        return (self.redemption.points if self.redemption else 0) + self.reward_points

    @property
    def discount_minor(self) -> int:
        """Everything taken off the basket as a whole: points, then vouchers, then rewards
        (the earn base and the tax split use this, as ``Sale.order_discount_minor`` does)."""
        return self.points_discount_minor + self.voucher_discount_minor + self.reward_discount_minor

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor - self.discount_minor

    @property
    def tax_minor(self) -> int:
        """Tax included in what is paid: per rate, after spreading the order discounts."""
        lines = [(line.net_minor, line.product.tax_rate_bp) for line in self.lines]
        return sum(tax for _, tax in tax_by_rate(lines, self.discount_minor).values())

    @property
    def paid_minor(self) -> int:
        return sum(t.amount_minor for t in self.tenders)

    @property
    def due_minor(self) -> int:
        """Still to pay (negative: change due)."""
        return self.total_minor - self.paid_minor

    def earn_lines(self) -> list[EarnLine]:
        return [
            EarnLine(
                line_no=line.line_no,
                sku=line.product.sku,
                category=line.product.category,
                quantity=line.quantity,
                net_minor=line.net_minor,
            )
            for line in self.lines
            if line.net_minor >= 0
        ]


def basket_document(basket: Basket) -> OpenSaleDocument:
    """What the ``open_sale`` row keeps of ``basket``."""
    assert basket.started_at is not None
    member = basket.member
    return OpenSaleDocument(
        currency=basket.currency,
        started_at=basket.started_at,
        cashier_id=basket.started_by[0] if basket.started_by else None,
        cashier_name=basket.started_by[1] if basket.started_by else None,
        lines=[
            SavedLine(
                line_no=line.line_no,
                sku=line.product.sku,
                description=line.product.description,
                category=line.product.category,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                discount_minor=line.discount_minor,
                tax_rate_bp=line.product.tax_rate_bp,
                open_price=line.product.open_price,
                original_price_minor=line.original_price_minor,
                price_approved_by=line.price_approved_by,
            )
            for line in basket.lines
        ],
        next_line_no=basket._next_line_no,
        member=SavedMember(
            member_key=member.member.member_key,
            card_number=member.card_number,
            name=member.member.name,
            balance=member.balance,
        )
        if member
        else None,
        redemption=SavedRedemption(
            points=basket.redemption.points, discount_minor=basket.redemption.discount_minor
        )
        if basket.redemption
        else None,
        tenders=[
            SavedTender(method=t.method, amount_minor=t.amount_minor, reference=t.reference)
            for t in basket.tenders
        ],
        vouchers=[
            SavedVoucher(code=v.code, discount_minor=v.discount_minor, hq_confirmed=v.hq_confirmed)
            for v in basket.vouchers
        ],
        rewards=[
            SavedReward(
                reward_id=r.reward_id,
                name=r.name,
                points=r.points,
                apply_now=r.apply_now,
                discount_minor=r.discount_minor,
            )
            for r in basket.rewards
        ],
    )


def basket_from_document(document: OpenSaleDocument, member: AttachedMember | None) -> Basket:
    """A durable basket holding what ``document`` kept; ``member`` is the document's member
    as the till knows them now (None: the member is dropped; so is the redemption)."""
    basket = Basket(
        currency=document.currency,
        lines=[
            BasketLine(
                line_no=line.line_no,
                product=Product(
                    line.sku,
                    line.description,
                    line.category,
                    line.unit_price_minor
                    if line.original_price_minor is None
                    else line.original_price_minor,
                    line.tax_rate_bp,
                    line.open_price,
                ),
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                discount_minor=line.discount_minor,
                original_price_minor=line.original_price_minor,
                price_approved_by=line.price_approved_by,
            )
            for line in document.lines
        ],
        member=member,
        tenders=[
            Tender(method=t.method, amount_minor=t.amount_minor, reference=t.reference)
            for t in document.tenders
        ],
        vouchers=[
            BasketVoucher(v.code, v.discount_minor, v.hq_confirmed) for v in document.vouchers
        ],
        rewards=[
            BasketReward(r.reward_id, r.name, r.points, r.apply_now, r.discount_minor)
            for r in document.rewards
        ]
        if member is not None
        else [],
        _next_line_no=document.next_line_no,
        durable=True,
        kept=True,
        started_at=document.started_at,
        started_by=(document.cashier_id, document.cashier_name or document.cashier_id)
        if document.cashier_id
        else None,
    )
    if member is not None and document.redemption is not None:
        basket.redemption = RedemptionQuote(
            points=document.redemption.points,
            discount_minor=document.redemption.discount_minor,
        )
    return basket
