"""Reconciliation: postings per entry kind and every exception kind with its amount."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shared.journal import Return, Sale
from shared.rules import ProgramRules
from syncserver.storage.database import Database
from syncserver.storage.schema import cards, members, postings
from tests.server.helpers import Server, api, prepare, push
from tests.server.journal import RULES, JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")  # 1000 points
BEN = member_ref(card(2), "M0000000002")  # 300 points
BIG_BASKET = [("4000000000017", "grocery", 4, 500)]  # 20.00: up to 10.00 redeemable


def _push(client: httpx.Client, token: str, till: JournalWriter, since: int = 0) -> Any:
    reply = push(client, token, till.terminal_id, till.since(since))
    assert reply.status_code == 200, reply.text
    return reply.json()


def _earned(entry: Any) -> int:
    assert isinstance(entry.payload, Sale)
    return entry.payload.points_earned


@pytest.fixture
def server(database: Database) -> Server:
    return prepare(database)


def test_rules_mismatch_posts_the_tills_figure_and_reports_the_difference(
    server: Server, database: Database
) -> None:
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    generous = ProgramRules.model_validate(
        RULES.model_dump() | {"earn": RULES.earn.model_dump() | {"points_per_unit": "2"}}
    )
    unknown_version = ProgramRules.model_validate(RULES.model_dump() | {"version": 99})
    agreed = till.sale(ANNA)
    wrong = till.sale(ANNA, rules=generous)
    unknown = till.sale(ANNA, rules=unknown_version)
    with api(database) as client:
        reply = _push(client, token, till)
    mismatches = [e for e in reply["exceptions"] if e["kind"] == "rules_mismatch"]
    assert [(e["seq"], e["amount"]) for e in mismatches] == [
        (wrong.seq, _earned(wrong) - _earned(agreed)),
        (unknown.seq, _earned(unknown)),
    ]
    assert "version 99 is not known" in mismatches[1]["detail"]
    assert server.balance("M0000000001") == 1000 + _earned(agreed) + _earned(wrong) + _earned(
        unknown
    )


def test_a_tier_is_read_off_the_breakdown(server: Server, database: Database) -> None:
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    gold = till.sale(member_ref(card(3), "M0000000003"), tier="gold")
    plain = till.sale(member_ref(card(3), "M0000000003"))
    assert _earned(gold) > _earned(plain)
    with api(database) as client:
        assert _push(client, token, till)["exceptions"] == []


def test_an_offline_overdraft_is_posted_with_the_amount_below_zero(
    server: Server, database: Database
) -> None:
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    sale = till.sale(BEN, BIG_BASKET, redeem=400)
    with api(database) as client:
        reply = _push(client, token, till)
    after = 300 + _earned(sale) - 400
    assert after < 0
    assert reply["exceptions"] == [
        {
            "kind": "offline_overdraft",
            "terminal_id": terminal_id,
            "seq": 1,
            "member_id": "M0000000002",
            "amount": -after,
            "detail": f"sale {terminal_id}#1 redeemed 400 points with a balance of 300: "
            f"member M0000000002 is now at "
            f"{after}",
        }
    ]
    assert server.balance("M0000000002") == after
    # Already below zero: a further redemption counts only how much deeper it went (net of
    # what the same sale earned); a sale without redemption simply repays.
    again = till.sale(BEN, BIG_BASKET, redeem=200)
    repay = till.sale(BEN, BIG_BASKET)
    with api(database) as client:
        second = _push(client, token, till, since=1)
    assert [(e["kind"], e["seq"], e["amount"]) for e in second["exceptions"]] == [
        ("offline_overdraft", again.seq, 200 - _earned(again))
    ]
    assert server.balance("M0000000002") == after + _earned(again) - 200 + _earned(repay)


def test_a_card_blocked_before_the_till_knew_still_posts(
    server: Server, database: Database
) -> None:
    (a_id, a_token), (b_id, b_token) = server.terminal(), server.terminal()
    till_a, till_b = JournalWriter(a_id), JournalWriter(b_id)
    till_a.replace_card(ANNA, card(11))
    late = till_b.sale(ANNA)  # till B never heard of the replacement
    with api(database) as client:
        assert _push(client, a_token, till_a)["exceptions"] == []
        reply = _push(client, b_token, till_b)
    assert [(e["kind"], e["amount"], e["member_id"]) for e in reply["exceptions"]] == [
        ("card_blocked", _earned(late), "M0000000001")
    ]
    assert "replaced (lost)" in reply["exceptions"][0]["detail"]
    assert server.balance("M0000000001") == 1000 + _earned(late)
    with database.read() as conn:
        states = dict(conn.execute(select(cards.c.card_number, cards.c.status)).all())
    assert states[card(1)] == "blocked"
    assert states[card(11)] == "active"


def test_a_card_enrolled_twice_creates_the_member_without_the_card(
    server: Server, database: Database
) -> None:
    (a_id, a_token), (b_id, b_token) = server.terminal(), server.terminal()
    till_a, till_b = JournalWriter(a_id), JournalWriter(b_id)
    taken = till_a.enrol(card(3), name="Claims Gold's Card")  # card 3 is M0000000003's
    till_a.enrol(card(21), name="First")
    till_b.enrol(card(21), name="Second")  # the same blank card, at another till
    with api(database) as client:
        reply_a = _push(client, a_token, till_a)
        reply_b = _push(client, b_token, till_b)
    assert [(e["kind"], e["seq"], e["amount"]) for e in reply_a["exceptions"]] == [
        ("card_enrolled_twice", taken.seq, 0)
    ]
    assert [(e["kind"], e["amount"]) for e in reply_b["exceptions"]] == [("card_enrolled_twice", 0)]
    with database.read() as conn:
        names: dict[str, int] = dict(
            conn.execute(
                select(members.c.name, func.count(cards.c.card_number))
                .outerjoin(cards, cards.c.member_id == members.c.member_id)
                .group_by(members.c.name)
            ).all()
        )
    assert names["Claims Gold's Card"] == 0
    assert names["First"] == 1
    assert names["Second"] == 0


def test_an_unknown_card_is_held_in_suspense(server: Server, database: Database) -> None:
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    stranger = till.sale(member_ref(card(50)))
    unregistered = till.sale(member_ref(card(51), "M0000000002"))
    with api(database) as client:
        reply = _push(client, token, till)
    assert [(e["kind"], e["member_id"], e["amount"]) for e in reply["exceptions"]] == [
        ("unknown_card", None, _earned(stranger)),
        ("unknown_card", "M0000000002", _earned(unregistered)),
    ]
    with database.read() as conn:
        suspense = conn.execute(
            select(func.sum(postings.c.amount)).where(
                postings.c.account == f"suspense:card:{card(50)}"
            )
        ).scalar_one()
    assert suspense == _earned(stranger)
    assert server.balance("M0000000002") == 300 + _earned(unregistered)


def test_returns_reverse_and_restore_points(server: Server, database: Database) -> None:
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    sale = till.sale(ANNA, BIG_BASKET, redeem=200)
    returned = till.ret(sale, ANNA)  # points as the till computes them: HQ agrees
    assert isinstance(returned.payload, Return)
    took, gave = returned.payload.points_reversed, returned.payload.points_restored
    assert took > 0
    assert gave > 0
    with api(database) as client:
        reply = _push(client, token, till)
    assert reply["exceptions"] == []
    assert server.balance("M0000000001") == 1000 + _earned(sale) - 200 - took + gave
    with database.read() as conn:
        legs = conn.execute(
            select(postings.c.account, postings.c.amount, postings.c.kind)
            .where(postings.c.seq == 2)
            .order_by(postings.c.line)
        ).all()
    assert [tuple(leg) for leg in legs] == [
        ("program:reversed", took, "reverse"),
        ("member:M0000000001", -took, "reverse"),
        ("member:M0000000001", gave, "restore"),
        ("program:redeemed", -gave, "restore"),
    ]


def test_a_return_against_an_unknown_sale_is_posted_and_reported(
    server: Server, database: Database
) -> None:
    (a_id, _), (b_id, b_token) = server.terminal(), server.terminal()
    till_a, till_b = JournalWriter(a_id), JournalWriter(b_id)
    never_pushed = till_a.sale(ANNA)
    till_b.ret(never_pushed, ANNA, reversed_points=7)
    with api(database) as client:
        reply = _push(client, b_token, till_b)
    assert [(e["kind"], e["amount"]) for e in reply["exceptions"]] == [("unknown_original", -7)]
    assert server.balance("M0000000001") == 1000 - 7


def test_a_void_reverses_the_sale_once(server: Server, database: Database) -> None:
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    sale = till.sale(ANNA, BIG_BASKET, redeem=200)
    till.void(sale)
    till.void(sale)  # a second void of the same sale reverses nothing
    other = JournalWriter("T9999").sale(ANNA)
    till.void(other)  # another till's sale
    with api(database) as client:
        reply = _push(client, token, till)
    assert [(e["kind"], e["seq"], e["amount"]) for e in reply["exceptions"]] == [
        ("unknown_original", 3, 0),
        ("unknown_original", 4, 0),
    ]
    assert "already voided by" in reply["exceptions"][0]["detail"]
    assert server.balance("M0000000001") == 1000


def test_an_offline_enrolment_gets_a_server_identity(server: Server, database: Database) -> None:
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    enrolment = till.enrol(card(30))
    local_id = enrolment.payload.local_member_id  # type: ignore[union-attr]
    first = till.sale(member_ref(card(30), local=local_id))
    with api(database) as client:
        assert _push(client, token, till)["exceptions"] == []
        pulled = client.get("/api/v1/sync/pull", headers={"Authorization": f"Bearer {token}"})
        hq = {"Authorization": f"Bearer {server.admin_token}"}
        owner = client.get(f"/api/v1/cards/{card(30)}", headers=hq).json()
        found = client.get(f"/api/v1/members/{owner['member_id']}", headers=hq).json()
    assert found["local_member_id"] == local_id
    assert found["member_id"].startswith("M")
    assert len(found["member_id"]) == 11
    assert found["balance"] == _earned(first)
    assert [c["card_number"] for c in found["cards"]] == [card(30)]
    mapped = [m for m in pulled.json()["members"] if m["local_member_id"] == local_id]
    # The profile and the pulled state agree on every field they share (tier standing and
    # expiring points have their own HQ endpoints: /tiers and /lots).
    assert len(mapped) == 1
    shared_keys = mapped[0].keys() & found.keys()
    assert {"member_id", "name", "balance", "cards", "tier"} <= shared_keys
    assert {key: mapped[0][key] for key in shared_keys} == {key: found[key] for key in shared_keys}
    # Later entries may reference the server id, the local id or only the card.
    till.sale(member_ref(card(30), found["member_id"], local_id))
    till.sale(member_ref(card(30)))
    with api(database) as client:
        assert _push(client, token, till, since=2)["exceptions"] == []
    assert server.balance(found["member_id"]) == server.posted(found["member_id"])
