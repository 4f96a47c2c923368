"""HQ recomputes the points a return moves from the original sale (any till of the chain) and
the returns it already reconciled against it; a difference is ``return_mismatch``, posted as
the till reported. Also ``GET /api/v1/sync/original``, which a till asks for another till's
sale. Both databases, a real uvicorn, ``ledger rebuild --check`` at the end."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.journal import JournalEntry, Return, Sale
from syncserver.ledger.rebuild import rebuild_check
from syncserver.storage.database import Database
from tests.server.helpers import Server, api, bearer, prepare, push
from tests.server.journal import JournalWriter, card, member_ref, return_points

ANNA = member_ref(card(1), "M0000000001")  # 1000 points
BIG_BASKET = [("4000000000017", "grocery", 4, 500), ("4000000000024", "dairy", 2, 350)]
ORIGINAL = "/api/v1/sync/original"


@pytest.fixture
def server(database: Database) -> Server:
    return prepare(database)


def _push(client: httpx.Client, token: str, till: JournalWriter, since: int = 0) -> Any:
    reply = push(client, token, till.terminal_id, till.since(since))
    assert reply.status_code == 200, reply.text
    return reply.json()


def _moved(entry: JournalEntry) -> int:
    assert isinstance(entry.payload, Return)
    return entry.payload.points_restored - entry.payload.points_reversed


def _earned(entry: JournalEntry) -> int:
    assert isinstance(entry.payload, Sale)
    return entry.payload.points_earned - entry.payload.points_redeemed


def test_a_return_the_till_computed_right_raises_nothing(
    server: Server, database: Database
) -> None:
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    sale = till.sale(ANNA, BIG_BASKET, redeem=300)
    first = till.ret(sale, ANNA, quantity=3, refund=1500)
    second = till.ret(sale, ANNA, quantity=1, before=3, refund=500)
    assert isinstance(first.payload, Return)
    assert first.payload.points_reversed > 0
    assert first.payload.points_restored > 0
    with api(database) as client:
        assert _push(client, token, till)["exceptions"] == []
    assert server.balance("M0000000001") == 1000 + _earned(sale) + _moved(first) + _moved(second)
    assert rebuild_check(database).ok


def test_wrong_points_raise_return_mismatch_with_the_difference(
    server: Server, database: Database
) -> None:
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    sale = till.sale(ANNA, BIG_BASKET, redeem=300)
    right_reversed, right_restored = return_points(sale, 1, 2, 0)
    wrong = till.ret(sale, ANNA, quantity=2, refund=1000, reversed_points=right_reversed + 12)
    with api(database) as client:
        reply = _push(client, token, till)
    assert reply["exceptions"] == [
        {
            "kind": "return_mismatch",
            "terminal_id": terminal_id,
            "seq": wrong.seq,
            "member_id": "M0000000001",
            "amount": -12,  # the till took 12 points more than HQ makes it
            "detail": reply["exceptions"][0]["detail"],
        }
    ]
    detail = reply["exceptions"][0]["detail"]
    assert detail.startswith(
        f"return {terminal_id}#{wrong.seq} of sale {terminal_id}#{sale.seq} reversed "
        f"{right_reversed + 12} points and restored {right_restored}, HQ makes it "
        f"{right_reversed} and {right_restored} (line 1: 2 of 4 back after 0, "
    )
    # Posted as the till reported, never corrected silently.
    assert server.balance("M0000000001") == 1000 + _earned(sale) + _moved(wrong)
    assert rebuild_check(database).ok


def test_partial_returns_at_different_tills_telescope_over_what_hq_holds(
    server: Server, database: Database
) -> None:
    (a_id, a_token), (b_id, b_token), (c_id, c_token) = (
        server.terminal(name="A"),
        server.terminal(name="B"),
        server.terminal(name="C"),
    )
    till_a, till_b, till_c = JournalWriter(a_id), JournalWriter(b_id), JournalWriter(c_id)
    sale = till_a.sale(ANNA, BIG_BASKET)
    at_b = till_b.ret(sale, ANNA, quantity=1, refund=500)
    at_c = till_c.ret(sale, ANNA, quantity=3, before=1, refund=1500)
    # A till that ignored B's return would have reversed another share: HQ would notice.
    assert return_points(sale, 1, 3, 0) != return_points(sale, 1, 3, 1)
    other_line = till_c.ret(sale, ANNA, quantity=1, refund=350, line_no=2, before={1: 4})
    with api(database) as client:
        assert _push(client, a_token, till_a)["exceptions"] == []
        assert _push(client, b_token, till_b)["exceptions"] == []
        assert _push(client, c_token, till_c)["exceptions"] == []
        # Line 1 is now all back: a fourth unit anywhere is more than was sold.
        extra = till_b.ret(sale, ANNA, quantity=1, refund=500, reversed_points=1, restored=0)
        reply = _push(client, b_token, till_b, since=at_b.seq)
    assert [(e["kind"], e["seq"], e["amount"]) for e in reply["exceptions"]] == [
        ("return_mismatch", extra.seq, -1)
    ]
    assert "only 0 of 4 were left to return" in reply["exceptions"][0]["detail"]
    total = sum(_moved(e) for e in (at_b, at_c, other_line, extra))
    assert server.balance("M0000000001") == 1000 + _earned(sale) + total
    assert rebuild_check(database).ok


def test_a_refund_without_the_original_names_the_points_to_adjust(
    server: Server, database: Database
) -> None:
    (a_id, a_token), (b_id, b_token) = server.terminal(name="A"), server.terminal(name="B")
    till_a, till_b = JournalWriter(a_id), JournalWriter(b_id)
    sale = till_a.sale(ANNA, BIG_BASKET, redeem=300)
    offline = till_b.ret(sale, None, quantity=2, refund=1000, unavailable=True)
    should_reverse, should_restore = return_points(sale, 1, 2, 0)
    assert should_reverse > 0
    with api(database) as client:
        assert _push(client, a_token, till_a)["exceptions"] == []
        reply = _push(client, b_token, till_b)
    assert [(e["kind"], e["member_id"], e["amount"]) for e in reply["exceptions"]] == [
        ("return_mismatch", "M0000000001", should_reverse - should_restore)
    ]
    assert reply["exceptions"][0]["detail"].startswith(
        f"return {b_id}#{offline.seq} of sale {a_id}#{sale.seq} was refunded at {b_id} "
        f"without the original sale: {should_reverse} points not reversed and "
        f"{should_restore} not restored; adjust the member M0000000001"
    )
    assert server.balance("M0000000001") == 1000 + _earned(sale)  # no points moved
    # A later return of the same line at A counts the offline one (2 units already back).
    later = till_a.ret(sale, ANNA, quantity=2, before=2, refund=1000)
    with api(database) as client:
        assert _push(client, a_token, till_a, since=sale.seq)["exceptions"] == []
    assert _moved(later) != 0
    assert rebuild_check(database).ok


def test_a_refund_without_the_original_before_the_sale_reaches_hq(
    server: Server, database: Database
) -> None:
    (a_id, a_token), (b_id, b_token) = server.terminal(name="A"), server.terminal(name="B")
    till_a, till_b = JournalWriter(a_id), JournalWriter(b_id)
    sale = till_a.sale(ANNA, BIG_BASKET)
    till_b.ret(sale, None, quantity=1, refund=500, unavailable=True)
    with api(database) as client:
        reply = _push(client, b_token, till_b)  # A has not synced yet
        assert _push(client, a_token, till_a)["exceptions"] == []
    assert [e["kind"] for e in reply["exceptions"]] == ["unknown_original"]
    assert "has not reached the server" in reply["exceptions"][0]["detail"]
    assert rebuild_check(database).ok


def test_a_till_gets_another_tills_sale_and_its_returns(server: Server, database: Database) -> None:
    (a_id, a_token), (b_id, b_token) = server.terminal(name="A"), server.terminal(name="B")
    till_a, till_b = JournalWriter(a_id), JournalWriter(b_id)
    sale = till_a.sale(ANNA, BIG_BASKET)
    own_return = till_a.ret(sale, ANNA, quantity=1, refund=500)
    voided = till_a.sale(ANNA)
    till_a.void(voided)
    offline = till_b.ret(sale, None, quantity=1, before=1, refund=500, unavailable=True)
    with api(database) as client:
        _push(client, a_token, till_a)
        _push(client, b_token, till_b)
        found = client.get(
            ORIGINAL, params={"terminal_id": a_id, "seq": sale.seq}, headers=bearer(b_token)
        )
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["entry"] == till_a.records[0]  # exactly as stored, hash included
        assert [(r["terminal_id"], r["seq"]) for r in body["returns"]] == [
            (a_id, own_return.seq),
            (b_id, offline.seq),
        ]
        missing = client.get(
            ORIGINAL, params={"terminal_id": a_id, "seq": 99}, headers=bearer(b_token)
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        assert f"{a_id}-99" in missing.json()["error"]["message"]
        not_a_sale = client.get(
            ORIGINAL, params={"terminal_id": a_id, "seq": own_return.seq}, headers=bearer(b_token)
        )
        assert not_a_sale.status_code == 404
        gone = client.get(
            ORIGINAL, params={"terminal_id": a_id, "seq": voided.seq}, headers=bearer(b_token)
        )
        assert gone.status_code == 409
        assert "voided" in gone.json()["error"]["message"]
        bad_params: list[dict[str, str | int]] = [
            {"terminal_id": a_id, "seq": 0},
            {"terminal_id": "", "seq": 1},
            {"seq": 1},
        ]
        for bad in bad_params:
            refused = client.get(ORIGINAL, params=bad, headers=bearer(b_token))
            assert refused.status_code == 422
            assert refused.json()["error"]["code"] == "malformed"
        assert client.get(ORIGINAL, params={"terminal_id": a_id, "seq": 1}).status_code == 401
        hq = client.get(
            ORIGINAL, params={"terminal_id": a_id, "seq": 1}, headers=bearer(server.admin_token)
        )
        assert hq.status_code == 403
