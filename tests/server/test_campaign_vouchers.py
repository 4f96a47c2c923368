"""Campaign vouchers at HQ (docs/ledger.md, "Campaign vouchers"): HQ decides again from the
rules version each voucher names and issues the till's code (source ``campaign:<id>``, bound
to the sale's member if any); a voucher the rules do not give is still issued and raises
``campaign_voucher_mismatch`` (accept only); a code HQ has already is ``voucher_invalid``; a
void voids the unused ones — on SQLite and PostgreSQL, with ``ledger rebuild --check``."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from shared.codes import generate_voucher_code
from shared.journal import (
    JournalEntry,
    MemberRef,
    Sale,
    SaleLine,
    Tender,
    TenderMethod,
    VoucherUse,
)
from shared.journal.payloads import CampaignVoucher
from shared.rules import BasketLine, EarnContext, ProgramRules, compute_earn
from shared.rules.model import Campaign, VoucherOffer
from syncserver.errors import MalformedError
from syncserver.hq.actions import resolve_exception
from syncserver.hq.money_exceptions import money_options
from syncserver.hq.rules import publish_rules
from syncserver.storage.audit import Actor
from syncserver.storage.database import Database
from syncserver.storage.schema import exceptions, journal_entries, vouchers
from syncserver.storage.vouchers import NewVoucher, insert_voucher
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

ANNA = member_ref(card(1), "M0000000001")

SPEND_10 = Campaign(
    id="SPEND10",
    name="Spend €10, get €2 off",
    min_spend_minor=1000,
    voucher=VoucherOffer(value_minor=200, min_spend_minor=500, valid_days=30),
)
"""The groceries (€12.00) qualify."""
SPEND_50 = Campaign(
    id="SPEND50",
    name="Spend €50, get €5 off",
    min_spend_minor=5000,
    voucher=VoucherOffer(value_minor=500),
)
"""The groceries do not."""
POINTS_ONLY = Campaign(id="DOUBLE", name="Double points", multiplier="2", stores=("nowhere",))
CAMPAIGNS = RULES.model_copy(
    update={
        "version": RULES.version + 1,
        "campaigns": (*RULES.campaigns, SPEND_10, SPEND_50, POINTS_ONLY),
    }
)
CODES = random.Random(29)


def new_code() -> str:
    return generate_voucher_code(CODES)


def setup(database: Database, tills: int = 1) -> tuple[Server, list[JournalWriter]]:
    server = prepare(database)
    publish_rules(database, ProgramRules.model_validate(CAMPAIGNS.model_dump()).to_json())
    return server, [JournalWriter(server.terminal(name=f"T{n}")[0]) for n in range(tills)]


def given(campaign_id: str = "SPEND10", **changes: Any) -> CampaignVoucher:
    wanted: dict[str, Any] = {
        "campaign_id": campaign_id,
        "rules_version": CAMPAIGNS.version,
        "voucher_code": new_code(),
    }
    return CampaignVoucher.model_validate(wanted | changes)


def campaign_sale(
    till: JournalWriter, member: MemberRef | None, items: list[CampaignVoucher]
) -> JournalEntry:
    """The groceries, paid in cash, with the campaign vouchers ``items`` printed."""
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
    earned = None
    if member is not None:
        local = (till.now + timedelta(minutes=1, hours=OFFSET_MIN // 60)).replace(tzinfo=None)
        basket = [
            BasketLine(
                line_no=line.line_no,
                sku=line.sku,
                category=line.category,
                quantity=line.quantity,
                net_minor=line.net_minor,
            )
            for line in lines
        ]
        earned = compute_earn(CAMPAIGNS, basket, EarnContext(store_id=STORE, local_time=local))
    return till.append(
        Sale(
            store_id=STORE,
            receipt_no=f"{till.terminal_id}-{(till.last.seq if till.last else 0) + 1}",
            currency="EUR",
            lines=lines,
            subtotal_minor=subtotal,
            total_minor=subtotal,
            tenders=(Tender(method=TenderMethod.CASH, amount_minor=subtotal),),
            member=member,
            earned=earned,
            campaign_vouchers=tuple(items),
        )
    )


def voucher(database: Database, code: str) -> Any:
    with database.read() as conn:
        return conn.execute(select(vouchers).where(vouchers.c.code == code)).one_or_none()


def raised(database: Database) -> list[tuple[str, int, int, str]]:
    with database.read() as conn:
        rows = conn.execute(
            select(exceptions.c.kind, exceptions.c.seq, exceptions.c.amount, exceptions.c.detail)
            .where(exceptions.c.kind.in_(("campaign_voucher_mismatch", "voucher_invalid")))
            .order_by(exceptions.c.id)
        ).all()
    return [(r.kind, int(r.seq), int(r.amount), r.detail) for r in rows]


def test_a_campaign_voucher_is_issued_unbound_or_to_the_member_and_pulled(
    database: Database,
) -> None:
    _server, (till, other) = setup(database, tills=2)
    anyone, annas = given(), given()
    campaign_sale(till, None, [anyone])
    campaign_sale(till, ANNA, [annas])
    assert send(database, till) == []
    row = voucher(database, anyone.voucher_code)
    assert (row.status, row.source, row.member_id, row.value_minor, row.min_spend_minor) == (
        "issued",
        "campaign:SPEND10",
        None,
        200,
        500,
    )
    assert row.expires_on == "2026-12-22"  # 30 days from the store's day, that day included
    assert (row.issued_terminal, row.issued_seq) == (till.terminal_id, 1)
    assert voucher(database, annas.voucher_code).member_id == "M0000000001"
    assert posted(database, f"voucher:{anyone.voucher_code}") == 200
    page = pull(database, other.terminal_id, 0, 1000)
    assert sorted((v.code, v.member_id) for v in page.vouchers) == sorted(
        [(anyone.voucher_code, None), (annas.voucher_code, "M0000000001")]
    )
    # Used at the other till like any voucher.
    other.sale(None, vouchers=(VoucherUse(code=anyone.voucher_code, discount_minor=200),))
    assert send(database, other) == []
    assert voucher(database, anyone.voucher_code).status == "redeemed"
    assert_balanced_and_replayed(database)


def test_a_voucher_the_rules_do_not_give_is_issued_with_an_exception(database: Database) -> None:
    _server, (till,) = setup(database)
    short = given("SPEND50")  # the sale spent €12.00
    unknown_version = given(rules_version=99)
    no_voucher = given("DOUBLE")
    no_campaign = given("NOPE")
    for item in (short, unknown_version, no_voucher, no_campaign):
        campaign_sale(till, None, [item])
    found = send(database, till)
    assert found == [
        ("campaign_voucher_mismatch", 1, 500),
        ("campaign_voucher_mismatch", 2, 0),
        ("campaign_voucher_mismatch", 3, 0),
        ("campaign_voucher_mismatch", 4, 0),
    ]
    details = [detail for *_, detail in raised(database)]
    assert "does not qualify for campaign SPEND50 in rules version 4" in details[0]
    assert "€12.00 paid" in details[0]
    assert "issued anyway" in details[0]
    assert "rules version 99 is not known to HQ" in details[1]
    assert "campaign DOUBLE gives no voucher in rules version 4" in details[2]
    assert "rules version 4 has no campaign NOPE" in details[3]
    assert all("not issued" in detail for detail in details[1:])
    # The customer holds the paper: the one HQ knows terms for is issued as printed.
    assert voucher(database, short.voucher_code).status == "issued"
    assert posted(database, f"voucher:{short.voucher_code}") == 500
    for item in (unknown_version, no_voucher, no_campaign):
        assert voucher(database, item.voucher_code) is None
    # Accept is its only resolution (nothing to write off or recover).
    with database.read() as conn:
        options = money_options(
            conn, "campaign_voucher_mismatch", till.terminal_id, 1, None, 500, details[0]
        )
    assert options.names == ["accept"]
    assert options.facts.currency == "EUR"
    assert_balanced_and_replayed(database)


def test_a_code_hq_already_has_is_not_issued_twice(database: Database) -> None:
    _server, (till,) = setup(database)
    first = given()
    campaign_sale(till, None, [first])
    campaign_sale(till, ANNA, [given(voucher_code=first.voucher_code)])
    assert send(database, till) == [("voucher_invalid", 2, 200)]
    row = voucher(database, first.voucher_code)
    assert (row.issued_seq, row.member_id) == (1, None)
    assert posted(database, f"voucher:{first.voucher_code}") == 200
    assert_balanced_and_replayed(database)


def test_a_void_voids_the_unused_vouchers_and_keeps_a_used_one(database: Database) -> None:
    _server, (till, other) = setup(database, tills=2)
    unused = given()
    sale = campaign_sale(till, ANNA, [unused])
    till.void(sale)
    assert send(database, till) == []
    assert voucher(database, unused.voucher_code).status == "voided"
    assert posted(database, f"voucher:{unused.voucher_code}") == 0
    # Used at another till before the void arrived: it stays redeemed, with an exception.
    used = given()
    sold = campaign_sale(till, None, [used])
    assert send(database, till, since=2) == []
    other.sale(None, vouchers=(VoucherUse(code=used.voucher_code, discount_minor=200),))
    assert send(database, other) == []
    till.void(sold)
    assert send(database, till, since=3) == [("campaign_voucher_mismatch", 4, 200)]
    assert voucher(database, used.voucher_code).status == "redeemed"
    (detail,) = [d for kind, _, _, d in raised(database) if kind == "campaign_voucher_mismatch"]
    assert f"voucher {used.voucher_code} was already used ({other.terminal_id}#1)" in detail
    assert_balanced_and_replayed(database)


def test_the_exception_page_shows_it_and_accept_is_its_only_resolution(
    database: Database,
) -> None:
    hq = prepare_hq(database)
    publish_rules(database, ProgramRules.model_validate(CAMPAIGNS.model_dump()).to_json())
    terminal_id, token = hq.server.terminal()
    till = JournalWriter(terminal_id)
    campaign_sale(till, None, [given("SPEND50")])
    with serve(database) as url:
        with httpx.Client(base_url=url, timeout=60) as client:
            reply = push(client, token, terminal_id, till.records)
            assert [e["kind"] for e in reply.json()["exceptions"]] == ["campaign_voucher_mismatch"]
        with database.read() as conn:
            exception_id = conn.execute(select(exceptions.c.id)).scalar_one()
        with signed_in(url, hq.manager) as client:
            queue = client.get("/exceptions?kind=campaign_voucher_mismatch").text
            assert "Campaign voucher mismatch" in queue
            page = client.get(f"/exceptions/{exception_id}").text
            assert 'value="accept"' in page
            assert 'value="adjust"' not in page
            assert 'value="write_off"' not in page
    mo = Actor("mo", via="cli")
    with pytest.raises(MalformedError):
        resolve_exception(database, mo, exception_id, "write_off", "nothing to write off")
    resolve_exception(database, mo, exception_id, "accept", "the customer keeps the voucher")
    assert_balanced_and_replayed(database)


def test_voiding_an_overdrawn_sale_with_a_voucher_in_the_same_push_reverses_every_leg(
    database: Database,
) -> None:
    """The overdraft check flushes the sale's points legs before its voucher is issued; the
    void, reconciled in the same transaction, must still reverse both (it once reversed only
    the voucher's, and `ledger rebuild --check` disagreed)."""
    _server, (till,) = setup(database)
    ben = member_ref(card(2), "M0000000002")  # 300 points
    till.sale(ben, redeem=300, rules=CAMPAIGNS)
    printed = given()
    overdrew = till.sale(ben, redeem=300, rules=CAMPAIGNS, campaign_vouchers=(printed,))
    till.void(overdrew)
    kinds = [kind for kind, _seq, _amount in send(database, till)]
    assert "offline_overdraft" in kinds
    assert voucher(database, printed.voucher_code).status == "voided"
    assert posted(database, f"voucher:{printed.voucher_code}") == 0
    first = till.since(0)[0]
    earned_first = first["payload"]["earned"]["total_points"] if first["payload"]["earned"] else 0
    assert posted(database, "member:M0000000002") == 300 - 300 + earned_first
    assert_balanced_and_replayed(database)


def test_a_voucher_printed_and_used_at_one_till_in_one_push_is_redeemed(
    database: Database,
) -> None:
    """Vouchers issued under codes found free are written together, later in the push: a
    later sale of the same push that uses one must still find it."""
    _server, (till,) = setup(database)
    printed = given()
    campaign_sale(till, None, [printed])
    till.sale(None, vouchers=(VoucherUse(code=printed.voucher_code, discount_minor=200),))
    assert send(database, till) == []
    row = voucher(database, printed.voucher_code)
    assert (row.status, row.issued_seq, row.redeemed_seq) == ("redeemed", 1, 2)
    assert posted(database, f"voucher:{printed.voucher_code}") == 0
    assert_balanced_and_replayed(database)


def test_a_code_another_transaction_takes_during_the_push_is_not_issued_twice(
    database: Database,
) -> None:
    """PostgreSQL, two transactions: the push finds a code free (the other transaction has
    not committed it), the other commits while the push writes its vouchers. The push does
    not fail and the code is not issued twice: the sale's voucher is ``voucher_invalid``."""
    if not database.is_postgres:
        pytest.skip("a race between two concurrent transactions: PostgreSQL only")
    _server, (till,) = setup(database)
    printed = given()
    campaign_sale(till, ANNA, [printed])
    till.sale(ANNA)
    results: list[Any] = []
    with database.engine.connect() as other:
        other.begin()
        insert_voucher(
            other,
            NewVoucher(
                code=printed.voucher_code,
                value_minor=100,
                percent_bp=None,
                min_spend_minor=0,
                currency="EUR",
                expires_on=None,
                member_id=None,
                source="elsewhere",
                issued_at="2026-11-01T00:00:00.000000Z",
            ),
        )
        pusher = threading.Thread(target=lambda: results.append(send(database, till)))
        pusher.start()
        try:
            deadline = time.monotonic() + 60
            while not _waiting_on_a_lock(database) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _waiting_on_a_lock(database), "the push never reached the taken code"
        finally:
            other.commit()
            pusher.join(timeout=120)
    assert results == [[("voucher_invalid", 1, 200)]]
    assert voucher(database, printed.voucher_code).source == "elsewhere"
    with database.read() as conn:
        stored = conn.execute(
            select(func.count())
            .select_from(journal_entries)
            .where(journal_entries.c.terminal_id == till.terminal_id)
        ).scalar_one()
    assert stored == 2


def _waiting_on_a_lock(database: Database) -> bool:
    with database.engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )
