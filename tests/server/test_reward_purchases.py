"""Rewards bought at tills, at HQ (docs/ledger.md, "Reward purchases"): the points leave the
member like a redemption (lots, overdraft), HQ re-prices each purchase from the rules version
it names (``reward_mismatch``), counts it against the stock (``reward_oversold``, the pull's
``rewards_issued``), turns a voucher reward's code into an issued voucher, and a void undoes
it all — on SQLite and PostgreSQL, with ``ledger rebuild --check`` after each."""

from __future__ import annotations

import random
import threading
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from shared.codes import generate_voucher_code
from shared.journal import (
    JournalEntry,
    MemberRef,
    PointsRedeemed,
    Sale,
    SaleLine,
    Tender,
    TenderMethod,
    VoucherUse,
)
from shared.journal.payloads import RewardPurchase
from shared.points.lots import LotBook
from shared.rules import BasketLine, EarnContext, ProgramRules, compute_earn
from shared.rules.model import Reward
from shared.rules.rewards import reward_discount
from syncserver.errors import MalformedError
from syncserver.hq.actions import resolve_exception
from syncserver.hq.rules import publish_rules
from syncserver.ledger.rebuild import rebuild_check
from syncserver.ledger.rewards import is_money_mismatch
from syncserver.storage.audit import Actor
from syncserver.storage.database import Database
from syncserver.storage.schema import exceptions, member_lots, reward_counts, vouchers
from syncserver.sync.pull import pull
from tests.server.helpers import Server, prepare, push
from tests.server.hq.helpers import prepare_hq, serve, signed_in
from tests.server.journal import (
    GROCERIES,
    OFFSET_MIN,
    RULES,
    STORE,
    JournalWriter,
    card,
    member_ref,
)
from tests.server.test_giftcards import assert_balanced_and_replayed, posted, send

ANNA = member_ref(card(1), "M0000000001")  # 1000 points, tier member
BEN = member_ref(card(2), "M0000000002")  # 300 points, silver
CARA = member_ref(card(3), "M0000000003")  # 0 points, gold

CATALOG = (
    Reward(
        id="COFFEE",
        name="Coffee treat",
        points=200,
        kind="voucher_amount",
        value_minor=300,
        delivery="apply_now",
    ),
    Reward(id="TENOFF", name="Five off", points=400, kind="voucher_amount", value_minor=500),
    Reward(
        id="GOLDONLY",
        name="Gold treat",
        points=50,
        kind="voucher_amount",
        value_minor=100,
        tiers=("gold",),
        delivery="apply_now",
    ),
    Reward(
        id="LIMITED", name="Rare one", points=100, kind="voucher_amount", value_minor=100, stock=1
    ),
    Reward(
        id="OLD",
        name="Summer deal",
        points=100,
        kind="voucher_amount",
        value_minor=100,
        ends=date(2026, 8, 31),
        delivery="apply_now",
    ),
    Reward(id="FREEMILK", name="Free milk", points=150, kind="free_product", sku=GROCERIES[1][0]),
    Reward(id="DOUBLE", name="Double points", points=300, kind="bonus_multiplier", multiplier="2"),
    Reward(
        id="DAIRYPCT",
        name="Dairy fifth",
        points=100,
        kind="voucher_percent",
        percent_bp=2000,
        categories=("dairy",),
    ),
)
REWARDS = RULES.model_copy(update={"version": RULES.version + 1, "rewards": CATALOG})
BY_ID = {reward.id: reward for reward in CATALOG}
CODES = random.Random(13)
"""Voucher codes the tills generate (seeded: the same codes every run)."""


def new_code() -> str:
    return generate_voucher_code(CODES)


def setup(database: Database, tills: int = 1) -> tuple[Server, list[JournalWriter]]:
    server = prepare(database)
    publish_rules(database, ProgramRules.model_validate(REWARDS.model_dump()).to_json())
    return server, [JournalWriter(server.terminal(name=f"T{n}")[0]) for n in range(tills)]


def _basket(lines: tuple[SaleLine, ...]) -> list[BasketLine]:
    return [
        BasketLine(
            line_no=line.line_no,
            sku=line.sku,
            category=line.category,
            quantity=line.quantity,
            net_minor=line.net_minor,
        )
        for line in lines
    ]


def buy(reward_id: str, **changes: Any) -> dict[str, Any]:
    """A purchase as an honest till makes it (``changes`` to make it wrong)."""
    reward = BY_ID.get(reward_id)
    wanted: dict[str, Any] = {
        "reward_id": reward_id,
        "points": reward.points if reward else 100,
        "rules_version": REWARDS.version,
    }
    if reward is not None and reward.delivery == "voucher":
        wanted["voucher_code"] = new_code()
    return wanted | changes


def reward_sale(
    till: JournalWriter,
    member: MemberRef,
    purchases: list[dict[str, Any]],
    *,
    redeem: int = 0,
    vouchers_used: tuple[VoucherUse, ...] = (),
) -> JournalEntry:
    """A member sale of the groceries buying ``purchases`` (apply_now discounts computed as
    the till does unless a purchase names ``discount_minor``), earning as a till would."""
    lines = tuple(
        SaleLine(
            line_no=no,
            sku=sku,
            description=sku,
            category=category,
            quantity=qty,
            unit_price_minor=price,
            net_minor=qty * price,
        )
        for no, (sku, category, qty, price) in enumerate(GROCERIES, start=1)
    )
    subtotal = sum(line.net_minor for line in lines)
    points_off = REWARDS.redemption.discount_minor(redeem) if redeem else 0
    left = subtotal - points_off - sum(v.discount_minor for v in vouchers_used)
    bought = []
    for wanted in purchases:
        reward = BY_ID.get(wanted["reward_id"])
        if "discount_minor" not in wanted and "voucher_code" not in wanted and reward is not None:
            wanted = wanted | {"discount_minor": reward_discount(reward, _basket(lines), left)}
        purchase = RewardPurchase.model_validate(wanted)
        left -= purchase.discount_minor
        bought.append(purchase)
    local = (till.now + timedelta(minutes=1, hours=OFFSET_MIN // 60)).replace(tzinfo=None)
    earned = compute_earn(
        REWARDS,
        _basket(lines),
        EarnContext(store_id=STORE, local_time=local, tier=None),
        order_discount_minor=subtotal - left,
    )
    return till.append(
        Sale(
            store_id=STORE,
            receipt_no=f"{till.terminal_id}-{(till.last.seq if till.last else 0) + 1}",
            currency="EUR",
            lines=lines,
            subtotal_minor=subtotal,
            total_minor=left,
            tenders=(Tender(method=TenderMethod.CASH, amount_minor=left),) if left else (),
            member=member,
            earned=earned,
            redeemed=PointsRedeemed(
                points=redeem, discount_minor=points_off, rules_version=REWARDS.version
            )
            if redeem
            else None,
            vouchers=vouchers_used,
            rewards=tuple(bought),
        )
    )


def raised(database: Database) -> list[tuple[str, int, int, str]]:
    with database.read() as conn:
        rows = conn.execute(
            select(exceptions.c.kind, exceptions.c.seq, exceptions.c.amount, exceptions.c.detail)
            .where(exceptions.c.kind.in_(("reward_mismatch", "reward_oversold", "voucher_invalid")))
            .order_by(exceptions.c.id)
        ).all()
    return [(r.kind, int(r.seq), int(r.amount), r.detail) for r in rows]


def voucher(database: Database, code: str) -> Any:
    with database.read() as conn:
        return conn.execute(select(vouchers).where(vouchers.c.code == code)).one()


def counts(database: Database) -> dict[str, int]:
    with database.read() as conn:
        rows = conn.execute(select(reward_counts.c.reward_id, reward_counts.c.issued)).all()
    return {r.reward_id: int(r.issued) for r in rows}


def book(database: Database, member_id: str) -> LotBook:
    with database.read() as conn:
        text = conn.execute(
            select(member_lots.c.book).where(member_lots.c.member_id == member_id)
        ).scalar_one()
    return LotBook.from_json(text)


def earned(entry: JournalEntry) -> int:
    assert isinstance(entry.payload, Sale)
    return entry.payload.points_earned


def test_a_reward_spends_points_like_a_redemption(database: Database) -> None:
    server, (till,) = setup(database)
    sale = reward_sale(till, ANNA, [buy("COFFEE")], redeem=100)
    assert isinstance(sale.payload, Sale)
    assert sale.payload.rewards[0].discount_minor == 300
    assert send(database, till) == []
    assert raised(database) == []
    assert server.balance("M0000000001") == 1000 + earned(sale) - 100 - 200
    assert posted(database, "program:rewards") == 200
    assert posted(database, "program:redeemed") == 100
    # Lots paid, oldest first: the sale's own earn (23 November) before the imported
    # opening balance (HQ event 1, dated the day the test runs).
    lots = book(database, "M0000000001").lots
    assert [(lot.ref, lot.remaining) for lot in lots] == [("hq:1", 1000 + earned(sale) - 300)]
    assert counts(database) == {"COFFEE": 1}
    assert_balanced_and_replayed(database)


def test_a_reward_bought_offline_beyond_the_balance_is_an_overdraft(database: Database) -> None:
    server, (till,) = setup(database)
    sale = reward_sale(till, CARA, [buy("COFFEE"), buy("GOLDONLY")])
    found = send(database, till)
    short = 250 - earned(sale)
    assert found == [("offline_overdraft", 1, short)]
    assert server.balance("M0000000003") == -short
    assert posted(database, "program:rewards") == 250
    assert_balanced_and_replayed(database)


def test_each_mismatch_is_raised_and_posted_as_the_till_says(database: Database) -> None:
    _server, (till,) = setup(database)
    cases = [
        [buy("NOPE", discount_minor=0)],
        [buy("COFFEE", rules_version=99, discount_minor=300)],
        [buy("COFFEE", points=150)],
        [buy("GOLDONLY")],  # Anna is a member, not gold
        [buy("OLD")],  # on sale until the end of August only
        [buy("TENOFF", voucher_code=None, discount_minor=500)],  # a voucher reward applied
        [buy("COFFEE", voucher_code=new_code())],  # an apply_now reward as voucher
        [buy("COFFEE", discount_minor=250)],
    ]
    spent = 0
    for purchases in cases:
        reward_sale(till, ANNA, purchases)
        spent += purchases[0]["points"]
    send(database, till)
    found = [(kind, seq, amount) for kind, seq, amount, _ in raised(database)]
    assert found == [
        ("reward_mismatch", 1, 100),
        ("reward_mismatch", 2, 200),
        ("reward_mismatch", 3, -50),
        ("reward_mismatch", 4, 50),
        ("reward_mismatch", 5, 100),
        ("reward_mismatch", 6, 500),
        ("reward_mismatch", 7, -300),
        ("voucher_invalid", 7, 0),
        ("reward_mismatch", 8, -50),
    ]
    details = [detail for _, _, _, detail in raised(database)]
    assert "rules version 4 has no reward NOPE" in details[0]
    assert "rules version 99 is not known to HQ" in details[1]
    assert "costs 200 pts in rules version 4, the till charged 150 pts" in details[2]
    assert "only for tiers gold; HQ holds member M0000000001 in member" in details[3]
    assert "not on 2026-11-23" in details[4]
    assert "issues a voucher, but the till issued none and took €5.00 off" in details[5]
    assert "the till issued voucher" in details[6]
    assert "takes €3.00 off this sale" in details[8]
    assert "the till took €2.50" in details[8]
    # Points differences are points; discount differences are money.
    assert [is_money_mismatch("reward_mismatch", d) for d in details] == [
        False, False, False, False, False, True, True, False, True,
    ]  # fmt: skip
    # Every point was spent as the tills said.
    assert posted(database, "program:rewards") == spent
    assert_balanced_and_replayed(database)


def test_a_voucher_reward_issues_a_pullable_voucher(database: Database) -> None:
    _server, (till, other) = setup(database, tills=2)
    purchase = buy("TENOFF")
    code = purchase["voucher_code"]
    reward_sale(till, ANNA, [purchase])
    assert send(database, till) == []
    row = voucher(database, code)
    assert (row.status, row.source, row.member_id, row.value_minor) == (
        "issued",
        "reward:TENOFF",
        "M0000000001",
        500,
    )
    assert row.expires_on == "2026-12-22"  # 30 days from the store's day, that day included
    assert (row.issued_terminal, row.issued_seq) == (till.terminal_id, 1)
    assert posted(database, f"voucher:{code}") == 500
    page = pull(database, other.terminal_id, 0, 1000)
    assert [(v.code, v.member_id, v.status) for v in page.vouchers] == [
        (code, "M0000000001", "issued")
    ]
    # Used at the other till, like any voucher.
    other.sale(ANNA, vouchers=(VoucherUse(code=code, discount_minor=500),))
    assert send(database, other) == []
    assert voucher(database, code).status == "redeemed"
    # A code HQ already has is not issued twice: an exception, never a 5xx.
    reward_sale(till, ANNA, [buy("TENOFF", voucher_code=code)])
    found = send(database, till, since=1)
    assert [(kind, amount) for kind, _seq, amount in found] == [("voucher_invalid", 500)]
    assert voucher(database, code).issued_seq == 1
    assert_balanced_and_replayed(database)


def test_a_free_product_voucher_takes_one_unit_of_its_product(database: Database) -> None:
    _server, (till,) = setup(database)
    milk, double = buy("FREEMILK"), buy("DOUBLE")
    reward_sale(till, ANNA, [milk, double])
    assert send(database, till) == []
    assert voucher(database, milk["voucher_code"]).value_minor == 0
    # One unit of the milk (300) off: backed, funded as it is used.
    till.sale(ANNA, vouchers=(VoucherUse(code=milk["voucher_code"], discount_minor=300),))
    # Without the milk, and a bonus multiplier (which takes nothing off a sale): refused.
    bread_only = [GROCERIES[0]]
    till.sale(
        ANNA, bread_only, vouchers=(VoucherUse(code=double["voucher_code"], discount_minor=100),)
    )
    assert send(database, till, since=1) == [("voucher_invalid", 3, 100)]
    assert voucher(database, milk["voucher_code"]).status == "redeemed"
    assert posted(database, "program:voucher_redeemed") == 400
    assert posted(database, f"suspense:voucher:{double['voucher_code']}") == -100
    (detail,) = [d for kind, _, _, d in raised(database) if kind == "voucher_invalid"]
    assert "is for Double points, which takes nothing off a sale" in detail
    assert_balanced_and_replayed(database)


def test_a_free_product_voucher_needs_its_product_and_one_unit(database: Database) -> None:
    _server, (till,) = setup(database)
    milk, other = buy("FREEMILK"), buy("FREEMILK")
    reward_sale(till, ANNA, [milk])
    reward_sale(till, ANNA, [other])
    assert send(database, till) == []
    till.sale(
        ANNA, [GROCERIES[0]], vouchers=(VoucherUse(code=milk["voucher_code"], discount_minor=300),)
    )
    till.sale(ANNA, vouchers=(VoucherUse(code=other["voucher_code"], discount_minor=301),))
    assert send(database, till, since=2) == [
        ("voucher_invalid", 3, 300),
        ("voucher_invalid", 4, 301),
    ]
    details = [d for kind, _, _, d in raised(database) if kind == "voucher_invalid"]
    assert f"is for a free {GROCERIES[1][0]}, which is not on this sale" in details[0]
    assert "is worth one 4000000000024 (€3.00), not €3.01" in details[1]
    assert_balanced_and_replayed(database)


def test_a_category_voucher_takes_only_its_lines_share(database: Database) -> None:
    _server, (till, other) = setup(database, tills=2)
    honest, greedy = buy("DAIRYPCT"), buy("DAIRYPCT")
    reward_sale(till, ANNA, [honest, greedy])
    assert send(database, till) == []
    page = pull(database, other.terminal_id, 0, 1000)
    assert {(v.code, v.source, tuple(v.categories or ())) for v in page.vouchers} == {
        (honest["voucher_code"], "reward:DAIRYPCT", ("dairy",)),
        (greedy["voucher_code"], "reward:DAIRYPCT", ("dairy",)),
    }
    # Groceries: 900 of grocery, 300 of dairy; 200 points (€2.00) off first leaves 1000, of
    # which dairy's share is 250: a fifth of it is 50.
    other.sale(
        ANNA, redeem=200, vouchers=(VoucherUse(code=honest["voucher_code"], discount_minor=50),)
    )
    # A fifth of the whole basket (200) is more than the voucher gives.
    other.sale(ANNA, vouchers=(VoucherUse(code=greedy["voucher_code"], discount_minor=200),))
    assert send(database, other) == [("voucher_invalid", 2, 200)]
    assert voucher(database, honest["voucher_code"]).discount_minor == 50
    assert voucher(database, greedy["voucher_code"]).status == "issued"
    (detail,) = [d for kind, _, _, d in raised(database) if kind == "voucher_invalid"]
    assert "applies only to dairy, worth €0.60 on this sale, not €2.00" in detail
    assert_balanced_and_replayed(database)


def test_a_bonus_multiplier_voucher_multiplies_a_sales_points(database: Database) -> None:
    _server, (till, other) = setup(database, tills=2)
    double, five = buy("DOUBLE"), buy("TENOFF")
    reward_sale(till, ANNA, [double, five])
    assert send(database, till) == []
    plain = other.sale(ANNA, rules=REWARDS)
    use = VoucherUse(code=double["voucher_code"], discount_minor=0, points_bonus_reward="DOUBLE")
    doubled = other.sale(ANNA, rules=REWARDS, vouchers=(use,))
    assert earned(plain) > 0
    assert earned(doubled) == 2 * earned(plain)
    # A money voucher passed off as a points bonus: HQ does not back it.
    fake = VoucherUse(code=five["voucher_code"], discount_minor=0, points_bonus_reward="DOUBLE")
    other.sale(ANNA, rules=REWARDS, vouchers=(fake,))
    # HQ recomputes the points with the bonus (no rules_mismatch) and redeems the voucher.
    assert send(database, other) == [("voucher_invalid", 3, 0)]
    row = voucher(database, double["voucher_code"])
    assert (row.status, row.redeemed_seq, row.discount_minor) == ("redeemed", 2, 0)
    assert voucher(database, five["voucher_code"]).status == "issued"
    (detail,) = [d for kind, _, _, d in raised(database) if kind == "voucher_invalid"]
    assert "was issued by reward:TENOFF, not by reward DOUBLE" in detail
    assert_balanced_and_replayed(database)


def test_stock_is_counted_and_pulled(database: Database) -> None:
    _server, (till_a, till_b) = setup(database, tills=2)
    reward_sale(till_a, ANNA, [buy("LIMITED"), buy("COFFEE")])
    reward_sale(till_b, BEN, [buy("LIMITED")])  # offline at the same time: the last one again
    assert send(database, till_a) == []
    assert send(database, till_b) == [("reward_oversold", 1, 100)]
    assert counts(database) == {"LIMITED": 2, "COFFEE": 1}
    first = pull(database, till_a.terminal_id, 0, 1000)
    assert first.rewards_issued == {"LIMITED": 2}  # COFFEE has no stock limit
    unchanged = pull(database, till_a.terminal_id, int(first.cursor), 1000)
    assert unchanged.rewards_issued == {}
    assert_balanced_and_replayed(database)
    # The replay counts too: a count that drifted is named.
    with database.write() as conn:
        conn.execute(
            update(reward_counts).where(reward_counts.c.reward_id == "LIMITED").values(issued=5)
        )
    report = rebuild_check(database)
    assert [d for d in report.differences if d.startswith("reward count LIMITED")] == [
        "reward count LIMITED: live ('LIMITED', 5), replay ('LIMITED', 2)"
    ]


def test_two_tills_pushing_the_last_one_at_once_oversell_once(database: Database) -> None:
    """Whichever push commits second raises the one reward_oversold; the replay, in position
    order, decides the same."""
    _server, (till_a, till_b) = setup(database, tills=2)
    reward_sale(till_a, ANNA, [buy("LIMITED")])
    reward_sale(till_b, BEN, [buy("LIMITED")])
    barrier = threading.Barrier(2)
    found: dict[str, list[tuple[Any, ...]]] = {}

    def push_one(till: JournalWriter) -> None:
        barrier.wait(timeout=30)
        found[till.terminal_id] = send(database, till)

    threads = [threading.Thread(target=push_one, args=(till,)) for till in (till_a, till_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(e for each in found.values() for e in each) == [("reward_oversold", 1, 100)]
    assert counts(database) == {"LIMITED": 2}
    assert_balanced_and_replayed(database)


def test_a_void_gives_the_points_back_and_voids_the_voucher(database: Database) -> None:
    server, (till,) = setup(database)
    purchase = buy("TENOFF")
    sale = reward_sale(till, ANNA, [buy("COFFEE"), purchase])
    till.void(sale)
    assert send(database, till) == []
    assert server.balance("M0000000001") == 1000
    assert posted(database, "program:rewards") == 0
    row = voucher(database, purchase["voucher_code"])
    assert row.status == "voided"
    assert posted(database, f"voucher:{purchase['voucher_code']}") == 0
    assert counts(database) == {"COFFEE": 0, "TENOFF": 0}
    page = pull(database, till.terminal_id, 0, 1000)
    assert page.vouchers == []  # a first download leaves out what cannot be used
    assert_balanced_and_replayed(database)


def test_a_void_after_the_voucher_was_used_keeps_it(database: Database) -> None:
    server, (till, other) = setup(database, tills=2)
    purchase = buy("TENOFF")
    code = purchase["voucher_code"]
    sale = reward_sale(till, ANNA, [purchase])
    assert send(database, till) == []
    other.sale(ANNA, vouchers=(VoucherUse(code=code, discount_minor=500),))
    assert send(database, other) == []
    till.void(sale)
    assert send(database, till, since=1) == [("reward_mismatch", 2, 400)]
    assert voucher(database, code).status == "redeemed"
    assert posted(database, f"voucher:{code}") == 0
    assert posted(database, "program:rewards") == 0
    (detail,) = [d for kind, _, _, d in raised(database) if kind == "reward_mismatch"]
    assert f"its voucher {code} was already used ({other.terminal_id}#1)" in detail
    assert server.balance("M0000000001") is not None
    assert_balanced_and_replayed(database)


def test_a_return_gives_no_reward_points_back(database: Database) -> None:
    _server, (till,) = setup(database)
    sale = reward_sale(till, ANNA, [buy("COFFEE")])
    till.ret(sale, ANNA, refund=450)
    assert send(database, till) == []
    assert posted(database, "program:rewards") == 200
    assert isinstance(till.last, JournalEntry)
    payload = till.last.payload
    assert getattr(payload, "points_restored", None) == 0
    assert_balanced_and_replayed(database)


def test_hq_pages_show_rewards_bought_and_their_exceptions(database: Database) -> None:
    hq = prepare_hq(database)
    publish_rules(database, ProgramRules.model_validate(REWARDS.model_dump()).to_json())
    terminal_id, token = hq.server.terminal()
    till = JournalWriter(terminal_id)
    reward_sale(till, ANNA, [buy("COFFEE")])
    reward_sale(till, ANNA, [buy("COFFEE", discount_minor=250)])  # a discount difference
    reward_sale(till, ANNA, [buy("GOLDONLY")])  # a points matter: Anna is not gold
    with serve(database) as url:
        with httpx.Client(base_url=url, timeout=60) as client:
            reply = push(client, token, terminal_id, till.records)
            assert [e["kind"] for e in reply.json()["exceptions"]] == ["reward_mismatch"] * 2
        ids = {seq: exception_id for exception_id, seq in exception_ids(database)}
        with signed_in(url, hq.manager) as client:
            member = client.get("/members/M0000000001").text
            history = member[member.index('id="history"') : member.index('id="exceptions"')]
            assert history.count("Reward Coffee treat bought") == 2
            assert "Reward Gold treat bought" in history
            assert '<td class="num neg">-200</td>' in history
            queue = client.get("/exceptions?kind=reward_mismatch").text
            assert "Reward mismatch" in queue
            assert "-€0.50" in queue
            money = client.get(f"/exceptions/{ids[2]}").text
            assert "a discount difference: money, not points" in money
            assert 'value="accept"' in money
            assert 'value="adjust"' not in money
            points = client.get(f"/exceptions/{ids[3]}").text
            assert 'value="accept"' in points
            assert 'value="adjust"' in points
            entry = client.get(f"/entries/{terminal_id}/1").text
            assert "Rewards bought" in entry
            assert "Reward COFFEE (200 pts)" in entry
    # A discount difference is money: no points adjustment; a points one can be adjusted.
    mo = Actor("mo", via="cli")
    with pytest.raises(MalformedError, match="about a discount"):
        resolve_exception(database, mo, ids[2], "adjust", "points for a discount?", amount=50)
    resolve_exception(database, mo, ids[2], "accept", "the till's discount stands")
    resolve_exception(database, mo, ids[3], "adjust", "not gold: take them back", amount=-50)
    assert hq.server.balance("M0000000001") == hq.server.posted("M0000000001")
    assert_balanced_and_replayed(database)


def exception_ids(database: Database) -> list[tuple[int, int]]:
    with database.read() as conn:
        rows = conn.execute(select(exceptions.c.id, exceptions.c.seq).order_by(exceptions.c.id))
        return [(int(r.id), int(r.seq)) for r in rows]
