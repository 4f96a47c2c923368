"""Money that changes hands (docs/journal.md, docs/giftcards.md), as properties:

* a tender mix never over- or under-pays: any tenders and change either build a ``Sale``,
  ``GiftCardLoad`` or ``Return`` whose tenders less change are exactly what is owed, with
  change only out of cash (so the other tenders never exceed what is owed), a gift card never
  bought with stored value — or are refused;
* gift-card and store-credit postings balance per unit: any mix of activations, top-ups,
  payments (split with cash), refunds onto cards, credit slips and store credit, and voids,
  from two tills pushing in any order, posts pairs that sum to zero per entry and unit through
  the real ledger (SQLite), and every card's balance is the plain sum of what moved it.
"""

from __future__ import annotations

import itertools
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import func, select

from shared.bounds import MAX_TENDERS
from shared.codes import CodeConfig, generate_gift_card_number, voucher_check_symbol
from shared.journal import (
    EntryRef,
    GiftCardLoad,
    JournalEntry,
    Return,
    ReturnLine,
    Sale,
    SaleLine,
    Tender,
    TenderMethod,
    VoucherUse,
)
from shared.journal.payloads import STORED_VALUE_METHODS
from shared.protocol import PushRequest
from syncserver.ledger.rebuild import rebuild_check
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import postings, stored_values
from syncserver.sync.push import push
from tests.server.helpers import prepare
from tests.server.journal import JournalWriter, card, member_ref

CONFIG = CodeConfig()
GIFT_CARD = generate_gift_card_number(CONFIG, random.Random(1))
VOUCHER = "V-2345-6789-ABC" + voucher_check_symbol("23456789ABC")
CASH_LIKE = {TenderMethod.CASH}


# ============================================================================================
# A tender mix never over- or under-pays
# ============================================================================================

methods = st.sampled_from(list(TenderMethod))
amounts = st.integers(min_value=1, max_value=20_000)


@st.composite
def tender_lists(draw: st.DrawFn, max_size: int = MAX_TENDERS) -> list[Tender]:
    chosen = draw(st.lists(st.tuples(methods, amounts), max_size=max_size))
    return [
        Tender(
            method=method,
            amount_minor=amount,
            reference=GIFT_CARD if method is TenderMethod.GIFT_CARD else None,
        )
        for method, amount in chosen
    ]


@st.composite
def change_for(draw: st.DrawFn, tenders: list[Tender], owed: int) -> int:
    """Mostly what makes it add up, sometimes a little off, sometimes anything."""
    exact = sum(t.amount_minor for t in tenders) - owed
    return draw(
        st.one_of(
            st.just(max(0, exact)),
            st.integers(min_value=max(0, exact - 2), max_value=max(0, exact + 2)),
            st.integers(min_value=0, max_value=50_000),
        )
    )


def paid(tenders: tuple[Tender, ...] | list[Tender]) -> int:
    return sum(t.amount_minor for t in tenders)


def cash(tenders: tuple[Tender, ...] | list[Tender]) -> int:
    return sum(t.amount_minor for t in tenders if t.method in CASH_LIKE)


def settles(tenders: list[Tender], change: int, owed: int) -> bool:
    """The rule, stated independently: exactly what is owed, change out of cash only."""
    return paid(tenders) - change == owed and change <= cash(tenders)


def assert_pays_exactly(tenders: tuple[Tender, ...], change: int, owed: int) -> None:
    assert paid(tenders) - change == owed
    assert change <= cash(tenders)
    # Equivalently: what is not cash never exceeds what is owed (no change out of a card).
    assert paid(tenders) - cash(tenders) <= owed


def build_or_none(build: Any) -> Any:
    try:
        return build()
    except ValidationError:
        return None


def sale_line(total: int) -> SaleLine:
    return SaleLine(
        line_no=1,
        sku="4000000000017",
        description="Apples",
        category="grocery",
        quantity=1,
        unit_price_minor=total,
        net_minor=total,
    )


@given(
    subtotal=st.integers(min_value=0, max_value=30_000),
    voucher=st.integers(min_value=0, max_value=30_000),
    data=st.data(),
)
def test_a_sale_is_paid_exactly_or_refused(
    subtotal: int, voucher: int, data: st.DataObject
) -> None:
    voucher = min(voucher, subtotal)
    total = subtotal - voucher
    tenders = data.draw(tender_lists())
    change = data.draw(change_for(tenders, total))
    sale = build_or_none(
        lambda: Sale(
            store_id="S001",
            receipt_no="A-1",
            currency="EUR",
            lines=(sale_line(subtotal),),
            subtotal_minor=subtotal,
            total_minor=total,
            tenders=tuple(tenders),
            change_minor=change,
            vouchers=(VoucherUse(code=VOUCHER, discount_minor=voucher),) if voucher else (),
        )
    )
    assert (sale is not None) == settles(tenders, change, total)
    if sale is not None:
        assert_pays_exactly(sale.tenders, sale.change_minor, sale.total_minor)
        assert sale.total_minor == sale.subtotal_minor - sale.order_discount_minor


@given(amount=st.integers(min_value=1, max_value=30_000), data=st.data())
def test_a_gift_card_load_is_paid_exactly_never_with_stored_value_or_refused(
    amount: int, data: st.DataObject
) -> None:
    tenders = data.draw(tender_lists())
    change = data.draw(change_for(tenders, amount))
    load = build_or_none(
        lambda: GiftCardLoad(
            store_id="S001",
            receipt_no="A-G1",
            currency="EUR",
            card_number=GIFT_CARD,
            amount_minor=amount,
            activation=True,
            tenders=tuple(tenders),
            change_minor=change,
        )
    )
    laundering = any(t.method in STORED_VALUE_METHODS for t in tenders)
    expected = bool(tenders) and settles(tenders, change, amount) and not laundering
    assert (load is not None) == expected
    if load is not None:
        assert_pays_exactly(load.tenders, load.change_minor, load.amount_minor)
        assert not any(t.method in STORED_VALUE_METHODS for t in load.tenders)


@given(
    refunds=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=4),
    data=st.data(),
)
def test_a_return_pays_out_exactly_the_refund_or_is_refused(
    refunds: list[int], data: st.DataObject
) -> None:
    refund = sum(refunds)
    tenders = data.draw(tender_lists())
    returned = build_or_none(
        lambda: Return(
            store_id="S001",
            receipt_no="A-R",
            currency="EUR",
            original=EntryRef(
                terminal_id="T1", seq=1, entry_id="00000000-0000-0000-0000-000000000001"
            ),
            lines=tuple(
                ReturnLine(original_line_no=no, quantity=1, refund_minor=minor)
                for no, minor in enumerate(refunds, start=1)
            ),
            refund_minor=refund,
            tenders=tuple(tenders),
            member=member_ref(card(1), "M0000000001"),
        )
    )
    assert (returned is not None) == (paid(tenders) == refund)  # a refund gives no change
    if returned is not None:
        assert_pays_exactly(returned.tenders, 0, returned.refund_minor)


def test_the_fixed_voucher_is_valid() -> None:
    assert VoucherUse(code=VOUCHER, discount_minor=1).code == VOUCHER


def test_a_gift_card_tender_names_a_valid_card() -> None:
    for reference in (None, "1234", GIFT_CARD[:-1] + str((int(GIFT_CARD[-1]) + 1) % 10)):
        with pytest.raises(ValidationError):
            Tender(method=TenderMethod.GIFT_CARD, amount_minor=100, reference=reference)


# ============================================================================================
# Gift-card postings balance per unit, through the ledger
# ============================================================================================

ANNA = member_ref(card(1), "M0000000001")
CARDS_PER_EXAMPLE = 3
_EXAMPLES = itertools.count(1)


@dataclass
class _Sold:
    entry: JournalEntry
    till: int
    stored: dict[str, int]
    """account -> what the sale took off it (gift cards and store credit)"""
    done: bool = False
    """Returned or voided: nothing more happens to it here."""


@dataclass
class _Example:
    """One example's tills, cards and the plain model of every account it moves."""

    writers: list[JournalWriter]
    cards: list[str]
    sent: list[int] = field(default_factory=lambda: [0, 0])
    expected: dict[str, int] = field(default_factory=dict)
    sales: list[_Sold] = field(default_factory=list)

    def move(self, account: str, amount: int) -> None:
        self.expected[account] = self.expected.get(account, 0) + amount


till_index = st.integers(0, 1)
card_index = st.integers(0, CARDS_PER_EXAMPLE - 1)
money = st.integers(min_value=1, max_value=4_000)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("load"), till_index, card_index, money, st.booleans()),
        st.tuples(st.just("spend"), till_index, st.none() | card_index, money, st.integers(0, 500)),
        st.tuples(
            st.just("refund"),
            st.integers(0, 50),
            st.sampled_from(["card", "credit", "slip"]),
            card_index,
        ),
        st.tuples(st.just("void"), st.integers(0, 50)),
        st.tuples(st.just("push"), till_index),
    ),
    min_size=4,
    max_size=24,
)


def _send(database: Database, example: _Example, index: int) -> None:
    writer = example.writers[index]
    records = writer.since(example.sent[index])
    if records:
        push(
            database,
            writer.terminal_id,
            PushRequest(terminal_id=writer.terminal_id, entries=records),
            utc_now,
        )
    example.sent[index] = len(writer.records)


def _gift(number: str, amount: int) -> Tender:
    return Tender(method=TenderMethod.GIFT_CARD, amount_minor=amount, reference=number)


def _cash(amount: int) -> Tender:
    return Tender(method=TenderMethod.CASH, amount_minor=amount)


def _apply(database: Database, example: _Example, step: tuple[Any, ...], slips: list[str]) -> None:
    kind = step[0]
    if kind == "load":
        _, t, c, amount, activation = step
        example.writers[t].giftcard_load(example.cards[c], amount, activation=activation)
        example.move(f"giftcard:{example.cards[c]}", amount)
    elif kind == "spend":
        _, t, c, amount, extra_cash = step
        # A sale of exactly the stored-value part plus some cash, by Anna when it is her credit.
        price = amount + extra_cash
        tender = (
            Tender(method=TenderMethod.STORE_CREDIT, amount_minor=amount)
            if c is None
            else _gift(example.cards[c], amount)
        )
        account = "credit:M0000000001" if c is None else f"giftcard:{example.cards[c]}"
        tenders = (tender, _cash(extra_cash)) if extra_cash else (tender,)
        entry = example.writers[t].sale(
            ANNA if c is None else None,
            [("4000000000017", "grocery", 1, price)],
            tenders=tenders,
        )
        example.move(account, -amount)
        example.sales.append(_Sold(entry, t, {account: amount}))
    elif kind == "refund":
        _, pick, where, c = step
        open_sales = [s for s in example.sales if not s.done]
        if not open_sales:
            return
        sold = open_sales[pick % len(open_sales)]
        sale = sold.entry.payload
        assert isinstance(sale, Sale)
        refund = sale.lines[0].net_minor
        if where == "credit" and sale.member is None:
            where = "slip"  # store credit is a member's: an anonymous refund gets a slip
        if where == "credit":
            tender, account = (
                Tender(method=TenderMethod.STORE_CREDIT, amount_minor=refund),
                ("credit:M0000000001"),
            )
        else:
            number = example.cards[c] if where == "card" else slips.pop()
            tender, account = _gift(number, refund), f"giftcard:{number}"
            if where == "slip":
                example.cards.append(number)
        example.writers[sold.till].ret(
            sold.entry, ANNA if sale.member else None, refund=refund, tenders=(tender,)
        )
        example.move(account, refund)
        sold.done = True
    elif kind == "void":
        _, pick = step
        open_sales = [s for s in example.sales if not s.done]
        if not open_sales:
            return
        sold = open_sales[pick % len(open_sales)]
        example.writers[sold.till].void(sold.entry)
        for account, amount in sold.stored.items():
            example.move(account, amount)
        sold.done = True
    else:
        _send(database, example, step[1])


def _balances(database: Database, accounts: list[str]) -> dict[str, tuple[int, int]]:
    """account -> (the row's cached balance, the sum of its postings)."""
    with database.read() as conn:
        rows = {
            r.account: int(r.balance_minor)
            for r in conn.execute(
                select(stored_values.c.account, stored_values.c.balance_minor).where(
                    stored_values.c.account.in_(accounts)
                )
            )
        }
        sums = {
            r.account: int(r.total)
            for r in conn.execute(
                select(postings.c.account, func.sum(postings.c.amount).label("total"))
                .where(postings.c.account.in_(accounts))
                .group_by(postings.c.account)
            )
        }
    return {a: (rows.get(a, 0), sums.get(a, 0)) for a in accounts}


def _unbalanced(database: Database) -> list[Any]:
    source = (postings.c.terminal_id, postings.c.seq, postings.c.hq_event_id, postings.c.unit)
    with database.read() as conn:
        return list(
            conn.execute(select(*source).group_by(*source).having(func.sum(postings.c.amount) != 0))
        )


def _money_units(database: Database, accounts: list[str]) -> set[str]:
    with database.read() as conn:
        return set(
            conn.execute(
                select(postings.c.unit).where(postings.c.account.in_(accounts)).distinct()
            ).scalars()
        )


def test_gift_card_postings_balance_per_unit(tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "server.sqlite3"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    server = prepare(database)

    @settings(
        max_examples=50,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(steps=operations, seed=st.integers(0, 2**32))
    def run(steps: list[tuple[Any, ...]], seed: int) -> None:
        number = next(_EXAMPLES)
        rng = random.Random(seed * 1000 + number)
        credit_before = _balances(database, ["credit:M0000000001"])["credit:M0000000001"][0]
        example = _Example(
            writers=[JournalWriter(server.terminal(name=f"P{number} {i}")[0]) for i in range(2)],
            cards=[generate_gift_card_number(CONFIG, rng) for _ in range(CARDS_PER_EXAMPLE)],
        )
        slips = [generate_gift_card_number(CONFIG, rng) for _ in range(len(steps))]
        for step in steps:
            _apply(database, example, step, slips)
        _send(database, example, 0)
        _send(database, example, 1)

        assert _unbalanced(database) == []
        accounts = list(example.expected)
        got = _balances(database, accounts)
        for account in accounts:
            cached, posted = got[account]
            assert cached == posted, (account, cached, posted)
        example.expected["credit:M0000000001"] = credit_before + example.expected.get(
            "credit:M0000000001", 0
        )
        assert {a: got[a][0] for a in accounts} == {a: example.expected[a] for a in accounts}
        assert _money_units(database, accounts) <= {"EUR"}

    try:
        run()
        report = rebuild_check(database)
        assert report.ok, report.differences
    finally:
        database.dispose()
