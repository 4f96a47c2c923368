"""The Stores page (viewers read; managers add and change a store, each change an audit row,
a refused form back as typed with the field's message) and the till page's "New set-up code"
button (admins only; the code is shown once, the old one stops working, the new one claims).
Real uvicorn, SQLite file and PostgreSQL."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from sqlalchemy import select

from syncserver.hq.cashiers import add_cashier, disable_cashier
from syncserver.hq.setup import CLI
from syncserver.hq.terminals import register_terminal, revoke
from syncserver.storage.database import Database
from syncserver.storage.schema import audit_log
from syncserver.storage.stores import StoreRecord, get_store
from tests.server.hq.helpers import csrf_of, prepare_hq, serve, signed_in

CLAIM = "/api/v1/terminals/claim"
NEW = {
    "store_id": "S002",
    "name": "Harbour Grocers",
    "address": "12 Quay Street\r\n20457 Hamburg",
    "timezone": "Europe/Berlin",
    "country": "de",
    "tax_id": "DE 811",
}


def _audit(database: Database, prefix: str) -> list[Any]:
    with database.read() as conn:
        return list(
            conn.execute(
                select(audit_log)
                .where(audit_log.c.action.startswith(prefix))
                .order_by(audit_log.c.id)
            )
        )


def _store(database: Database, store_id: str) -> StoreRecord | None:
    with database.read() as conn:
        return get_store(conn, store_id)


def _row(html: str, store_id: str) -> str:
    start = html.index(f'<tr id="store-{store_id}">')
    return html[start : html.index("</tr>", start)]


def _error_box(html: str) -> str:
    found = re.search(r'<div class="flash flash-error" role="alert"[^>]*>([^<]*)</div>', html)
    assert found, "the form shows no error"
    return found.group(1)


def test_viewers_see_the_stores_with_their_tills_and_cashiers_but_cannot_change_them(
    database: Database,
) -> None:
    hq = prepare_hq(database, with_members=False)
    hq.server.store("S001", "Corner Shop", timezone="America/New_York")
    hq.server.store("S003", "Empty Store")
    for name in ("Till 1", "Till 2", "Till 3"):
        register_terminal(database, CLI, "S001", name)
    revoke(database, CLI, "T0003")
    for cashier_id in ("7", "8"):
        add_cashier(database, CLI, store_id="S001", cashier_id=cashier_id, name="A", pin="4711")
    disable_cashier(database, CLI, "8")
    before = _store(database, "S001")
    with serve(database) as url, signed_in(url, hq.viewer) as viewer:
        page = viewer.get("/stores")
        assert page.status_code == 200
        assert '<a href="/stores" aria-current="page">Stores</a>' in page.text
        row = _row(page.text, "S001")
        for shown in ("Corner Shop", "1 Test Street<br>Testtown", "America/New_York", "DE"):
            assert shown in row, shown
        assert 'href="/terminals?store=S001"' in row
        assert '>2</a> <span class="muted">+1 revoked</span>' in row
        assert '>1</a> <span class="muted">+1 disabled</span>' in row
        empty = _row(page.text, "S003")
        assert "revoked" not in empty
        assert empty.count(">0</a>") == 2
        # Nothing to change for a viewer: no forms, and a POST is refused whatever it carries.
        assert 'action="/stores"' not in page.text
        assert "/edit" not in page.text
        assert "needs the <strong>manager</strong> role" in page.text
        token = csrf_of(page.text)
        added = viewer.post("/stores", data=NEW | {"csrf_token": token})
        assert added.status_code == 403
        assert "adding a store needs the manager role" in added.text
        changed = viewer.post(
            "/stores/S001/edit", data={"name": "Mine now", "timezone": "UTC", "csrf_token": token}
        )
        assert changed.status_code == 403
        assert "changing a store needs the manager role" in changed.text
        assert viewer.get("/stores/S001/edit").status_code == 403
    assert _store(database, "S002") is None
    assert _store(database, "S001") == before
    assert _audit(database, "store.") == []


def test_managers_add_and_edit_a_store_with_checked_fields_and_audit_rows(
    database: Database,
) -> None:
    hq = prepare_hq(database, with_members=False)
    with serve(database) as url, signed_in(url, hq.manager) as manager:
        page = manager.get("/stores")
        assert page.status_code == 200
        assert "No stores yet" in page.text
        # The time zone box suggests real zones, not the tz database's aliases.
        assert 'list="timezones"' in page.text
        for zone in ("UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"):
            assert f'<option value="{zone}">' in page.text, zone
        for alias in ("US/Eastern", "Etc/GMT+5", "localtime"):
            assert f'<option value="{alias}">' not in page.text, alias
        token = csrf_of(page.text)

        # CSRF: without the session's token nothing is added.
        for forged in ({}, {"csrf_token": token[:-1]}):
            refused = manager.post("/stores", data=NEW | forged)
            assert refused.status_code == 403
            assert "this form has expired or came from another site" in refused.text
        assert _store(database, "S002") is None

        # Refused fields come back as typed, with the field's message.
        bad_zone = manager.post(
            "/stores", data=NEW | {"timezone": "Europe/Hamburg", "csrf_token": token}
        )
        assert bad_zone.status_code == 422
        assert "timezone: unknown time zone" in _error_box(bad_zone.text)
        assert "Europe/Hamburg" in _error_box(bad_zone.text)
        for typed in ('value="S002"', 'value="Harbour Grocers"', 'value="Europe/Hamburg"'):
            assert typed in bad_zone.text, typed
        assert 'value="de"' in bad_zone.text
        assert ">12 Quay Street\r\n20457 Hamburg</textarea>" in bad_zone.text
        for wrong, message in (
            ({"country": "Germany"}, "country: 'GERMANY' is not an ISO 3166 code"),
            ({"store_id": "S 2"}, "store: 1–64 letters"),
            ({"name": "  "}, "name: give the store the name customers see"),
            ({"address": "\n".join(f"line {n}" for n in range(7))}, "address: 6 lines at most"),
        ):
            refused = manager.post("/stores", data=NEW | wrong | {"csrf_token": token})
            assert refused.status_code == 422, wrong
            assert message in _error_box(refused.text).replace("&#39;", "'"), wrong
        assert _store(database, "S002") is None

        added = manager.post("/stores", data=NEW | {"csrf_token": token})
        assert added.status_code == 303
        assert added.headers["location"] == "/stores#store-S002"
        listing = manager.get("/stores")
        assert "Added store S002 (Harbour Grocers, Europe/Berlin)" in listing.text
        row = _row(listing.text, "S002")
        assert "12 Quay Street<br>20457 Hamburg" in row
        assert 'action="/stores/S002/edit"' in row
        store = _store(database, "S002")
        assert store is not None
        assert (store.address, store.country, store.tax_id) == (
            ("12 Quay Street", "20457 Hamburg"),
            "DE",
            "DE 811",
        )
        taken = manager.post("/stores", data=NEW | {"name": "Other", "csrf_token": token})
        assert taken.status_code == 409
        assert "store S002 already exists" in _error_box(taken.text)
        assert 'value="Other"' in taken.text

        # Editing: the form holds the store as it is; a refusal keeps what was typed.
        form = manager.get("/stores/S002/edit")
        assert form.status_code == 200
        assert 'value="Harbour Grocers"' in form.text
        assert ">12 Quay Street\n20457 Hamburg</textarea>" in form.text
        assert 'value="Europe/Berlin"' in form.text
        assert manager.get("/stores/S404/edit").status_code == 404
        edit = {
            "name": "Harbour Grocers Altona",
            "address": "3 Elbe Road\n22767 Hamburg",
            "timezone": "Europe/Berlin",
            "country": "DE",
            "tax_id": "",
        }
        no_csrf = manager.post("/stores/S002/edit", data=edit)
        assert no_csrf.status_code == 403
        refused = manager.post(
            "/stores/S002/edit", data=edit | {"timezone": "Berlin", "csrf_token": token}
        )
        assert refused.status_code == 422
        assert "timezone: unknown time zone" in _error_box(refused.text)
        assert 'value="Harbour Grocers Altona"' in refused.text
        assert 'value="Berlin"' in refused.text
        assert _store(database, "S002") == store

        saved = manager.post("/stores/S002/edit", data=edit | {"csrf_token": token})
        assert saved.status_code == 303
        assert saved.headers["location"] == "/stores#store-S002"
        assert "Saved store S002 (Harbour Grocers Altona" in manager.get("/stores").text
        changed = _store(database, "S002")
        assert changed is not None
        assert (changed.name, changed.address, changed.timezone, changed.tax_id) == (
            "Harbour Grocers Altona",
            ("3 Elbe Road", "22767 Hamburg"),
            "Europe/Berlin",
            None,
        )
        # Sending the form back unchanged writes nothing (and no audit row).
        same = manager.post("/stores/S002/edit", data=edit | {"csrf_token": token})
        assert same.status_code == 303
        assert "Store S002: no changes." in manager.get("/stores").text
        assert _store(database, "S002") == changed
        gone = manager.post("/stores/S404/edit", data=edit | {"csrf_token": token})
        assert gone.status_code == 303
        assert "no store S404" in manager.get(gone.headers["location"]).text

    rows = _audit(database, "store.")
    assert [(r.action, r.actor, r.target_kind, r.target_id) for r in rows] == [
        ("store.add", "mo", "store", "S002"),
        ("store.update", "mo", "store", "S002"),
    ]
    assert all(r.ip for r in rows)
    add_detail, update_detail = (json.loads(r.detail) for r in rows)
    assert add_detail["via"] == "web"
    assert add_detail["timezone"] == "Europe/Berlin"
    # Only what changed is recorded, with what it was.
    assert update_detail == {
        "via": "web",
        "name": "Harbour Grocers Altona",
        "address": ["3 Elbe Road", "22767 Hamburg"],
        "tax_id": None,
        "before": {
            "name": "Harbour Grocers",
            "address": ["12 Quay Street", "20457 Hamburg"],
            "tax_id": "DE 811",
        },
    }


def _code_of(html: str) -> str:
    found = re.search(r'<div class="token" id="code">([^<]+)</div>', html)
    assert found, "the page shows no set-up code"
    return found.group(1)


def test_only_an_admin_issues_a_new_set_up_code_and_only_the_new_one_claims(
    database: Database,
) -> None:
    hq = prepare_hq(database, with_members=False)
    hq.server.store("S001")
    first = register_terminal(database, CLI, "S001", "Till 1")
    gone = register_terminal(database, CLI, "S001", "Till 2")
    revoke(database, CLI, gone.terminal_id)
    till = first.terminal_id
    form = f'method="post" action="/terminals/{till}/code"'
    with serve(database) as url:
        for staff in (hq.viewer, hq.manager):
            with signed_in(url, staff) as client:
                page = client.get(f"/terminals/{till}")
                assert form not in page.text
                assert "Issuing a set-up code needs the <strong>admin</strong> role" in page.text
                refused = client.post(
                    f"/terminals/{till}/code", data={"csrf_token": csrf_of(page.text)}
                )
                assert refused.status_code == 403
                assert "issuing a set-up code needs the admin role" in refused.text
        assert _audit(database, "terminal.code") == []

        with signed_in(url, hq.admin) as admin, httpx.Client(base_url=url, timeout=30) as box:
            page = admin.get(f"/terminals/{till}")
            assert form in page.text
            token = csrf_of(page.text)
            assert admin.post(f"/terminals/{till}/code").status_code == 403  # no CSRF token
            assert (
                admin.post(f"/terminals/{till}/code", data={"csrf_token": "x"}).status_code == 403
            )
            assert _audit(database, "terminal.code") == []

            shown = admin.post(f"/terminals/{till}/code", data={"csrf_token": token})
            assert shown.status_code == 200
            assert shown.headers["cache-control"] == "no-store"
            code = _code_of(shown.text)
            assert code != first.code
            assert f"till setup --server {url} --code {code}" in shown.text
            assert "shown only on this page" in shown.text
            assert "Its earlier codes no longer work" in shown.text
            # Shown once: the till's page does not show it again.
            assert code not in admin.get(f"/terminals/{till}").text

            # The old code no longer claims; the new one does, once.
            assert box.post(CLAIM, json={"code": first.code}).status_code == 404
            claimed = box.post(CLAIM, json={"code": code})
            assert claimed.status_code == 200, claimed.text
            assert claimed.json()["terminal_id"] == till
            assert box.post(CLAIM, json={"code": code}).status_code == 409

            # A revoked till gets no code (no button, and a POST is refused with why).
            revoked_page = admin.get(f"/terminals/{gone.terminal_id}")
            assert f'action="/terminals/{gone.terminal_id}/code"' not in revoked_page.text
            assert "A revoked till cannot be set up again" in revoked_page.text
            refused = admin.post(f"/terminals/{gone.terminal_id}/code", data={"csrf_token": token})
            assert refused.status_code == 303
            assert refused.headers["location"] == f"/terminals/{gone.terminal_id}"
            assert "was revoked" in admin.get(refused.headers["location"]).text
            unknown = admin.post("/terminals/T9999/code", data={"csrf_token": token})
            assert unknown.status_code == 303
            assert "no terminal T9999" in admin.get(unknown.headers["location"]).text

    rows = _audit(database, "terminal.code")
    assert [(r.action, r.actor, r.target_id) for r in rows] == [("terminal.code", "ada", till)]
    assert json.loads(rows[0].detail)["via"] == "web"
