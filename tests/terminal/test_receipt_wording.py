"""What receipts say, read back from the ESC/POS printer simulator over TCP on loopback.

- A balance the till could not confirm with HQ (offline, or this member's earlier entries
  not yet applied by HQ) is printed as provisional; right after a sync it is not.
- A return receipt names the items and the receipt it refunds, shows the refund as a
  negative total and says "Points returned" / "Points taken back", never "earned".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hardware.printing import ReceiptPrinter
from hardware.printing.layout import PROVISIONAL_NOTE
from hardware.sim.printer_sim import PrinterSimulator
from shared.journal import Return, Sale, TenderMethod
from syncserver.storage.database import Database
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.till.printing import PrintQueue, ReceiptSink
from terminal.till.results import SaleDone
from terminal.till.service import Till
from tests.server.tills import members_csv_from_till
from tests.sync.harness import running_hq
from tests.terminal.helpers import products

WAIT_S = 30.0


@pytest.fixture
def config(tmp_path: Path) -> TillConfig:
    return TillConfig(
        data_dir=tmp_path / "till",
        timezone="Europe/Berlin",
        terminal_id="T1",
        store_name="Café Lindenhof",
        store_address=("Hauptstraße 12", "10115 Berlin"),
    )


@pytest.fixture
def printer() -> Iterator[PrinterSimulator]:
    with PrinterSimulator() as sim:
        yield sim


def _printer_at(sim: PrinterSimulator) -> Callable[[], ReceiptSink]:
    return lambda: ReceiptPrinter(sim.url, "TM-T88V", timeout_s=WAIT_S)


def printed(till: Till, sim: PrinterSimulator, job: int) -> list[str]:
    """Print queue job ``job`` on the simulator; its text as lines, trailing spaces cut."""
    before = len(sim.receipts)
    outcome = PrintQueue(till, _printer_at(sim)).print_job(job)
    assert outcome.ok, outcome.message
    receipt = sim.wait_for_receipts(before + 1, WAIT_S)[before]
    return [line.rstrip() for line in receipt.text.splitlines()]


def _member_with_at_least(till: Till, config: TillConfig, points: int) -> int:
    return next(n for n in range(1, 61) if till.member_view(demo_card(config, n)).balance >= points)


def _sell(
    till: Till, config: TillConfig, card: int, *, items: int = 3, redeem: int = 0
) -> SaleDone:
    basket = till.new_basket()
    for product in products(till.database)[:items]:
        till.add_product(basket, product.sku, quantity=2)
    till.attach_member(basket, demo_card(config, card))
    if redeem:
        till.redeem(basket, redeem)
    till.add_tender(basket, TenderMethod.CASH, None)
    return till.complete_sale(basket)


def words(lines: list[str]) -> str:
    """The receipt as one line of words: wrapping and column padding do not matter."""
    return " ".join(" ".join(lines).split())


def provisional_balance(balance: int | None) -> str:
    return f"New balance (provisional) {balance:,} pts {PROVISIONAL_NOTE}"


def test_an_offline_sale_prints_its_balance_as_provisional(
    till: Till, config: TillConfig, printer: PrinterSimulator
) -> None:
    # This till has never reached HQ: every balance it prints is its own view.
    member = _member_with_at_least(till, config, 0)
    done = _sell(till, config, member)
    text = words(printed(till, printer, done.print_job_id))
    assert provisional_balance(done.balance_after) in text
    assert "(provisional)" in text
    assert "confirmed when the till syncs" in text
    # A reprint says what the original said.
    copy = words(printed(till, printer, till.reprint(done.entry.seq)))
    assert "REPRINT" in copy
    assert provisional_balance(done.balance_after) in copy


def test_right_after_a_sync_the_balance_is_confirmed_until_the_member_has_unsent_entries(
    tmp_path: Path, printer: PrinterSimulator
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'hq.sqlite3'}")
    try:
        with running_hq(database, tmp_path) as hq:
            synced = hq.open_till(tmp_path)
            hq.import_members(members_csv_from_till(synced))
            # The till's clock is the real one here: "within the last minute" is real time.
            synced.clock.now = datetime.now(UTC)
            synced.sync_until_done()
            till, config = synced.till, synced.config
            synced.clock.now = datetime.now(UTC)
            first = _sell(till, config, 2)
            confirmed = words(printed(till, printer, first.print_job_id))
            assert f"New balance {first.balance_after:,} pts" in confirmed
            assert "provisional" not in confirmed
            # The same member again before HQ has seen the first sale: HQ cannot vouch for
            # the balance yet, even though the till is online.
            second = _sell(till, config, 2)
            assert second.balance_after != first.balance_after
            assert provisional_balance(second.balance_after) in words(
                printed(till, printer, second.print_job_id)
            )
            # Another member, with nothing unsent, is still confirmed.
            other = _sell(till, config, 3)
            assert "provisional" not in words(printed(till, printer, other.print_job_id))
            # Once both sales reached HQ and came back, the member is confirmed again.
            synced.clock.now = datetime.now(UTC)
            synced.sync_until_done()
            synced.clock.now = datetime.now(UTC)
            third = _sell(till, config, 2)
            assert "provisional" not in words(printed(till, printer, third.print_job_id))
    finally:
        database.dispose()


def test_a_return_receipt_names_items_and_the_original_with_a_negative_total(
    till: Till, config: TillConfig, printer: PrinterSimulator
) -> None:
    member = _member_with_at_least(till, config, 500)
    sale_done = _sell(till, config, member, redeem=300)
    sale = sale_done.entry.payload
    assert isinstance(sale, Sale)
    returned_line, kept_line = sale.lines[0], sale.lines[1]
    done = till.return_items(sale_done.entry.seq, {returned_line.line_no: 1})
    ret = done.entry.payload
    assert isinstance(ret, Return)
    lines = printed(till, printer, done.print_job_id)
    text = "\n".join(lines)

    assert "RETURN" in text
    assert re.search(rf"Refund for receipt +{re.escape(sale.receipt_no)}", text)
    assert re.search(r"Sold +2026-11-23 10:00", text)  # the sale's local time (Berlin)
    # The item, by name, with its negative amount; the kept item is not on it.
    assert returned_line.description in text
    assert kept_line.description not in text
    refund = ret.refund_minor
    assert refund > 0
    euros = f"{refund // 100}.{refund % 100:02d}"
    assert re.search(rf"TOTAL +-€{re.escape(euros)}", text)
    assert re.search(rf"Cash refund +-€{re.escape(euros)}", text)
    # Points: what came back to the member and what the return took back; never "earned".
    assert re.search(r"Points returned +\+\d+ pts", text)
    assert ret.points_restored > 0
    assert f"+{ret.points_restored} pts" in text
    if ret.points_reversed:
        assert re.search(rf"Points taken back +-{ret.points_reversed} pts", text)
    assert "earned" not in text.lower()
    assert provisional_balance(done.balance_after) in words(lines)  # an offline till


def test_the_sale_receipt_still_says_points_earned(
    till: Till, config: TillConfig, printer: PrinterSimulator
) -> None:
    done = _sell(till, config, _member_with_at_least(till, config, 0))
    text = "\n".join(printed(till, printer, done.print_job_id))
    assert re.search(r"Points earned +\+\d+ pts", text)
    assert "Points returned" not in text
    assert "RETURN" not in text.replace("Returns within", "")
    assert "Café Lindenhof" in text
    assert "Hauptstraße 12" in text
