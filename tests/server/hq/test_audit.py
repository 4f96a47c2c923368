"""The audit log: the JSON API and the /audit page — newest first, keyset pages by id,
filters by actor, action prefix and target; the detail shown as key/value pairs."""

from __future__ import annotations

from typing import Any

import httpx

from syncserver.hq.actions import adjust_points
from syncserver.storage.audit import Actor
from syncserver.storage.database import Database
from tests.server.helpers import bearer
from tests.server.hq.helpers import prepare_hq, serve, signed_in

API = "/api/v1/audit"


def test_audit_log_api_and_page(database: Database) -> None:
    hq = prepare_hq(database)
    _, till_token = hq.server.terminal()
    hq.server.store("S009")
    mo = Actor("mo", ip="10.0.0.7", via="web")
    adjust_points(database, mo, "M0000000001", 50, "goodwill for a missing receipt")
    adjust_points(database, mo, "M0000000002", -20, "double-counted coupon")
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        admin = hq.admin.headers
        assert (
            client.post(
                "/api/v1/terminals", json={"store_id": "S009", "name": "Pop-up till"}, headers=admin
            ).status_code
            == 201
        )
        assert (
            client.post(
                "/api/v1/users", json={"username": "x_100%", "role": "viewer"}, headers=admin
            ).status_code
            == 422
        )  # not recorded: nothing changed
        assert (
            client.post(
                "/api/v1/users", json={"username": "zoe", "role": "viewer"}, headers=admin
            ).status_code
            == 201
        )

        def get(**params: str | int) -> Any:
            reply = client.get(API, params=params, headers=hq.viewer.headers)
            assert reply.status_code == 200, reply.text
            return reply.json()

        everything = get(limit=500)
        items = everything["items"]
        ids = [item["id"] for item in items]
        assert ids == sorted(ids, reverse=True)  # newest first
        actions = [item["action"] for item in items]
        assert actions[:4] == ["user.add", "terminal.add", "member.adjust", "member.adjust"]
        newest = items[0]
        assert (newest["actor"], newest["via"], newest["target_kind"], newest["target_id"]) == (
            "ada",
            "api",
            "user",
            "zoe",
        )
        assert newest["detail"] == {"role": "viewer", "api_token": False}
        assert newest["ip"] == "127.0.0.1"
        adjust = items[2]
        assert (adjust["actor"], adjust["via"], adjust["ip"]) == ("mo", "web", "10.0.0.7")
        assert adjust["target_id"] == "M0000000002"
        assert adjust["detail"]["amount"] == -20
        assert adjust["detail"]["reason"] == "double-counted coupon"

        # Filters: actor, action prefix, target.
        by_mo = get(actor="mo")["items"]
        assert [i["target_id"] for i in by_mo] == ["M0000000002", "M0000000001"]
        members = get(action="member.")["items"]
        assert {i["action"] for i in members} == {"member.adjust"}
        assert len(members) == 2
        assert [i["action"] for i in get(action="user.add")["items"]][:1] == ["user.add"]
        assert get(action="%")["items"] == []  # a prefix, not a pattern
        assert get(action="_ser.add")["items"] == []
        one = get(target_kind="member", target_id="M0000000001")["items"]
        assert [(i["action"], i["target_id"]) for i in one] == [("member.adjust", "M0000000001")]
        assert [i["target_id"] for i in get(target_kind="terminal")["items"]] == ["T0002"]
        assert get(actor="nobody")["items"] == []

        # Keyset pages: the same rows, in the same order, with no repeats.
        seen: list[int] = []
        cursor = None
        while True:
            chunk = get(limit=2, **({"cursor": cursor} if cursor else {}))
            assert len(chunk["items"]) <= 2
            seen.extend(i["id"] for i in chunk["items"])
            cursor = chunk["next_cursor"]
            if cursor is None:
                break
        assert seen == ids
        two = get(actor="mo", limit=1)
        assert [i["target_id"] for i in two["items"]] == ["M0000000002"]
        rest = get(actor="mo", limit=1, cursor=two["next_cursor"])
        assert [i["target_id"] for i in rest["items"]] == ["M0000000001"]
        assert rest["next_cursor"] is None

        bad = client.get(API, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=hq.viewer.headers)
        assert (bad.status_code, bad.json()["error"]["code"]) == (422, "malformed")
        assert client.get(API, headers=bearer(till_token)).status_code == 403
        assert client.get(API).status_code == 401

        with signed_in(url, hq.viewer) as viewer:
            page = viewer.get("/audit")
            assert page.status_code == 200
            html = page.text
            # Newest first, the detail as key/value pairs, the target linked.
            assert html.index("user.add") < html.index("terminal.add") < html.index("member.adjust")
            assert "<dt>reason</dt><dd>double-counted coupon</dd>" in html
            assert "<dt>amount</dt><dd>-20</dd>" in html
            assert "<dt>api token</dt><dd>no</dd>" in html
            assert '<a href="/members/M0000000002">member M0000000002</a>' in html
            assert '<a href="/terminals/T0002">terminal T0002</a>' in html
            assert "via web · 10.0.0.7" in html
            filtered = viewer.get("/audit", params={"action": "member.", "actor": "mo"}).text
            assert filtered.count('<tr id="audit-') == 2
            assert 'value="member."' in filtered
            assert "Clear filters" in filtered
            assert "Nothing matches" in viewer.get("/audit", params={"actor": "nobody"}).text
            target = viewer.get(
                "/audit", params={"target_kind": "member", "target_id": "M0000000001"}
            ).text
            assert target.count('<tr id="audit-') == 1
            # Paging on the page: 50 a page, "Next" carries the cursor.
            for n in range(60):
                adjust_points(database, mo, "M0000000003", 1, f"bulk goodwill {n:02d}")
            first = viewer.get("/audit", params={"actor": "mo"}).text
            assert first.count('<tr id="audit-') == 50
            assert "bulk goodwill 59" in first
            assert "bulk goodwill 09" not in first
            link = first[first.index('rel="next"') - 200 : first.index('rel="next"')]
            href = link[link.rindex('href="') + 6 :].split('"')[0].replace("&amp;", "&")
            second = viewer.get(f"/audit{href}" if href.startswith("?") else href).text
            assert second.count('<tr id="audit-') == 12
            assert "bulk goodwill 09" in second
            assert "double-counted coupon" in second
            assert 'rel="next"' not in second
