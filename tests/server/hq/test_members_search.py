"""Member search (dashboard /members and GET /api/v1/members): one box that tells a card,
an email, a member id, a phone number and words of a name apart; keyset pagination without
gaps or repeats; a terminal token cannot read members. (Word search in depth, phone
numbers by their end and the query plans: tests/server/test_member_search_words.py.)"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from syncserver.hq.imports import import_members
from syncserver.hq.members import classify
from syncserver.storage.database import Database
from syncserver.storage.members import name_words
from tests.server.hq.helpers import Hq, prepare_hq, serve, signed_in
from tests.server.journal import card

MEMBERS = "/api/v1/members"

# (member_id, name, phone, email, card serial)
PEOPLE = [
    ("M0000000101", "Anna Schmidt", "+49 170 5550101", "anna@example.com", 101),
    ("M0000000102", "Annabel  Lee", "01705550102", "Annabel.Lee@Example.com", 102),
    ("M0000000103", "anna schmidt", None, "other.anna@example.com", 103),
    ("M0000000104", "Bob Annan", "(030) 555-0104", None, 104),
    ("M0000000105", "Émile Zola", None, "emile@example.fr", 105),
    ("M0000000106", "Emil Nolde", None, None, 106),
]


def _import(hq: Hq, rows: Sequence[tuple[str, str, str | None, str | None, int]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["member_id", "name", "phone", "email", "tier", "card_number", "balance"])
    for member_id, name, phone, email, serial in rows:
        writer.writerow([member_id, name, phone or "", email or "", "", card(serial), 10])
    import_members(hq.database, out.getvalue())


def _ids(reply: httpx.Response) -> list[str]:
    assert reply.status_code == 200, reply.text
    return [m["member_id"] for m in reply.json()["items"]]


def test_the_search_box_tells_what_was_typed() -> None:
    assert classify(card(1)).kind == "card"
    assert classify(" 9826 0000 0000 0011 ").value == card(1)  # typed in groups
    assert classify("9826000000000012").kind == "phone"  # bad check digit: not a card
    assert classify("Anna@Example.com").kind == "email"
    assert (classify("m0000000001").kind, classify("m0000000001").value) == ("id", "M0000000001")
    phone = classify("+49 (170) 555-0101")
    assert phone.kind == "phone"
    # Compared with the end of the stored key: the national significant number.
    assert phone.phone == "1705550101"
    assert classify("5550101").phone == "5550101"  # the last digits are enough
    assert classify("123").kind == "phone"
    assert classify("123").phone is None  # too few digits: finds nobody
    assert (classify("  Anna   SCHMIDT ").kind, classify("Anna SCHMIDT").words) == (
        "name",
        ("anna", "schmidt"),
    )
    assert classify("").kind == classify(None).kind == "all"


def test_search_by_card_phone_email_id_and_name(database: Database) -> None:
    hq = prepare_hq(database)
    _import(hq, PEOPLE)
    with (
        serve(database) as url,
        httpx.Client(base_url=url, headers=hq.viewer.headers, timeout=60) as api,
    ):

        def q(text: str, **params: Any) -> list[str]:
            return _ids(api.get(MEMBERS, params={"q": text, **params}))

        # A card: exactly its owner, with the card's status in the row.
        reply = api.get(MEMBERS, params={"q": card(102)})
        assert _ids(reply) == ["M0000000102"]
        row = reply.json()["items"][0]
        assert row["name"] == "Annabel  Lee"
        assert row["balance"] == 10
        assert row["cards"] == [
            {"card_number": card(102), "status": "active", "blocked_reason": None}
        ]
        assert q(card(999)) == []  # nobody has it
        # Email: as stored, or typed in other case when stored in lower case.
        assert q("anna@example.com") == ["M0000000101"]
        assert q("ANNA@Example.COM") == ["M0000000101"]
        assert q("Annabel.Lee@Example.com") == ["M0000000102"]
        # Member id, any case.
        assert q("m0000000104") == ["M0000000104"]
        assert q("M0000009999") == []
        # Phone: in any format, or its last digits.
        assert q("+49 170 5550101") == ["M0000000101"]
        assert q("0170 555-0102") == ["M0000000102"]
        assert q("(030) 555-0104") == ["M0000000104"]
        assert q("0104") == ["M0000000104"]
        # Name words: each word typed starts a word of the name, any case or accents;
        # exact words first, then longer ones, ties by member id.
        assert q("ann") == ["M0000000101", "M0000000103", "M0000000102", "M0000000104"]
        assert q("ANNA   S") == ["M0000000101", "M0000000103"]
        assert q("annabel lee") == ["M0000000102"]
        assert q("émi") == ["M0000000106", "M0000000105"]
        assert q("ÉMILE Z") == ["M0000000105"]
        assert q("emil") == ["M0000000106", "M0000000105"]
        assert q("zola") == ["M0000000105"]
        # Empty: everyone, by member id (the three prepared members first).
        assert q("")[:3] == ["M0000000001", "M0000000002", "M0000000003"]
        assert len(q("")) == 9
        # The explicit filters of the API.
        assert _ids(api.get(MEMBERS, params={"card": card(1)})) == ["M0000000001"]
        assert _ids(api.get(MEMBERS, params={"phone": "01705550102"})) == ["M0000000102"]
        assert _ids(api.get(MEMBERS, params={"email": "EMILE@example.fr"})) == ["M0000000105"]
        assert _ids(api.get(MEMBERS, params={"name": "Bob"})) == ["M0000000104"]
        both = api.get(MEMBERS, params={"card": card(1), "name": "x"})
        assert both.status_code == 422
        assert "one of q, card, phone, email, name" in both.json()["error"]["message"]
        # The card endpoint: the owner, or a clear 404.
        owner = api.get(f"/api/v1/cards/{card(105)}")
        assert owner.json()["member_id"] == "M0000000105"
        missing = api.get(f"/api/v1/cards/{card(999)}")
        assert missing.status_code == 404
        assert f"no member has card {card(999)}" in missing.json()["error"]["message"]


@pytest.mark.parametrize("limit", [1, 4])
def test_name_pages_follow_each_other_without_gaps_or_repeats(
    database: Database, limit: int
) -> None:
    hq = prepare_hq(database, with_members=False)
    # Many members with the same name (ties broken by member id) and names around them.
    names = ["Kim Lee"] * 5 + ["Kim Leeds", "kim  lee", "Kimberly Ng", "Kim", "Kiran Rao", "Ki"]
    rows = [
        (f"M{index:010d}", name, None, None, 200 + index)
        for index, name in enumerate(reversed(names), start=1)
    ]
    _import(hq, rows)
    expected = sorted(
        (min(word for word in name_words(name) if word.startswith("kim")), member_id)
        for member_id, name, *_ in rows
        if any(word.startswith("kim") for word in name_words(name))
    )
    with (
        serve(database) as url,
        httpx.Client(base_url=url, headers=hq.viewer.headers, timeout=60) as api,
    ):
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"q": "kim", "limit": limit}
            if cursor:
                params["cursor"] = cursor
            page = api.get(MEMBERS, params=params).json()
            assert len(page["items"]) <= limit
            seen += [m["member_id"] for m in page["items"]]
            cursor = page["next_cursor"]
            pages += 1
            if cursor is None:
                break
        assert seen == [member_id for _, member_id in expected]
        assert len(set(seen)) == len(seen) == 9
        assert pages >= 9 // limit
        # Every member, by id, in pages of 4: the same members once each.
        everyone: list[str] = []
        cursor = None
        while True:
            params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
            page = api.get(MEMBERS, params=params).json()
            everyone += [m["member_id"] for m in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert everyone == sorted(member_id for member_id, *_ in rows)
        bad = api.get(MEMBERS, params={"q": "kim", "cursor": "not-a-cursor"})
        assert bad.status_code == 422
        assert "cursor" in bad.json()["error"]["message"]


def test_dashboard_search_lists_members_and_a_scanned_card_opens_the_member(
    database: Database,
) -> None:
    hq = prepare_hq(database)
    _import(hq, PEOPLE)
    with serve(database) as url, signed_in(url, hq.viewer) as client:
        page = client.get("/members", params={"q": "anna"})
        assert page.status_code == 200
        assert "Searching by name with words starting" in page.text
        assert "Anna Schmidt" in page.text
        assert "Annabel  Lee" in page.text
        assert "Bob Annan" in page.text  # "Annan" starts with "anna"
        assert "Émile Zola" not in page.text
        assert card(101) in page.text
        # A scanner at the HQ desk: the card opens the member page.
        scanned = client.get("/members", params={"q": card(104)})
        assert scanned.status_code == 303
        assert scanned.headers["location"] == "/members/M0000000104"
        by_id = client.get("/members", params={"q": "m0000000105"})
        assert by_id.headers["location"] == "/members/M0000000105"
        # As-you-type (htmx) never redirects: it swaps in the results table.
        live = client.get("/members", params={"q": card(104)}, headers={"HX-Request": "true"})
        assert live.status_code == 200
        assert "M0000000104" in live.text
        nobody = client.get("/members", params={"q": card(999)})
        assert nobody.status_code == 200
        assert "No member has this card" in nobody.text
        empty = client.get("/members", params={"q": "zzz"})
        assert "No member has a name with words starting like this" in empty.text
        short = client.get("/members", params={"q": "12"})
        assert "Type at least 4 digits of the phone number" in short.text


def test_a_till_token_cannot_read_members(database: Database) -> None:
    hq = prepare_hq(database)
    _, token = hq.server.terminal()
    till = {"Authorization": f"Bearer {token}"}
    with serve(database) as url, httpx.Client(base_url=url, headers=till, timeout=60) as api:
        for path in (
            MEMBERS,
            f"{MEMBERS}?card={card(1)}",
            f"{MEMBERS}/M0000000001",
            f"{MEMBERS}/M0000000001/balance",
            f"{MEMBERS}/M0000000001/ledger",
            f"/api/v1/cards/{card(1)}",
            "/api/v1/entries/T0001/1",
        ):
            reply = api.get(path)
            assert reply.status_code == 403, path
            assert reply.json()["error"]["message"] == "a till's token cannot read HQ data"
        adjust = api.post(f"{MEMBERS}/M0000000001/adjustments", json={"points": 5, "reason": "x"})
        assert adjust.status_code == 403
        anonymous = httpx.get(f"{url}{MEMBERS}", timeout=60)
        assert anonymous.status_code == 401
