"""Tiers and expiry at the till (issue 12): a real till database, rules with tiers, perks and
expiry, HQ's member figures applied by the till's own pull code, receipts read back from the
ESC/POS printer simulator over TCP on loopback.

- A member sale journals the tier its points were computed with (``Sale.tier``).
- Offline-first upgrade: HQ's qualifying total (as of the pull) + this till's entries HQ had
  not applied + this sale crossing a threshold journals ``tier_upgrade``; that sale earns in
  the old tier, the next one in the new; the receipt says "You are now Silver" and its perks.
- The member panel's figures: tier by name, progress ("20 pts to Gold by 31 Dec"), the next
  points to expire less this till's unsent redemptions, grace.
- A pull whose ``applied_through_seq`` covers the upgrading sale clears the claim.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner

from hardware.printing import ReceiptPrinter
from hardware.sim.printer_sim import PrinterSimulator
from shared.journal import Sale, TenderMethod
from shared.protocol import (
    CardState,
    ExpiringPoints,
    MemberState,
    PullResponse,
    QualifyingState,
)
from shared.rules import ProgramRules
from terminal.cli.main import till as till_cli
from terminal.config import TillConfig
from terminal.demo.seed import demo_card, demo_rules
from terminal.store import TillDatabase
from terminal.store.catalog import save_rules
from terminal.store.journal import journal_tip
from terminal.store.members import member_by_key
from terminal.sync.client import SyncClient
from terminal.sync.engine import SyncEngine
from terminal.till.errors import RedemptionRefusedError
from terminal.till.printing import PrintQueue, ReceiptSink
from terminal.till.results import SaleDone
from terminal.till.service import Till
from terminal.till.standing import day_text, next_expiring
from tests.terminal.conftest import MONDAY_10AM
from tests.terminal.helpers import products

WAIT_S = 30.0
MEMBER = 7
"""The demo member these tests move up (any member works: HQ's figures are applied here)."""

PERKS = ("Free coffee every visit", "Priority checkout")


def tier_rules() -> ProgramRules:
    """The demo program with tier qualification by points in the calendar year, perks, and
    points that expire 12 months after they were earned."""
    base = demo_rules()
    document = json.loads(base.to_json())
    document["version"] = base.version + 1
    document["tiers"] = [
        {"code": "member", "name": "Member", "threshold_points": 0, "multiplier": "1"},
        {
            "code": "silver",
            "name": "Silver",
            "threshold_points": 2500,
            "multiplier": "2",
            "perks": list(PERKS),
        },
        {"code": "gold", "name": "Gold", "threshold_points": 10000, "multiplier": "3"},
    ]
    document["tier_qualification"] = {"metric": "points", "period": "calendar_year"}
    document["expiry"] = {"mode": "months_after_earn", "months": 12}
    return ProgramRules.model_validate(document)


@pytest.fixture
def rules(database: TillDatabase) -> ProgramRules:
    rules = tier_rules()
    with database.write() as db:
        save_rules(db, rules)
    return rules


@pytest.fixture
def printer() -> Iterator[PrinterSimulator]:
    with PrinterSimulator() as sim:
        yield sim


def _printer_at(sim: PrinterSimulator) -> Callable[[], ReceiptSink]:
    return lambda: ReceiptPrinter(sim.url, "TM-T88V", timeout_s=WAIT_S)


def printed(till: Till, sim: PrinterSimulator, job: int) -> str:
    """Print queue job ``job`` on the simulator; its words in one line."""
    before = len(sim.receipts)
    outcome = PrintQueue(till, _printer_at(sim)).print_job(job)
    assert outcome.ok, outcome.message
    receipt = sim.wait_for_receipts(before + 1, WAIT_S)[before]
    return " ".join(receipt.text.split())


def pull(
    config: TillConfig,
    database: TillDatabase,
    *,
    tier: str = "member",
    balance: int = 1500,
    qualifying_points: int = 2480,
    applied_through: int | None = None,
    expiring: tuple[tuple[str, int], ...] = (("2026-12-31", 300), ("2027-01-31", 1200)),
    grace_until: str | None = None,
    as_of: str = "2026-11-23",
) -> None:
    """HQ's answer for the member, applied by the till's own pull code (a page as HQ sends
    it; ``applied_through``: which of this till's entries HQ's figures include)."""
    card = demo_card(config, MEMBER)
    with database.read() as db:
        member = member_by_key(db, f"M{MEMBER:07d}")
        tip, _ = journal_tip(db)
    assert member is not None
    state = MemberState(
        member_id=member.member_key,
        name=member.name,
        phone=member.phone,
        email=member.email,
        tier=tier,
        balance=balance,
        cards=[CardState(card_number=card, status="active")],
        tier_since="2026-03-01",
        tier_review_on=grace_until or "2027-01-01",
        tier_grace=grace_until is not None,
        qualifying=QualifyingState(
            as_of=as_of, window_start=f"{as_of[:4]}-01-01", points=qualifying_points
        ),
        expiring=[ExpiringPoints(expires_on=day, points=points) for day, points in expiring],
    )
    page = PullResponse(
        cursor="c1",
        more=False,
        applied_through_seq=tip if applied_through is None else applied_through,
        members=[state],
    )
    # Nothing is sent: the client only stands for the server the page came from.
    with SyncClient("http://127.0.0.1:9", "unused") as client:
        SyncEngine(config, database, client)._apply(page)


def sell(till: Till, config: TillConfig, *, quantity: int = 12, redeem: int = 0) -> SaleDone:
    basket = till.new_basket()
    fruit = next(p for p in products(till.database, "fruit-veg") if p.price_minor >= 100)
    till.add_product(basket, fruit.sku, quantity=quantity)
    till.attach_member(basket, demo_card(config, MEMBER))
    if redeem:
        till.redeem(basket, redeem)
    till.add_tender(basket, TenderMethod.CASH, None)
    return till.complete_sale(basket)


def sale_of(done: SaleDone) -> Sale:
    assert isinstance(done.entry.payload, Sale)
    return done.entry.payload


def test_a_sale_crossing_silver_upgrades_offline_and_the_next_sale_earns_as_silver(
    till: Till, config: TillConfig, database: TillDatabase, rules: ProgramRules, printer
) -> None:
    pull(config, database)  # HQ: 2,480 pts this year, tier member
    view = till.member_view(demo_card(config, MEMBER))
    assert view.standing is not None
    assert (view.standing.name, view.standing.progress) == ("Member", "20 pts to Silver by 31 Dec")

    first = sell(till, config)
    sale = sale_of(first)
    # The crossing sale earns in the tier the member had, and says so.
    assert sale.tier == "member"
    earned = sale.points_earned
    assert earned >= 20
    upgrade = sale.tier_upgrade
    assert upgrade is not None
    assert (upgrade.from_tier, upgrade.to_tier, upgrade.threshold) == ("member", "silver", 2500)
    assert upgrade.qualifying_total == 2480 + earned
    text = printed(till, printer, first.print_job_id)
    assert "You are now Silver" in text
    assert all(perk in text for perk in PERKS)
    assert "silver" not in text  # the tier's name, never its code
    gold_by = f"{10000 - 2480 - earned:,} pts to Gold by 31 Dec"
    assert gold_by in text

    # The next sale here earns in Silver (×2 against ×1), before HQ has heard of either.
    assert till.member_view(demo_card(config, MEMBER)).tier == "silver"
    second = sell(till, config)
    again = sale_of(second)
    assert again.tier == "silver"
    assert again.tier_upgrade is None
    assert again.points_earned > earned
    lines = list(again.earned.lines) if again.earned else []
    assert lines
    assert all(line.tier_multiplier == "2" for line in lines)
    text = printed(till, printer, second.print_job_id)
    assert re.search(r"Tier Silver", text)
    assert "You are now" not in text
    # A reprint of the upgrading sale says what the original said.
    assert "You are now Silver" in printed(till, printer, till.reprint(first.entry.seq))


def test_a_sale_below_the_threshold_journals_its_tier_and_no_upgrade(
    till: Till, config: TillConfig, database: TillDatabase, rules: ProgramRules
) -> None:
    pull(config, database, qualifying_points=1000)
    done = sell(till, config, quantity=1)
    sale = sale_of(done)
    assert sale.tier == "member"
    assert sale.tier_upgrade is None
    standing = till.member_view(demo_card(config, MEMBER)).standing
    assert standing is not None
    assert standing.progress == f"{2500 - 1000 - sale.points_earned:,} pts to Silver by 31 Dec"


def test_by_visits_every_member_sale_counts_even_one_that_earns_nothing(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    document = json.loads(tier_rules().to_json())
    document["version"] += 1
    document["tier_qualification"] = {"metric": "visits", "period": "rolling"}
    document["tiers"][1]["threshold_points"] = 3  # Silver: 3 visits in 12 months
    with database.write() as db:
        save_rules(db, ProgramRules.model_validate(document))
    pull(config, database)
    with database.write() as db:  # HQ counted one visit (the page sent points only)
        db.execute("UPDATE members SET qualifying_visits = 1 WHERE member_key = ?", ["M0000007"])
    # Below the minimum spend: no points, no points effect, still a visit.
    cheap = next(p for p in products(database) if p.price_minor < 300)
    basket = till.new_basket()
    till.add_product(basket, cheap.sku)
    till.attach_member(basket, demo_card(config, MEMBER))
    till.add_tender(basket, TenderMethod.CASH, None)
    first = sale_of(till.complete_sale(basket))
    assert first.points_earned == 0
    assert first.tier_upgrade is None
    upgrade = sale_of(sell(till, config)).tier_upgrade
    assert upgrade is not None
    assert (upgrade.to_tier, upgrade.qualifying_total, upgrade.threshold) == ("silver", 3, 3)


def test_unsent_returns_count_against_the_qualifying_total(
    till: Till, config: TillConfig, database: TillDatabase, rules: ProgramRules
) -> None:
    pull(config, database, qualifying_points=1000)
    done = sell(till, config)
    sale = sale_of(done)
    till.return_items(done.entry.seq, {sale.lines[0].line_no: sale.lines[0].quantity})
    standing = till.member_view(demo_card(config, MEMBER)).standing
    assert standing is not None
    assert standing.total == 1000  # the sale's points, then taken back by the return


def test_the_panel_shows_the_next_points_to_expire_less_unsent_redemptions(
    till: Till, config: TillConfig, database: TillDatabase, rules: ProgramRules
) -> None:
    pull(config, database)
    standing = till.member_view(demo_card(config, MEMBER)).standing
    assert standing is not None
    assert standing.expiring_text == "300 pts expire on 31 Dec"
    # Redeeming 500 here (HQ has not seen it) uses the soonest points first: the 300 due
    # on 31 Dec and 200 of the 1,200 due on 31 Jan.
    sell(till, config, redeem=500)
    standing = till.member_view(demo_card(config, MEMBER)).standing
    assert standing is not None
    assert standing.expiring_text == "1,000 pts expire on 31 Jan"


def test_till_balance_prints_the_tier_progress_and_expiry(
    till: Till, config: TillConfig, database: TillDatabase, rules: ProgramRules
) -> None:
    # ``till balance`` reads the real clock: HQ's figures are as of today, wherever today is.
    today = datetime.now(UTC).astimezone(config.zone).date()
    soon = today + timedelta(days=40)
    pull(config, database, as_of=today.isoformat(), expiring=((soon.isoformat(), 300),))
    env = {"LOYALTILL_DATA_DIR": str(config.data_dir), "LOYALTILL_TIMEZONE": "Europe/Berlin"}
    result = CliRunner().invoke(till_cli, ["balance", demo_card(config, MEMBER)], env=env)
    assert result.exit_code == 0, result.output
    said = json.loads(result.output)
    assert said["tier"] == "member"
    assert said["tier_name"] == "Member"
    assert said["progress"] == "20 pts to Silver by 31 Dec"
    assert said["expiring"] == f"300 pts expire on {day_text(soon, today)}"
    assert said["grace"] is None
    assert said["perks"] == []


def test_grace_is_shown_until_the_review(
    till: Till, config: TillConfig, database: TillDatabase, rules: ProgramRules
) -> None:
    pull(config, database, tier="silver", qualifying_points=100, grace_until="2027-03-31")
    standing = till.member_view(demo_card(config, MEMBER)).standing
    assert standing is not None
    assert standing.name == "Silver"
    assert standing.perks == PERKS
    assert standing.grace_text == "On grace until 31 Mar 2027"
    assert standing.progress == "9,900 pts to Gold by 31 Dec"


def test_a_pull_that_covers_the_upgrading_sale_clears_the_claim(
    till: Till, config: TillConfig, database: TillDatabase, rules: ProgramRules
) -> None:
    pull(config, database)
    before, _ = journal_tip_of(database)
    upgrading = sell(till, config)
    assert sale_of(upgrading).tier_upgrade is not None
    key = f"M{MEMBER:07d}"

    # A pull from before HQ applied the sale: the claim stays (HQ has not answered yet).
    pull(config, database, applied_through=before)
    assert claimed(database, key) == ("silver", upgrading.entry.seq)
    assert till.member_view(demo_card(config, MEMBER)).tier == "silver"

    # HQ applied it and still says member (it raised tier_mismatch): HQ's tier speaks.
    pull(config, database, applied_through=upgrading.entry.seq, qualifying_points=2490)
    assert claimed(database, key) == (None, None)
    view = till.member_view(demo_card(config, MEMBER))
    assert view.tier == "member"
    assert sale_of(sell(till, config, quantity=1)).tier == "member"


def test_a_pull_where_hq_already_gives_the_claimed_tier_ends_the_claim(
    till: Till, config: TillConfig, database: TillDatabase, rules: ProgramRules
) -> None:
    pull(config, database)
    before, _ = journal_tip_of(database)
    assert sale_of(sell(till, config)).tier_upgrade is not None
    # Another till's sale took the member to Silver at HQ before this one arrived.
    pull(config, database, tier="silver", applied_through=before)
    assert claimed(database, f"M{MEMBER:07d}") == (None, None)
    assert till.member_view(demo_card(config, MEMBER)).tier == "silver"


def journal_tip_of(database: TillDatabase) -> tuple[int, str]:
    with database.read() as db:
        return journal_tip(db)


def claimed(database: TillDatabase, key: str) -> tuple[str | None, int | None]:
    with database.read() as db:
        row = db.execute(
            "SELECT tier_claimed, tier_claimed_seq FROM members WHERE member_key = ?", [key]
        ).fetchone()
    return row[0], row[1]


def test_expiry_takes_debits_off_the_soonest_and_skips_days_gone() -> None:
    today = date(2026, 11, 23)
    lots = ((date(2026, 11, 1), 50), (date(2026, 12, 31), 300), (date(2027, 1, 31), 1200))
    assert next_expiring(lots, [], today) == (date(2026, 12, 31), 300)
    assert next_expiring(lots, [(today, 300)], today) == (date(2027, 1, 31), 1200)
    assert next_expiring(lots, [(today, 1600)], today) is None
    # A debit made before 1 Nov (HQ has not seen it) used the lot that has since lapsed.
    early = date(2026, 10, 30)
    assert next_expiring(lots, [(early, 100)], today) == (date(2026, 12, 31), 250)
    assert day_text(date(2026, 12, 31), today) == "31 Dec"
    assert day_text(date(2028, 1, 31), today) == "31 Jan 2028"
    assert MONDAY_10AM.date() == today  # the till's clock in these tests


def test_points_past_their_last_day_are_not_shown_nor_redeemable_before_hq_expires_them(
    till: Till, config: TillConfig, database: TillDatabase, rules: ProgramRules
) -> None:
    # The till's clock says 23 Nov; HQ's last pull (before its expiry run) still counted 300
    # points whose last usable day was 22 Nov. Offline, the till takes them off itself.
    pull(config, database, balance=500, expiring=(("2026-11-22", 300), ("2027-01-31", 200)))
    view = till.member_view(demo_card(config, MEMBER))
    assert view.balance == 200
    assert view.standing is not None
    assert view.standing.expiring_text == "200 pts expire on 31 Jan"
    basket = till.new_basket()
    fruit = next(p for p in products(till.database, "fruit-veg") if p.price_minor >= 100)
    till.add_product(basket, fruit.sku, quantity=12)
    till.attach_member(basket, demo_card(config, MEMBER))
    with pytest.raises(RedemptionRefusedError):
        till.redeem(basket, 300)
    done = sell(till, config, redeem=200)
    earned = sale_of(done).earned
    assert earned is not None
    assert done.balance_after == earned.total_points  # 200 usable - 200 redeemed + earned
    # Once HQ has applied the sale and its run has taken the lapsed points, the pull says so
    # and the till takes nothing off twice.
    pull(config, database, balance=earned.total_points, expiring=(("2027-11-30", 50),))
    assert till.member_view(demo_card(config, MEMBER)).balance == earned.total_points
