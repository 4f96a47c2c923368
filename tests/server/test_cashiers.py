"""Till staff managed at HQ: ``syncserver cashier …``, ``/api/v1/cashiers`` and the Cashiers
page, on SQLite and PostgreSQL — who may do what, an audit row for every change, a change
position for the pull, and no PIN, salt or hash in anything HQ prints, answers or logs."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from click.testing import CliRunner, Result
from sqlalchemy import select

from shared.pins import PIN_SCHEME, pin_matches
from syncserver.cli import main
from syncserver.storage.database import Database
from syncserver.storage.schema import audit_log, cashiers
from tests.server.helpers import PULL, bearer
from tests.server.hq.helpers import csrf_of, prepare_hq, serve, signed_in

API = "/api/v1/cashiers"


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def _row(database: Database, cashier_id: str) -> Any:
    with database.read() as conn:
        return conn.execute(select(cashiers).where(cashiers.c.cashier_id == cashier_id)).one()


def _secrets(database: Database) -> list[str]:
    """Every salt and hash HQ holds: none may appear in any output."""
    with database.read() as conn:
        rows = conn.execute(select(cashiers.c.pin_salt, cashiers.c.pin_hash)).all()
    return [value for row in rows for value in row]


def _audit(database: Database, prefix: str = "cashier.") -> list[Any]:
    with database.read() as conn:
        return list(
            conn.execute(
                select(audit_log)
                .where(audit_log.c.action.startswith(prefix))
                .order_by(audit_log.c.id)
            )
        )


def _no_pin_material(text: str, database: Database, *pins: str) -> None:
    for secret in _secrets(database):
        assert secret not in text
    for pin in pins:  # as a number of its own (a timestamp's digits may hold any four)
        assert re.search(rf"(?<![0-9]){pin}(?![0-9])", text) is None, pin
    for word in ("pin_salt", "pin_hash", "pin_scheme", PIN_SCHEME):
        assert word not in text


def test_cli_adds_lists_disables_enables_and_resets_pins(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    hq.server.store("S001")
    hq.server.store("S002")
    db = ("--db", database.url)
    outputs: list[str] = []

    def ok(*args: str, input: str | None = None) -> Result:
        result = run(*args, *db, input=input)
        outputs.append(result.output)
        assert result.exit_code == 0, result.output
        return result

    added = ok("cashier", "add", "--store", "S001", "--id", "7", "--name", "Ann", "--pin", "8642")
    ann = json.loads(added.stdout)
    assert (ann["cashier_id"], ann["store_id"], ann["name"], ann["role"]) == (
        "7",
        "S001",
        "Ann",
        "cashier",
    )
    assert ann["active"] is True
    assert ann["disabled_at"] is None
    assert "next sync" in added.stderr
    # Without --pin the PIN is asked twice, hidden; the two must agree.
    sup = ok(
        "cashier", "add", "--store", "S002", "--id", "S9", "--name", "Sam", "--role",
        "supervisor", input="9999\n9999\n",
    )  # fmt: skip
    assert json.loads(sup.stdout)["role"] == "supervisor"
    row = _row(database, "S9")
    assert row.pin_scheme == PIN_SCHEME
    assert pin_matches("9999", row.pin_scheme, row.pin_salt, row.pin_hash)
    assert not pin_matches("9998", row.pin_scheme, row.pin_salt, row.pin_hash)

    # Refusals: one clear line and a non-zero exit, never a traceback; nothing is written.
    refusals = [
        (("add", "--store", "S001", "--id", "7", "--name", "Bo", "--pin", "1234"),
         "cashier 7 already exists (Ann, store S001)"),
        (("add", "--store", "S001", "--id", "8", "--name", "Bo", "--pin", "12"),
         "a PIN is 4 to 8 digits"),
        (("add", "--store", "S001", "--id", "8", "--name", "Bo", "--pin", "12345678901"),
         "a PIN is 4 to 8 digits"),
        (("add", "--store", "S001", "--id", "8-b", "--name", "Bo", "--pin", "1234"),
         "cashier id: 1–16 letters or digits"),
        (("add", "--store", "S001", "--id", "12345678901234567", "--name", "Bo", "--pin", "1234"),
         "cashier id: 1–16 letters or digits"),
        (("add", "--store", "S001", "--id", "8", "--name", "Bo\x07", "--pin", "1234"),
         "name: contains the control character U+0007"),
        (("add", "--store", "S001", "--id", "8", "--name", "   ", "--pin", "1234"),
         "name: give the cashier's name"),
        (("add", "--store", "S001", "--id", "8", "--name", "B" * 201, "--pin", "1234"),
         "name: 200 characters at most"),
        (("add", "--store", "S0 1", "--id", "8", "--name", "Bo", "--pin", "1234"),
         "store: 1–64 letters"),
        (("add", "--store", "S404", "--id", "8", "--name", "Bo", "--pin", "1234"),
         "store S404 is not set up at HQ"),
        (("add", "--store", "S001", "--id", "8", "--name", "Bo", "--pin", "1234", "--role",
          "boss"), "'boss' is not one of 'cashier', 'supervisor'"),
        (("disable", "99"), "no cashier 99"),
        (("enable", "7"), "cashier 7 is not disabled"),
        (("pin", "99", "--pin", "1234"), "no cashier 99"),
        (("pin", "7", "--pin", "abcd"), "a PIN is 4 to 8 digits"),
    ]  # fmt: skip
    for args, message in refusals:
        refused = run("cashier", *args, *db)
        outputs.append(refused.output)
        assert refused.exit_code != 0, args
        assert message in refused.output, (args, refused.output)
        assert "Traceback" not in refused.output
    mismatch = run("cashier", "pin", "7", *db, input="1111\n2222\n3333\n3333\n")
    assert mismatch.exit_code == 0
    assert "do not match" in mismatch.output
    outputs.append(mismatch.output)
    assert pin_matches("3333", *_pin_columns(database, "7"))

    listed = json.loads(ok("cashier", "list").stdout)
    assert [(c["store_id"], c["cashier_id"]) for c in listed] == [("S001", "7"), ("S002", "S9")]
    assert json.loads(ok("cashier", "list", "--store", "S002").stdout)[0]["name"] == "Sam"
    assert json.loads(ok("cashier", "list", "--store", "S404").stdout) == []

    seq = _row(database, "7").change_seq
    ok("cashier", "disable", "7")
    assert _row(database, "7").disabled_at is not None
    assert _row(database, "7").change_seq > seq  # the pull sees the change
    again = run("cashier", "disable", "7", *db)
    assert again.exit_code == 1
    assert "cashier 7 is already disabled" in again.output
    assert json.loads(ok("cashier", "list", "--store", "S001").stdout)[0]["active"] is False
    ok("cashier", "enable", "7")
    assert _row(database, "7").disabled_at is None
    salt = _row(database, "7").pin_salt
    ok("cashier", "pin", "7", "--pin", "5555")
    assert _row(database, "7").pin_salt != salt  # a new PIN, a new salt
    assert pin_matches("5555", *_pin_columns(database, "7"))
    assert not pin_matches("3333", *_pin_columns(database, "7"))

    _no_pin_material("\n".join(outputs), database, "8642", "5555", "3333")
    actions = [(r.action, r.actor, r.target_kind, r.target_id) for r in _audit(database)]
    assert actions == [
        ("cashier.add", "cli", "cashier", "7"),
        ("cashier.add", "cli", "cashier", "S9"),
        ("cashier.pin_reset", "cli", "cashier", "7"),
        ("cashier.disable", "cli", "cashier", "7"),
        ("cashier.enable", "cli", "cashier", "7"),
        ("cashier.pin_reset", "cli", "cashier", "7"),
    ]
    first = json.loads(_audit(database)[0].detail)
    assert first == {"via": "cli", "store_id": "S001", "name": "Ann", "role": "cashier"}
    _no_pin_material(" ".join(r.detail for r in _audit(database)), database, "8642", "5555")


def _pin_columns(database: Database, cashier_id: str) -> tuple[str, str, str]:
    row = _row(database, cashier_id)
    return row.pin_scheme, row.pin_salt, row.pin_hash


def _error(reply: httpx.Response) -> tuple[int, str]:
    return reply.status_code, reply.json()["error"]["code"]


def test_api_roles_audit_and_the_pull(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    hq.server.store("S001")
    hq.server.store("S002")
    _till, till_token = hq.server.terminal("S001")
    _, other_token = hq.server.terminal("S002")
    ann = {"store_id": "S001", "cashier_id": "7", "name": "Ann", "pin": "8642"}
    texts: list[str] = []
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:

        def call(method: str, path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
            reply = client.request(method, path, headers=headers, **kw)
            if path != PULL:  # a pull carries the hashes: it is how tills check PINs
                texts.append(reply.text)
            return reply

        # A viewer reads; only a manager (or admin) changes; a till's token reaches nothing.
        for headers in (hq.viewer.headers, bearer(till_token)):
            assert _error(call("POST", API, headers, json=ann)) == (403, "forbidden")
        assert _error(call("GET", API, bearer(till_token))) == (403, "forbidden")
        assert call("GET", API, hq.viewer.headers).json() == {"items": [], "next_cursor": None}
        created = call("POST", API, hq.manager.headers, json=ann)
        assert created.status_code == 201, created.text
        assert created.json()["active"] is True
        assert created.json()["role"] == "cashier"
        sam = {"store_id": "S002", "cashier_id": "S9", "name": "Sam", "pin": "9999"}
        assert call("POST", API, hq.admin.headers, json=sam | {"role": "supervisor"}).is_success
        assert _error(call("POST", API, hq.manager.headers, json=ann)) == (409, "conflict")
        for wrong in (
            {"pin": "12"},
            {"pin": "12ab"},
            {"pin": "123456789"},
            {"cashier_id": "7!"},
            {"cashier_id": ""},
            {"name": "A\x00n"},
            {"name": " "},
            {"role": "boss"},
            {"store_id": "S404"},
            {"colour": "red"},
        ):
            refused = call("POST", API, hq.manager.headers, json={**ann, "cashier_id": "8"} | wrong)
            assert _error(refused) == (422, "malformed"), (wrong, refused.text)
        for action in ("disable", "enable"):
            assert _error(call("POST", f"{API}/7/{action}", hq.viewer.headers)) == (
                403,
                "forbidden",
            )
        assert _error(call("POST", f"{API}/7/pin", hq.viewer.headers, json={"pin": "1234"})) == (
            403,
            "forbidden",
        )

        # The store's tills pull their own store's cashiers — hash, role, disabled flag.
        first = call("GET", PULL, bearer(till_token), params={"since": "0"}).json()
        assert [c["cashier_id"] for c in first["cashiers"]] == ["7"]
        pulled = first["cashiers"][0]
        assert pulled["pin_scheme"] == PIN_SCHEME
        assert pulled["disabled"] is False
        assert pin_matches("8642", pulled["pin_scheme"], pulled["pin_salt"], pulled["pin_hash"])
        other = call("GET", PULL, bearer(other_token), params={"since": "0"}).json()
        assert [(c["cashier_id"], c["role"]) for c in other["cashiers"]] == [("S9", "supervisor")]
        quiet = call("GET", PULL, bearer(till_token), params={"since": first["cursor"]}).json()
        assert quiet["cashiers"] == []

        disabled = call("POST", f"{API}/7/disable", hq.manager.headers)
        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["active"] is False
        assert disabled.json()["disabled_at"]
        assert _error(call("POST", f"{API}/7/disable", hq.manager.headers)) == (409, "conflict")
        assert _error(call("POST", f"{API}/99/disable", hq.manager.headers)) == (404, "not_found")
        after = call("GET", PULL, bearer(till_token), params={"since": first["cursor"]}).json()
        assert [(c["cashier_id"], c["disabled"]) for c in after["cashiers"]] == [("7", True)]
        assert (
            call("GET", PULL, bearer(other_token), params={"since": other["cursor"]}).json()[
                "cashiers"
            ]
            == []
        )  # S002's till hears nothing of S001's staff

        assert call("POST", f"{API}/7/enable", hq.manager.headers).json()["active"] is True
        assert _error(call("POST", f"{API}/7/enable", hq.manager.headers)) == (409, "conflict")
        reset = call("POST", f"{API}/7/pin", hq.manager.headers, json={"pin": "2468"})
        assert reset.status_code == 200, reset.text
        assert _error(call("POST", f"{API}/7/pin", hq.manager.headers, json={"pin": "1"})) == (
            422,
            "malformed",
        )
        assert _error(call("POST", f"{API}/99/pin", hq.manager.headers, json={"pin": "1234"})) == (
            404,
            "not_found",
        )
        latest = call("GET", PULL, bearer(till_token), params={"since": after["cursor"]}).json()
        (state,) = latest["cashiers"]
        assert state["disabled"] is False
        assert pin_matches("2468", state["pin_scheme"], state["pin_salt"], state["pin_hash"])

        # Listing: by store, keyset pages, and never any PIN material.
        everyone = call("GET", API, hq.viewer.headers).json()["items"]
        assert [(c["store_id"], c["cashier_id"]) for c in everyone] == [
            ("S001", "7"),
            ("S002", "S9"),
        ]
        page = call("GET", API, hq.viewer.headers, params={"limit": 1}).json()
        rest = call(
            "GET", API, hq.viewer.headers, params={"limit": 1, "cursor": page["next_cursor"]}
        ).json()
        assert [c["cashier_id"] for c in page["items"] + rest["items"]] == ["7", "S9"]
        assert rest["next_cursor"] is None
        only = call("GET", API, hq.viewer.headers, params={"store": "S002"}).json()["items"]
        assert [c["name"] for c in only] == ["Sam"]
        assert set(everyone[0]) == {
            "cashier_id",
            "store_id",
            "name",
            "role",
            "active",
            "created_at",
            "updated_at",
            "disabled_at",
        }
        bad_cursor = call("GET", API, hq.viewer.headers, params={"cursor": "abc"})
        assert _error(bad_cursor) == (422, "malformed")
        docs = client.get("/openapi.json").json()
        assert "/api/v1/cashiers/{cashier_id}/pin" in docs["paths"]

    _no_pin_material("\n".join(texts), database, "8642", "9999", "2468")
    rows = _audit(database)
    assert [(r.action, r.actor, r.target_id) for r in rows] == [
        ("cashier.add", "mo", "7"),
        ("cashier.add", "ada", "S9"),
        ("cashier.disable", "mo", "7"),
        ("cashier.enable", "mo", "7"),
        ("cashier.pin_reset", "mo", "7"),
    ]
    assert all(json.loads(r.detail)["via"] == "api" and r.ip for r in rows)
    _no_pin_material(" ".join(r.detail for r in rows), database, "8642", "9999", "2468")


def test_cashiers_page_for_viewers_and_managers(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    hq.server.store("S001")
    pages: list[str] = []
    with serve(database) as url:
        with signed_in(url, hq.viewer) as viewer:
            empty = viewer.get("/cashiers")
            assert empty.status_code == 200
            assert "No cashiers yet" in empty.text
            assert 'href="/cashiers"' in empty.text  # in the navigation
            assert 'method="post" action="/cashiers"' not in empty.text  # no add form
            assert "needs the <strong>manager</strong> role" in empty.text
            form = {"store_id": "S001", "cashier_id": "7", "name": "Ann", "pin": "8642"}
            refused = viewer.post(
                "/cashiers", data=form | {"pin_again": "8642", "csrf_token": csrf_of(empty.text)}
            )
            assert refused.status_code == 403
            assert "needs the manager role" in refused.text

        with signed_in(url, hq.manager) as manager:
            token = csrf_of(manager.get("/cashiers").text)
            no_csrf = manager.post("/cashiers", data=form | {"pin_again": "8642"})
            assert no_csrf.status_code == 403
            differ = manager.post(
                "/cashiers", data=form | {"pin_again": "8643", "csrf_token": token}
            )
            assert differ.status_code == 422
            assert "the two PINs differ" in differ.text
            assert 'value="Ann"' in differ.text  # the form comes back filled in …
            assert "8642" not in differ.text
            assert "8643" not in differ.text
            short = manager.post(
                "/cashiers", data=form | {"pin": "12", "pin_again": "12", "csrf_token": token}
            )
            assert short.status_code == 422
            assert "pin: 4 to 8 digits" in short.text
            added = manager.post(
                "/cashiers", data=form | {"pin_again": "8642", "csrf_token": token}
            )
            assert added.status_code == 303
            assert added.headers["location"] == "/cashiers#cashier-7"
            listing = manager.get("/cashiers")
            pages.append(listing.text)
            assert "Added cashier 7 (Ann, cashier) to store S001" in listing.text
            assert 'id="cashier-7"' in listing.text
            assert "Store S001" in listing.text
            assert 'type="password"' in listing.text
            taken = manager.post(
                "/cashiers", data=form | {"pin_again": "8642", "csrf_token": token}
            )
            assert taken.status_code == 409
            assert "already exists" in taken.text
            pages += [differ.text, short.text, taken.text]

            assert manager.post("/cashiers/7/disable", data={"csrf_token": token}).is_redirect
            disabled = manager.get("/cashiers")
            assert "Disabled cashier 7 (Ann)" in disabled.text
            assert 'action="/cashiers/7/enable"' in disabled.text
            twice = manager.post("/cashiers/7/disable", data={"csrf_token": token})
            assert "already disabled" in manager.get(twice.headers["location"]).text
            assert manager.post("/cashiers/7/enable", data={"csrf_token": token}).is_redirect
            assert 'action="/cashiers/7/disable"' in manager.get("/cashiers").text

            pin_page = manager.get("/cashiers/7/pin")
            assert pin_page.status_code == 200
            assert "New PIN for cashier 7" in pin_page.text
            assert manager.get("/cashiers/99/pin").status_code == 404
            mismatch = manager.post(
                "/cashiers/7/pin", data={"pin": "2468", "pin_again": "2469", "csrf_token": token}
            )
            assert mismatch.status_code == 422
            assert "2468" not in mismatch.text
            reset = manager.post(
                "/cashiers/7/pin", data={"pin": "2468", "pin_again": "2468", "csrf_token": token}
            )
            assert reset.status_code == 303
            pages += [pin_page.text, mismatch.text, manager.get("/cashiers").text]
            assert pin_matches("2468", *_pin_columns(database, "7"))
    _no_pin_material("\n".join(pages), database, "8642", "2468")
    assert [(r.action, r.actor) for r in _audit(database)] == [
        ("cashier.add", "mo"),
        ("cashier.disable", "mo"),
        ("cashier.enable", "mo"),
        ("cashier.pin_reset", "mo"),
    ]
    assert all(json.loads(r.detail)["via"] == "web" for r in _audit(database))
