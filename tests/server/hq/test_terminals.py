"""Terminals: the JSON API and the dashboard page — sync health (last contact and the offline
badge, chain status), registering a till (its token shown once) and revoking one, who may do
which, and the audit row for every change."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import audit_log, terminals
from tests.server.helpers import PULL, bearer, push
from tests.server.hq.helpers import csrf_of, prepare_hq, serve, signed_in
from tests.server.journal import JournalWriter

API = "/api/v1/terminals"


def _audit(database: Database, action: str) -> list[Any]:
    with database.read() as conn:
        return list(
            conn.execute(
                select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
            )
        )


def _error(reply: httpx.Response) -> tuple[int, str]:
    return reply.status_code, reply.json()["error"]["code"]


def _row(html: str, terminal_id: str) -> str:
    start = html.index(f'<tr id="terminal-{terminal_id}">')
    return html[start : html.index("</tr>", start)]


def _form(html: str, action: str) -> str:
    start = html.index(f'method="post" action="{action}"')
    return html[start : html.index("</form>", start)]


def test_terminals_api_lists_registers_and_revokes_for_admins_only(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    first, first_token = hq.server.terminal("S001", "Till 1")
    hq.server.terminal("S002", "Till 2")
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        # Anyone with an HQ token reads; a till's token does not.
        listed = client.get(API, headers=hq.viewer.headers)
        assert listed.status_code == 200
        body = listed.json()
        assert [t["terminal_id"] for t in body["items"]] == [first, "T0002"]
        assert body["next_cursor"] is None
        till_one = body["items"][0]
        assert till_one["store_id"] == "S001"
        assert till_one["chain_status"] == "ok"
        assert till_one["unsent"] is None
        assert till_one["offline"] is False
        assert till_one["revoked_at"] is None
        assert _error(client.get(API, headers=bearer(first_token))) == (403, "forbidden")
        assert _error(client.get(f"{API}/{first}", headers=bearer(first_token))) == (
            403,
            "forbidden",
        )
        assert _error(client.get(API)) == (401, "unauthorized")
        # Filter by store; page by cursor.
        s2 = client.get(API, params={"store": "S002"}, headers=hq.viewer.headers).json()
        assert [t["terminal_id"] for t in s2["items"]] == ["T0002"]
        page1 = client.get(API, params={"limit": 1}, headers=hq.viewer.headers).json()
        assert [t["terminal_id"] for t in page1["items"]] == [first]
        page2 = client.get(
            API, params={"limit": 1, "cursor": page1["next_cursor"]}, headers=hq.viewer.headers
        ).json()
        assert [t["terminal_id"] for t in page2["items"]] == ["T0002"]
        assert page2["next_cursor"] is None
        bad = client.get(API, params={"cursor": "nonsense"}, headers=hq.viewer.headers)
        assert _error(bad) == (422, "malformed")
        assert client.get(f"{API}/{first}", headers=hq.viewer.headers).json()["name"] == "Till 1"
        assert _error(client.get(f"{API}/T9999", headers=hq.viewer.headers)) == (404, "not_found")

        # Only an admin registers a till, and only of a store HQ knows.
        new = {"store_id": "S003", "name": "Till 3"}
        no_store = client.post(API, json=new, headers=hq.admin.headers)
        assert _error(no_store) == (422, "malformed")
        refusal = no_store.json()["error"]["message"]
        assert "add the store first: syncserver store add S003" in refusal
        hq.server.store("S003")
        for staff in (hq.viewer, hq.manager):
            assert _error(client.post(API, json=new, headers=staff.headers)) == (403, "forbidden")
        assert _error(client.post(API, json=new, headers=bearer(first_token))) == (
            403,
            "forbidden",
        )
        bad_store = client.post(
            API, json={"store_id": "S 3", "name": "x"}, headers=hq.admin.headers
        )
        assert _error(bad_store) == (422, "malformed")
        assert "store" in bad_store.json()["error"]["message"]
        no_name = client.post(
            API, json={"store_id": "S003", "name": "  "}, headers=hq.admin.headers
        )
        assert _error(no_name) == (422, "malformed")
        created = client.post(API, json=new, headers=hq.admin.headers)
        assert created.status_code == 201, created.text
        added = created.json()
        assert added["terminal_id"] == "T0003"
        assert (added["store_id"], added["name"]) == ("S003", "Till 3")
        # The token works for the till's own endpoints (and is stored only as a hash).
        assert client.get(PULL, headers=bearer(added["token"])).status_code == 200
        with database.read() as conn:
            stored = conn.execute(
                select(terminals.c.token_hash).where(terminals.c.terminal_id == "T0003")
            ).scalar_one()
        assert added["token"] not in stored

        # Only an admin revokes; a revoked till is refused; revoking twice is a conflict.
        for staff in (hq.viewer, hq.manager):
            refused = client.post(f"{API}/T0003/revoke", headers=staff.headers)
            assert _error(refused) == (403, "forbidden")
        revoked = client.post(f"{API}/T0003/revoke", headers=hq.admin.headers)
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["revoked_by"] == "ada"
        assert revoked.json()["revoked_at"] is not None
        assert _error(client.get(PULL, headers=bearer(added["token"]))) == (401, "unauthorized")
        again = client.post(f"{API}/T0003/revoke", headers=hq.admin.headers)
        assert _error(again) == (409, "conflict")
        assert "already revoked" in again.json()["error"]["message"]
        unknown = client.post(f"{API}/T9999/revoke", headers=hq.admin.headers)
        assert _error(unknown) == (404, "not_found")

    # One audit row per change, naming the admin and the API.
    (add_row,) = _audit(database, "terminal.add")
    (revoke_row,) = _audit(database, "terminal.revoke")
    for row in (add_row, revoke_row):
        assert (row.actor, row.target_kind, row.target_id) == ("ada", "terminal", "T0003")
        assert json.loads(row.detail)["via"] == "api"
    assert json.loads(add_row.detail)["store_id"] == "S003"


def test_dashboard_registers_a_till_showing_its_token_once_and_revokes_it(
    database: Database,
) -> None:
    hq = prepare_hq(database, with_members=False)
    hq.server.terminal("S001", "Till 1")
    hq.server.store("S002")
    with serve(database) as url:
        with signed_in(url, hq.viewer) as viewer, signed_in(url, hq.manager) as manager:
            page = viewer.get("/terminals")
            assert page.status_code == 200
            assert "T0001" in page.text
            assert 'method="post" action="/terminals"' not in page.text  # no register form
            assert "needs the <strong>admin</strong> role" in page.text
            for client in (viewer, manager):
                token = csrf_of(client.get("/terminals").text)
                refused = client.post(
                    "/terminals", data={"csrf_token": token, "store_id": "S9", "name": "Sneaky"}
                )
                assert refused.status_code == 403
                assert "needs the admin role" in refused.text
                assert client.get("/terminals/T0001/revoke").status_code == 403
                revoke = client.post("/terminals/T0001/revoke", data={"csrf_token": token})
                assert revoke.status_code == 403
            with database.read() as conn:
                assert conn.execute(select(terminals.c.terminal_id)).scalars().all() == ["T0001"]
                assert conn.execute(select(terminals.c.revoked_at)).scalar_one() is None

        with signed_in(url, hq.admin) as admin:
            page = admin.get("/terminals")
            token = csrf_of(page.text)
            assert f'value="{token}"' in _form(page.text, "/terminals")
            # Without the CSRF token nothing happens.
            forged = admin.post("/terminals", data={"store_id": "S002", "name": "Till 2"})
            assert forged.status_code == 403
            # A bad store id comes back on the form, with what was typed.
            bad = admin.post(
                "/terminals", data={"csrf_token": token, "store_id": "S 2", "name": "X"}
            )
            assert bad.status_code == 422
            assert "store: 1–64 letters" in bad.text
            assert 'value="S 2"' in bad.text

            shown = admin.post(
                "/terminals", data={"csrf_token": token, "store_id": "S002", "name": "Till 2"}
            )
            assert shown.status_code == 200
            assert shown.headers["cache-control"] == "no-store"
            secret = re.search(r'<div class="token" id="token">([^<]+)</div>', shown.text)
            assert secret is not None
            till_token = secret.group(1)
            # The snippet to paste uses the till's real config keys (terminal/config.py).
            assert "[till]" in shown.text
            assert 'terminal_id = "T0002"' in shown.text
            assert 'store_id = "S002"' in shown.text
            assert f'server_url = "{url}"' in shown.text
            assert f'server_token = "{till_token}"' in shown.text
            assert "shown only on this page" in shown.text
            with httpx.Client(base_url=url, timeout=60) as till:
                assert till.get(PULL, headers=bearer(till_token)).status_code == 200
            # Never again: not on the list, not on the till's page.
            listed = admin.get("/terminals")
            assert till_token not in listed.text
            assert "T0002" in _row(listed.text, "T0002")
            detail = admin.get("/terminals/T0002")
            assert detail.status_code == 200
            assert till_token not in detail.text
            assert "terminal.add" in detail.text

            # Revoke: a confirmation page first, then the POST.
            confirm = admin.get("/terminals/T0002/revoke")
            assert confirm.status_code == 200
            assert "This cannot be undone" in confirm.text
            assert 'action="/terminals/T0002/revoke"' in confirm.text
            done = admin.post("/terminals/T0002/revoke", data={"csrf_token": token})
            assert done.status_code == 303
            assert done.headers["location"] == "/terminals/T0002"
            after = admin.get("/terminals/T0002")
            assert "Revoked T0002" in after.text  # the flash message
            assert "by <strong>ada</strong>" in after.text
            row = _row(admin.get("/terminals").text, "T0002")
            assert "revoked" in row
            assert "by ada" in row
            with httpx.Client(base_url=url, timeout=60) as till:
                assert till.get(PULL, headers=bearer(till_token)).status_code == 401
            twice = admin.post("/terminals/T0002/revoke", data={"csrf_token": token})
            assert twice.status_code == 303
            assert "already revoked" in admin.get(twice.headers["location"]).text
            assert admin.get("/terminals/T0404").status_code == 404

    (add_row,) = _audit(database, "terminal.add")
    (revoke_row,) = _audit(database, "terminal.revoke")
    for row in (add_row, revoke_row):
        assert (row.actor, row.target_id) == ("ada", "T0002")
        assert json.loads(row.detail)["via"] == "web"
    with database.read() as conn:
        revoked_by = conn.execute(
            select(terminals.c.revoked_by).where(terminals.c.terminal_id == "T0002")
        ).scalar_one()
    assert revoked_by == "ada"


def test_last_contact_offline_badge_and_chain_conflicts(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    quiet, _ = hq.server.terminal("S001", "Quiet till")  # pushed 2 h ago, nothing since
    pulling, _ = hq.server.terminal("S001", "Pulling till")  # pushed 3 h ago, pulled 10 min ago
    never, _ = hq.server.terminal("S002", "New till")  # never synced
    conflicted, conflicted_token = hq.server.terminal("S002", "Conflicted till")
    now = utc_now()
    with database.write() as conn:
        for terminal_id, pushed, pulled in (
            (quiet, now - timedelta(hours=2), None),
            (pulling, now - timedelta(hours=3), now - timedelta(minutes=10)),
        ):
            conn.execute(
                update(terminals)
                .where(terminals.c.terminal_id == terminal_id)
                .values(last_push_at=pushed, last_pull_at=pulled)
            )
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        # A till sends a different entry for a seq HQ already holds: a chain conflict.
        mine, forged = JournalWriter(conflicted), JournalWriter(conflicted)
        mine.sale(None)
        forged.sale(None)
        assert push(client, conflicted_token, conflicted, mine.records).status_code == 200
        clash = push(client, conflicted_token, conflicted, forged.records)
        assert _error(clash) == (409, "chain_conflict")

        items = {
            t["terminal_id"]: t for t in client.get(API, headers=hq.viewer.headers).json()["items"]
        }
        assert items[quiet]["offline"] is True
        assert items[quiet]["last_contact_at"] == items[quiet]["last_push_at"]
        assert items[pulling]["offline"] is False
        assert items[pulling]["last_contact_at"] == items[pulling]["last_pull_at"]
        assert items[never]["offline"] is False
        assert items[never]["last_contact_at"] is None
        assert items[conflicted]["offline"] is False
        assert (items[conflicted]["chain_status"], items[conflicted]["open_chain_conflicts"]) == (
            "conflict",
            1,
        )
        assert items[quiet]["chain_status"] == "ok"

        with signed_in(url, hq.viewer) as viewer:
            page = viewer.get("/terminals").text
            assert "offline &gt; 1 h" in _row(page, quiet)
            assert "offline" not in _row(page, pulling)
            assert "never synced" in _row(page, never)
            assert "offline" not in _row(page, never)
            conflict_row = _row(page, conflicted)
            assert 'href="/exceptions?kind=chain_conflict&amp;store=S002"' in conflict_row
            assert ">conflict</a>" in conflict_row
            assert 'badge ok">ok' in _row(page, quiet)
            # Filter by store.
            s2 = viewer.get("/terminals", params={"store": "S002"}).text
            assert f'id="terminal-{never}"' in s2
            assert f'id="terminal-{quiet}"' not in s2
            detail = viewer.get(f"/terminals/{conflicted}").text
            assert "1 open chain conflict(s)" in detail
