"""Stores at HQ: ``syncserver store add|list|update`` and ``/api/v1/stores`` (viewer reads,
manager writes), the checks on time zone and country, the audit row of every change, and the
helpers other parts read (``get_store``, ``store_timezones``). SQLite file and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import httpx
from click.testing import CliRunner, Result
from sqlalchemy import select

from syncserver.cli import main
from syncserver.storage.database import Database
from syncserver.storage.schema import audit_log, stores
from syncserver.storage.stores import get_store, store_timezones
from tests.server.helpers import bearer
from tests.server.hq.helpers import prepare_hq, serve

API = "/api/v1/stores"


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _audit(database: Database, prefix: str = "store.") -> list[Any]:
    with database.read() as conn:
        return list(
            conn.execute(
                select(audit_log)
                .where(audit_log.c.action.startswith(prefix))
                .order_by(audit_log.c.id)
            )
        )


def test_store_commands_add_list_and_update_with_checked_values(db_url: str) -> None:
    db = ("--db", db_url)
    assert _cli("init", *db).exit_code == 0
    added = _cli(
        "store",
        "add",
        "S001",
        "--name",
        "Harbour  Grocers",
        "--address",
        "12 Quay St",
        "--address",
        "Hamburg",
        "--timezone",
        "Europe/Berlin",
        "--country",
        "DE",
        *db,
    )
    assert added.exit_code == 0, added.output
    shown = json.loads(added.stdout)
    assert (shown["name"], shown["address"], shown["timezone"], shown["country"]) == (
        "Harbour Grocers",
        ["12 Quay St", "Hamburg"],
        "Europe/Berlin",
        "DE",
    )
    assert shown["tax_id"] is None

    # Each bad value: one line naming the field and what to do, exit 1, nothing stored.
    for args, words in (
        (("S002", "--name", "X", "--timezone", "Mars/Olympus"), "unknown time zone"),
        # Opens in zoneinfo, but is not a place: the server's own zone, a fixed offset.
        (("S002", "--name", "X", "--timezone", "localtime"), "unknown time zone"),
        (("S002", "--name", "X", "--timezone", "Etc/GMT+5"), "unknown time zone"),
        (("S002", "--name", "X", "--timezone", "UTC", "--country", "de"), "two capital"),
        (("S002", "--name", "X", "--timezone", "UTC", "--country", "DEU"), "two capital"),
        (("S 2", "--name", "X", "--timezone", "UTC"), "store: 1–64 letters"),
        (("S002", "--name", "  ", "--timezone", "UTC"), "name:"),
        (("S001", "--name", "Again", "--timezone", "UTC"), "already exists"),
    ):
        refused = _cli("store", "add", *args, *db)
        assert refused.exit_code == 1, args
        assert words in refused.output
        assert "Traceback" not in refused.output
        assert len(refused.output.strip().splitlines()) == 1
    listed = json.loads(_cli("store", "list", "--json", *db).stdout)
    assert [s["store_id"] for s in listed] == ["S001"]

    changed = _cli("store", "update", "S001", "--tax-id", "DE 123 456", "--country", "AT", *db)
    assert changed.exit_code == 0, changed.output
    after = json.loads(changed.stdout)
    assert (after["tax_id"], after["country"], after["name"]) == (
        "DE 123 456",
        "AT",
        "Harbour Grocers",
    )
    assert _cli("store", "update", "S001", "--address", "1 New Rd", *db).exit_code == 0
    assert _cli("store", "update", "S001", "--country", "", *db).exit_code == 0
    nothing = _cli("store", "update", "S001", *db)
    assert (nothing.exit_code, "nothing to change" in nothing.output) == (1, True)
    unknown = _cli("store", "update", "S404", "--name", "X", *db)
    assert unknown.exit_code == 1
    assert "no store S404: add it with syncserver store add S404" in unknown.output
    text = _cli("store", "list", *db).stdout
    assert "S001" in text
    assert "Harbour Grocers — 1 New Rd" in text

    database = Database(db_url)
    try:
        with database.read() as conn:
            record = get_store(conn, "S001")
            assert record is not None
            assert (record.address, record.country, record.timezone) == (
                ("1 New Rd",),
                None,
                "Europe/Berlin",
            )
            assert get_store(conn, "S404") is None
            assert store_timezones(conn) == {"S001": "Europe/Berlin"}
            # Every write took a new position from the change counter.
            assert conn.execute(select(stores.c.change_seq)).scalar_one() > 0
        rows = _audit(database)
        assert [(r.action, r.actor, r.target_id) for r in rows] == [
            ("store.add", "cli", "S001"),
            ("store.update", "cli", "S001"),
            ("store.update", "cli", "S001"),
            ("store.update", "cli", "S001"),
        ]
        first_change = json.loads(rows[1].detail)
        assert first_change["country"] == "AT"
        assert first_change["before"] == {"country": "DE", "tax_id": None}
    finally:
        database.dispose()


def test_stores_api_reads_for_viewers_and_writes_for_managers(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    _, till_token = hq.server.terminal()
    body = {
        "store_id": "S001",
        "name": "Harbour Grocers",
        "address": ["12 Quay St", "20457 Hamburg"],
        "timezone": "Europe/Berlin",
        "country": "DE",
    }
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        # Only managers and admins add; a till's token is no HQ token at all.
        for headers in (hq.viewer.headers, bearer(till_token)):
            refused = client.post(API, json=body, headers=headers)
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "forbidden"
        assert client.post(API, json=body).status_code == 401
        created = client.post(API, json=body, headers=hq.manager.headers)
        assert created.status_code == 201, created.text
        assert created.json()["address"] == ["12 Quay St", "20457 Hamburg"]
        again = client.post(API, json=body, headers=hq.admin.headers)
        assert (again.status_code, again.json()["error"]["code"]) == (409, "conflict")
        for bad, words in (
            ({**body, "store_id": "S002", "timezone": "Europe/Atlantis"}, "unknown time zone"),
            ({**body, "store_id": "S002", "country": "de"}, "two capital letters"),
            ({**body, "store_id": "S002", "extra": 1}, "extra"),
            ({**body, "store_id": "S002", "address": ["x"] * 7}, "address"),
        ):
            reply = client.post(API, json=bad, headers=hq.manager.headers)
            assert reply.status_code == 422, bad
            assert reply.json()["error"]["code"] == "malformed"
            assert words in reply.json()["error"]["message"]

        listed = client.get(API, headers=hq.viewer.headers)
        assert listed.status_code == 200
        assert [s["store_id"] for s in listed.json()["items"]] == ["S001"]
        one = client.get(f"{API}/S001", headers=hq.viewer.headers).json()
        assert (one["name"], one["timezone"], one["country"]) == (
            "Harbour Grocers",
            "Europe/Berlin",
            "DE",
        )
        missing = client.get(f"{API}/S404", headers=hq.viewer.headers)
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")

        patch = {"name": "Harbour Grocers Altona", "tax_id": "DE811"}
        assert client.patch(f"{API}/S001", json=patch, headers=hq.viewer.headers).status_code == 403
        patched = client.patch(f"{API}/S001", json=patch, headers=hq.manager.headers)
        assert patched.status_code == 200, patched.text
        assert (patched.json()["name"], patched.json()["tax_id"]) == (
            "Harbour Grocers Altona",
            "DE811",
        )
        assert patched.json()["address"] == ["12 Quay St", "20457 Hamburg"]  # untouched
        bad_zone = client.patch(
            f"{API}/S001", json={"timezone": "CET2"}, headers=hq.manager.headers
        )
        assert bad_zone.status_code == 422
        unknown = client.patch(f"{API}/S404", json=patch, headers=hq.manager.headers)
        assert unknown.status_code == 404

    rows = _audit(database)
    assert [(r.action, r.actor, r.target_id) for r in rows] == [
        ("store.add", "mo", "S001"),
        ("store.update", "mo", "S001"),
    ]
