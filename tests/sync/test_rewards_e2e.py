"""Rewards end to end (issue 13): real tills (their own reward code) and a real uvicorn, on
SQLite and PostgreSQL. HQ publishes a catalog; a member buys, at till A, a reward applied now
after a points discount, a percentage reward after it, and a voucher reward; tills A and B,
offline from each other, each sell the last of a reward with a stock of one. After the sync
HQ re-prices every purchase exactly as the till did (no ``reward_mismatch``, no
``rules_mismatch``), raises the one ``reward_oversold``, holds the reward voucher bound to the
member and sends it to till B, and the balances agree. A void at till A gives the points back
and voids the voucher at HQ; ``ledger rebuild --check`` replays all of it.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from shared.journal import Sale, TenderMethod
from syncserver.storage.schema import reward_counts, vouchers
from terminal.demo.seed import demo_card
from terminal.till.basket import Basket
from tests.server.helpers import demo_rules_json
from tests.server.tills import members_csv_from_till
from tests.sync.harness import Hq, SyncedTill, assert_converged, catalog_csv_of

SILVER = 9
"""Demo member 9: Silver, 4,200 points."""
OTHER = 10


def catalog_rules() -> str:
    document = json.loads(demo_rules_json())
    document["version"] += 1
    document["rewards"] = [
        {"id": "two-off", "name": "Two off", "points": 200, "kind": "voucher_amount",
         "value_minor": 200, "delivery": "apply_now"},
        {"id": "ten-pct", "name": "Ten percent", "points": 300, "kind": "voucher_percent",
         "percent_bp": 1000, "delivery": "apply_now"},
        {"id": "three-next", "name": "Three off next time", "points": 250,
         "kind": "voucher_amount", "value_minor": 300, "valid_days": 30},
        {"id": "last-one", "name": "The last one", "points": 100, "kind": "voucher_amount",
         "value_minor": 100, "stock": 1},
    ]  # fmt: skip
    return json.dumps(document)


def a_basket(till: SyncedTill, card: str, minor_at_least: int) -> Basket:
    with till.database.read() as db:
        sku, price = db.execute(
            "SELECT sku, price_minor FROM products WHERE open_price = 0 AND price_minor >= 200 "
            "AND category NOT IN ('tobacco', 'gift-cards', 'lottery', 'deposits', "
            "'phone-top-up', 'baby-formula', 'alcohol') ORDER BY sku LIMIT 1"
        ).fetchone()
    basket = till.till.new_basket()
    till.till.add_product(basket, str(sku), -(-minor_at_least // int(price)))
    till.till.attach_member(basket, card)
    return basket


def complete(till: SyncedTill, basket: Basket) -> Sale:
    till.till.add_tender(basket, TenderMethod.CASH, None)
    done = till.till.complete_sale(basket)
    till.tick()
    assert isinstance(done.entry.payload, Sale)
    return done.entry.payload


def test_rewards_bought_at_tills_reconcile_at_hq(hq: Hq, tmp_path: Path) -> None:
    rules = tmp_path / "rewards.json"
    rules.write_text(catalog_rules(), encoding="utf-8")
    assert "published" in hq.cli("program", "load", str(rules)).stdout
    till_a = hq.open_till(tmp_path / "tills", 0)
    till_b = hq.open_till(tmp_path / "tills", 1)
    hq.import_members(members_csv_from_till(till_a))
    hq.import_catalog(catalog_csv_of(till_a))
    for till in (till_a, till_b):
        till.sync_until_done()
    silver = demo_card(till_a.config, SILVER)
    other = demo_card(till_b.config, OTHER)

    basket = a_basket(till_a, silver, 2000)
    till_a.till.redeem(basket, 200)
    for reward_id in ("two-off", "ten-pct", "three-next"):
        till_a.till.buy_reward(basket, reward_id)
    bought = complete(till_a, basket)
    assert [r.reward_id for r in bought.rewards] == ["two-off", "ten-pct", "three-next"]
    assert bought.rewards[0].discount_minor == 200
    assert bought.rewards[1].discount_minor > 0
    code = bought.rewards[2].voucher_code
    assert code is not None
    # Both tills sell the last one before either syncs.
    for till, card in ((till_a, silver), (till_b, other)):
        last = a_basket(till, card, 500)
        till.till.buy_reward(last, "last-one")
        complete(till, last)
    for till in (till_a, till_b):
        till.sync_until_done()

    raised = hq.exceptions([till_a.terminal_id, till_b.terminal_id])
    assert [(kind, amount) for kind, _t, _s, _m, amount in raised] == [("reward_oversold", 100)]
    with hq.database.read() as conn:
        issued = conn.execute(select(vouchers).where(vouchers.c.code == code)).one()
        counts = dict(conn.execute(select(reward_counts.c.reward_id, reward_counts.c.issued)).all())
    assert (issued.status, issued.source, issued.value_minor) == (
        "issued",
        "reward:three-next",
        300,
    )
    assert issued.member_id is not None
    assert counts == {"two-off": 1, "ten-pct": 1, "three-next": 1, "last-one": 2}
    assert_converged(hq, [till_a, till_b])
    with till_b.database.read() as db:
        known = db.execute("SELECT code FROM vouchers WHERE code = ?", [code]).fetchall()
    assert len(known) == 1  # the other till has it from its pull

    # A void at till A gives the points back and voids the voucher at HQ.
    till_a.till.void_sale(1, "wrong member")
    till_a.sync_until_done()
    with hq.database.read() as conn:
        status = conn.execute(select(vouchers.c.status).where(vouchers.c.code == code)).scalar()
    assert status == "voided"
    assert_converged(hq, [till_a, till_b])
