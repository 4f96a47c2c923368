"""Staff changes on a member: manual adjustments, blocking and replacing cards — manager+
only, each an HQ event in the ledger (``ledger rebuild`` reproduces it) with an audit row,
refused with a clear message on the API and next to the dashboard's form."""

from __future__ import annotations

import json
import re

import httpx
from sqlalchemy import select

from syncserver.ledger.rebuild import rebuild_check
from syncserver.storage.database import Database
from syncserver.storage.schema import audit_log
from tests.server.helpers import push
from tests.server.hq.helpers import csrf_of, prepare_hq, serve, signed_in
from tests.server.journal import JournalWriter, card, member_ref

ADJUST = "/api/v1/members/M0000000001/adjustments"


def _audit(database: Database, action: str) -> list[tuple[str, str | None, dict[str, object]]]:
    with database.read() as conn:
        rows = conn.execute(
            select(audit_log.c.actor, audit_log.c.target_id, audit_log.c.detail)
            .where(audit_log.c.action == action)
            .order_by(audit_log.c.id)
        ).all()
    return [(row.actor, row.target_id, json.loads(row.detail)) for row in rows]


def _error(reply: httpx.Response) -> tuple[int, str]:
    return reply.status_code, reply.json()["error"]["message"]


def test_a_manager_adjusts_points_and_a_viewer_cannot(database: Database) -> None:
    hq = prepare_hq(database)
    with serve(database) as url:
        with httpx.Client(base_url=url, timeout=60) as api:
            viewer = api.post(
                ADJUST, json={"points": 50, "reason": "goodwill"}, headers=hq.viewer.headers
            )
            assert viewer.status_code == 403
            assert "needs the manager role" in viewer.json()["error"]["message"]
            done = api.post(
                ADJUST,
                json={"points": 50, "reason": "goodwill: printer jammed"},
                headers=hq.manager.headers,
            )
            assert done.status_code == 201, done.text
            body = done.json()
            assert body["member_id"] == "M0000000001"
            assert (body["points"], body["balance"]) == (50, 1050)
            # Refusals, each with what to do.
            for sent, status, message in (
                ({"points": 0, "reason": "nothing"}, 422, "an adjustment of 0 points"),
                ({"points": 5}, 422, "body.reason: Field required"),
                ({"points": 5, "reason": "  "}, 422, "a reason is required"),
                ({"points": 1.5, "reason": "half"}, 422, "body.points"),
                ({"points": "5", "reason": "text"}, 422, "body.points"),
                # The bound is in the OpenAPI document too, so the schema says it first.
                ({"points": 10**9, "reason": "typo"}, 422, "less than or equal to 10000000"),
            ):
                reply = api.post(ADJUST, json=sent, headers=hq.manager.headers)
                assert reply.status_code == status, sent
                assert message in reply.json()["error"]["message"], sent
            missing = api.post(
                "/api/v1/members/M0000009999/adjustments",
                json={"points": 5, "reason": "who?"},
                headers=hq.manager.headers,
            )
            assert _error(missing) == (404, "no member M0000009999")
            ledger = api.get("/api/v1/members/M0000000001/ledger", headers=hq.viewer.headers).json()
        newest = ledger["items"][0]
        assert (newest["kind"], newest["points"]) == ("adjust", 50)
        assert newest["hq"] == {
            "hq_event_id": body["hq_event_id"],
            "event_kind": "points_adjustment",
            "actor": "mo",
            "reason": "goodwill: printer jammed",
        }
        # The dashboard: a viewer's POST is refused, even with a valid form token.
        with signed_in(url, hq.viewer) as client:
            token = csrf_of(client.get("/members/M0000000001").text)
            refused = client.post(
                "/members/M0000000001/adjust",
                data={"csrf_token": token, "points": "10", "reason": "let me"},
            )
            assert refused.status_code == 403
            assert "adjusting points needs the manager role" in refused.text
        with signed_in(url, hq.manager) as client:
            page = client.get("/members/M0000000001").text
            token = csrf_of(page)
            assert 'action="/members/M0000000001/adjust"' in page
            forged = client.post(
                "/members/M0000000001/adjust",
                data={"csrf_token": "forged", "points": "10", "reason": "forged form"},
            )
            assert forged.status_code == 403
            taken = client.post(
                "/members/M0000000001/adjust",
                data={"csrf_token": token, "points": "-30", "reason": "duplicate goodwill"},
            )
            assert taken.status_code == 303
            assert taken.headers["location"] == "/members/M0000000001"
            shown = client.get("/members/M0000000001").text
            assert "Took 30 points off M0000000001 (balance now 1,020)." in shown
            history = shown[shown.index('id="history"') :]
            assert "HQ: points adjustment by <strong>mo</strong>" in history
            assert "“duplicate goodwill”" in history
            assert '<td class="num neg">-30</td>' in history
            # The flash is shown once.
            assert "Took 30 points off" not in client.get("/members/M0000000001").text
            # Refused on the form: the message next to it, what was typed kept.
            for points, reason, message in (
                ("0", "nothing to add", "an adjustment of 0 points changes nothing"),
                ("12", "", "a reason is required (at least 3 characters)"),
                ("ten", "typed words", "&#39;ten&#39; is not a whole number of points"),
                ("", "no points", "enter the points"),
            ):
                again = client.post(
                    "/members/M0000000001/adjust",
                    data={"csrf_token": token, "points": points, "reason": reason},
                )
                assert again.status_code == 422, points
                form = again.text[again.text.index('id="adjust"') : again.text.index('id="cards"')]
                assert message in form, points
                assert f'value="{points}"' in form
                assert f">{reason}</textarea>" in form
            assert '<div class="value" id="balance">1,020 pts</div>' in again.text
    audit = _audit(database, "member.adjust")
    assert [
        (actor, target, detail["amount"], detail["via"]) for actor, target, detail in audit
    ] == [
        ("mo", "M0000000001", 50, "api"),
        ("mo", "M0000000001", -30, "web"),
    ]
    assert audit[1][2]["reason"] == "duplicate goodwill"
    assert hq.server.balance("M0000000001") == 1020
    assert rebuild_check(database).ok


def test_block_a_card_then_a_till_sale_on_it_raises_card_blocked(database: Database) -> None:
    hq = prepare_hq(database)
    terminal_id, token = hq.server.terminal()
    till = JournalWriter(terminal_id)
    with serve(database) as url:
        with httpx.Client(base_url=url, headers=hq.manager.headers, timeout=60) as api:
            assert _error(api.post(f"/api/v1/cards/{card(2)}/block", json={"reason": "x"})) == (
                422,
                "a reason is required (at least 3 characters): say why",
            )
            assert (
                _error(api.post(f"/api/v1/cards/{card(99)}/block", json={"reason": "lost"}))[0]
                == 404
            )
            viewer = api.post(
                f"/api/v1/cards/{card(2)}/block",
                json={"reason": "reported stolen"},
                headers=hq.viewer.headers,
            )
            assert viewer.status_code == 403
            blocked = api.post(f"/api/v1/cards/{card(2)}/block", json={"reason": "reported stolen"})
            assert blocked.status_code == 200, blocked.text
            assert blocked.json()["member"]["cards"] == [
                {"card_number": card(2), "status": "blocked", "blocked_reason": "reported stolen"}
            ]
            again = api.post(f"/api/v1/cards/{card(2)}/block", json={"reason": "again"})
            assert again.status_code == 409
            assert "already blocked (reported stolen)" in again.json()["error"]["message"]
            # A till that had not heard of the block yet sells on the card.
            till.sale(member_ref(card(2), "M0000000002"))
            pushed = push(api, token, terminal_id, till.records).json()
            assert [(e["kind"], e["member_id"]) for e in pushed["exceptions"]] == [
                ("card_blocked", "M0000000002")
            ]
            owner = api.get(f"/api/v1/cards/{card(2)}").json()
            assert owner["member_id"] == "M0000000002"
            assert owner["cards"][0]["status"] == "blocked"
        with signed_in(url, hq.viewer) as client:
            page = client.get("/members/M0000000002").text
            assert "reported stolen" in page
            assert "badge bad" in page
            exceptions = page[page.index('id="exceptions"') :]
            assert re.search(r'<a href="/exceptions/\d+">\d+</a>', exceptions)
            assert "card blocked" in exceptions
            assert "open" in exceptions
            assert f'href="/entries/{terminal_id}/1"' in exceptions
    assert _audit(database, "card.block")[0][:2] == ("mo", card(2))
    assert rebuild_check(database).ok


def test_replace_a_card_on_the_dashboard_and_through_the_api(database: Database) -> None:
    hq = prepare_hq(database)
    with serve(database) as url:
        with signed_in(url, hq.manager) as client:
            page = client.get("/members/M0000000003").text
            token = csrf_of(page)
            replace_url = f"/members/M0000000003/cards/{card(3)}/replace"
            assert f'action="{replace_url}"' in page
            # A mistyped number: refused next to the replace form, which stays open.
            bad = client.post(
                replace_url,
                data={"csrf_token": token, "new_card_number": "9826000000000012", "reason": "lost"},
            )
            assert bad.status_code == 422
            assert "is not a valid card number (check digit)" in bad.text
            assert "<details open>\n            <summary>Replace…</summary>" in bad.text
            assert 'value="9826000000000012"' in bad.text
            taken = client.post(
                replace_url,
                data={"csrf_token": token, "new_card_number": card(1), "reason": "lost"},
            )
            assert taken.status_code == 409
            assert f"card {card(1)} already belongs to member M0000000001" in taken.text
            wrong_member = client.post(
                f"/members/M0000000003/cards/{card(1)}/block",
                data={"csrf_token": token, "reason": "not theirs"},
            )
            assert wrong_member.status_code == 422
            assert f"card {card(1)} is not a card of member M0000000003" in wrong_member.text
            no_reason = client.post(
                f"/members/M0000000003/cards/{card(3)}/block",
                data={"csrf_token": token, "reason": ""},
            )
            assert no_reason.status_code == 422
            assert "<details open>\n            <summary>Block…</summary>" in no_reason.text
            done = client.post(
                replace_url,
                data={"csrf_token": token, "new_card_number": card(33), "reason": "card damaged"},
            )
            assert done.status_code == 303
            shown = client.get("/members/M0000000003").text
            assert f"Replaced card {card(3)} of M0000000003 with {card(33)}" in shown
            cards = shown[shown.index('id="cards"') : shown.index('id="history"')]
            assert cards.index(card(3)) < cards.index(card(33))
            assert "card damaged" in cards
        with signed_in(url, hq.viewer) as client:
            refused = client.post(
                f"/members/M0000000003/cards/{card(33)}/block",
                data={"csrf_token": csrf_of(client.get("/members").text), "reason": "mine"},
            )
            assert refused.status_code == 403
        with httpx.Client(base_url=url, headers=hq.manager.headers, timeout=60) as api:
            assert api.get(f"/api/v1/cards/{card(33)}").json()["member_id"] == "M0000000003"
            for body, message in (
                ({"new_card_number": "1234", "reason": "lost"}, "not a valid card number"),
                ({"new_card_number": card(34)}, "body.reason: Field required"),
                ({"reason": "lost"}, "body.new_card_number: Field required"),
            ):
                reply = api.post(f"/api/v1/cards/{card(33)}/replace", json=body)
                assert reply.status_code == 422, body
                assert message in reply.json()["error"]["message"], body
            replaced = api.post(
                f"/api/v1/cards/{card(33)}/replace",
                json={"new_card_number": card(34), "reason": "lost again"},
            )
            assert replaced.status_code == 200, replaced.text
            assert [
                (c["card_number"], c["status"]) for c in replaced.json()["member"]["cards"]
            ] == [
                (card(3), "blocked"),
                (card(33), "blocked"),
                (card(34), "active"),
            ]
            assert api.get("/api/v1/members/M0000000003/balance").json() == {
                "member_id": "M0000000003",
                "points": 0,
            }
    assert [(a, t, d["new_card"]) for a, t, d in _audit(database, "card.replace")] == [
        ("mo", "M0000000003", card(33)),
        ("mo", "M0000000003", card(34)),
    ]
    assert rebuild_check(database).ok


def test_the_api_is_documented_in_openapi(database: Database) -> None:
    prepare_hq(database, with_members=False)
    with serve(database) as url:
        spec = httpx.get(f"{url}/openapi.json", timeout=60).json()
    paths = spec["paths"]
    for path, method in (
        ("/api/v1/members", "get"),
        ("/api/v1/members/{member_id}", "get"),
        ("/api/v1/members/{member_id}/balance", "get"),
        ("/api/v1/members/{member_id}/ledger", "get"),
        ("/api/v1/members/{member_id}/adjustments", "post"),
        ("/api/v1/cards/{card}", "get"),
        ("/api/v1/cards/{card}/block", "post"),
        ("/api/v1/cards/{card}/replace", "post"),
        ("/api/v1/entries/{terminal_id}/{seq}", "get"),
    ):
        operation = paths[path][method]
        assert "403" in operation["responses"], path
        assert operation["responses"]["403"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
    schemas = spec["components"]["schemas"]
    assert {"MemberSummary", "MemberDetail", "LedgerPosting", "JournalEntryView"} <= set(schemas)
    assert "201" in paths["/api/v1/members/{member_id}/adjustments"]["post"]["responses"]
    assert not any(path.startswith(("/members", "/entries")) for path in paths)
