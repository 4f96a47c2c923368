"""The `syncserver` command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner, Result

from syncserver.cli import main
from syncserver.storage.database import Database
from syncserver.storage.migrate import current_revision, head_revision
from syncserver.storage.schema import metadata
from syncserver.storage.users import user_by_token
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
