"""Returns at any till: two real tills (their own SQLite journals, ``SyncClient``) and a real
HQ (SQLite file and PostgreSQL, real uvicorn). Till B takes back goods till A sold: online it
asks HQ for the sale and reverses points exactly as A would; with HQ down it refunds the money
only, says so, and HQ raises ``return_mismatch`` naming the points once B syncs."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.codes import ReceiptRef
from shared.journal import JournalEntry, Return, Sale, TenderMethod
from terminal.store.members import card_by_number, member_balance, member_by_key
from terminal.till.receipts import POINTS_NOT_ADJUSTED
from terminal.till.returning import UNKNOWN_ENTRY_ID, OriginalUnavailableError
from tests.server.journal import return_points
from tests.server.tills import members_csv_from_till
from tests.sync.harness import Hq, SyncedTill, assert_ledger_sound, catalog_csv_of


def _store(hq: Hq, base: Path) -> tuple[SyncedTill, SyncedTill]:
    tills = [hq.open_till(base / "tills", index) for index in range(2)]
    hq.import_members(members_csv_from_till(tills[0]))
    hq.import_catalog(catalog_csv_of(tills[0]))
    for till in tills:
        till.till.hq_original = till.client.original_sale  # as `till run` wires it
    return tills[0], tills[1]


def _big_sale(till: SyncedTill, card: str) -> JournalEntry:
    """A member sale that surely earns points: three each of four earning products."""
    basket = till.till.new_basket()
    with till.database.read() as db:
        skus = [
            row[0]
            for row in db.execute(
                "SELECT sku FROM products WHERE open_price = 0 AND category NOT IN "
                "('tobacco', 'baby-formula') ORDER BY sku LIMIT 4"
            ).fetchall()
        ]
    for sku in skus:
        till.till.add_product(basket, sku, 3)
    till.till.attach_member(basket, card)
    till.till.add_tender(basket, TenderMethod.CASH, None)
    done = till.till.complete_sale(basket)
    till.tick()
    return done.entry


def _balance(till: SyncedTill, card: str) -> int:
    with till.database.read() as db:
        found = card_by_number(db, card)
        assert found is not None
        member = member_by_key(db, found.member_key)
        assert member is not None
        return member_balance(db, member)


def test_a_return_at_another_till_online_and_with_hq_down(hq: Hq, tmp_path: Path) -> None:
    till_a, till_b = _store(hq, tmp_path)
    card = till_a.cards[0]
    sale = _big_sale(till_a, card)
    assert isinstance(sale.payload, Sale)
    assert sale.payload.member is not None
    member_id = sale.payload.member.member_id
    assert sale.payload.points_earned > 0
    till_a.sync_until_done()
    till_b.sync_until_done()  # B now shows the member with the sale's points
    receipt = ReceiptRef(till_a.terminal_id, sale.seq)
    before = _balance(till_b, card)

    # Online: B asks HQ for A's sale and takes the points back as A would.
    found, lines = till_b.till.find_sale(receipt)
    assert found.entry_id == sale.entry_id
    assert [line.returnable_quantity for line in lines] == [3, 3, 3, 3]
    line_no = lines[0].line_no
    done = till_b.till.return_items(sale.seq, {line_no: 1}, original_terminal=till_a.terminal_id)
    online = done.entry.payload
    assert isinstance(online, Return)
    assert online.original.entry_id == sale.entry_id
    assert online.original_unavailable is None
    assert (online.points_reversed, online.points_restored) == return_points(sale, line_no, 1, 0)
    assert online.points_reversed > 0
    assert done.balance_after == before - online.points_reversed
    till_b.sync_until_done()
    assert hq.exceptions([till_a.terminal_id, till_b.terminal_id]) == []

    # A second look counts that return, at B and at A (A asks HQ about its own sale too).
    _, lines = till_b.till.find_sale(receipt)
    assert lines[0].returnable_quantity == 2
    _, lines = till_a.till.find_sale(sale.seq)
    assert lines[0].returnable_quantity == 2

    # HQ down: B cannot see the sale, refunds the money only and says so.
    hq.stop()
    with pytest.raises(OriginalUnavailableError) as refused:
        till_b.till.find_sale(receipt)
    assert "HQ cannot be reached" in refused.value.message
    assert "without points" in refused.value.next_step
    offline_done = till_b.till.return_without_original(
        receipt, {line_no: (1, lines[0].unit_net_minor)}
    )
    offline = offline_done.entry.payload
    assert isinstance(offline, Return)
    assert offline.original_unavailable is True
    assert offline.original.entry_id == UNKNOWN_ENTRY_ID
    assert (offline.member, offline.points_reversed, offline.points_restored) == (None, 0, 0)
    assert _balance(till_b, card) == before - online.points_reversed  # no points moved
    slip = till_b.till.receipt_for(offline_done.entry, balance_after=None, tier_after=None)
    assert slip.footer_lines[0] == POINTS_NOT_ADJUSTED
    assert slip.refund_of is not None
    assert slip.refund_of.receipt_no == f"{till_a.terminal_id}-{sale.seq}"

    # HQ back: B syncs, and HQ names the points the refund should have taken back.
    hq.start()
    till_b.sync_until_done()
    should_reverse, should_restore = return_points(sale, line_no, 1, 1)
    assert should_reverse > 0
    assert hq.exceptions([till_a.terminal_id, till_b.terminal_id]) == [
        (
            "return_mismatch",
            till_b.terminal_id,
            offline_done.entry.seq,
            member_id,
            should_reverse - should_restore,
        )
    ]
    # A's next return of that line counts both of B's returns (HQ lists them).
    _, lines = till_a.till.find_sale(sale.seq)
    assert lines[0].returnable_quantity == 1
    last = till_a.till.return_items(sale.seq, {line_no: 1})
    assert isinstance(last.entry.payload, Return)
    assert last.entry.payload.points_reversed == return_points(sale, line_no, 1, 2)[0]
    till_a.sync_until_done()
    assert len(hq.exceptions([till_a.terminal_id, till_b.terminal_id])) == 1
    assert_ledger_sound(hq)
