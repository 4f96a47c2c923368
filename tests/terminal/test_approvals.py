"""Supervisor approvals at the till (terminal/till/approvals.py): who may approve, a refund
above the till's limit, a line's price changed, and what the journal keeps of it.

The supervisors are HQ's: pulled from a real server on loopback, or written exactly as a pull
writes them (``apply_hq_cashier``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hardware.printing.layout import TextLine, layout_receipt
from shared.journal import (
    EntryRef,
    JournalEntry,
    MemberRef,
    PriceOverride,
    Return,
    ReturnLine,
    Sale,
    Tender,
    TenderMethod,
)
from shared.pins import new_pin_hash
from shared.protocol import CashierState
from syncserver.storage.database import Database
from terminal.config import TillConfig, load_config
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase, open_database
from terminal.store.cashiers import Cashier, apply_hq_cashier
from terminal.store.open_sale import SavedOpenSale, read_open_sale
from terminal.sync.client import SyncClient
from terminal.sync.engine import SyncEngine
from terminal.till.approvals import (
    NOT_A_SUPERVISOR,
    PriceChangeRefusedError,
    SupervisorNeededError,
    approve,
)
from terminal.till.basket import basket_from_document
from terminal.till.errors import SignInFailedError
from terminal.till.receipts import receipt_for_entry
from terminal.till.service import Till
from tests.shared.journal_samples import CARD, T0, entry_uuid, sample_sale
from tests.sync.harness import PATIENT, running_hq
from tests.terminal.conftest import FakeClock
from tests.terminal.helpers import journal_count, products

SUPERVISOR_ID, SUPERVISOR_PIN = "SUP9", "86420"
"""HQ allows letters in a cashier id; the till's supervisor field must too."""


def _hq_cashier(
    database: TillDatabase, cashier_id: str, name: str, pin: str, role: str, *, disabled: bool
) -> None:
    """A cashier row exactly as a pull writes it (origin ``hq``, HQ's hash)."""
    salt, digest = new_pin_hash(pin)
    state = CashierState(
        cashier_id=cashier_id,
        name=name,
        role=role,
        pin_scheme="scrypt:16384:8:1",
        pin_salt=salt,
        pin_hash=digest,
        disabled=disabled,
    )
    with database.write() as db:
        apply_hq_cashier(db, state)


@pytest.fixture
def supervisor(database: TillDatabase) -> Cashier:
    _hq_cashier(database, SUPERVISOR_ID, "Sam Okafor", SUPERVISOR_PIN, "supervisor", disabled=False)
    return approve(database, SUPERVISOR_ID, SUPERVISOR_PIN)


def _till(config: TillConfig, database: TillDatabase, clock: FakeClock, **settings: object) -> Till:
    till = Till(config.model_copy(update=settings), database, clock=clock)
    till.sign_in("1", "1234")  # Alex, a cashier
    return till


# --- the journal: an approval is recorded, and nothing else changes ----------------------------


def _return_payload(**extra: object) -> Return:
    return Return(
        store_id="S001",
        receipt_no="T1-2",
        currency="EUR",
        original=EntryRef(terminal_id="T1", seq=1, entry_id=entry_uuid(1)),
        lines=(ReturnLine(original_line_no=1, quantity=1, refund_minor=101),),
        refund_minor=101,
        tenders=(Tender(method=TenderMethod.CASH, amount_minor=101),),
        member=MemberRef(card_number=CARD),
        reason="faulty",
        **extra,
    )


def test_entries_without_an_approval_hash_exactly_as_before_the_fields_existed() -> None:
    # Hashes computed by the code before price_override/approved_by were added: an entry
    # without an approval must stay byte for byte what it was (older HQs accept it too).
    sale = JournalEntry.create(
        previous=None,
        terminal_id="T1",
        entry_id=entry_uuid(1),
        occurred_at=T0,
        utc_offset_min=60,
        cashier_id="C07",
        payload=sample_sale(1),
    )
    refund = JournalEntry.create(
        previous=sale,
        terminal_id="T1",
        entry_id=entry_uuid(2),
        occurred_at=T0,
        utc_offset_min=60,
        cashier_id="C07",
        payload=_return_payload(),
    )
    assert sale.hash == "d8f8584d2c8ff7cbd3d86aad2d58018b5a245dc9b70b5421dd3a1a295d878dae"
    assert refund.hash == "1960eada0bfe3c5b7b36fbc3e241a3b3f4c6d1d9ed45d4c00b38927a8ae99a61"
    assert b"price_override" not in sale.to_canonical_json()
    assert b"approved_by" not in refund.to_canonical_json()

    approved = JournalEntry.create(
        previous=sale,
        terminal_id="T1",
        entry_id=entry_uuid(2),
        occurred_at=T0,
        utc_offset_min=60,
        cashier_id="C07",
        payload=_return_payload(approved_by=SUPERVISOR_ID),
    )
    record = approved.to_record()
    assert record["payload"]["approved_by"] == SUPERVISOR_ID
    assert approved.hash != refund.hash  # the approval is covered by the hash
    assert JournalEntry.model_validate(record) == approved


def test_a_price_override_must_change_the_price() -> None:
    line = sample_sale(1).lines[0]
    with pytest.raises(ValueError, match="must change the price"):
        line.model_validate(
            {
                **line.model_dump(),
                "price_override": {
                    "original_price_minor": line.unit_price_minor,
                    "approved_by": SUPERVISOR_ID,
                },
            }
        )


# --- who may approve --------------------------------------------------------------------------


def test_only_an_enabled_supervisor_with_their_pin_approves_with_one_refusal(
    database: TillDatabase, supervisor: Cashier
) -> None:
    assert supervisor == Cashier(SUPERVISOR_ID, "Sam Okafor", "supervisor")
    _hq_cashier(database, "K1", "Kim Lee", "24680", "supervisor", disabled=True)
    _hq_cashier(database, "7", "Ann Weber", "86421", "cashier", disabled=False)
    refusals = []
    for number, pin in (
        (SUPERVISOR_ID, "1111"),  # the wrong PIN
        ("K1", "24680"),  # disabled at HQ
        ("7", "86421"),  # a cashier, with her own PIN
        ("NOBODY", "1234"),  # no such id
    ):
        with pytest.raises(SignInFailedError) as refused:
            approve(database, number, pin)
        refusals.append(str(refused.value))
    assert refusals == [f"{NOT_A_SUPERVISOR} — try again"] * 4


def test_supervisors_pulled_from_hq_approve_offline(sqlite_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "server.sqlite3"
    shutil.copyfile(sqlite_template, path)
    server = Database(f"sqlite:///{path}")
    base = tmp_path / "hq"
    base.mkdir()
    try:
        with running_hq(server, base) as hq:
            terminal_id, token = hq.add_terminal("Front till")
            config = TillConfig(
                data_dir=tmp_path / "till",
                timezone="UTC",
                terminal_id=terminal_id,
                server_url=hq.url,
                server_token=token,
            )
            database = open_database(config.database_path)
            client = SyncClient(hq.url, token, timeout=PATIENT)
            try:
                # A till with no supervisor yet says so, and how to get one.
                with pytest.raises(SignInFailedError, match="No supervisor is set up"):
                    approve(database, "SUP9", SUPERVISOR_PIN)
                hq.cli(
                    "cashier", "add", "--store", "S001", "--id", "SUP9", "--name", "Sam",
                    "--pin", SUPERVISOR_PIN, "--role", "supervisor",
                )  # fmt: skip
                hq.cli(
                    "cashier", "add", "--store", "S001", "--id", "Kim", "--name", "Kim",
                    "--pin", "24680", "--role", "supervisor",
                )  # fmt: skip
                hq.cli("cashier", "disable", "Kim")
                hq.cli("cashier", "add", "--store", "S001", "--id", "7", "--name", "Ann",
                       "--pin", "86421")  # fmt: skip
                SyncEngine(config, database, client).sync_once()
                hq.stop()  # approvals are checked offline, against the pulled hashes

                assert approve(database, "SUP9", SUPERVISOR_PIN).name == "Sam"
                for number, pin in (("Kim", "24680"), ("7", "86421"), ("SUP9", "0000")):
                    with pytest.raises(SignInFailedError, match=NOT_A_SUPERVISOR):
                        approve(database, number, pin)
            finally:
                client.close()
                database.close()
    finally:
        server.dispose()


# --- a refund above the limit -----------------------------------------------------------------


def _sale(till: Till, database: TillDatabase, quantity: int) -> tuple[int, int]:
    """A sale of ``quantity`` of the dearest product: (its seq, the unit price)."""
    product = max(products(database), key=lambda p: p.price_minor)
    basket = till.new_basket()
    till.add_product(basket, product.sku, quantity)
    till.add_tender(basket, TenderMethod.CASH, None)
    return till.complete_sale(basket).entry.seq, product.price_minor


def test_a_refund_above_the_limit_needs_a_supervisor_and_names_them(
    config: TillConfig, database: TillDatabase, clock: FakeClock, supervisor: Cashier
) -> None:
    probe = _till(config, database, clock)
    seq, price = _sale(probe, database, 3)
    till = _till(config, database, clock, refund_limit_minor=price)  # one item: at the limit

    one = till.return_items(seq, {1: 1})  # exactly the limit: no one is asked
    assert isinstance(one.entry.payload, Return)
    assert one.entry.payload.approved_by is None
    assert "approved_by" not in one.entry.to_record()["payload"]

    before = journal_count(database)
    with pytest.raises(SupervisorNeededError) as refused:
        till.return_items(seq, {1: 2})
    assert "is above this till's limit of" in str(refused.value)
    assert journal_count(database) == before  # nothing was journaled
    cashier = Cashier("1", "Alex Meyer", "cashier")
    with pytest.raises(SupervisorNeededError):
        till.return_items(seq, {1: 2}, supervisor=cashier)  # a cashier cannot approve

    two = till.return_items(seq, {1: 2}, supervisor=supervisor)
    assert isinstance(two.entry.payload, Return)
    assert two.entry.payload.refund_minor == 2 * price
    assert two.entry.payload.approved_by == SUPERVISOR_ID
    assert two.entry.cashier_id == "1"  # the cashier made it; the supervisor approved it


def test_the_refund_limit_is_a_till_setting(tmp_path: Path) -> None:
    path = tmp_path / "till.toml"
    path.write_text("[till]\nrefund_limit_minor = 20000\nprice_override = false\n")
    config = load_config(path, environ={})
    assert (config.refund_limit_minor, config.price_override) == (20000, False)
    assert (TillConfig().refund_limit_minor, TillConfig().price_override) == (5000, True)


# --- a line's price ---------------------------------------------------------------------------


def test_a_supervisor_changes_a_price_and_the_sale_records_it(
    config: TillConfig, database: TillDatabase, clock: FakeClock, supervisor: Cashier
) -> None:
    till = _till(config, database, clock)
    product = max(products(database), key=lambda p: p.price_minor)
    basket = till.new_basket()
    till.attach_member(basket, demo_card(config, 1))
    till.add_product(basket, product.sku, 2)
    at_catalog = till.preview_earn(basket)
    assert at_catalog is not None

    with pytest.raises(SupervisorNeededError):
        till.change_price(basket, 1, 100, None)
    with pytest.raises(SupervisorNeededError):
        till.change_price(basket, 1, 100, Cashier("1", "Alex Meyer", "cashier"))
    assert basket.line(1).unit_price_minor == product.price_minor

    line = till.change_price(basket, 1, 100, supervisor)
    assert (line.unit_price_minor, line.original_price_minor) == (100, product.price_minor)
    assert basket.total_minor == 200

    till.add_tender(basket, TenderMethod.CASH, None)
    done = till.complete_sale(basket)

    sale = done.entry.payload
    assert isinstance(sale, Sale)
    assert sale.lines[0].unit_price_minor == 100
    assert sale.lines[0].price_override == PriceOverride(
        original_price_minor=product.price_minor, approved_by=SUPERVISOR_ID
    )
    # Points are earned on what was paid, not on the catalog price.
    assert sale.earned is not None
    assert sale.earned.lines[0].net_minor == 200
    assert sale.earned.total_points < at_catalog.total_points

    receipt = receipt_for_entry(done.entry, config, balance_after=0, tier_after=None)
    note = f"Price changed from {product.price_minor / 100:.2f} (supervisor {SUPERVISOR_ID})"
    assert receipt.lines[0].note == note
    printed = [op.text for op in layout_receipt(receipt, 48) if isinstance(op, TextLine)]
    assert printed[printed.index("  2 x 1.00") + 1] == f"  {note}"  # under its line


def test_the_open_sale_keeps_a_changed_price(
    config: TillConfig, database: TillDatabase, clock: FakeClock, supervisor: Cashier
) -> None:
    till = _till(config, database, clock)
    product = products(database)[0]
    basket = till.start_sale()
    till.add_product(basket, product.sku)
    till.change_price(basket, 1, product.price_minor + 50, supervisor)
    with database.read() as db:
        kept = read_open_sale(db)
    assert isinstance(kept, SavedOpenSale)  # a crash now offers the change back, approved
    back = basket_from_document(kept.document, None)
    line = back.line(1)
    assert line.unit_price_minor == product.price_minor + 50
    assert (line.original_price_minor, line.price_approved_by) == (
        product.price_minor,
        SUPERVISOR_ID,
    )
    assert line.product.price_minor == product.price_minor  # the catalog's, not the override


def test_what_a_price_change_refuses(
    config: TillConfig, database: TillDatabase, clock: FakeClock, supervisor: Cashier
) -> None:
    till = _till(config, database, clock)
    product = products(database)[0]
    basket = till.new_basket()
    till.add_product(basket, product.sku)
    till.add_product(basket, "DEPT-GROCERY", 1, 249)

    with pytest.raises(PriceChangeRefusedError, match="already costs"):
        till.change_price(basket, 1, product.price_minor, supervisor)
    with pytest.raises(PriceChangeRefusedError, match="sold at the price keyed with it"):
        till.change_price(basket, 2, 100, supervisor)  # an open-price department
    # A fixed-price product keyed with another price is a price change, too.
    with pytest.raises(PriceChangeRefusedError, match="another price needs a supervisor"):
        till.add_product(basket, product.sku, 1, product.price_minor - 1)
    assert len(basket.lines) == 2
    line = till.add_product(basket, product.sku, 1, product.price_minor)  # its own price: fine
    assert line.unit_price_minor == product.price_minor

    # Back at the catalog price nobody need approve, and the line is an ordinary one again.
    till.change_price(basket, 1, product.price_minor + 10, supervisor)
    till.change_price(basket, 1, product.price_minor, None)
    assert (basket.line(1).original_price_minor, basket.line(1).price_approved_by) == (None, None)

    locked = _till(config, database, clock, price_override=False)
    with pytest.raises(PriceChangeRefusedError, match="Prices cannot be changed on this till"):
        locked.change_price(basket, 1, 100, supervisor)
