"""Vouchers and gift cards between real tills and a real HQ (SQLite file and PostgreSQL, real
uvicorn on loopback), issue 13: HQ issues vouchers, tills pull them and redeem offline; a gift
card sold at one till is spent at another; the tills' live lookups
(``GET /api/v1/sync/giftcard/{number}``, ``GET /api/v1/sync/voucher/{code}``) answer with
HQ's figures; a double use becomes one ``voucher_reused``."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from shared.codes import generate_gift_card_number
from shared.journal import Sale, TenderMethod
from terminal.store.stored_value import voucher_record
from terminal.till.errors import StoredValueRefusedError, VoucherRefusedError
from tests.sync.harness import Hq, SyncedTill
from tests.sync.test_client import store


def _voucher_sale(till: SyncedTill, code: str) -> Sale:
    basket = till.till.new_basket()
    for sku in till.skus[:3]:
        till.till.add_product(basket, sku, 3)
    till.till.add_voucher(basket, code)
    till.till.add_tender(basket, TenderMethod.CASH, None)
    sale = till.till.complete_sale(basket).entry.payload
    assert isinstance(sale, Sale)
    till.tick()
    return sale


def test_vouchers_and_a_gift_card_across_two_offline_tills(hq: Hq, tmp_path: Path) -> None:
    a, b = store(hq, tmp_path, tills=2)
    issued = hq.cli("vouchers", "issue", "--value", "5.00", "--count", "2").stdout.split()
    assert len(issued) == 2
    first, second = issued
    for till in (a, b):
        till.sync_until_done()

    # Both offline: the same voucher is accepted at both (the customers left with the goods).
    assert _voucher_sale(a, first).vouchers[0].discount_minor == 500
    assert _voucher_sale(b, first).vouchers[0].discount_minor == 500

    # A gift card sold at A reaches B with the next syncs, and B spends 10.00 of it.
    number = generate_gift_card_number(a.till.codes, random.Random(7))
    a.till.sell_gift_card(number, 2500, [(TenderMethod.CASH, None)])
    a.sync_until_done()
    b.sync_until_done()
    assert b.till.gift_card_balance(number).balance_minor == 2500
    basket = b.till.new_basket()
    b.till.add_product(basket, b.skus[0], 10)
    b.till.add_tender(basket, TenderMethod.GIFT_CARD, 1000, card_number=number)
    b.till.add_tender(basket, TenderMethod.CASH, None)
    b.till.complete_sale(basket)
    assert b.till.gift_card_balance(number).balance_minor == 1500

    for till in (a, b):
        till.sync_until_done()
    raised = hq.exceptions([a.terminal_id, b.terminal_id])
    reused = [row for row in raised if row[0] == "voucher_reused"]
    assert len(reused) == 1, raised
    # HQ's live answers, as the tills ask beyond their caps.
    live = b.client.gift_card(number)
    assert live.card.balance_minor == 1500
    assert live.applied_through_seq >= 1
    assert b.client.voucher(first).voucher.status == "redeemed"
    assert b.client.voucher(second).voucher.status == "issued"
    # The pull brings HQ's word: the used voucher is redeemed at both tills.
    for till in (a, b):
        with till.database.read() as db:
            record = voucher_record(db, first)
        assert record is not None
        assert record.status == "redeemed"
    # A code the till has not pulled: it asks HQ (issued: taken, and HQ vouched for it).
    with a.database.write() as db:
        db.execute("DELETE FROM vouchers WHERE code = ?", [second])
    a.till.hq_voucher = a.client.voucher
    with_a = a.till.new_basket()
    a.till.add_product(with_a, a.skus[0], 3)
    assert a.till.add_voucher(with_a, second).hq_confirmed is True
    with pytest.raises(VoucherRefusedError, match="already used"):
        a.till.add_voucher(with_a, first)
    assert b.till.gift_card_balance(number).balance_minor == 1500  # HQ's figure, once


def test_beyond_the_offline_cap_hq_confirms_a_gift_card_live(hq: Hq, tmp_path: Path) -> None:
    (a,) = store(hq, tmp_path)
    number = generate_gift_card_number(a.till.codes, random.Random(8))
    a.till.sell_gift_card(number, 20_000, [(TenderMethod.CARD, None)])
    a.sync_until_done()
    basket = a.till.new_basket()
    for sku in a.skus[:4]:
        a.till.add_product(basket, sku, 20)
    assert basket.total_minor > 12_000
    # The demo rules: 100.00 a card a day without HQ. Offline, 120.00 is refused…
    with pytest.raises(StoredValueRefusedError, match="The till is offline: at most"):
        a.till.add_tender(basket, TenderMethod.GIFT_CARD, 12_000, card_number=number)
    # …online, HQ's live balance covers it.
    a.till.hq_gift_card = a.client.gift_card
    a.till.add_tender(basket, TenderMethod.GIFT_CARD, 12_000, card_number=number)
    a.till.add_tender(basket, TenderMethod.CASH, None)
    a.till.complete_sale(basket)
    assert a.till.gift_card_balance(number).balance_minor == 8_000
    a.sync_until_done()
    assert a.client.gift_card(number).card.balance_minor == 8_000
    assert a.till.gift_card_balance(number).balance_minor == 8_000
