"""Campaign vouchers at the till ("spend €50, get €5 off your next visit"): a real till
database with the demo program plus a voucher campaign saved as its next rules version by the
till's own code, receipts read back from the ESC/POS printer simulator over TCP.

- A qualifying sale journals the voucher (the Sale validates), knows it here at once and
  prints it with its barcode and expiry; a sale under the threshold (after the discounts)
  gets none.
- With a member the voucher is bound to them; without one anyone holding it can use it.
- It can be used on a later sale at this till; a void of the sale cancels it.
- ``till sale`` lists it in its JSON.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from hardware.sim.printer_sim import PrinterSimulator
from shared.codes import generate_voucher_code
from shared.journal import JournalEntry, Sale, TenderMethod
from shared.protocol import VoucherState
from shared.rules import ProgramRules
from terminal.cli.main import till as till_cli
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase
from terminal.store.catalog import current_rules, save_rules
from terminal.store.journal import get_entry
from terminal.store.stored_value import voucher_record
from terminal.till.basket import Basket
from terminal.till.errors import VoucherRefusedError
from terminal.till.service import Till
from tests.terminal.conftest import MONDAY_10AM
from tests.terminal.stored_value_helpers import apply_page, basket_of, printed

SILVER = 9
GOLD = 10
TODAY = MONDAY_10AM.date()
THRESHOLD = 5000

CAMPAIGN: dict[str, Any] = {
    "id": "spend-50",
    "name": "Spend 50, get 5 off",
    "min_spend_minor": THRESHOLD,
    "voucher": {"value_minor": 500, "valid_days": 30},
}


@pytest.fixture
def version(database: TillDatabase) -> int:
    """The demo program's points campaigns plus the voucher campaign, as a pull would save it."""
    with database.read() as db:
        rules = current_rules(db)
    assert rules is not None
    document = json.loads(rules.to_json())
    document["version"] = rules.version + 1
    # Only this test's voucher campaign (the demo's own is left out, so the threshold is ours).
    points_only = [c for c in document["campaigns"] if c.get("voucher") is None]
    document["campaigns"] = [*points_only, CAMPAIGN]
    published = ProgramRules.from_json(json.dumps(document))
    with database.write() as db:
        save_rules(db, published)
    return published.version


@pytest.fixture
def printer() -> Iterator[PrinterSimulator]:
    with PrinterSimulator() as sim:
        yield sim


def big_basket(till: Till, at_least: int = THRESHOLD) -> Basket:
    """One earning product, enough units to spend at least ``at_least``."""
    basket = basket_of(till, 500)
    unit = basket.lines[0].net_minor
    till.set_quantity(basket, basket.lines[0].line_no, -(-at_least // unit))
    return basket


def pay(till: Till, basket: Basket) -> tuple[Sale, JournalEntry, int]:
    till.add_tender(basket, TenderMethod.CASH, None)
    done = till.complete_sale(basket)
    sale = done.entry.payload
    assert isinstance(sale, Sale)
    with till.database.read() as db:
        stored = get_entry(db, done.entry.seq)
    assert stored is not None
    assert stored.payload == sale  # journaled, and reads back as the shared model
    return sale, done.entry, done.print_job_id


def test_a_qualifying_sale_journals_knows_and_prints_its_voucher(
    till: Till, database: TillDatabase, version: int, printer: PrinterSimulator
) -> None:
    sale, _, job = pay(till, big_basket(till))
    (given,) = sale.campaign_vouchers
    assert (given.campaign_id, given.rules_version) == ("spend-50", version)
    code = given.voucher_code
    assert code.startswith("V-")
    with database.read() as db:
        record = voucher_record(db, code)
    assert record is not None
    until = (TODAY + timedelta(days=29)).isoformat()
    assert (record.value_minor, record.expires_on, record.member_id, record.status) == (
        500,
        until,
        None,
        "issued",
    )
    assert record.source == "campaign:spend-50"  # as HQ will name it
    text = printed(till, printer, job)
    assert f"Your voucher Spend 50, get 5 off: €5.00 off, valid until {until}" in text
    assert code in text  # under its barcode
    # Anyone holding it can use it on a later sale at this till, offline.
    later = big_basket(till, 600)
    assert till.add_voucher(later, code).discount_minor == 500
    used, _, _ = pay(till, later)
    assert [v.code for v in used.vouchers] == [code]
    with pytest.raises(VoucherRefusedError):
        till.add_voucher(big_basket(till, 600), code)


def test_a_sale_under_the_threshold_after_its_discounts_gets_none(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    small = big_basket(till, THRESHOLD - 1000)
    assert small.total_minor < THRESHOLD
    sale, _, _ = pay(till, small)
    assert sale.campaign_vouchers == ()
    assert "campaign_vouchers" not in sale.model_dump(mode="json")  # written only when set
    # €50 and more of goods, but a voucher takes what is paid under €50: none.
    basket = big_basket(till)
    code = generate_voucher_code(random.Random(7))
    off = basket.subtotal_minor - THRESHOLD + 1
    apply_page(
        config,
        database,
        vouchers=(VoucherState(code=code, value_minor=off, status="issued"),),
    )
    till.add_voucher(basket, code)
    assert basket.subtotal_minor >= THRESHOLD > basket.total_minor
    under, _, _ = pay(till, basket)
    assert under.campaign_vouchers == ()


def test_with_a_member_the_voucher_is_theirs_and_a_void_cancels_it(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    basket = big_basket(till)
    till.attach_member(basket, demo_card(config, SILVER))
    sale, entry, _ = pay(till, basket)
    (given,) = sale.campaign_vouchers
    with database.read() as db:
        record = voucher_record(db, given.voucher_code)
    assert record is not None
    assert record.member_id == f"M{SILVER:07d}"
    other = big_basket(till, 600)
    till.attach_member(other, demo_card(config, GOLD))
    with pytest.raises(VoucherRefusedError, match="belongs to another member"):
        till.add_voucher(other, given.voucher_code)
    till.void_sale(entry.seq, "customer changed their mind")
    with database.read() as db:
        record = voucher_record(db, given.voucher_code)
    assert record is not None
    assert record.status == "voided"
    mine = big_basket(till, 600)
    till.attach_member(mine, demo_card(config, SILVER))
    with pytest.raises(VoucherRefusedError, match="cancelled"):
        till.add_voucher(mine, given.voucher_code)


def test_till_sale_lists_the_campaign_vouchers(
    till: Till, config: TillConfig, database: TillDatabase, version: int
) -> None:
    basket = big_basket(till)
    line = basket.lines[0]
    env = {"LOYALTILL_DATA_DIR": str(config.data_dir), "LOYALTILL_TIMEZONE": "Europe/Berlin"}
    args = ["sale", "--cashier", "1", "--pin", "1234"]
    args += ["--line", f"{line.product.sku}:{line.quantity}", "--tender", "cash:"]
    result = CliRunner().invoke(till_cli, args, env=env)
    assert result.exit_code == 0, result.output
    (given,) = json.loads(result.output)["campaign_vouchers"]
    assert given["campaign_id"] == "spend-50"
    assert given["voucher_code"].startswith("V-")
