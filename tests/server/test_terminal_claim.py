"""One-time set-up codes: ``terminal add`` prints one, ``terminal code`` replaces it, and
``POST /api/v1/terminals/claim`` trades it — once, within 24 hours, not for a revoked till —
for the till's identity, a fresh token (the old one stops working) and its store. Failed
claims are limited per address (429 with Retry-After), and each success is an audit row.
Real uvicorn, SQLite file and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx
from click.testing import CliRunner
from sqlalchemy import select, update

from shared.protocol import TerminalClaimed
from syncserver.cli import main
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import audit_log, terminal_codes
from syncserver.storage.terminals import CODE_ALPHABET
from tests.server.helpers import PULL, bearer
from tests.server.hq.helpers import csrf_of, prepare_hq, serve, signed_in

CLAIM = "/api/v1/terminals/claim"
CODE = re.compile(rf"^[{CODE_ALPHABET}]{{4}}(-[{CODE_ALPHABET}]{{4}}){{3}}$")


def _cli(db_url: str, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, [*args, "--db", db_url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def _error(reply: httpx.Response) -> tuple[int, str, str]:
    body = reply.json()["error"]
    return reply.status_code, body["code"], body["message"]


def test_a_code_is_traded_once_for_identity_fresh_token_and_store(database: Database) -> None:
    prepare_hq(database, with_members=False)
    url_db = database.url
    _cli(
        url_db,
        "store",
        "add",
        "S001",
        "--name",
        "Harbour Grocers",
        "--address",
        "12 Quay St",
        "--address",
        "Hamburg",
        "--timezone",
        "Europe/Berlin",
        "--country",
        "DE",
        "--tax-id",
        "DE811",
    )
    added = _cli(url_db, "terminal", "add", "--store", "S001", "--name", "Till 1")
    assert set(added) == {"terminal_id", "token", "code", "code_expires_at"}
    assert CODE.match(added["code"]), added["code"]
    with database.read() as conn:
        stored = conn.execute(select(terminal_codes)).one()
    # Only the hash is kept, and the code lasts a day.
    assert added["code"].replace("-", "") not in str(stored)
    assert timedelta(hours=23) < stored.expires_at - stored.created_at <= timedelta(hours=24)

    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.get(PULL, headers=bearer(added["token"])).status_code == 200
        # Typed as people type it: lower case, spaces instead of dashes.
        typed = added["code"].lower().replace("-", " ")
        reply = client.post(CLAIM, json={"code": typed})
        assert reply.status_code == 200, reply.text
        claimed = TerminalClaimed.model_validate_json(reply.content)
        assert (claimed.terminal_id, claimed.name) == (added["terminal_id"], "Till 1")
        assert claimed.store.model_dump() == {
            "store_id": "S001",
            "name": "Harbour Grocers",
            "address": ["12 Quay St", "Hamburg"],
            "timezone": "Europe/Berlin",
            "country": "DE",
            "tax_id": "DE811",
        }
        # The fresh token works; the one `terminal add` printed no longer does.
        assert client.get(PULL, headers=bearer(claimed.token)).status_code == 200
        old = client.get(PULL, headers=bearer(added["token"]))
        assert old.status_code == 401
        # Single use.
        status, code, message = _error(client.post(CLAIM, json={"code": added["code"]}))
        assert (status, code) == (409, "conflict")
        assert "already used" in message
        assert f"syncserver terminal code {added['terminal_id']}" in message
        assert client.get(PULL, headers=bearer(claimed.token)).status_code == 200

        # A fresh code replaces an unused one, and works.
        first = _cli(url_db, "terminal", "code", added["terminal_id"])
        second = _cli(url_db, "terminal", "code", added["terminal_id"])
        assert first["code"] != second["code"]
        status, code, message = _error(client.post(CLAIM, json={"code": first["code"]}))
        assert (status, code) == (404, "not_found")
        assert "newer one" in message
        again = client.post(CLAIM, json={"code": second["code"]})
        assert again.status_code == 200, again.text
        assert client.get(PULL, headers=bearer(claimed.token)).status_code == 401

        # Expired: say so, and how to get another.
        late = _cli(url_db, "terminal", "code", added["terminal_id"])
        with database.write() as conn:
            conn.execute(
                update(terminal_codes)
                .where(terminal_codes.c.used_at.is_(None))
                .values(expires_at=utc_now() - timedelta(minutes=1))
            )
        status, code, message = _error(client.post(CLAIM, json={"code": late["code"]}))
        assert (status, code) == (409, "conflict")
        assert "expired" in message
        assert f"issue a new one with syncserver terminal code {added['terminal_id']}" in message

        # A revoked till cannot claim, and cannot be given a code.
        spare = _cli(url_db, "terminal", "code", added["terminal_id"])
        assert (
            CliRunner().invoke(main, ["terminal", "revoke", added["terminal_id"], "--db", url_db])
        ).exit_code == 0
        status, code, message = _error(client.post(CLAIM, json={"code": spare["code"]}))
        assert (status, code) == (403, "forbidden")
        assert "revoked" in message
        refused = CliRunner().invoke(
            main, ["terminal", "code", added["terminal_id"], "--db", url_db]
        )
        assert refused.exit_code == 1
        assert "was revoked" in refused.output

        # Not a code at all; no body.
        status, code, message = _error(client.post(CLAIM, json={"code": "hello"}))
        assert (status, code) == (422, "malformed")
        assert "16 letters and digits" in message
        assert client.post(CLAIM, json={}).status_code == 422

    with database.read() as conn:
        claims = conn.execute(
            select(audit_log.c.actor, audit_log.c.target_id, audit_log.c.ip).where(
                audit_log.c.action == "terminal.claim"
            )
        ).all()
        codes = conn.execute(
            select(audit_log.c.target_id).where(audit_log.c.action == "terminal.code")
        ).all()
    till = added["terminal_id"]
    assert claims == [(f"till:{till}", till, "127.0.0.1")] * 2
    assert len(codes) == 4


def test_failed_claims_from_one_address_are_slowed_down(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    hq.server.store("S001")
    added = _cli(database.url, "terminal", "add", "--store", "S001", "--name", "Till 1")
    limits = {"sign_in_free_failures": 3, "sign_in_first_delay_seconds": 600.0}
    with serve(database, **limits) as url, httpx.Client(base_url=url, timeout=30) as client:
        for guess in ("AAAA-AAAA-AAAA-AAAA", "BBBB-BBBB-BBBB-BBBB", "CCCC-CCCC-CCCC-CCCC"):
            assert _error(client.post(CLAIM, json={"code": guess}))[:2] == (404, "not_found")
        # The budget is spent: even the right code waits now (it is not even looked at).
        limited = client.post(CLAIM, json={"code": added["code"]})
        status, code, message = _error(limited)
        assert (status, code) == (429, "rate_limited")
        assert int(limited.headers["Retry-After"]) > 100  # capped at the 300 s max delay
        assert "too many failed set-up codes" in message
    with database.read() as conn:
        assert conn.execute(select(terminal_codes.c.used_at)).scalar_one() is None


def test_the_dashboard_shows_the_code_with_the_setup_command(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    hq.server.store("S002")
    with serve(database) as url, signed_in(url, hq.admin) as admin:
        token = csrf_of(admin.get("/terminals").text)
        missing = admin.post(
            "/terminals", data={"csrf_token": token, "store_id": "S404", "name": "Till 9"}
        )
        assert missing.status_code == 422
        assert "add the store first" in missing.text
        shown = admin.post(
            "/terminals", data={"csrf_token": token, "store_id": "S002", "name": "Till 2"}
        )
        assert shown.status_code == 200
        found = re.search(r'<div class="token" id="code">([^<]+)</div>', shown.text)
        assert found is not None
        code = found.group(1)
        assert CODE.match(code)
        assert f"till setup --server {url} --code {code}" in shown.text
        with httpx.Client(base_url=url, timeout=30) as till:
            assert till.post(CLAIM, json={"code": code}).status_code == 200
        assert code not in admin.get("/terminals").text


def test_the_api_registers_a_till_with_its_code_and_issues_new_ones(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    hq.server.store("S001")
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        created = client.post(
            "/api/v1/terminals",
            json={"store_id": "S001", "name": "Till 1"},
            headers=hq.admin.headers,
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert CODE.match(body["code"])
        assert body["code_expires_at"]
        fresh = client.post(
            f"/api/v1/terminals/{body['terminal_id']}/code", headers=hq.admin.headers
        )
        assert fresh.status_code == 201, fresh.text
        assert fresh.json()["code"] != body["code"]
        refused = client.post(
            f"/api/v1/terminals/{body['terminal_id']}/code", headers=hq.manager.headers
        )
        assert refused.status_code == 403
        unknown = client.post("/api/v1/terminals/T9999/code", headers=hq.admin.headers)
        assert unknown.status_code == 404
        assert client.post(CLAIM, json={"code": body["code"]}).status_code == 404
        assert client.post(CLAIM, json={"code": fresh.json()["code"]}).status_code == 200
