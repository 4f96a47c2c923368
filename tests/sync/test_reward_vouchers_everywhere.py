"""Reward vouchers redeemed at another till (docs/vouchers.md, "Reward vouchers"): real tills
and a real uvicorn, on SQLite and PostgreSQL. A member buys, at till A, a free-product voucher,
a percentage voucher limited to one category and a double-points voucher; HQ's pull tells
till B each voucher's source and categories; at till B the free product takes one unit of its
product off, the percentage only its category's share of what is left after the points
discount, and the double points doubles the sale's points; HQ backs all three uses (no
exception: no ``rules_mismatch`` either) and marks them redeemed for what the till took.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from shared.journal import Sale, TenderMethod
from syncserver.storage.schema import vouchers
from terminal.demo.seed import demo_card
from terminal.till.basket import Basket
from tests.server.helpers import demo_rules_json
from tests.server.tills import members_csv_from_till
from tests.sync.harness import Hq, SyncedTill, assert_converged, catalog_csv_of

SILVER = 9
"""Demo member 9: Silver, 4,200 points."""

_EXCLUDED = (
    "'tobacco', 'gift-cards', 'lottery', 'deposits', 'phone-top-up', 'baby-formula', 'alcohol'"
)


def two_products(till: SyncedTill) -> tuple[tuple[str, str, int], tuple[str, str, int]]:
    """(sku, category, price) of two ordinary products in different categories."""
    with till.database.read() as db:
        rows = db.execute(
            "SELECT sku, category, price_minor FROM products WHERE open_price = 0 "
            f"AND price_minor >= 200 AND category NOT IN ({_EXCLUDED}) ORDER BY sku"
        ).fetchall()
    first = rows[0]
    second = next(row for row in rows if row[1] != first[1])
    return (str(first[0]), str(first[1]), int(first[2])), (
        str(second[0]),
        str(second[1]),
        int(second[2]),
    )


def catalog_rules(free_sku: str, category: str) -> str:
    document = json.loads(demo_rules_json())
    document["version"] += 1
    document["rewards"] = [
        {"id": "free-one", "name": "A free one", "points": 150, "kind": "free_product",
         "sku": free_sku, "valid_days": 30},
        {"id": "cat-pct", "name": "Twenty percent off one aisle", "points": 200,
         "kind": "voucher_percent", "percent_bp": 2000, "categories": [category],
         "valid_days": 30},
        {"id": "double", "name": "Double points", "points": 300, "kind": "bonus_multiplier",
         "multiplier": "2", "valid_days": 30},
    ]  # fmt: skip
    return json.dumps(document)


def complete(till: SyncedTill, basket: Basket) -> Sale:
    till.till.add_tender(basket, TenderMethod.CASH, None)
    done = till.till.complete_sale(basket)
    till.tick()
    assert isinstance(done.entry.payload, Sale)
    return done.entry.payload


def test_reward_vouchers_issued_at_one_till_are_redeemed_at_another(hq: Hq, tmp_path: Path) -> None:
    till_a = hq.open_till(tmp_path / "tills", 0)
    till_b = hq.open_till(tmp_path / "tills", 1)
    (free_sku, _, free_price), (other_sku, other_category, other_price) = two_products(till_a)
    rules = tmp_path / "rewards.json"
    rules.write_text(catalog_rules(free_sku, other_category), encoding="utf-8")
    assert "published" in hq.cli("program", "load", str(rules)).stdout
    hq.import_members(members_csv_from_till(till_a))
    hq.import_catalog(catalog_csv_of(till_a))
    for till in (till_a, till_b):
        till.sync_until_done()
    silver = demo_card(till_a.config, SILVER)

    buying = till_a.till.new_basket()
    till_a.till.add_product(buying, free_sku, 1)
    till_a.till.attach_member(buying, silver)
    till_a.till.buy_reward(buying, "free-one")
    till_a.till.buy_reward(buying, "cat-pct")
    till_a.till.buy_reward(buying, "double")
    bought = complete(till_a, buying)
    free_code, pct_code, double_code = (purchase.voucher_code for purchase in bought.rewards)
    assert free_code is not None
    assert pct_code is not None
    assert double_code is not None
    till_a.sync_until_done()
    till_b.sync_until_done()
    with till_b.database.read() as db:
        known = {
            str(row[0]): (row[1], row[2])
            for row in db.execute("SELECT code, source, categories FROM vouchers").fetchall()
        }
    assert known[free_code] == ("reward:free-one", None)
    assert known[pct_code] == ("reward:cat-pct", json.dumps([other_category]))

    # At till B: two of the free product, three of the other aisle, 200 points off first.
    using = till_b.till.new_basket()
    till_b.till.add_product(using, free_sku, 2)
    till_b.till.add_product(using, other_sku, 3)
    till_b.till.attach_member(using, demo_card(till_b.config, SILVER))
    till_b.till.redeem(using, 200)
    subtotal = 2 * free_price + 3 * other_price
    points_off = using.points_discount_minor
    assert points_off > 0
    free = till_b.till.add_voucher(using, free_code)
    assert free.discount_minor == min(
        free_price, 2 * free_price * (subtotal - points_off) // subtotal
    )
    pct = till_b.till.add_voucher(using, pct_code)
    left = subtotal - points_off - free.discount_minor
    share = 3 * other_price * left // subtotal
    assert pct.discount_minor == share * 2000 // 10_000
    without_bonus = till_b.till.preview_earn(using)
    assert without_bonus is not None
    assert till_b.till.add_voucher(using, double_code).discount_minor == 0
    used = complete(till_b, using)
    assert [(v.code, v.discount_minor) for v in used.vouchers] == [
        (free_code, free.discount_minor),
        (pct_code, pct.discount_minor),
        (double_code, 0),
    ]
    assert used.points_earned == 2 * without_bonus.total_points
    till_b.sync_until_done()
    till_a.sync_until_done()

    assert hq.exceptions([till_a.terminal_id, till_b.terminal_id]) == []
    with hq.database.read() as conn:
        rows = {
            row.code: (row.status, row.redeemed_terminal, row.discount_minor)
            for row in conn.execute(
                select(vouchers).where(vouchers.c.code.in_([free_code, pct_code, double_code]))
            )
        }
    assert rows == {
        free_code: ("redeemed", till_b.terminal_id, free.discount_minor),
        pct_code: ("redeemed", till_b.terminal_id, pct.discount_minor),
        double_code: ("redeemed", till_b.terminal_id, 0),
    }
    assert_converged(hq, [till_a, till_b])
