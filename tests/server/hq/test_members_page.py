"""The member page and the journal entry page: balance, cards, ledger history that names the
till, receipt and cashier behind each posting, exceptions; the same through the JSON API."""

from __future__ import annotations

import re

import httpx

from shared.journal import Return
from syncserver.hq.actions import adjust_points
from syncserver.storage.audit import Actor
from syncserver.storage.database import Database
from tests.server.helpers import push
from tests.server.hq.helpers import prepare_hq, serve, signed_in
from tests.server.journal import JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")


def test_member_page_shows_balance_cards_and_history_with_till_receipt_and_cashier(
    database: Database,
) -> None:
    hq = prepare_hq(database)
    terminal_id, token = hq.server.terminal(store="S042")
    till = JournalWriter(terminal_id)
    sale = till.sale(ANNA, redeem=100)
    returned = till.ret(sale, ANNA)  # points as the till computes them
    assert isinstance(returned.payload, Return)
    took, gave = returned.payload.points_reversed, returned.payload.points_restored
    assert sale.payload.earned is not None  # type: ignore[union-attr]
    earned = sale.payload.earned.total_points  # type: ignore[union-attr]
    balance = 1000 + earned - 100 - took + gave
    with serve(database) as url:
        with httpx.Client(base_url=url, timeout=60) as api:
            assert push(api, token, terminal_id, till.records).json()["exceptions"] == []
        with signed_in(url, hq.viewer) as client:
            page = client.get("/members/M0000000001")
            assert page.status_code == 200
            html = page.text
            assert f'<div class="value" id="balance">{balance:,} pts</div>' in html
            assert card(1) in html
            assert "badge ok" in html
            # History in time order, newest first: the import ran today, after the till's
            # sale and return (stamped 2026-11-23); the sale's earn and redemption share a
            # time and keep their posting order.
            history = html[html.index('id="history"') : html.index('id="exceptions"')]
            rows = re.findall(r'<td class="num (pos|neg) ?">([^<]+)</td>', history)
            assert rows == [
                ("pos", "+1,000"),
                ("pos", f"+{gave}"),
                ("neg", f"-{took}"),
                ("neg", "-100"),
                ("pos", f"+{earned}"),
            ]
            assert f'href="/entries/{terminal_id}/1">till {terminal_id} #1</a>' in history
            assert "store S042" in history
            assert f"receipt {terminal_id}-1 · cashier 1" in history
            assert f'href="/entries/{terminal_id}/2"' in history
            assert "HQ: member import by <strong>cli</strong>" in history
            # A viewer reads, and is told what changing needs.
            assert 'action="/members/M0000000001/adjust"' not in html
            assert "need the <strong>manager</strong> role" in html
            # The entry behind the sale: lines, tenders, points and rules version, postings.
            entry = client.get(f"/entries/{terminal_id}/1")
            assert entry.status_code == 200
            text = entry.text
            assert f"Sale · till {terminal_id} #1" in text
            assert "<dt>Cashier</dt><dd>1</dd>" in text
            assert f"<dt>Receipt</dt><dd>{terminal_id}-1</dd>" in text
            assert "€4.50" in text
            assert "€9.00" in text
            assert "cash" in text
            assert f'+{earned}</span> <span class="muted">rules v' in text
            assert "for €1.00 off" in text
            assert 'href="/members/M0000000001"><code>member:M0000000001</code>' in text
            assert "program:issued" in text
            assert f'href="/entries/{terminal_id}/2">till {terminal_id} #2</a>' in text
            ret = client.get(f"/entries/{terminal_id}/2")
            assert f'<dt>Returns</dt><dd><a href="/entries/{terminal_id}/1">' in ret.text
            missing = client.get(f"/entries/{terminal_id}/99")
            assert missing.status_code == 404
            assert f"no journal entry {terminal_id}#99 has reached HQ" in missing.text
            nobody = client.get("/members/M0000009999")
            assert nobody.status_code == 404
            assert "no member M0000009999" in nobody.text
        # The same through the API.
        with httpx.Client(base_url=url, headers=hq.viewer.headers, timeout=60) as api:
            detail = api.get("/api/v1/members/M0000000001").json()
            assert detail["balance"] == balance
            assert detail["tier"] == "member"
            assert detail["origin_terminal"] is None  # imported by HQ
            assert api.get("/api/v1/members/M0000000001/balance").json() == {
                "member_id": "M0000000001",
                "points": balance,
            }
            first = api.get("/api/v1/members/M0000000001/ledger", params={"limit": 3}).json()
            assert [p["points"] for p in first["items"]] == [1000, gave, -took]
            assert [p["balance_after"] for p in first["items"]] == [
                balance,
                balance - 1000,
                balance - 1000 - gave,
            ]
            assert first["items"][2]["till"] == {
                "terminal_id": terminal_id,
                "store_id": "S042",
                "seq": 2,
                "entry_kind": "return",
                "receipt_no": f"{terminal_id}-R",
                "cashier_id": "1",
            }
            assert first["items"][1]["hq"] is None
            assert first["items"][0]["hq"]["event_kind"] == "member_import"
            rest = api.get(
                "/api/v1/members/M0000000001/ledger",
                params={"limit": 3, "cursor": first["next_cursor"]},
            ).json()
            assert [p["kind"] for p in rest["items"]] == ["redeem", "earn"]
            assert rest["items"][0]["till"]["entry_kind"] == "sale"
            assert rest["items"][1]["balance_after"] == earned  # the first thing that happened
            assert rest["next_cursor"] is None
            stored = api.get(f"/api/v1/entries/{terminal_id}/1").json()
            assert stored["record"] == till.records[0]  # exactly what the till sent
            assert stored["receipt_no"] == f"{terminal_id}-1"
            assert stored["store_id"] == "S042"
            assert sum(p["amount"] for p in stored["postings"]) == 0
            assert stored["referred_by"] == [
                {"terminal_id": terminal_id, "seq": 2, "kind": "return"}
            ]
            gone = api.get(f"/api/v1/entries/{terminal_id}/99")
            assert gone.status_code == 404
            assert api.get("/api/v1/members/M0000009999").status_code == 404
            assert api.get("/api/v1/members/M0000009999/ledger").status_code == 404


def test_an_offline_enrolment_shows_where_the_member_joined(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    terminal_id, token = hq.server.terminal(store="S007")
    till = JournalWriter(terminal_id)
    enrolment = till.enrol(card(40), name="Nadia New")
    local = enrolment.payload.local_member_id  # type: ignore[union-attr]
    till.sale(member_ref(card(40), local=local))
    with serve(database) as url:
        with httpx.Client(base_url=url, timeout=60) as api:
            push(api, token, terminal_id, till.records).raise_for_status()
        with httpx.Client(base_url=url, headers=hq.viewer.headers, timeout=60) as api:
            found = api.get("/api/v1/members", params={"q": "+49 170 5550000"}).json()["items"]
            assert [m["name"] for m in found] == ["Nadia New"]
            member_id = found[0]["member_id"]
            detail = api.get(f"/api/v1/members/{member_id}").json()
            assert detail["local_member_id"] == local
            assert (detail["origin_terminal"], detail["origin_store"], detail["origin_seq"]) == (
                terminal_id,
                "S007",
                1,
            )
            assert detail["marketing_consent"] is True
            assert detail["consent_text_version"] == "2026-01"
            enrolled = api.get(f"/api/v1/entries/{terminal_id}/1").json()
            assert enrolled["postings"] == []
            assert enrolled["member_ids"] == [member_id]
        with signed_in(url, hq.viewer) as client:
            page = client.get(f"/members/{member_id}").text
            assert f'href="/entries/{terminal_id}/1">enrolment #1</a>' in page
            assert "store S007" in page
            entry = client.get(f"/entries/{terminal_id}/1").text
            assert "Nadia New" in entry
            assert card(40) in entry
            assert f'<a href="/members/{member_id}">« {member_id}</a>' in entry


def test_the_history_pages_back_through_every_posting_once(database: Database) -> None:
    hq = prepare_hq(database)
    actor = Actor("mo", via="cli")
    for n in range(1, 31):
        adjust_points(database, actor, "M0000000002", n, f"correction number {n}")
    with serve(database) as url, signed_in(url, hq.viewer) as client:
        first = client.get("/members/M0000000002").text
        amounts = re.findall(r'<td class="num pos">\+([\d,]+)</td>', first)
        assert amounts == [str(n) for n in range(30, 5, -1)]  # newest first, 25 a page
        found = re.search(r'href="\?cursor=([^"]+)" rel="next"', first)
        assert found
        second = client.get("/members/M0000000002", params={"cursor": found.group(1)}).text
        amounts = re.findall(r'<td class="num pos">\+([\d,]+)</td>', second)
        assert amounts == ["5", "4", "3", "2", "1", "300"]  # and the opening balance
        assert 'rel="next"' not in second
        assert "« First page" in second
        assert "“correction number 1”" in second
        bad = client.get("/members/M0000000002", params={"cursor": "garbage"})
        assert bad.status_code == 422
        assert "not a cursor this list gave out" in bad.text
