"""The pull page written straight to JSON (no model per member) is byte for byte what
``PullResponse.model_dump_json()`` writes for the same page: members with several cards, a
blocked one, tiers, qualifying figures, points by expiry day, store credit, a local id,
absent (None) fields and text that JSON must escape; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import update

from shared.protocol import PullResponse
from syncserver.storage.database import Database
from syncserver.storage.members import member_states
from syncserver.storage.schema import cards, member_activity, member_lots, members, stored_values
from syncserver.sync.pull import pull, pull_json
from tests.server.helpers import PULL, api, bearer, prepare
from tests.server.journal import card


def _members_of_every_shape(database: Database) -> None:
    """The three demo members (with their opening lots), given everything a member can have."""
    now = datetime.now(UTC)
    with database.write() as conn:
        conn.execute(
            update(members)
            .where(members.c.member_id == "M0000000001")
            .values(
                local_member_id="0b9e4a52-7d0c-4c5e-9d3f-2b1e6f3a9c10",
                name='Łucja "Nowak"\\ \u00e9\n\u2028',
                phone="+49 170 1234567",
                email="lucja@example.com",
                tier_since="2026-01-02",
                tier_review_on="2027-01-02",
                tier_grace=True,
            )
        )
        conn.execute(
            update(cards)
            .where(cards.c.card_number == card(2))
            .values(status="blocked", blocked_reason="lost \u2603")
        )
        conn.execute(
            cards.insert().values(
                card_number=card(12),
                member_id="M0000000002",
                status="active",
                created_at=now,
            )
        )
        book = json.dumps(
            {
                "l": [
                    ["2026-01-01", "2099-12-31", 600, 600, 0, "a"],
                    ["2026-02-01", "2099-12-31", 400, 400, 0, "b"],
                ],
                "d": [],
                "v": None,
            }
        )
        conn.execute(member_lots.delete().where(member_lots.c.member_id == "M0000000001"))
        conn.execute(
            member_lots.insert().values(member_id="M0000000001", book=book, next_expiry=None)
        )
        today = now.date().isoformat()
        conn.execute(
            member_activity.insert().values(
                member_id="M0000000002", day=today, points=120, spend_minor=4599, visits=3
            )
        )
        conn.execute(
            stored_values.insert().values(
                account="credit:M0000000003",
                kind="credit",
                member_id="M0000000003",
                currency="EUR",
                balance_minor=1250,
                status="active",
                change_seq=0,
            )
        )


def test_the_fast_page_is_the_models_json(database: Database) -> None:
    server = prepare(database)
    _members_of_every_shape(database)
    terminal_id, token = server.terminal()
    with database.read() as conn:
        states = member_states(conn, ["M0000000001"])
    # The page really has every shape the test claims.
    assert states[0].local_member_id
    assert states[0].tier_grace
    assert states[0].expiring
    for since, limit in (("0", 500), ("0", 1), ("0", 2), ("1", 2), ("3", 1000)):
        fast = pull_json(database, terminal_id, int(since), limit)
        page = pull(database, terminal_id, int(since), limit)
        assert fast == page.model_dump_json().encode(), (since, limit)
        assert PullResponse.model_validate_json(fast) == page
    whole = PullResponse.model_validate_json(pull_json(database, terminal_id, 0, 500))
    by_id = {m.member_id: m for m in whole.members}
    assert [c.status for c in by_id["M0000000002"].cards] == ["blocked", "active"]
    assert by_id["M0000000002"].qualifying is not None
    assert by_id["M0000000002"].qualifying.spend_minor == 4599
    assert by_id["M0000000003"].store_credit_minor == 1250
    assert by_id["M0000000003"].phone is None
    assert by_id["M0000000003"].local_member_id is None
    # Over HTTP: the same bytes, a JSON content type, and the documented schema unchanged.
    with api(database) as client:
        reply = client.get(PULL, params={"since": "0", "limit": 500}, headers=bearer(token))
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == "application/json"
        assert reply.content == pull(database, terminal_id, 0, 500).model_dump_json().encode()
        schema = client.get("/openapi.json").json()
    ok = schema["paths"][PULL]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/PullResponse"}
