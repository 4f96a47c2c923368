"""The `syncserver` command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner, Result
from sqlalchemy import select

from syncserver.cli import main
from syncserver.storage.database import Database
from syncserver.storage.migrate import current_revision, head_revision
from syncserver.storage.schema import audit_log, hq_users, metadata
from syncserver.storage.users import check_password, user_by_token
from tests.server.helpers import demo_rules_json, members_csv
from tests.server.journal import card


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_init_creates_the_schema_and_the_first_admin_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    first = run("init", "--db", url)
    assert first.exit_code == 0, first.output
    created = json.loads(first.stdout)
    assert created["schema"] == head_revision()
    assert created["admin"]["username"] == "admin"
    assert len(created["admin"]["password"]) >= 20
    again = json.loads(run("init", "--db", url).stdout)
    assert "admin" not in again
    database = Database(url)
    try:
        assert current_revision(database) == head_revision()
        with database.read() as conn:
            user = user_by_token(conn, created["admin"]["token"])
            # The migration and the code's tables agree exactly.
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert user is not None
        assert user.role == "admin"
    finally:
        database.dispose()
    refused = CliRunner().invoke(main, ["serve", "--db", f"sqlite:///{tmp_path / 'empty.db'}"])
    assert refused.exit_code == 1
    assert "run `syncserver init` first" in refused.output


def test_admin_commands(db_url: str, tmp_path: Path) -> None:
    assert run("init", "--db", db_url).exit_code == 0
    db = ("--db", db_url)

    assert run("store", "add", "S001", "--name", "Shop", "--timezone", "UTC", *db).exit_code == 0
    till1 = json.loads(run("terminal", "add", "--store", "S001", "--name", "Till 1", *db).stdout)
    till2 = json.loads(run("terminal", "add", "--store", "S001", "--name", "Till 2", *db).stdout)
    assert (till1["terminal_id"], till2["terminal_id"]) == ("T0001", "T0002")
    assert till1["token"] != till2["token"]
    assert run("terminal", "revoke", "T0001", *db).exit_code == 0
    assert run("terminal", "revoke", "T0001", *db).exit_code == 1
    listed = json.loads(run("terminal", "list", "--json", *db).stdout)
    assert [(t["terminal_id"], t["revoked_at"] is not None) for t in listed] == [
        ("T0001", True),
        ("T0002", False),
    ]
    assert "revoked" in run("terminal", "list", *db).stdout

    rules = tmp_path / "rules.json"
    rules.write_text(demo_rules_json())
    assert "version 3 published" in run("program", "load", str(rules), *db).stdout
    assert "unchanged" in run("program", "load", str(rules), *db).stdout
    changed = json.loads(demo_rules_json())
    changed["earn"]["per_order_points"] = 6
    rules.write_text(json.dumps(changed))
    conflict = run("program", "load", str(rules), *db)
    assert conflict.exit_code == 1
    assert "publish the change as a new version" in conflict.output
    changed["earn"]["spend_unit_minor"] = 100.0
    rules.write_text(json.dumps(changed))
    invalid = run("program", "load", str(rules), *db)
    assert invalid.exit_code == 1
    assert "earn.spend_unit_minor" in invalid.output

    people = tmp_path / "members.csv"
    people.write_text(members_csv([("M1", card(1), 500, "gold"), ("", card(2), 0, None)]))
    imported = run("members", "import", str(people), *db)
    assert "imported 2 members (500 opening points)" in imported.stdout
    # Known member ids are skipped; a card that is taken stops the whole import.
    people.write_text(members_csv([("M1", card(1), 500, "gold")]))
    assert (
        "imported 0 members (0 opening points); skipped 1"
        in run("members", "import", str(people), *db).stdout
    )
    people.write_text(members_csv([("M2", card(2), 0, None)]))
    taken = run("members", "import", str(people), *db)
    assert taken.exit_code == 1
    assert f"card {card(2)} already belongs to a member" in taken.output
    bad = tmp_path / "bad.csv"
    bad.write_text(members_csv([("M9", card(9), 10, None)]).replace(",10", ",1.5"))
    refused = run("members", "import", str(bad), *db)
    assert refused.exit_code == 1
    assert "line 2, field balance" in refused.output

    products = tmp_path / "products.csv"
    products.write_text("sku,description,category,price_minor\nA1,Apples,fruit-veg,199\n")
    assert "1 added" in run("catalog", "import", str(products), *db).stdout
    assert "1 unchanged" in run("catalog", "import", str(products), *db).stdout
    products.write_text("sku,description,category,price_minor\nA1,Apples,fruit-veg,249\n")
    assert "1 changed" in run("catalog", "import", str(products), *db).stdout

    token = json.loads(run("token", "create", "--user", "admin", *db).stdout)
    assert token["user"] == "admin"
    assert token["token"]
    assert run("token", "create", "--user", "nobody", *db).exit_code == 1

    check = run("ledger", "rebuild", "--check", *db)
    assert check.exit_code == 0, check.output
    assert "ledger OK" in check.stdout
    assert "1 HQ events" in check.stdout
    assert run("ledger", "rebuild", *db).exit_code == 2


def _audit_rows(db_url: str) -> list[Any]:
    database = Database(db_url)
    try:
        with database.read() as conn:
            return list(conn.execute(select(audit_log).order_by(audit_log.c.id)))
    finally:
        database.dispose()


def test_user_commands(db_url: str) -> None:
    assert run("init", "--db", db_url).exit_code == 0
    db = ("--db", db_url)

    added = run("user", "add", "--role", "manager", "bob", *db)
    assert added.exit_code == 0, added.output
    bob = json.loads(added.stdout)
    assert set(bob) == {"username", "role", "password"}
    assert (bob["username"], bob["role"]) == ("bob", "manager")
    assert len(bob["password"]) >= 20
    assert "shown only now" in added.stderr
    with_token = json.loads(run("user", "add", "--role", "viewer", "--token", "vic", *db).stdout)
    assert with_token["token"]
    duplicate = run("user", "add", "--role", "admin", "bob", *db)
    assert duplicate.exit_code == 1
    assert "an HQ user 'bob' already exists: choose another name" in duplicate.output
    bad_role = run("user", "add", "--role", "owner", "eve", *db)
    assert bad_role.exit_code == 2
    assert "'owner' is not one of 'viewer', 'manager', 'admin'" in bad_role.output
    bad_name = run("user", "add", "--role", "viewer", "Eve Smith", *db)
    assert bad_name.exit_code == 1
    assert "username: 2–100 characters" in bad_name.output

    database = Database(db_url)
    try:
        with database.write() as conn:
            assert check_password(conn, "bob", bob["password"]) is not None
            stored = conn.execute(
                select(hq_users.c.password_hash).where(hq_users.c.username == "bob")
            ).scalar_one()
            assert stored.startswith("$argon2id$")
            user = user_by_token(conn, with_token["token"])
            assert user is not None
            assert (user.username, user.role) == ("vic", "viewer")
    finally:
        database.dispose()

    listed = json.loads(run("user", "list", "--json", *db).stdout)
    assert [(u["username"], u["role"]) for u in listed] == [
        ("admin", "admin"),
        ("bob", "manager"),
        ("vic", "viewer"),
    ]
    assert all(u["disabled_at"] is None and u["last_sign_in_at"] is None for u in listed)
    assert listed[0]["created_at"]
    table = run("user", "list", *db).stdout
    assert "LAST SIGN-IN" in table
    assert "bob" in table

    disabled = run("user", "disable", "vic", *db)
    assert disabled.exit_code == 0, disabled.output
    assert "vic disabled" in disabled.stdout
    database = Database(db_url)
    try:
        with database.write() as conn:
            assert user_by_token(conn, with_token["token"]) is None
    finally:
        database.dispose()
    listed = {u["username"]: u for u in json.loads(run("user", "list", "--json", *db).stdout)}
    assert listed["vic"]["disabled_at"] is not None
    assert "disabled" in run("user", "list", *db).stdout
    again = run("user", "disable", "vic", *db)
    assert again.exit_code == 1
    assert "vic is already disabled" in again.output
    unknown = run("user", "disable", "nobody", *db)
    assert unknown.exit_code == 1
    assert "no HQ user 'nobody'" in unknown.output
    # The last enabled admin stays: someone must be able to manage users and tills.
    last = run("user", "disable", "admin", *db)
    assert last.exit_code == 1
    assert "admin is the last enabled admin: add another admin first" in last.output
    # A disabled user cannot be given a new token.
    refused = run("token", "create", "--user", "vic", *db)
    assert refused.exit_code == 1
    assert "vic is disabled" in refused.output


def test_every_changing_command_is_audited(db_url: str, tmp_path: Path) -> None:
    assert run("init", "--db", db_url).exit_code == 0
    db = ("--db", db_url)
    rules = tmp_path / "rules.json"
    rules.write_text(demo_rules_json())
    people = tmp_path / "members.csv"
    people.write_text(members_csv([("M1", card(1), 500, "gold")]))
    products = tmp_path / "products.csv"
    products.write_text("sku,description,category,price_minor\nA1,Apples,fruit-veg,199\n")
    for command in (
        ("store", "add", "S001", "--name", "Shop", "--timezone", "Europe/Berlin"),
        ("store", "update", "S001", "--country", "DE"),
        ("terminal", "add", "--store", "S001", "--name", "Till 1"),
        ("terminal", "code", "T0001"),
        ("terminal", "revoke", "T0001"),
        ("token", "create", "--user", "admin", "--label", "reports"),
        ("program", "load", str(rules)),
        ("program", "load", str(rules)),  # unchanged: nothing to record
        ("members", "import", str(people)),
        ("catalog", "import", str(products)),
        ("user", "add", "--role", "viewer", "vic"),
        ("user", "disable", "vic"),
    ):
        result = run(*command, *db)
        assert result.exit_code == 0, (command, result.output)
    # Refused commands change nothing and record nothing.
    assert run("terminal", "revoke", "T0001", *db).exit_code == 1
    assert run("terminal", "add", "--store", "S 1", "--name", "x", *db).exit_code == 1
    assert run("token", "create", "--user", "nobody", *db).exit_code == 1

    rows = _audit_rows(db_url)
    assert all((r.actor, r.ip) == ("cli", None) for r in rows)
    assert all(json.loads(r.detail)["via"] == "cli" for r in rows)
    assert [(r.action, r.target_kind, r.target_id) for r in rows] == [
        ("user.add", "user", "admin"),  # init's first admin
        ("store.add", "store", "S001"),
        ("store.update", "store", "S001"),
        ("terminal.add", "terminal", "T0001"),
        ("terminal.code", "terminal", "T0001"),
        ("terminal.revoke", "terminal", "T0001"),
        ("user.token_create", "user", "admin"),
        ("program.publish", "rules_version", "3"),
        ("members.import", None, None),
        ("catalog.import", None, None),
        ("user.add", "user", "vic"),
        ("user.disable", "user", "vic"),
    ]
    details = [json.loads(r.detail) for r in rows]
    assert details[0]["first_admin"] is True
    assert details[1]["timezone"] == "Europe/Berlin"
    assert (details[2]["country"], details[2]["before"]["country"]) == ("DE", None)
    assert details[3]["store_id"] == "S001"
    assert details[6]["label"] == "reports"
    assert details[8]["imported"] == 1
    assert details[8]["file"] == "members.csv"
    assert details[9]["added"] == 1
    assert not {"password", "token", "code"} & {key for detail in details for key in detail}
    listed = json.loads(run("terminal", "list", "--json", *db).stdout)
    assert listed[0]["revoked_by"] == "cli"
