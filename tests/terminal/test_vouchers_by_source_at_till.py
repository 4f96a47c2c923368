"""Vouchers priced by where they came from (docs/vouchers.md, "Reward vouchers"): a real till
database, HQ's vouchers applied by the till's own pull code.

- A voucher HQ limits to categories takes its terms only on those lines' share of what is
  left, and is refused, saying so, when none of them is on the sale.
- A reward's voucher this till's rules know is priced as the reward says, even when HQ's
  pull said nothing of its categories; one whose reward the rules lack and that carries no
  money is refused with the next step.
- An older HQ that says nothing of the source leaves what this till recorded.
"""

from __future__ import annotations

import pytest

from shared.protocol import VoucherState
from terminal.config import TillConfig
from terminal.store import TillDatabase
from terminal.store.stored_value import voucher_record
from terminal.till.basket import Basket
from terminal.till.errors import VoucherRefusedError
from terminal.till.service import Till
from tests.terminal.helpers import products
from tests.terminal.stored_value_helpers import apply_page, voucher_code

_NO_POINTS = ("tobacco", "alcohol", "baby-formula", "reusable-bags")


def state(seed: int, **terms: object) -> VoucherState:
    wanted: dict[str, object] = {
        "code": voucher_code(seed),
        "value_minor": 0,
        "status": "issued",
    }
    return VoucherState.model_validate(wanted | terms)


def two_aisles(till: Till) -> tuple[Basket, str, int, int]:
    """A basket of one product of one category and two of another: (basket, the first's
    category, its line, the whole subtotal)."""
    ordinary = [
        p for p in products(till.database) if p.price_minor >= 100 and p.category not in _NO_POINTS
    ]
    first = ordinary[0]
    second = next(p for p in ordinary if p.category != first.category)
    basket = till.new_basket()
    till.add_product(basket, first.sku, quantity=1)
    till.add_product(basket, second.sku, quantity=2)
    return basket, first.category, first.price_minor, basket.subtotal_minor


def test_a_category_voucher_takes_only_its_lines_share(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    basket, category, line, subtotal = two_aisles(till)
    voucher = state(1, percent_bp=5000, source="campaign:spring", categories=[category])
    apply_page(config, database, vouchers=(voucher,))
    taken = till.add_voucher(basket, voucher.code)
    assert taken.discount_minor == line * 5000 // 10_000
    assert taken.discount_minor < subtotal * 5000 // 10_000  # not half the whole basket
    # A fixed amount is limited the same way: at most its lines' share of what is left (the
    # voucher before it, like the points, is spread over every line).
    fixed = state(2, value_minor=100_000, source="hq", categories=[category])
    apply_page(config, database, vouchers=(fixed,))
    left = subtotal - taken.discount_minor
    assert till.add_voucher(basket, fixed.code).discount_minor == line * left // subtotal


def test_a_category_voucher_without_its_lines_is_refused(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    basket, _category, _line, _subtotal = two_aisles(till)
    voucher = state(3, value_minor=500, source="hq", categories=["no-such-aisle"])
    apply_page(config, database, vouchers=(voucher,))
    with pytest.raises(VoucherRefusedError) as refused:
        till.add_voucher(basket, voucher.code)
    assert "applies only to no-such-aisle" in str(refused.value)
    assert basket.vouchers == []


def test_a_reward_voucher_the_rules_lack_is_refused_with_the_next_step(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    basket, _category, _line, _subtotal = two_aisles(till)
    voucher = state(4, source="reward:not-in-these-rules")
    apply_page(config, database, vouchers=(voucher,))
    with pytest.raises(VoucherRefusedError) as refused:
        till.add_voucher(basket, voucher.code)
    assert "reward not-in-these-rules, which this till's rules do not have" in str(refused.value)
    assert "sync with HQ" in str(refused.value)


def test_an_hq_that_does_not_say_the_source_leaves_the_tills_record(
    config: TillConfig, database: TillDatabase
) -> None:
    issued_here = state(5, value_minor=300, source="reward:x", categories=["dairy"])
    apply_page(config, database, vouchers=(issued_here,))
    older_hq = state(5, value_minor=300, status="redeemed")
    apply_page(config, database, vouchers=(older_hq,))
    with database.read() as db:
        record = voucher_record(db, issued_here.code)
    assert record is not None
    assert (record.status, record.source, record.categories) == ("redeemed", "reward:x", ("dairy",))
    # A newer HQ's word replaces both.
    apply_page(config, database, vouchers=(state(5, value_minor=300, source="hq"),))
    with database.read() as db:
        record = voucher_record(db, issued_here.code)
    assert record is not None
    assert (record.source, record.categories) == ("hq", None)
