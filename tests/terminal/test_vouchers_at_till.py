"""Vouchers at the till (issue 13): a real till database, HQ's vouchers applied by the
till's own pull code, receipts read back from the ESC/POS printer simulator over TCP.

- A voucher known from the pull takes its value (fixed) or its share (percent, capped) off
  what is left after the points discount; the sale journals it (``Sale.vouchers``) and earns
  on the basket less both discounts (``shared.rules.compute_earn``, as HQ does).
- Refused, with the reason and the next step: not a voucher code, unknown offline, redeemed,
  voided, expired, another member's, a member's without a member, below its minimum spend,
  used at this till already, beyond the offline daily cap when HQ cannot vouch for it.
- The cap counts only what HQ has not confirmed: a pull covering the sale frees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from hardware.sim.printer_sim import PrinterSimulator
from shared.journal import Sale, TenderMethod
from shared.protocol import VoucherState
from shared.rules import EarnContext, compute_earn
from terminal.cli.main import till as till_cli
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase
from terminal.sync.client import SyncClient
from terminal.till.errors import VoucherRefusedError
from terminal.till.service import Till
from tests.terminal.conftest import MONDAY_10AM
from tests.terminal.helpers import journal_count
from tests.terminal.stored_value_helpers import (
    UNREACHABLE_HQ,
    apply_page,
    basket_of,
    printed,
    voucher_code,
)

MEMBER = 9


def issued(
    seed: int,
    value_minor: int = 500,
    *,
    percent_bp: int | None = None,
    min_spend_minor: int = 0,
    expires_on: str | None = None,
    member_id: str | None = None,
    status: str = "issued",
) -> VoucherState:
    return VoucherState(
        code=voucher_code(seed),
        value_minor=value_minor,
        percent_bp=percent_bp,
        min_spend_minor=min_spend_minor,
        expires_on=expires_on,
        member_id=member_id,
        status=status,
    )


@pytest.fixture
def printer() -> Iterator[PrinterSimulator]:
    with PrinterSimulator() as sim:
        yield sim


def test_a_fixed_voucher_comes_off_after_the_points_and_lowers_the_earn_base(
    till: Till, config: TillConfig, database: TillDatabase, printer: PrinterSimulator
) -> None:
    voucher = issued(1, 500)
    apply_page(config, database, vouchers=(voucher,))
    basket = basket_of(till, 300, quantity=10)
    till.attach_member(basket, demo_card(config, MEMBER))
    till.redeem(basket, 200)
    points_discount = basket.points_discount_minor
    # Typed in lower case with spaces: the till reads it as the code.
    added = till.add_voucher(basket, voucher.code.lower().replace("-", " "))
    assert added.discount_minor == 500
    assert basket.total_minor == basket.subtotal_minor - points_discount - 500
    till.add_tender(basket, TenderMethod.CASH, None)
    done = till.complete_sale(basket)
    sale = done.entry.payload
    assert isinstance(sale, Sale)
    assert [(v.code, v.discount_minor) for v in sale.vouchers] == [(voucher.code, 500)]
    assert sale.order_discount_minor == points_discount + 500
    # The earn base is the basket less both discounts, computed as HQ computes it.
    rules = till.rules()
    local = MONDAY_10AM.astimezone(config.zone).replace(tzinfo=None)
    context = EarnContext(store_id=config.store_id, local_time=local, tier=sale.tier)
    lines = basket.earn_lines()
    assert sale.earned == compute_earn(
        rules, lines, context, order_discount_minor=points_discount + 500
    )
    without = compute_earn(rules, lines, context, order_discount_minor=points_discount)
    assert sale.points_earned < without.total_points
    text = printed(till, printer, done.print_job_id)
    assert f"Voucher {voucher.code} -5.00" in text


def test_a_percent_voucher_is_capped_by_its_value_and_rounds_down(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    capped = issued(2, 300, percent_bp=1000)  # 10 %, at most 3.00
    uncapped = issued(3, 0, percent_bp=1250)  # 12.5 %, no cap
    apply_page(config, database, vouchers=(capped, uncapped))
    basket = basket_of(till, 500, quantity=10)
    subtotal = basket.subtotal_minor
    first = till.add_voucher(basket, capped.code)
    assert first.discount_minor == min(300, subtotal // 10)
    second = till.add_voucher(basket, uncapped.code)
    assert second.discount_minor == (subtotal - first.discount_minor) * 1250 // 10_000
    # Fewer goods: the discounts follow the basket.
    till.set_quantity(basket, basket.lines[0].line_no, 1)
    small = basket.subtotal_minor
    assert [v.discount_minor for v in basket.vouchers] == [
        min(300, small // 10),
        (small - min(300, small // 10)) * 1250 // 10_000,
    ]


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ({"status": "redeemed"}, "was already used"),
        ({"status": "voided"}, "was cancelled by HQ"),
        ({"status": "expired"}, "has expired"),
        ({"expires_on": "2026-11-22"}, r"has expired \(valid until 2026-11-22\)"),
        ({"member_id": "M0000003"}, "belongs to a member — scan their card first"),
        ({"min_spend_minor": 999_999}, "needs a spend of at least"),
    ],
)
def test_vouchers_the_till_must_not_take_are_refused_and_change_nothing(
    till: Till, config: TillConfig, database: TillDatabase, state: dict[str, object], words: str
) -> None:
    voucher = issued(4, 500, **state)  # type: ignore[arg-type]
    apply_page(config, database, vouchers=(voucher,))
    basket = basket_of(till, 300, quantity=5)
    with pytest.raises(VoucherRefusedError, match=words):
        till.add_voucher(basket, voucher.code)
    assert basket.vouchers == []


def test_a_voucher_valid_today_in_the_store_is_taken(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    voucher = issued(5, 500, expires_on=MONDAY_10AM.date().isoformat())
    apply_page(config, database, vouchers=(voucher,))
    basket = basket_of(till, 600)
    assert till.add_voucher(basket, voucher.code).discount_minor == 500


def test_a_member_voucher_needs_its_member(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    mine = issued(6, 500, member_id=f"M{MEMBER:07d}")
    apply_page(config, database, vouchers=(mine,))
    basket = basket_of(till, 600)
    till.attach_member(basket, demo_card(config, MEMBER + 1))
    with pytest.raises(VoucherRefusedError, match="belongs to another member"):
        till.add_voucher(basket, mine.code)
    till.attach_member(basket, demo_card(config, MEMBER))
    till.add_voucher(basket, mine.code)
    # The member leaves the sale: their voucher goes with them.
    till.detach_member(basket)
    assert basket.vouchers == []


def test_unknown_codes_and_garbage_are_refused_offline(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    basket = basket_of(till, 600)
    with pytest.raises(VoucherRefusedError, match="is not a voucher code"):
        till.add_voucher(basket, "V-AAAA-AAAA-AAAB")
    never_pulled = voucher_code(7)
    with pytest.raises(VoucherRefusedError) as refused:
        till.add_voucher(basket, never_pulled)
    assert str(refused.value) == (
        f"Voucher {never_pulled} is not known to this till, and this till is offline — "
        "sync with HQ, or take another form of payment"
    )


def test_a_voucher_used_here_is_refused_the_second_time(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    voucher = issued(8, 500)
    apply_page(config, database, vouchers=(voucher,))
    basket = basket_of(till, 600)
    till.add_voucher(basket, voucher.code)
    with pytest.raises(VoucherRefusedError, match="already on this sale"):
        till.add_voucher(basket, voucher.code)
    till.add_tender(basket, TenderMethod.CASH, None)
    done = till.complete_sale(basket)
    again = basket_of(till, 600)
    with pytest.raises(
        VoucherRefusedError, match=f"already used at this till \\(receipt T1-{done.entry.seq}\\)"
    ):
        till.add_voucher(again, voucher.code)
    # The same code on a basket built before the first sale completed: refused at payment.
    racing = basket_of(till, 600)
    racing.vouchers.append(type(basket.vouchers[0])(voucher.code, 500))
    racing.tenders.clear()
    till.add_tender(racing, TenderMethod.CASH, None)
    count = journal_count(database)
    with pytest.raises(VoucherRefusedError, match="already used at this till"):
        till.complete_sale(racing)
    assert journal_count(database) == count


def test_the_offline_cap_counts_what_hq_has_not_confirmed(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    # The demo rules let a till take 100.00 a day in vouchers HQ has not confirmed.
    first, second = issued(10, 6000), issued(11, 6000)
    apply_page(config, database, vouchers=(first, second))
    basket = basket_of(till, 1000, quantity=10)
    till.add_voucher(basket, first.code)
    till.add_tender(basket, TenderMethod.CASH, None)
    done = till.complete_sale(basket)
    nxt = basket_of(till, 1000, quantity=10)
    with pytest.raises(VoucherRefusedError) as refused:
        till.add_voucher(nxt, second.code)
    assert str(refused.value) == (
        "At most €40.00 more in vouchers can be taken at this till today without HQ, and this "
        "till is offline — take another form of payment"
    )
    # A till that syncs asks HQ; HQ out of reach is said as such.
    with SyncClient(UNREACHABLE_HQ, "token") as client:
        till.hq_voucher = client.voucher
        with pytest.raises(VoucherRefusedError, match="without HQ, and HQ cannot be reached"):
            till.add_voucher(nxt, second.code)
    till.hq_voucher = None
    # HQ applied the sale (its pull covers it): that voucher is HQ's to police now.
    apply_page(config, database, applied_through=done.entry.seq)
    assert till.add_voucher(nxt, second.code).discount_minor == 6000


def test_a_voucher_scan_goes_on_the_basket(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    voucher = issued(12, 250)
    apply_page(config, database, vouchers=(voucher,))
    basket = basket_of(till, 600)
    result = till.scan(basket, till.classify(voucher.code))
    assert result.kind == "voucher"
    assert [v.code for v in basket.vouchers] == [voucher.code]


def test_till_sale_takes_vouchers_from_the_command_line(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    voucher = issued(13, 500)
    apply_page(config, database, vouchers=(voucher,))
    sku = basket_of(till, 600).lines[0].product.sku
    env = {"LOYALTILL_DATA_DIR": str(config.data_dir), "LOYALTILL_TIMEZONE": "Europe/Berlin"}
    args = ["sale", "--cashier", "1", "--pin", "1234", "--line", f"{sku}:1"]
    args += ["--voucher", voucher.code, "--tender", "cash:"]
    result = CliRunner().invoke(till_cli, args, env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["vouchers"] == [{"code": voucher.code, "discount_minor": 500}]
    again = CliRunner().invoke(till_cli, args, env=env)
    assert again.exit_code == 1
    assert "already used at this till" in again.output


def test_a_sale_left_open_comes_back_with_its_vouchers(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    voucher = issued(14, 300)
    apply_page(config, database, vouchers=(voucher,))
    basket = till.start_sale()
    sku = basket_of(till, 600).lines[0].product.sku
    till.add_product(basket, sku)
    till.add_voucher(basket, voucher.code)
    # The till restarts: the sale on screen is offered back with the voucher on it.
    again = Till(config, database, clock=till.clock)
    again.sign_in("1", "1234")
    resumed = again.resume_sale()
    assert [(v.code, v.discount_minor) for v in resumed.basket.vouchers] == [(voucher.code, 300)]
    assert resumed.basket.total_minor == basket.total_minor
    again.add_tender(resumed.basket, TenderMethod.CASH, None)
    sale = again.complete_sale(resumed.basket).entry.payload
    assert isinstance(sale, Sale)
    assert [v.code for v in sale.vouchers] == [voucher.code]
