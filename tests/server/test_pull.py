"""Pull: members, rules, catalog and offers since a cursor, in pages, with applied_through_seq."""

from __future__ import annotations

from typing import Any

import httpx

from syncserver.hq.imports import import_catalog
from syncserver.storage.counter import allocate_positions
from syncserver.storage.database import Database
from syncserver.storage.members import changed_member_states, member_states
from syncserver.storage.schema import offers
from tests.server.helpers import PULL, api, bearer, prepare, push
from tests.server.journal import JournalWriter, card, member_ref

CATALOG = """sku,description,category,price_minor,tax_rate_bp,open_price
4000000000017,Pasta,grocery,199,700,0
4000000000024,Milk,dairy,109,700,no
DEPT-1,Grocery (open price),grocery,0,700,yes
"""


def _pull(client: httpx.Client, token: str, since: str = "0", limit: int = 500) -> Any:
    reply = client.get(PULL, params={"since": since, "limit": limit}, headers=bearer(token))
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_first_download_then_only_changes(database: Database) -> None:
    server = prepare(database)
    import_catalog(database, CATALOG)
    with database.write() as conn:
        conn.execute(
            offers.insert().values(
                offer_id="O1",
                title="Gold coffee",
                description="A free coffee",
                tier="gold",
                change_seq=allocate_positions(conn, 1),
            )
        )
    terminal_id, token = server.terminal()
    with api(database) as client:
        first = _pull(client, token)
        assert first["total_members"] == 3
        assert first["applied_through_seq"] == 0
        assert first["more"] is False
        assert {m["member_id"]: m["balance"] for m in first["members"]} == {
            "M0000000001": 1000,
            "M0000000002": 300,
            "M0000000003": 0,
        }
        assert first["members"][0]["cards"] == [
            {"card_number": card(1), "status": "active", "blocked_reason": None}
        ]
        assert [r["version"] for r in first["rules"]] == [3]
        assert [p["sku"] for p in first["products"]] == ["4000000000017", "4000000000024", "DEPT-1"]
        assert first["products"][2]["open_price"] is True
        assert [o["offer_id"] for o in first["offers"]] == ["O1"]
        assert _pull(client, token, first["cursor"]) == {
            "cursor": first["cursor"],
            "more": False,
            "applied_through_seq": 0,
            "members": [],
            "rules": [],
            "products": [],
            "offers": [],
            "cashiers": [],
            "vouchers": [],
            "gift_cards": [],
            "rewards_issued": {},
            "reset": False,
            "total_members": None,
        }
        till = JournalWriter(terminal_id)
        till.sale(member_ref(card(2), "M0000000002"))
        till.replace_card(member_ref(card(1), "M0000000001"), card(12))
        assert push(client, token, terminal_id, till.records).status_code == 200
        changed = _pull(client, token, first["cursor"])
    assert changed["applied_through_seq"] == 2
    assert [m["member_id"] for m in changed["members"]] == ["M0000000002", "M0000000001"]
    anna = changed["members"][1]
    assert [(c["card_number"], c["status"]) for c in anna["cards"]] == [
        (card(1), "blocked"),
        (card(12), "active"),
    ]
    assert int(changed["cursor"]) > int(first["cursor"])


def test_pages_cover_everything_exactly_once(database: Database) -> None:
    server = prepare(database)
    import_catalog(database, CATALOG)
    _, token = server.terminal()
    seen: list[str] = []
    cursor, pages = "0", 0
    with api(database) as client:
        while True:
            page = _pull(client, token, cursor, limit=2)
            pages += 1
            seen += [m["member_id"] for m in page["members"]]
            seen += [f"rules-{r['version']}" for r in page["rules"]]
            seen += [p["sku"] for p in page["products"]]
            assert len(page["members"]) + len(page["rules"]) + len(page["products"]) <= 2
            cursor = page["cursor"]
            if not page["more"]:
                break
        bad_cursor = client.get(PULL, params={"since": "-1"}, headers=bearer(token))
        bad_limit = client.get(PULL, params={"limit": 0}, headers=bearer(token))
    assert sorted(seen) == sorted(
        [
            "M0000000001",
            "M0000000002",
            "M0000000003",
            "rules-3",
            "4000000000017",
            "4000000000024",
            "DEPT-1",
        ]
    )
    assert len(seen) == len(set(seen))
    assert pages == 4
    for reply in (bad_cursor, bad_limit):
        assert reply.status_code == 422
        assert reply.json()["error"]["code"] == "malformed"


def test_a_pages_members_are_read_by_position_exactly_as_by_id(database: Database) -> None:
    """A page reads its members by the range of positions it covers
    (``changed_member_states``): the same states, cards, balances and tier figures as reading
    them by id, in change order — also after a member changed again (a blocked card) and
    moved behind the others, and with a product between members on one page."""
    server = prepare(database)
    import_catalog(database, CATALOG)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    till.sale(member_ref(card(2), "M0000000002"))
    till.replace_card(member_ref(card(1), "M0000000001"), card(11))
    with api(database) as client:
        assert push(client, token, terminal_id, till.records).status_code == 200
        pages = []
        cursor = "0"
        while True:
            page = _pull(client, token, cursor, limit=3)
            pages.append((int(cursor), page))
            cursor = page["cursor"]
            if not page["more"]:
                break
    with database.read() as conn:
        changed = [changed_member_states(conn, after, int(page["cursor"])) for after, page in pages]
        by_id = [
            member_states(conn, [m["member_id"] for m in page["members"]]) for _, page in pages
        ]
    assert changed == by_id
    assert [[m.model_dump(mode="json") for m in states] for states in changed] == [
        page["members"] for _, page in pages
    ]
    order = [m.member_id for states in changed for m in states]
    assert order == ["M0000000003", "M0000000002", "M0000000001"]  # as they last changed
    assert [(c.card_number, c.status) for c in changed[-1][-1].cards] == [
        (card(1), "blocked"),
        (card(11), "active"),
    ]
