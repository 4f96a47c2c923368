"""Tiers and expiry end to end (issue 12): a real till, a real uvicorn, SQLite and PostgreSQL,
HQ's own command line.

A member crosses Silver offline at till A — the receipt (printed on the ESC/POS simulator)
says "You are now Silver" — and HQ agrees after the sync: Silver, with HQ's reason, and no
``tier_mismatch``. Half a year on, a review keeps her (the points are in its window); a year on
the next one takes her down. Thirteen months on, the points she earned that day expire under
the 12-month rule, while those of a sale two months later do not. ``ledger rebuild --check``
replays all of it, and the till, after a pull, shows what HQ holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hardware.printing import ReceiptPrinter
from hardware.sim.printer_sim import PrinterSimulator
from shared.journal import Sale, TenderMethod
from shared.points.lots import add_months
from syncserver.settings import utc_now
from syncserver.storage.schema import member_balances, members, postings, tier_changes
from terminal.demo.seed import demo_card
from terminal.store.members import card_by_number, member_by_key
from terminal.till.printing import PrintQueue
from terminal.till.results import SaleDone
from tests.server.helpers import demo_rules_json
from tests.server.tills import members_csv_from_till
from tests.sync.harness import Hq, SyncedTill, catalog_csv_of

SILVER = 300
PERK = "Free coffee refill"
WAIT_S = 60.0


def tiers_and_expiry() -> str:
    """The demo program with Silver at 300 points earned in a rolling 6 months (no grace),
    and points that expire 12 months after they were earned."""
    document = json.loads(demo_rules_json())
    document["version"] += 1
    document["tiers"] = [
        {"code": "member", "name": "Member", "threshold_points": 0},
        {
            "code": "silver",
            "name": "Silver",
            "threshold_points": SILVER,
            "multiplier": "1.1",
            "perks": [PERK],
        },
        {"code": "gold", "name": "Gold", "threshold_points": 100_000, "multiplier": "5/4"},
    ]
    document["tier_qualification"] = {"metric": "points", "window_months": 6}
    document["expiry"] = {"mode": "months_after_earn", "months": 12}
    return json.dumps(document)


@pytest.fixture
def printer() -> Iterator[PrinterSimulator]:
    with PrinterSimulator() as sim:
        yield sim


def printed(till: SyncedTill, sim: PrinterSimulator, job: int) -> str:
    """Print queue job ``job`` on the simulator; its words on one line."""
    before = len(sim.receipts)
    outcome = PrintQueue(
        till.till, lambda: ReceiptPrinter(sim.url, "TM-T88V", timeout_s=WAIT_S)
    ).print_job(job)
    assert outcome.ok, outcome.message
    receipt = sim.wait_for_receipts(before + 1, WAIT_S)[before]
    return " ".join(receipt.text.split())


def sell(till: SyncedTill, card: str, quantity: int) -> tuple[SaleDone, Sale]:
    """A member sale of ``quantity`` units of the till's first fixed-price product of at
    least €2 (no redemption, so every point earned is a lot of its own)."""
    with till.database.read() as db:
        sku = db.execute(
            "SELECT sku FROM products WHERE open_price = 0 AND price_minor >= 200 "
            "AND category NOT IN ('tobacco', 'gift-cards', 'lottery', 'deposits', "
            "'phone-top-up', 'baby-formula', 'alcohol') ORDER BY sku LIMIT 1"
        ).fetchone()[0]
    basket = till.till.new_basket()
    till.till.add_product(basket, sku, quantity)
    till.till.attach_member(basket, card)
    till.till.add_tender(basket, TenderMethod.CASH, None)
    done = till.till.complete_sale(basket)
    till.tick()
    assert isinstance(done.entry.payload, Sale)
    return done, done.entry.payload


def run(hq: Hq, *args: str) -> str:
    return hq.cli(*args).stdout.strip()


def hq_member(hq: Hq, member_id: str) -> tuple[str | None, int]:
    with hq.database.read() as conn:
        row = conn.execute(
            select(members.c.tier, member_balances.c.points)
            .join(member_balances, member_balances.c.member_id == members.c.member_id)
            .where(members.c.member_id == member_id)
        ).one()
    return row.tier, int(row.points)


def test_a_member_goes_up_offline_comes_down_at_review_and_her_points_expire(
    hq: Hq, tmp_path: Path, printer: PrinterSimulator
) -> None:
    rules = tmp_path / "tiers.json"
    rules.write_text(tiers_and_expiry(), encoding="utf-8")
    assert "published" in run(hq, "program", "load", str(rules))
    till = hq.open_till(tmp_path / "tills")
    hq.import_members(members_csv_from_till(till))
    hq.import_catalog(catalog_csv_of(till))
    # The till's clock is HQ's today, so HQ's qualifying figures and the till's sales share
    # their days.
    till.clock.now = utc_now().replace(microsecond=0)
    today = till.clock.now.date()
    till.sync_until_done()

    card = demo_card(till.config, 1)
    with till.database.read() as db:
        found = card_by_number(db, card)
        assert found is not None
        member = member_by_key(db, found.member_key)
    assert member is not None
    assert member.member_id is not None
    assert member.tier == "member"
    member_id = member.member_id
    _, opening = hq_member(hq, member_id)

    # A small sale, synced: HQ counts its points for her.
    _, first = sell(till, card, 1)
    assert 0 < first.points_earned < SILVER
    till.sync_until_done()

    # Offline (nothing reaches HQ): a sale that takes her over 300 points in the window.
    done, crossing = sell(till, card, 120)
    qualifying = first.points_earned + crossing.points_earned
    assert qualifying >= SILVER
    assert crossing.tier == "member"
    assert crossing.tier_upgrade is not None
    assert (crossing.tier_upgrade.to_tier, crossing.tier_upgrade.qualifying_total) == (
        "silver",
        qualifying,
    )
    text = printed(till, printer, done.print_job_id)
    assert "You are now Silver" in text
    assert PERK in text

    # HQ agrees once the till syncs: Silver since today, with HQ's own reason; no exception.
    till.sync_until_done()
    assert hq_member(hq, member_id) == ("silver", opening + qualifying)
    with hq.database.read() as conn:
        changes = conn.execute(
            select(tier_changes.c.kind, tier_changes.c.to_tier, tier_changes.c.reason)
            .where(tier_changes.c.member_id == member_id)
            .order_by(tier_changes.c.id)
        ).all()
    assert [(c.kind, c.to_tier) for c in changes][-1:] == [("upgrade", "silver")]
    assert changes[-1].reason == (f"qualified: {qualifying:,} of {SILVER} pts in 6 months")
    assert hq.exceptions([till.terminal_id]) == []

    # Two months on, another sale: points that must outlive the first ones.
    till.clock.now += timedelta(days=61)
    _, later = sell(till, card, 1)
    till.sync_until_done()
    balance = opening + qualifying + later.points_earned
    assert hq_member(hq, member_id) == ("silver", balance)

    # Half a year on, her review keeps her (today's points are in the 6 months it looks at);
    # a year on, the next review finds nothing in its window: down to Member.
    half_year, year = add_months(today, 6), add_months(today, 12)
    # (The demo members imported today in Silver or Gold, with no points since, go down in
    # that review: an imported tier is reviewed one window after the import.)
    assert run(hq, "tiers", "review", "--as-of", half_year.isoformat()).startswith("reviewed ")
    assert hq_member(hq, member_id)[0] == "silver"
    assert "1 down" in run(hq, "tiers", "review", "--as-of", year.isoformat())
    assert hq_member(hq, member_id) == ("member", balance)
    assert "nothing due" in run(hq, "tiers", "review", "--as-of", year.isoformat())

    # Thirteen months on: everything earned (and imported) today has expired, not the later
    # sale's points.
    thirteen = add_months(today, 13)
    said = run(hq, "points", "expire", "--as-of", thirteen.isoformat())
    assert said.startswith("expired ")  # every imported member's opening points too
    assert said.endswith(f"as of {thirteen.isoformat()}")
    expired = opening + qualifying
    assert hq_member(hq, member_id) == ("member", later.points_earned)
    with hq.database.read() as conn:
        taken = conn.execute(
            select(postings.c.amount, postings.c.occurred_at).where(
                postings.c.member_id == member_id, postings.c.kind == "expire"
            )
        ).all()
    assert [(int(t.amount), t.occurred_at[:10]) for t in taken] == [
        (-expired, thirteen.isoformat())
    ]
    assert "nothing due" in run(hq, "points", "expire", "--as-of", thirteen.isoformat())

    # The replay agrees; the till, after a pull, shows HQ's tier and balance.
    assert "first difference" not in run(hq, "ledger", "rebuild", "--check")
    till.pull_until_done()
    assert till.views()[member_id] == later.points_earned
    with till.database.read() as db:
        again = member_by_key(db, found.member_key)
    assert again is not None
    assert again.tier == "member"
