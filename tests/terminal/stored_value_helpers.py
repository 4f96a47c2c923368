"""Shared set-up for the voucher and gift-card till tests: HQ's pull pages applied by the
till's own pull code, baskets, and receipts read back from the printer simulator over TCP."""

from __future__ import annotations

import random
from collections.abc import Callable

from hardware.printing import ReceiptPrinter
from hardware.sim.printer_sim import PrinterSimulator
from shared.codes import generate_gift_card_number, generate_voucher_code
from shared.protocol import CardState, MemberState, PullResponse, StoredValueState, VoucherState
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase
from terminal.store.journal import journal_tip
from terminal.store.members import member_by_key
from terminal.sync.client import SyncClient
from terminal.sync.engine import SyncEngine
from terminal.till.basket import Basket
from terminal.till.printing import PrintQueue, ReceiptSink
from terminal.till.service import Till
from tests.terminal.helpers import products

WAIT_S = 30.0
_NO_POINTS = ("tobacco", "alcohol", "baby-formula", "reusable-bags")
UNREACHABLE_HQ = "http://127.0.0.1:9"
"""Nothing listens on the discard port of loopback: a real client gets a real refusal."""


def voucher_code(seed: int) -> str:
    return generate_voucher_code(random.Random(seed))


def gift_number(till: Till, seed: int) -> str:
    return generate_gift_card_number(till.codes, random.Random(seed))


def apply_page(
    config: TillConfig,
    database: TillDatabase,
    *,
    vouchers: tuple[VoucherState, ...] = (),
    gift_cards: tuple[StoredValueState, ...] = (),
    members: tuple[MemberState, ...] = (),
    applied_through: int | None = None,
) -> None:
    """HQ's pull page, applied by the till's own code (``SyncEngine._apply``);
    ``applied_through``: which of this till's entries HQ's figures include (default: all)."""
    with database.read() as db:
        tip, _ = journal_tip(db)
    page = PullResponse(
        cursor="c1",
        more=False,
        applied_through_seq=tip if applied_through is None else applied_through,
        members=list(members),
        vouchers=list(vouchers),
        gift_cards=list(gift_cards),
    )
    with SyncClient(UNREACHABLE_HQ, "unused") as client:
        SyncEngine(config, database, client)._apply(page)


def member_state(
    config: TillConfig, database: TillDatabase, serial: int, *, store_credit_minor: int
) -> MemberState:
    """Demo member ``serial`` as HQ would send it, with ``store_credit_minor``."""
    with database.read() as db:
        member = member_by_key(db, f"M{serial:07d}")
    assert member is not None
    return MemberState(
        member_id=member.member_key,
        name=member.name,
        phone=member.phone,
        email=member.email,
        tier=member.tier,
        balance=member.server_balance,
        cards=[CardState(card_number=demo_card(config, serial), status="active")],
        store_credit_minor=store_credit_minor,
    )


def basket_of(till: Till, minor_at_least: int = 0, quantity: int = 1) -> Basket:
    """A basket of one fixed-price product costing at least ``minor_at_least`` each, of a
    category that earns points."""
    basket = till.new_basket()
    product = next(
        p
        for p in products(till.database)
        if p.price_minor >= max(minor_at_least, 1) and p.category not in _NO_POINTS
    )
    till.add_product(basket, product.sku, quantity=quantity)
    return basket


def _printer_at(sim: PrinterSimulator) -> Callable[[], ReceiptSink]:
    return lambda: ReceiptPrinter(sim.url, "TM-T88V", timeout_s=WAIT_S)


def printed(till: Till, sim: PrinterSimulator, job: int) -> str:
    """Print queue job ``job`` on the simulator; its words in one line."""
    before = len(sim.receipts)
    outcome = PrintQueue(till, _printer_at(sim)).print_job(job)
    assert outcome.ok, outcome.message
    receipt = sim.wait_for_receipts(before + 1, WAIT_S)[before]
    return " ".join(receipt.text.split())
