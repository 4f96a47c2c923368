"""Staff accounts: the JSON API and the /users page (admin only) — adding a user (the password
shown once), API tokens (shown once), disabling (sessions end, tokens stop, sign-in refused),
who may do which, and the audit row for every change."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from sqlalchemy import select

from syncserver.storage.database import Database
from syncserver.storage.schema import api_tokens, audit_log, hq_users
from syncserver.storage.users import Role
from tests.server.helpers import PULL, bearer
from tests.server.hq.helpers import Staff, csrf_of, prepare_hq, serve, signed_in

API = "/api/v1/users"


def _error(reply: httpx.Response) -> tuple[int, str]:
    return reply.status_code, reply.json()["error"]["code"]


def _audit(database: Database, action: str) -> list[Any]:
    with database.read() as conn:
        return list(
            conn.execute(
                select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
            )
        )


def _signs_in(url: str, username: str, password: str) -> bool:
    with httpx.Client(base_url=url, timeout=60) as client:
        reply = client.post("/signin", data={"username": username, "password": password})
        return reply.status_code == 303


def test_users_api_is_for_admins(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    _, till_token = hq.server.terminal()
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        # Nobody but an admin lists or adds users; a till's token least of all.
        new = {"username": "jane.doe", "role": "viewer"}
        for headers in (hq.manager.headers, hq.viewer.headers, bearer(till_token)):
            assert _error(client.get(API, headers=headers)) == (403, "forbidden")
            assert _error(client.post(API, json=new, headers=headers)) == (403, "forbidden")
            assert _error(client.post(f"{API}/vi/disable", headers=headers)) == (403, "forbidden")
            assert _error(client.post(f"{API}/vi/tokens", headers=headers)) == (403, "forbidden")
        with database.read() as conn:
            assert (
                conn.execute(
                    select(hq_users.c.username).where(hq_users.c.username == "jane.doe")
                ).first()
                is None
            )

        listed = client.get(API, headers=hq.admin.headers).json()
        assert [u["username"] for u in listed["items"]] == ["ada", "admin", "mo", "vi"]
        assert {u["username"]: u["role"] for u in listed["items"]}["mo"] == "manager"
        assert all(u["active"] for u in listed["items"])
        first = client.get(API, params={"limit": 3}, headers=hq.admin.headers).json()
        rest = client.get(
            API, params={"limit": 3, "cursor": first["next_cursor"]}, headers=hq.admin.headers
        ).json()
        assert [u["username"] for u in first["items"] + rest["items"]] == [
            "ada",
            "admin",
            "mo",
            "vi",
        ]
        assert rest["next_cursor"] is None

        created = client.post(
            API, json={"username": "Jane.Doe ", "role": "manager"}, headers=hq.admin.headers
        )
        assert _error(created) == (422, "malformed")  # upper case is refused, clearly
        assert "lower-case letters" in created.json()["error"]["message"]
        created = client.post(
            API, json={"username": "jane.doe", "role": "manager"}, headers=hq.admin.headers
        )
        assert created.status_code == 201, created.text
        jane = created.json()
        assert (jane["username"], jane["role"]) == ("jane.doe", "manager")
        assert len(jane["password"]) >= 20
        assert _signs_in(url, "jane.doe", jane["password"])
        with database.read() as conn:
            stored = conn.execute(
                select(hq_users.c.password_hash).where(hq_users.c.username == "jane.doe")
            ).scalar_one()
        assert stored.startswith("$argon2id$")
        dup = client.post(
            API, json={"username": "jane.doe", "role": "viewer"}, headers=hq.admin.headers
        )
        assert _error(dup) == (409, "conflict")
        assert "already exists" in dup.json()["error"]["message"]
        bad_role = client.post(
            API, json={"username": "x1", "role": "owner"}, headers=hq.admin.headers
        )
        assert _error(bad_role) == (422, "malformed")
        reserved = client.post(
            API, json={"username": "cli", "role": "viewer"}, headers=hq.admin.headers
        )
        assert _error(reserved) == (422, "malformed")

        # A token for jane, shown once; it acts with her role.
        minted = client.post(
            f"{API}/jane.doe/tokens", json={"label": "BI export"}, headers=hq.admin.headers
        )
        assert minted.status_code == 201, minted.text
        jane_token = minted.json()["token"]
        assert client.get("/api/v1/terminals", headers=bearer(jane_token)).status_code == 200
        assert _error(client.get(API, headers=bearer(jane_token))) == (403, "forbidden")
        assert _error(client.get(PULL, headers=bearer(jane_token))) == (403, "forbidden")
        no_body = client.post(f"{API}/jane.doe/tokens", headers=hq.admin.headers)
        assert no_body.status_code == 201
        assert _error(client.post(f"{API}/nobody/tokens", headers=hq.admin.headers)) == (
            404,
            "not_found",
        )

        # Disabling: her tokens and sessions stop at once, and she cannot sign in again.
        with signed_in(url, Staff("jane.doe", jane["password"], jane_token, Role.MANAGER)) as web:
            assert web.get("/terminals").status_code == 200
            disabled = client.post(f"{API}/jane.doe/disable", headers=hq.admin.headers)
            assert disabled.status_code == 200, disabled.text
            assert disabled.json()["active"] is False
            assert disabled.json()["disabled_at"] is not None
            ended = web.get("/terminals")
            assert ended.status_code == 303
            assert ended.headers["location"].startswith("/signin")
        assert _error(client.get("/api/v1/terminals", headers=bearer(jane_token))) == (
            401,
            "unauthorized",
        )
        assert not _signs_in(url, "jane.doe", jane["password"])
        again = client.post(f"{API}/jane.doe/disable", headers=hq.admin.headers)
        assert _error(again) == (409, "conflict")
        assert _error(client.post(f"{API}/jane.doe/tokens", headers=hq.admin.headers)) == (
            409,
            "conflict",
        )
        assert _error(client.post(f"{API}/nobody/disable", headers=hq.admin.headers)) == (
            404,
            "not_found",
        )
        # Nobody disables themselves, nor the last enabled admin.
        selfish = client.post(f"{API}/ada/disable", headers=hq.admin.headers)
        assert _error(selfish) == (403, "forbidden")
        assert client.post(f"{API}/admin/disable", headers=hq.admin.headers).status_code == 200
        listed = {
            u["username"]: u for u in client.get(API, headers=hq.admin.headers).json()["items"]
        }
        assert listed["jane.doe"]["active"] is False
        assert listed["admin"]["active"] is False
        assert listed["ada"]["active"] is True
    with database.read() as conn:
        revoked = (
            conn.execute(select(api_tokens.c.revoked_at).where(api_tokens.c.username == "jane.doe"))
            .scalars()
            .all()
        )
    assert len(revoked) == 2
    assert all(r is not None for r in revoked)

    (add,) = _audit(database, "user.add")[1:]  # [0]: the first admin, by `init`
    assert (add.actor, add.target_kind, add.target_id) == ("ada", "user", "jane.doe")
    assert json.loads(add.detail) == {"via": "api", "role": "manager", "api_token": False}
    assert [r.target_id for r in _audit(database, "user.token_create")] == ["jane.doe"] * 2
    assert json.loads(_audit(database, "user.token_create")[0].detail)["label"] == "BI export"
    assert [(r.actor, r.target_id) for r in _audit(database, "user.disable")] == [
        ("ada", "jane.doe"),
        ("ada", "admin"),
    ]
    assert "password" not in add.detail


def _token_on(html: str, element_id: str) -> str:
    found = re.search(rf'<div class="token" id="{element_id}">([^<]+)</div>', html)
    assert found is not None, f"no {element_id} on the page"
    return found.group(1)


def test_staff_page_adds_users_showing_the_password_once(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    with serve(database) as url:
        # A manager (or viewer) cannot see the page, nor add a user by posting to it.
        for staff in (hq.manager, hq.viewer):
            with signed_in(url, staff) as client:
                assert client.get("/users").status_code == 403
                token = csrf_of(client.get("/terminals").text)
                refused = client.post(
                    "/users", data={"csrf_token": token, "username": "eve", "role": "admin"}
                )
                assert refused.status_code == 403
                assert "needs the admin role" in refused.text
                assert "Staff" not in client.get("/terminals").text.split("<main>")[0]
        with database.read() as conn:
            assert (
                conn.execute(
                    select(hq_users.c.username).where(hq_users.c.username == "eve")
                ).first()
                is None
            )

        with signed_in(url, hq.admin) as admin:
            page = admin.get("/users")
            assert page.status_code == 200
            assert 'id="user-mo"' in page.text
            token = csrf_of(page.text)
            start = page.text.index('method="post" action="/users"')
            assert f'value="{token}"' in page.text[start : page.text.index("</form>", start)]
            assert '<option value="manager"' in page.text

            assert (
                admin.post("/users", data={"username": "eve", "role": "viewer"}).status_code == 403
            )
            bad = admin.post(
                "/users", data={"csrf_token": token, "username": "E v e", "role": "viewer"}
            )
            assert bad.status_code == 422
            assert "lower-case letters" in bad.text
            assert 'value="E v e"' in bad.text
            taken = admin.post(
                "/users", data={"csrf_token": token, "username": "mo", "role": "viewer"}
            )
            assert taken.status_code == 409
            assert "already exists" in taken.text

            shown = admin.post(
                "/users",
                data={"csrf_token": token, "username": "eve", "role": "manager", "token": "on"},
            )
            assert shown.status_code == 200
            assert shown.headers["cache-control"] == "no-store"
            assert "shown only on this page" in shown.text
            password = _token_on(shown.text, "password")
            api_token = _token_on(shown.text, "token")
            assert _signs_in(url, "eve", password)
            with httpx.Client(base_url=url, timeout=60) as client:
                assert client.get("/api/v1/terminals", headers=bearer(api_token)).status_code == 200
            listed = admin.get("/users")
            assert password not in listed.text
            assert api_token not in listed.text
            assert "lt_flash" not in shown.headers.get("set-cookie", "")

            # Another token for eve, on its own page, shown once.
            minted = admin.post("/users/eve/tokens", data={"csrf_token": token, "label": "BI"})
            assert minted.status_code == 200
            assert minted.headers["cache-control"] == "no-store"
            second = _token_on(minted.text, "token")
            assert second != api_token
            assert second not in admin.get("/users").text

            # Disable: a confirmation page, then the POST; her session and tokens end.
            with signed_in(url, Staff("eve", password, api_token, Role.MANAGER)) as eve:
                assert eve.get("/terminals").status_code == 200
                confirm = admin.get("/users/eve/disable")
                assert confirm.status_code == 200
                assert "Yes, disable eve" in confirm.text
                assert "signed out everywhere" in confirm.text
                done = admin.post("/users/eve/disable", data={"csrf_token": token})
                assert done.status_code == 303
                after = admin.get("/users")
                assert "Disabled eve" in after.text
                row = after.text[after.text.index('id="user-eve"') :]
                assert "disabled" in row[: row.index("</tr>")]
                assert eve.get("/terminals").status_code == 303
            assert not _signs_in(url, "eve", password)
            with httpx.Client(base_url=url, timeout=60) as client:
                for secret in (api_token, second):
                    assert (
                        client.get("/api/v1/terminals", headers=bearer(secret)).status_code == 401
                    )
            twice = admin.post("/users/eve/disable", data={"csrf_token": token})
            assert twice.status_code == 303
            assert "already disabled" in admin.get("/users").text
            # Own account: no disable button, and the POST is refused.
            assert 'action="/users/ada/disable"' not in admin.get("/users").text
            admin.post("/users/ada/disable", data={"csrf_token": token})
            assert "cannot disable your own account" in admin.get("/users").text
            assert admin.get("/users/nobody/disable").status_code == 404

    add = _audit(database, "user.add")[-1]
    assert (add.actor, add.target_id) == ("ada", "eve")
    assert json.loads(add.detail) == {"via": "web", "role": "manager", "api_token": True}
    assert [json.loads(r.detail)["via"] for r in _audit(database, "user.token_create")] == ["web"]
    assert [(r.actor, r.target_id) for r in _audit(database, "user.disable")] == [("ada", "eve")]
