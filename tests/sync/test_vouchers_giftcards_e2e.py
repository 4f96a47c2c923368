"""Vouchers and gift cards end to end (issue 13): a real uvicorn, two real tills driven through
their own command line (``till giftcard sell``, ``till sale --voucher``, ``--tender gift:…``),
HQ's own command line (``syncserver vouchers issue``, ``giftcards show``, ``ledger rebuild
--check``) — on SQLite and PostgreSQL.

HQ issues two vouchers and till A sells a €25.00 gift card; both tills sync. Then HQ is down:
A and B both take voucher 1 (neither can know of the other's use), and B takes €10.00 off the
gift card. When HQ is back and both tills have synced, HQ holds exactly one
``voucher_reused`` (naming both receipts, for the second use's discount), voucher 2 is still
unused, the card holds €15.00 at HQ and at both tills, and the ledger replays exactly. B's
receipts (printed on the ESC/POS simulator) show the voucher taken off, and the card's last
four digits, what it paid and what is left on it.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hardware.sim.printer_sim import PrinterSimulator
from shared.codes import generate_gift_card_number
from syncserver.storage.schema import exceptions
from terminal.cli.main import till as till_cli
from tests.sync.harness import Hq, SyncedTill, assert_ledger_sound, till_config_file

VOUCHER_MINOR = 500
CARD_MINOR = 2500
SPENT_MINOR = 1000
WAIT_S = 60.0
CASHIER = ("--cashier", "1", "--pin", "1234")


def till_cli_json(config: Path, *args: str) -> dict[str, Any]:
    """A ``till`` command for the till of ``config``; it must succeed and print JSON."""
    result = CliRunner().invoke(till_cli, [*args, "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def a_product(till: SyncedTill, at_least_minor: int) -> tuple[str, int]:
    """A fixed-price product and how many of it cost at least ``at_least_minor``."""
    with till.database.read() as db:
        sku, price = db.execute(
            "SELECT sku, price_minor FROM products WHERE open_price = 0 AND price_minor > 0 "
            "ORDER BY sku LIMIT 1"
        ).fetchone()
    return str(sku), -(-at_least_minor // int(price))


@pytest.fixture
def printer() -> Iterator[PrinterSimulator]:
    with PrinterSimulator() as sim:
        yield sim


def test_a_voucher_used_twice_offline_and_a_gift_card_spent_at_another_till(
    hq: Hq, tmp_path: Path, printer: PrinterSimulator
) -> None:
    issued = hq.cli("vouchers", "issue", "--value", "5.00", "--count", "2").stdout.split()
    assert len(issued) == 2
    first, second = issued

    till_a = hq.open_till(tmp_path / "tills", 0)
    till_b = hq.open_till(tmp_path / "tills", 1)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    config_a = till_config_file(tmp_path / "a", till_a, hq.url)
    config_b = till_config_file(tmp_path / "b", till_b, hq.url)
    with config_b.open("a", encoding="utf-8") as toml:  # B prints on the ESC/POS simulator
        toml.write(f'printer_url = "{printer.url}"\n')
    card = generate_gift_card_number(till_a.config.code_config(), random.Random(13))

    sold = till_cli_json(
        config_a,
        "giftcard",
        "sell",
        *CASHIER,
        "--card",
        card,
        "--amount",
        "25.00",
        "--tender",
        "cash:25.00",
    )
    assert (sold["activation"], sold["amount_minor"], sold["balance_minor"]) == (
        True,
        CARD_MINOR,
        CARD_MINOR,
    )
    assert sold["card"].endswith(card[-4:])
    assert card[:-4] not in sold["card"]
    till_a.sync_until_done()
    till_b.sync_until_done()  # B learns the vouchers and the card (€25.00)
    assert till_cli_json(config_b, "giftcard", "balance", card)["balance_minor"] == CARD_MINOR

    # HQ is unreachable: both tills decide on what they know.
    hq.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(hq.url, timeout=10)
    sku, quantity = a_product(till_a, 2 * VOUCHER_MINOR)
    line = f"{sku}:{quantity}"
    used_a = till_cli_json(
        config_a, "sale", *CASHIER, "--line", line, "--voucher", first.lower(), "--tender", "cash"
    )
    used_b = till_cli_json(
        config_b, "sale", *CASHIER, "--line", line, "--voucher", first, "--tender", "cash"
    )
    for used in (used_a, used_b):
        assert used["vouchers"] == [{"code": first, "discount_minor": VOUCHER_MINOR}]
    sku, quantity = a_product(till_b, SPENT_MINOR + 100)
    paid = till_cli_json(
        config_b,
        "sale",
        *CASHIER,
        "--line",
        f"{sku}:{quantity}",
        "--tender",
        f"gift:{card}:10.00",
        "--tender",
        "cash",
    )
    assert paid["change_minor"] == 0
    assert paid["printed"], paid["print_message"]
    # B's receipts: the voucher taken off, then the card's last four digits, what it paid and
    # what is left on it — never the whole number.
    voucher_receipt, gift_receipt = (r.text for r in printer.wait_for_receipts(2, WAIT_S))
    assert re.search(rf"Voucher {first}\s+-5\.00", voucher_receipt), voucher_receipt
    assert re.search(rf"Gift card \S*{card[-4:]} paid\s+€10\.00", gift_receipt), gift_receipt
    assert re.search(r"Balance\s+€15\.00", gift_receipt), gift_receipt
    assert card not in voucher_receipt + gift_receipt
    offline = till_cli_json(config_b, "giftcard", "balance", card)
    assert offline["balance_minor"] == CARD_MINOR - SPENT_MINOR

    hq.start()
    till_a.sync_until_done()
    till_b.sync_until_done()
    till_a.sync_until_done()  # A pulls what B did

    with hq.database.read() as conn:
        raised = conn.execute(
            select(
                exceptions.c.kind,
                exceptions.c.terminal_id,
                exceptions.c.seq,
                exceptions.c.amount,
                exceptions.c.detail,
            ).where(exceptions.c.terminal_id.in_([till_a.terminal_id, till_b.terminal_id]))
        ).all()
    assert [(r.kind, r.terminal_id, r.seq, r.amount) for r in raised] == [
        ("voucher_reused", till_b.terminal_id, used_b["seq"], VOUCHER_MINOR)
    ]
    assert used_a["receipt_no"] in raised[0].detail
    assert used_b["receipt_no"] in raised[0].detail
    assert hq.voucher_states(issued) == {first: "redeemed", second: "issued"}
    assert hq.gift_card_balances([card]) == {card: CARD_MINOR - SPENT_MINOR}

    shown = hq.cli("giftcards", "show", card).stdout
    assert "€15.00" in shown, shown
    assert "active" in shown, shown
    for config in (config_a, config_b):
        view = till_cli_json(config, "giftcard", "balance", card)
        assert view["balance_minor"] == CARD_MINOR - SPENT_MINOR, view

    assert "difference" not in hq.cli("ledger", "rebuild", "--check").stdout.lower()
    assert_ledger_sound(hq)
