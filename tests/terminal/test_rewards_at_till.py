"""Rewards at the till (issue 13): a real till database with the demo program plus a catalog
of rewards saved as its next rules version, HQ's stock counts applied by the till's own pull
code, receipts read back from the ESC/POS printer simulator over TCP.

- The member panel's list is ``affordable`` on the balance less what the sale commits.
- Applied now: amount, percent (after points and a voucher), free product; each discount is
  ``reward_discount`` on what is left, kept right as the basket changes, and refused at
  completion with ``reward_refusal``'s sentence when it falls to 0.
- Voucher delivery: a code issued at completion, known here at once, bound to the member.
- Refused: no member, unaffordable, wrong tier, sold out (HQ's count + own purchases), not in
  the rules, not yet on sale. The journaled Sale validates; the points leave the balance; a
  void gives them back (and cancels the voucher), a return does not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from hardware.sim.printer_sim import PrinterSimulator
from shared.journal import JournalEntry, Sale, TenderMethod
from shared.journal.payloads import RewardPurchase
from shared.rules.rewards import reward_discount, reward_refusal, voucher_terms
from terminal.cli.main import till as till_cli
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase
from terminal.store.journal import get_entry
from terminal.store.members import member_balance, member_by_key
from terminal.store.stored_value import voucher_record
from terminal.till.basket import Basket
from terminal.till.errors import RewardRefusedError, VoucherRefusedError
from terminal.till.rewards import find_reward
from terminal.till.service import Till
from tests.terminal.conftest import MONDAY_10AM
from tests.terminal.helpers import journal_count, products
from tests.terminal.reward_helpers import apply_stock, bakery_sku, publish_rewards
from tests.terminal.stored_value_helpers import apply_page, basket_of, printed

SILVER = 9
"""Demo member 9: Silver, 4,200 points."""
GOLD = 10
LOW = 2
"""Demo member 2: Member tier, 120 points."""
TODAY = MONDAY_10AM.date()


@pytest.fixture
def version(database: TillDatabase) -> int:
    return publish_rewards(database)


@pytest.fixture
def printer() -> Iterator[PrinterSimulator]:
    with PrinterSimulator() as sim:
        yield sim


def balance_of(till: Till, serial: int) -> int:
    with till.database.read() as db:
        member = member_by_key(db, f"M{serial:07d}")
        assert member is not None
        return member_balance(db, member, today=TODAY)


def member_sale(till: Till, config: TillConfig, serial: int, minor_at_least: int = 600) -> Basket:
    basket = basket_of(till, minor_at_least, quantity=3)
    till.attach_member(basket, demo_card(config, serial))
    return basket


def pay(till: Till, basket: Basket) -> tuple[Sale, JournalEntry, int]:
    till.add_tender(basket, TenderMethod.CASH, None)
    done = till.complete_sale(basket)
    sale = done.entry.payload
    assert isinstance(sale, Sale)
    # What was journaled reads back and validates as the shared model.
    with till.database.read() as db:
        stored = get_entry(db, done.entry.seq)
    assert stored is not None
    assert stored.payload == sale
    return sale, done.entry, done.print_job_id


def test_the_list_is_what_the_member_can_afford_less_what_the_sale_commits(
    till: Till, config: TillConfig, version: int
) -> None:
    basket = member_sale(till, config, SILVER)
    listed = [r.id for r in till.rewards_for(basket)]
    # Cheapest first; not the Gold-only one, not the one on sale from 2099.
    assert listed == [
        "free-bread", "tote", "bakery-20", "three-voucher", "five-off", "big"
    ]  # fmt: skip
    till.redeem(basket, 300)  # 4,200 - 300 = 3,900: the 4,000 one is out of reach
    assert "big" not in [r.id for r in till.rewards_for(basket)]
    till.buy_reward(basket, "five-off")  # chosen: not offered again, 3,400 left
    assert [r.id for r in till.rewards_for(basket)] == [
        "free-bread", "tote", "bakery-20", "three-voucher"
    ]  # fmt: skip
    gold = member_sale(till, config, GOLD)
    assert "gold-gift" in [r.id for r in till.rewards_for(gold)]
    assert till.rewards_for(basket_of(till)) == []  # no member, no list


def test_an_amount_applied_now_comes_off_and_its_points_leave_the_balance(
    till: Till, config: TillConfig, version: int, printer: PrinterSimulator
) -> None:
    before = balance_of(till, SILVER)
    basket = member_sale(till, config, SILVER)
    subtotal = basket.subtotal_minor
    item = till.buy_reward(basket, "five-off")
    assert item.discount_minor == 500
    assert basket.total_minor == subtotal - 500
    sale, _entry, job = pay(till, basket)
    assert sale.rewards == (
        RewardPurchase(reward_id="five-off", points=500, rules_version=version, discount_minor=500),
    )
    assert sale.total_minor == subtotal - 500
    assert sale.points_spent == 500
    assert sale.points_redeemed == 0
    assert balance_of(till, SILVER) == before + sale.points_earned - 500
    text = printed(till, printer, job)
    assert "Reward: Five off -5.00" in text
    assert "Points for rewards -500" in text


def test_a_percent_comes_after_the_points_and_a_voucher_and_follows_the_basket(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    from tests.terminal.test_vouchers_at_till import issued

    voucher = issued(41, 150)
    apply_page(config, database, vouchers=(voucher,))
    bread = max(products(database, "bakery"), key=lambda p: p.price_minor)
    basket = member_sale(till, config, SILVER)
    till.add_product(basket, bread.sku, quantity=2)
    till.redeem(basket, 200)
    till.add_voucher(basket, voucher.code)
    item = till.buy_reward(basket, "bakery-20")
    reward = find_reward(till.rules(), "bakery-20")
    assert reward is not None

    def expected() -> int:
        left = basket.subtotal_minor - basket.points_discount_minor - basket.voucher_discount_minor
        return reward_discount(reward, basket.earn_lines(), left)

    assert item.discount_minor == expected() > 0
    # Another loaf, a voucher taken off: the reward is re-priced on what is left.
    bread_line = next(line for line in basket.lines if line.product.sku == bread.sku)
    till.set_quantity(basket, bread_line.line_no, 1)
    assert basket.rewards[0].discount_minor == expected()
    till.remove_voucher(basket, voucher.code)
    assert basket.rewards[0].discount_minor == expected()
    till.add_voucher(basket, voucher.code)  # back on: before the reward again
    assert basket.vouchers[0].discount_minor == 150
    assert basket.rewards[0].discount_minor == expected()
    sale, _, _ = pay(till, basket)
    assert sale.rewards[0].discount_minor == expected()
    assert sale.order_discount_minor == (
        basket.points_discount_minor + 150 + sale.rewards[0].discount_minor
    )


def test_a_free_product_needs_its_sku_and_is_refused_at_the_end_without_it(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    basket = member_sale(till, config, SILVER)
    reward = find_reward(till.rules(), "free-bread")
    assert reward is not None
    with pytest.raises(RewardRefusedError, match=f"add {reward.sku} to the sale first"):
        till.buy_reward(basket, "free-bread")
    assert basket.rewards == []
    line = till.add_product(basket, bakery_sku(database))
    item = till.buy_reward(basket, "free-bread")
    assert item.discount_minor == line.unit_price_minor
    # The bread comes off the sale again: nothing for the reward to take off.
    till.void_line(basket, line.line_no)
    assert basket.rewards[0].discount_minor == 0
    sentence = reward_refusal(
        reward, basket.earn_lines(), basket.total_minor, currency=config.currency
    )
    assert sentence is not None
    entries = journal_count(database)
    till.add_tender(basket, TenderMethod.CASH, None)
    with pytest.raises(RewardRefusedError, match=sentence):
        till.complete_sale(basket)
    assert journal_count(database) == entries
    till.remove_reward(basket, "free-bread")
    sale = till.complete_sale(basket).entry.payload
    assert isinstance(sale, Sale)
    assert sale.rewards == ()


def test_a_voucher_reward_is_issued_printed_and_usable_here_by_that_member_only(
    till: Till, config: TillConfig, database: TillDatabase, version: int, printer: PrinterSimulator
) -> None:
    before = balance_of(till, SILVER)
    basket = member_sale(till, config, SILVER)
    total = basket.total_minor
    item = till.buy_reward(basket, "three-voucher")
    assert item.discount_minor == 0
    assert basket.total_minor == total
    sale, _, job = pay(till, basket)
    (bought,) = sale.rewards
    assert bought.discount_minor == 0
    assert bought.voucher_code is not None
    code = bought.voucher_code
    assert balance_of(till, SILVER) == before + sale.points_earned - 300
    reward = find_reward(till.rules(), "three-voucher")
    assert reward is not None
    terms = voucher_terms(reward, TODAY)
    with database.read() as db:
        record = voucher_record(db, code)
    assert record is not None
    assert (record.value_minor, record.expires_on, record.member_id, record.status) == (
        300,
        (TODAY + timedelta(days=29)).isoformat(),
        f"M{SILVER:07d}",
        "issued",
    )
    assert record.expires_on == terms.expires_on.isoformat()
    text = printed(till, printer, job)
    assert f"Reward voucher Three off next time: €3.00 off, valid until {terms.expires_on}" in text
    assert code in text  # under its barcode
    # Another member cannot use it; the member can, at this till, offline.
    other = member_sale(till, config, GOLD)
    with pytest.raises(VoucherRefusedError, match="belongs to another member"):
        till.add_voucher(other, code)
    later = member_sale(till, config, SILVER)
    assert till.add_voucher(later, code).discount_minor == 300
    till.set_quantity(later, later.lines[0].line_no, 2)  # re-priced: still its €3.00
    assert [(v.code, v.discount_minor) for v in later.vouchers] == [(code, 300)]
    used, _, _ = pay(till, later)
    assert [v.code for v in used.vouchers] == [code]


def test_refusals_say_why_and_change_nothing(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    plain = basket_of(till, 600)
    with pytest.raises(RewardRefusedError, match="Scan the member's card first"):
        till.buy_reward(plain, "five-off")
    low = member_sale(till, config, LOW)
    with pytest.raises(RewardRefusedError, match="costs 500 pts; the balance is 120 pts"):
        till.buy_reward(low, "five-off")
    silver = member_sale(till, config, SILVER)
    with pytest.raises(RewardRefusedError, match="Gold gift is only for tiers gold"):
        till.buy_reward(silver, "gold-gift")
    with pytest.raises(RewardRefusedError, match="can be bought from 2099-01-01"):
        till.buy_reward(silver, "later")
    with pytest.raises(RewardRefusedError, match="There is no reward 'nope' in the program"):
        till.buy_reward(silver, "nope")
    till.buy_reward(silver, "five-off")
    with pytest.raises(RewardRefusedError, match="Five off is already on this sale"):
        till.buy_reward(silver, "five-off")
    till.redeem(silver, 1000)  # 4,200 - 500 - 1,000 = 2,700 left
    with pytest.raises(RewardRefusedError, match="Big one costs 4,000 pts; the balance is 2,700"):
        till.buy_reward(silver, "big")
    assert [r.reward_id for r in silver.rewards] == ["five-off"]
    assert [r.reward_id for r in low.rewards] == []
    assert plain.rewards == []


def test_stock_counts_hq_and_this_tills_unsent_purchases_once(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    apply_stock(config, database, {"tote": 1}, applied_through=0)
    first = member_sale(till, config, SILVER)
    assert "tote" in [r.id for r in till.rewards_for(first)]
    till.buy_reward(first, "tote")
    _, entry, _ = pay(till, first)
    # HQ's 1 + this till's purchase HQ has not applied: the 2 in stock are gone.
    second = member_sale(till, config, GOLD)
    assert "tote" not in [r.id for r in till.rewards_for(second)]
    with pytest.raises(RewardRefusedError, match=r"Tote bag is sold out \(2 issued\)"):
        till.buy_reward(second, "tote")
    # HQ applies the sale: its count now includes it, and it is not counted twice.
    apply_stock(config, database, {"tote": 2}, applied_through=entry.seq)
    with pytest.raises(RewardRefusedError, match="sold out"):
        till.buy_reward(second, "tote")
    # HQ says another till's purchase was voided: one left again.
    apply_stock(config, database, {"tote": 1}, applied_through=entry.seq)
    assert till.buy_reward(second, "tote").reward_id == "tote"


def test_a_sale_chosen_at_two_screens_cannot_oversell_at_completion(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    apply_stock(config, database, {"tote": 1}, applied_through=0)
    one, two = member_sale(till, config, SILVER), member_sale(till, config, GOLD)
    till.buy_reward(one, "tote")
    till.buy_reward(two, "tote")  # both chose the last one
    pay(till, one)
    till.add_tender(two, TenderMethod.CASH, None)
    with pytest.raises(RewardRefusedError, match="sold out"):
        till.complete_sale(two)


def test_a_void_gives_the_points_back_and_cancels_the_voucher_a_return_does_not(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    before = balance_of(till, SILVER)
    basket = member_sale(till, config, SILVER)
    till.buy_reward(basket, "three-voucher")
    till.buy_reward(basket, "five-off")
    sale, entry, _ = pay(till, basket)
    assert sale.points_spent == 800
    assert balance_of(till, SILVER) == before + sale.points_earned - 800
    code = sale.rewards[0].voucher_code
    assert code is not None
    till.void_sale(entry.seq, "customer changed their mind")
    assert balance_of(till, SILVER) == before
    with database.read() as db:
        record = voucher_record(db, code)
    assert record is not None
    assert record.status == "voided"
    later = member_sale(till, config, SILVER)
    with pytest.raises(VoucherRefusedError, match="cancelled"):
        till.add_voucher(later, code)

    # A return of everything: the points earned go back, the reward's are kept spent.
    start = balance_of(till, SILVER)
    again = member_sale(till, config, SILVER)
    till.buy_reward(again, "five-off")
    sold, sold_entry, _ = pay(till, again)
    till.return_items(sold_entry.seq, {line.line_no: line.quantity for line in sold.lines})
    assert balance_of(till, SILVER) == start - 500


def test_a_sale_left_open_comes_back_with_its_rewards(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    basket = till.start_sale()
    till.add_product(basket, basket_of(till, 600).lines[0].product.sku, quantity=3)
    till.attach_member(basket, demo_card(config, SILVER))
    till.buy_reward(basket, "five-off")
    again = Till(config, database, clock=till.clock)
    again.sign_in("1", "1234")
    resumed = again.resume_sale()
    assert [(r.reward_id, r.discount_minor) for r in resumed.basket.rewards] == [("five-off", 500)]
    assert resumed.basket.total_minor == basket.total_minor
    sale, _, _ = pay(again, resumed.basket)
    assert [r.reward_id for r in sale.rewards] == ["five-off"]


def test_the_member_leaving_the_sale_takes_the_rewards(
    till: Till, config: TillConfig, version: int
) -> None:
    basket = member_sale(till, config, SILVER)
    till.buy_reward(basket, "five-off")
    till.detach_member(basket)
    assert basket.rewards == []
    assert basket.reward_discount_minor == 0


def test_till_sale_buys_rewards_from_the_command_line(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    sku = basket_of(till, 600).lines[0].product.sku
    env = {"LOYALTILL_DATA_DIR": str(config.data_dir), "LOYALTILL_TIMEZONE": "Europe/Berlin"}
    args = ["sale", "--cashier", "1", "--pin", "1234", "--line", f"{sku}:3"]
    args += ["--card", demo_card(config, SILVER), "--tender", "cash:"]
    result = CliRunner().invoke(
        till_cli, [*args, "--reward", "five-off", "--reward", "three-voucher"], env=env
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [(r["reward_id"], r["points"], r["discount_minor"]) for r in out["rewards"]] == [
        ("five-off", 500, 500),
        ("three-voucher", 300, 0),
    ]
    assert out["rewards"][1]["voucher_code"].startswith("V-")
    entries = journal_count(database)
    refused = CliRunner().invoke(till_cli, [*args, "--reward", "gold-gift"], env=env)
    assert refused.exit_code == 1
    assert refused.output.strip().count("\n") == 0
    assert "Gold gift is only for tiers gold" in refused.output
    assert journal_count(database) == entries


def test_the_voucher_expires_on_the_store_date_it_was_issued_plus_its_days(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    basket = member_sale(till, config, SILVER)
    till.buy_reward(basket, "three-voucher")
    sale, _, _ = pay(till, basket)
    code = sale.rewards[0].voucher_code
    assert code is not None
    with database.read() as db:
        record = voucher_record(db, code)
    assert record is not None
    assert record.expires_on == str(date(2026, 12, 22))


def test_a_free_product_voucher_issued_here_gives_its_product_on_a_later_sale(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    basket = member_sale(till, config, SILVER)
    till.buy_reward(basket, "tote")  # a free bakery item, as a voucher
    sale, _, _ = pay(till, basket)
    code = sale.rewards[0].voucher_code
    assert code is not None
    reward = find_reward(till.rules(), "tote")
    assert reward is not None
    later = member_sale(till, config, SILVER)
    with pytest.raises(VoucherRefusedError, match=f"add {reward.sku} to the sale first"):
        till.add_voucher(later, code)
    line = till.add_product(later, bakery_sku(database))
    assert till.add_voucher(later, code).discount_minor == line.unit_price_minor
    till.void_line(later, line.line_no)  # the bread goes: so does what the voucher took
    assert later.vouchers == []
    till.add_product(later, bakery_sku(database))
    till.add_voucher(later, code)
    used, _, _ = pay(till, later)
    assert [(v.code, v.discount_minor) for v in used.vouchers] == [(code, line.unit_price_minor)]


def test_a_bonus_multiplier_voucher_multiplies_the_sales_points(
    till: Till, config: TillConfig, version: int, printer: PrinterSimulator
) -> None:
    basket = member_sale(till, config, GOLD)
    till.buy_reward(basket, "double")
    sale, _, _ = pay(till, basket)
    code = sale.rewards[0].voucher_code
    assert code is not None
    anonymous = basket_of(till, 600, quantity=3)
    with pytest.raises(VoucherRefusedError, match="belongs to a member"):
        till.add_voucher(anonymous, code)
    later = member_sale(till, config, GOLD)
    without = till.preview_earn(later)
    assert without is not None
    assert without.total_points > 0
    taken = till.add_voucher(later, code)
    assert taken.discount_minor == 0  # nothing off: it multiplies the points
    assert later.voucher_discount_minor == 0
    used, _, job = pay(till, later)
    assert [(v.code, v.discount_minor, v.points_bonus_reward) for v in used.vouchers] == [
        (code, 0, "double")
    ]
    assert used.earned is not None
    bonus = [item for item in used.earned.order_items if item.kind == "reward"]
    assert [(item.label, item.points) for item in bonus] == [
        ("Reward: Double points", without.total_points)
    ]
    assert used.earned.total_points == 2 * without.total_points
    # The receipt's breakdown lists it like the other bonuses ("Visit bonus 5 pts").
    text = printed(till, printer, job)
    assert f"Reward: Double points {without.total_points} pts" in text
    assert f"Points earned +{2 * without.total_points} pts" in text
