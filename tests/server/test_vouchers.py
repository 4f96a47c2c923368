"""Single-use vouchers at HQ (docs/vouchers.md): bulk issue, the first use applied, a second
use anywhere raised once as ``voucher_reused`` with both receipts, invalid uses, voids, the
expiry run and a late use it had already expired, the CLI and the tills' live endpoint — on
SQLite and PostgreSQL, with ``ledger rebuild --check`` after each."""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from shared.codes import generate_voucher_code
from shared.journal import VoucherUse
from syncserver.cli import main as syncserver
from syncserver.errors import ConflictError, MalformedError, NotFoundError
from syncserver.hq.setup import CLI
from syncserver.hq.vouchers import issue_vouchers, void_voucher
from syncserver.ledger.periodic import DailyRuns, run_voucher_expiry
from syncserver.storage.database import Database
from syncserver.storage.schema import audit_log, vouchers
from syncserver.sync.pull import pull
from tests.server.helpers import api, bearer, prepare
from tests.server.journal import JournalWriter, card, member_ref
from tests.server.test_giftcards import (
    assert_balanced_and_replayed,
    gift,
    gift_card,
    posted,
    send,
    two_tills,
)

ANNA = member_ref(card(1), "M0000000001")
BEN = member_ref(card(2), "M0000000002")
LAST_DAY = datetime.now(UTC).date() + timedelta(days=60)
"""An expiry date in the future whatever day the tests run (HQ refuses one in the past)."""


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def use(code: str, discount: int = 500) -> tuple[VoucherUse, ...]:
    return (VoucherUse(code=code, discount_minor=discount),)


def state(database: Database, code: str) -> tuple[Any, ...]:
    with database.read() as conn:
        row = conn.execute(select(vouchers).where(vouchers.c.code == code)).one()
    return (row.status, row.redeemed_terminal, row.redeemed_seq, row.discount_minor)


def issue(database: Database, count: int = 2, **kwargs: Any) -> list[str]:
    kwargs.setdefault("value_minor", 500)
    return issue_vouchers(database, count=count, actor=CLI, **kwargs)


def test_issue_then_pull_then_redeem_once(database: Database) -> None:
    till_a, _till_b = two_tills(database)
    codes = issue(database, 2, min_spend_minor=1000, expires_on=date(2026, 12, 31))
    assert len(set(codes)) == 2
    assert all(code.startswith("V-") and len(code) == 16 for code in codes)
    page = pull(database, till_a.terminal_id, 0, 1000)
    assert sorted(v.code for v in page.vouchers) == sorted(codes)
    assert {(v.value_minor, v.min_spend_minor, v.expires_on) for v in page.vouchers} == {
        (500, 1000, "2026-12-31")
    }
    assert posted(database, f"voucher:{codes[0]}") == 500
    # The member's sale earns on the basket less the voucher (no rules_mismatch).
    till_a.sale(ANNA, vouchers=use(codes[0], 400))
    assert send(database, till_a) == []
    assert state(database, codes[0]) == ("redeemed", till_a.terminal_id, 1, 400)
    assert posted(database, f"voucher:{codes[0]}") == 0
    assert posted(database, "program:voucher_redeemed") == 400
    assert posted(database, "program:voucher_breakage") == 100
    assert posted(database, "program:voucher_funding") == -1000
    # The next pull sends the change; a first download leaves out the used one.
    again = pull(database, till_a.terminal_id, int(page.cursor), 1000)
    assert [(v.code, v.status) for v in again.vouchers] == [(codes[0], "redeemed")]
    fresh = pull(database, till_a.terminal_id, 0, 1000)
    assert [v.code for v in fresh.vouchers] == [codes[1]]
    assert_balanced_and_replayed(database)


def test_one_voucher_at_two_offline_tills_is_reused_once(database: Database) -> None:
    till_a, till_b = two_tills(database)
    code, _other = issue(database, 2)
    till_a.sale(None, vouchers=use(code))
    till_b.sale(None, vouchers=use(code))
    till_b.sale(None, vouchers=use(code))  # and once more at B
    assert send(database, till_a) == []
    raised = send(database, till_b)
    assert [(kind, seq, amount) for kind, seq, amount in raised] == [
        ("voucher_reused", 1, 500),
        ("voucher_reused", 2, 500),
    ]
    assert state(database, code) == ("redeemed", till_a.terminal_id, 1, 500)
    assert posted(database, f"suspense:voucher:{code}") == -1000
    assert posted(database, f"voucher:{code}") == 0
    assert_balanced_and_replayed(database)


def test_reused_names_both_receipts(database: Database) -> None:
    till_a, till_b = two_tills(database)
    (code,) = issue(database, 1)
    till_a.sale(None, vouchers=use(code))
    till_b.sale(None, vouchers=use(code))
    send(database, till_a)
    send(database, till_b)
    with database.read() as conn:
        from syncserver.storage.schema import exceptions

        (detail,) = conn.execute(
            select(exceptions.c.detail).where(exceptions.c.kind == "voucher_reused")
        ).scalars()
    assert f"till {till_a.terminal_id}#1, receipt {till_a.terminal_id}-1" in detail
    assert f"till {till_b.terminal_id}#1, receipt {till_b.terminal_id}-1" in detail
    assert "store S001" in detail


def test_invalid_uses(database: Database) -> None:
    till_a, _till_b = two_tills(database)
    (bound,) = issue(database, 1, member_id="M0000000001")
    (big_spend,) = issue(database, 1, min_spend_minor=5000)
    (short,) = issue(database, 1, expires_on=LAST_DAY)
    unknown = generate_voucher_code(random.Random(7))
    till_a.sale(BEN, vouchers=use(bound))  # another member's
    till_a.sale(None, vouchers=use(big_spend))  # a basket of 12.00
    till_a.sale(None, vouchers=use(unknown))
    till_a.now = at(LAST_DAY + timedelta(days=1))
    till_a.sale(None, vouchers=use(short))  # a day late
    assert send(database, till_a) == [
        ("voucher_invalid", 1, 500),
        ("voucher_invalid", 2, 500),
        ("voucher_invalid", 3, 500),
        ("voucher_invalid", 4, 500),
    ]
    # Nothing was used up: the rightful owner can still use them.
    assert {state(database, c)[0] for c in (bound, big_spend, short)} == {"issued"}
    till_a.sale(ANNA, vouchers=use(bound))
    assert send(database, till_a, 4) == []
    assert state(database, bound)[0] == "redeemed"
    assert_balanced_and_replayed(database)


def test_a_void_gives_the_voucher_back(database: Database) -> None:
    till_a, till_b = two_tills(database)
    (code,) = issue(database, 1)
    number = gift_card()
    till_a.giftcard_load(number, 2000)
    sale = till_a.sale(None, vouchers=use(code, 300), tenders=(gift(number, 900),))
    till_a.void(sale)
    assert send(database, till_a) == []
    assert state(database, code) == ("issued", None, None, None)
    assert posted(database, f"voucher:{code}") == 500
    till_b.sale(None, vouchers=use(code))
    assert send(database, till_b) == []
    assert state(database, code)[0] == "redeemed"
    assert_balanced_and_replayed(database)


def test_expiry_run_is_idempotent_and_a_late_use_takes_it_back(database: Database) -> None:
    till_a, _till_b = two_tills(database)
    (code, unused) = issue(database, 2, expires_on=LAST_DAY)
    (later,) = issue(database, 1, expires_on=LAST_DAY + timedelta(days=1))
    till_a.now = at(LAST_DAY - timedelta(days=1))
    till_a.sale(None, vouchers=use(code, 200))  # on its last day (local time), offline
    run_day = LAST_DAY + timedelta(days=1)
    first = run_voucher_expiry(database, run_day, CLI)
    assert first.counts == {"vouchers": 2, "value_minor": 1000}
    assert first.summary().startswith(f"expired 2 vouchers as of {run_day.isoformat()}")
    assert run_voucher_expiry(database, run_day, CLI).nothing_due
    assert state(database, code)[0] == "expired"
    assert state(database, later)[0] == "issued"
    assert posted(database, "program:voucher_breakage") == 1000
    assert send(database, till_a) == []  # used in time: its breakage is taken back
    assert state(database, code) == ("redeemed", till_a.terminal_id, 1, 200)
    assert state(database, unused)[0] == "expired"
    assert posted(database, "program:voucher_breakage") == 800
    assert posted(database, f"voucher:{code}") == 0
    assert_balanced_and_replayed(database)


def test_hq_void_and_errors(database: Database) -> None:
    till_a, _till_b = two_tills(database)
    (code, used) = issue(database, 2)
    void_voucher(database, code.lower(), "printed by mistake", CLI)
    assert state(database, code)[0] == "voided"
    assert posted(database, f"voucher:{code}") == 0
    with pytest.raises(ConflictError, match="voided"):
        void_voucher(database, code, "again", CLI)
    with pytest.raises(NotFoundError):
        void_voucher(database, generate_voucher_code(random.Random(3)), "unknown", CLI)
    with pytest.raises(MalformedError):
        issue_vouchers(database, count=0, value_minor=500, actor=CLI)
    with pytest.raises(MalformedError):
        issue_vouchers(database, count=1, value_minor=0, actor=CLI)
    with pytest.raises(NotFoundError):
        issue_vouchers(database, count=1, value_minor=500, member_id="M404", actor=CLI)
    till_a.sale(None, vouchers=use(code))
    till_a.sale(None, vouchers=use(used))
    assert send(database, till_a) == [("voucher_invalid", 1, 500)]
    with pytest.raises(ConflictError, match="redeemed"):
        void_voucher(database, used, "too late", CLI)
    with database.read() as conn:
        actions = list(conn.execute(select(audit_log.c.action)).scalars())
    assert actions.count("voucher.issue") == 1
    assert actions.count("voucher.void") == 1
    assert_balanced_and_replayed(database)


def test_percent_voucher_funds_what_it_takes(database: Database) -> None:
    till_a, _till_b = two_tills(database)
    (capped,) = issue(database, 1, value_minor=100, percent_bp=1000)
    (open_ended,) = issue(database, 1, value_minor=0, percent_bp=1000)
    till_a.sale(None, vouchers=use(capped, 100))
    till_a.sale(None, vouchers=use(open_ended, 120))
    assert send(database, till_a) == []
    assert posted(database, f"voucher:{open_ended}") == 0
    assert posted(database, "program:voucher_redeemed") == 220
    assert_balanced_and_replayed(database)


def test_cli_issue_and_void(database: Database, db_url: str) -> None:
    prepare(database)
    runner = CliRunner()
    result = runner.invoke(
        syncserver,
        [
            *("vouchers", "issue", "--value", "5.00", "--count", "3", "--min-spend", "20.00"),
            *("--expires", LAST_DAY.isoformat(), "--db", db_url),
        ],
    )
    assert result.exit_code == 0, result.output
    codes = result.stdout.split()
    assert len(codes) == 3
    with database.read() as conn:
        rows = conn.execute(select(vouchers).where(vouchers.c.code.in_(codes))).all()
    assert {(r.value_minor, r.min_spend_minor, r.expires_on) for r in rows} == {
        (500, 2000, LAST_DAY.isoformat())
    }
    bad = runner.invoke(
        syncserver, ["vouchers", "issue", "--value", "5.001", "--count", "1", "--db", db_url]
    )
    assert bad.exit_code != 0
    assert "5.001" in bad.output
    assert "Traceback" not in bad.output
    voided = runner.invoke(
        syncserver, ["vouchers", "void", codes[0], "--reason", "misprint", "--db", db_url]
    )
    assert voided.exit_code == 0, voided.output
    again = runner.invoke(
        syncserver, ["vouchers", "void", codes[0], "--reason", "misprint", "--db", db_url]
    )
    assert again.exit_code != 0
    assert "voided" in again.output
    expired = runner.invoke(
        syncserver, ["vouchers", "expire", "--as-of", "2000-01-01", "--db", db_url]
    )
    assert expired.exit_code == 0, expired.output
    assert expired.output.strip() == "voucher expiry as of 2000-01-01: nothing due"
    assert_balanced_and_replayed(database)


def test_live_endpoints(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    (code,) = issue(database, 1)
    till = JournalWriter(terminal_id)
    number = gift_card()
    till.giftcard_load(number, 2500)
    with api(database) as client:
        reply = client.post(
            "/api/v1/sync/push",
            json={"terminal_id": terminal_id, "entries": till.records},
            headers=bearer(token),
        )
        assert reply.status_code == 200, reply.text
        voucher = client.get(f"/api/v1/sync/voucher/{code}", headers=bearer(token))
        assert voucher.status_code == 200, voucher.text
        assert voucher.json()["voucher"]["status"] == "issued"
        card_now = client.get(f"/api/v1/sync/giftcard/{number}", headers=bearer(token))
        assert card_now.status_code == 200, card_now.text
        assert card_now.json()["card"]["balance_minor"] == 2500
        assert card_now.json()["applied_through_seq"] == 1
        missing = client.get(f"/api/v1/sync/giftcard/{gift_card()}", headers=bearer(token))
        assert missing.status_code == 404
        assert "not known at HQ" in missing.json()["error"]["message"]
        unknown = generate_voucher_code(random.Random(5))
        assert (
            client.get(f"/api/v1/sync/voucher/{unknown}", headers=bearer(token)).status_code == 404
        )
        assert client.get("/api/v1/sync/giftcard/12ab", headers=bearer(token)).status_code == 422
        assert client.get(f"/api/v1/sync/voucher/{code}").status_code == 401


def test_the_issue_scenario_two_offline_tills(database: Database) -> None:
    """HQ issues 2 vouchers; tills A and B, both offline, redeem voucher 1; a gift card sold
    for 25.00 at A is spent 10.00 at B: one voucher_reused, the card at 15.00, replay green."""
    till_a, till_b = two_tills(database)
    first, _second = issue(database, 2)
    number = gift_card()
    till_a.giftcard_load(number, 2500)
    till_a.sale(None, vouchers=use(first))
    assert send(database, till_a) == []
    till_b.sale(None, vouchers=use(first))
    till_b.sale(None, [("4000000000017", "grocery", 1, 1000)], tenders=(gift(number, 1000),))
    assert send(database, till_b) == [("voucher_reused", 1, 500)]
    page = pull(database, till_b.terminal_id, 0, 1000)
    assert [(c.card_number, c.balance_minor) for c in page.gift_cards] == [(number, 1500)]
    assert_balanced_and_replayed(database)


def test_daily_runs_include_the_voucher_expiry(database: Database) -> None:
    prepare(database)
    runs = DailyRuns(database, "UTC", CLI)
    runs.run_due()
    assert "voucher_expiry" in [r.kind for r in runs.done]


def test_concurrent_pushes_raise_exactly_one_reuse_and_one_overdraft(database: Database) -> None:
    """Two tills push at the same moment, each with the same voucher and a spend of the same
    card beyond what is left: one of each exception, whichever commits second."""
    till_a, till_b = two_tills(database)
    (code,) = issue(database, 1)
    number = gift_card()
    till_a.giftcard_load(number, 1500)
    assert send(database, till_a) == []
    basket = [("4000000000017", "grocery", 1, 1500)]
    for till in (till_a, till_b):
        till.sale(None, basket, vouchers=use(code), tenders=(gift(number, 1000),))
    barrier = threading.Barrier(2)
    raised: dict[str, list[tuple[Any, ...]]] = {}

    def push_one(till: JournalWriter, since: int) -> None:
        barrier.wait(timeout=30)
        raised[till.terminal_id] = send(database, till, since)

    threads = [
        threading.Thread(target=push_one, args=(till_a, 1)),
        threading.Thread(target=push_one, args=(till_b, 0)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    kinds = sorted(kind for found in raised.values() for kind, _seq, _amount in found)
    assert kinds == ["giftcard_overdraft", "voucher_reused"]
    assert [amount for found in raised.values() for kind, _s, amount in found] == [500, 500]
    assert_balanced_and_replayed(database)
