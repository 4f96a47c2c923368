"""Every command answers bad operational input with one clear line and a non-zero exit code,
never a Python traceback (terminal/cli/errors.py, syncserver/cli/errors.py).

The tables below are the contract: each command, with the arguments it needs, and the bad
inputs it can receive. A new command gets a row (``test_every_command_has_a_row`` fails until
it does). The matrix runs in-process through click's runner (the same ``main()`` the console
scripts call: the group's error mapping is part of it); ``test_the_console_scripts`` runs the
installed ``syncserver`` and ``till`` for one case of each kind, as a user would.
"""

from __future__ import annotations

import codecs
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from syncserver.cli import main as syncserver
from syncserver.cli.errors import ServerGroup
from syncserver.storage.database import Database
from syncserver.storage.schema import members, products
from terminal.cli.errors import EXIT_INTERNAL, TillGroup
from terminal.cli.main import till
from tests.server.helpers import demo_rules_json

# Passwords in the URLs: no message may show them.
DOWN = "postgresql://postgres:s3cret@127.0.0.1:1/x"  # nothing listens on port 1
UNSUPPORTED = "mysql://u:s3cret@127.0.0.1/x"
NOT_A_URL = "postgresql://u:s3cret@host:port/x"
HQ_DOWN = "http://127.0.0.1:1"

# Variables from the developer's shell must not change what a case means.
CLEAN_ENV: dict[str, str | None] = dict.fromkeys(
    (
        "LOYALTILL_CONFIG",
        "LOYALTILL_DATA_DIR",
        "LOYALTILL_SERVER_DB",
        "LOYALTILL_SERVER_URL",
        "LOYALTILL_SERVER_TOKEN",
        "LOYALTILL_TRACEBACK",
    )
)


@dataclass(frozen=True)
class Bad:
    """One kind of bad input: what it sets, and the line it must produce."""

    values: dict[str, str] = field(default_factory=dict)
    """Placeholders in a command's arguments ({db}, {csv}, {config}, …) it fills."""
    env: dict[str, str] = field(default_factory=dict)
    exit_code: int = 1
    words: tuple[str, ...] = ()
    """All of these (after filling in {work}) appear in one line of stderr."""


# Placeholders: {work} is the test's directory; {blocker} a regular file in it, so any path
# below it cannot be created (we run as root: chmod would not stop us).
SERVER_BAD: dict[str, Bad] = {
    "db down": Bad(
        {"db": DOWN},
        exit_code=69,
        words=(
            "cannot use the database postgresql://postgres:***@127.0.0.1:1/x",
            "Connection refused",
            "PostgreSQL is running",
        ),
    ),
    "db unsupported": Bad(
        {"db": UNSUPPORTED},
        exit_code=2,
        words=("unsupported database URL mysql://u:***@127.0.0.1/x", "sqlite:///", "postgresql://"),
    ),
    "db not a url": Bad({"db": NOT_A_URL}, exit_code=2, words=("is not a database URL",)),
    "db unwritable": Bad(
        {"db": "sqlite:///{blocker}/hq.sqlite3"},
        exit_code=74,
        words=("cannot open the SQLite database {blocker}/hq.sqlite3", "is a file, not a dir"),
    ),
    "file unreadable": Bad(
        {"file": "{blocker}/input"},
        exit_code=74,
        words=("cannot read {blocker}/input", "{blocker} is a file, not a directory"),
    ),
    "file not utf-8": Bad({"file": "{work}/latin1.json"}, words=("is not UTF-8 text",)),
    "csv no header": Bad({"csv": "{work}/no-header.csv"}, words=("line 1 is not a header",)),
    "csv wrong header": Bad(
        {"csv": "{work}/wrong-header.csv"}, words=("the header lacks", "found", "Card")
    ),
    "csv empty": Bad({"csv": "{work}/empty.csv"}, words=("the file is empty",)),
    "csv not text": Bad({"csv": "{work}/book.xlsx"}, words=("not a CSV file", "CSV UTF-8")),
    "csv bad byte": Bad(
        {"csv": "{work}/bad-byte.csv"}, words=("line 3", "0x81", "not Windows-1252 text")
    ),
    "csv bad row": Bad({"csv": "{work}/bad-row.csv"}, words=("line 4, field",)),
    "as-of not a date": Bad({"as_of": "31.12.2027"}, words=("is not a date", "YYYY-MM-DD")),
    "card not a number": Bad({"card": "123"}, words=("'123' is not a gift card number",)),
    "no reason": Bad({"reason": "x"}, words=("a reason is required", "say why")),
}
DB = ("db down", "db unsupported", "db not a url", "db unwritable")
MEMBERS_CSV = (
    "csv no header",
    "csv wrong header",
    "csv empty",
    "csv not text",
    "csv bad byte",
    "csv bad row",
)


@dataclass(frozen=True)
class Row:
    command: str
    args: tuple[str, ...]
    bad: tuple[str, ...]
    pending: bool = False
    """Being added by another change: skipped (saying so) while the command is missing."""
    csv: str = ""
    """For the CSV inputs: which import ("members" or "catalog")."""
    env: dict[str, str] = field(default_factory=dict)
    """What the command needs besides (the bad input's own env goes over it)."""


# Every `syncserver` command: DB inputs go in as --db; {db} defaults to an initialised SQLite
# database, {file}/{csv} to valid files.
SERVER: list[Row] = [
    Row("init", (), DB),
    Row("serve", ("--port", "0"), DB),
    Row("token create", ("--user", "admin"), DB),
    Row("user add", ("--role", "viewer", "ann"), DB),
    Row("user list", (), DB),
    Row("user disable", ("ann",), DB),
    Row("terminal add", ("--store", "S001", "--name", "Till 1"), DB),
    Row("terminal list", (), DB),
    Row("terminal revoke", ("T0001",), DB),
    Row("terminal code", ("T0001",), DB, pending=True),
    Row("program load", ("{rules}",), (*DB, "file unreadable", "file not utf-8")),
    Row("members import", ("{csv}",), (*DB, "file unreadable", *MEMBERS_CSV), csv="members"),
    Row("catalog import", ("{csv}",), (*DB, "file unreadable", *MEMBERS_CSV), csv="catalog"),
    Row("ledger rebuild", ("--check",), DB),
    Row("tiers review", ("--as-of", "{as_of}"), (*DB, "as-of not a date")),
    Row("points expire", ("--as-of", "{as_of}"), (*DB, "as-of not a date")),
    Row("vouchers issue", ("--value", "5.00", "--count", "2"), DB),
    Row("vouchers void", ("V-AAAA-AAAA-AAAA", "--reason", "{reason}"), (*DB, "no reason")),
    Row("vouchers expire", ("--as-of", "{as_of}"), (*DB, "as-of not a date")),
    Row("giftcards show", ("{card}",), (*DB, "card not a number")),
    Row("giftcards block", ("{card}", "--reason", "{reason}"), (*DB, "card not a number")),
    Row(
        "giftcards move",
        ("{card}", "6000000000000015", "--reason", "{reason}"),
        (*DB, "card not a number", "no reason"),
    ),
    Row(
        "cashier add",
        ("--store", "S001", "--id", "7", "--name", "Ann", "--pin", "4711"),
        DB,
        pending=True,
    ),
    Row("cashier list", (), DB, pending=True),
    Row("cashier disable", ("7",), DB, pending=True),
    Row("cashier enable", ("7",), DB, pending=True),
    Row("cashier pin", ("--pin", "4712", "7"), DB, pending=True),
    Row("store add", ("S002", "--name", "Quay", "--timezone", "Europe/Berlin"), DB, pending=True),
    Row("store list", (), DB, pending=True),
    Row("store update", ("S001", "--name", "Harbour"), DB, pending=True),
]

TILL_BAD: dict[str, Bad] = {
    "data dir is a file": Bad(
        {"data": "{blocker}"},
        env={"LOYALTILL_DATA_DIR": "{blocker}"},
        exit_code=74,
        words=("the data directory {blocker} cannot be used", "is a file", "data_dir"),
    ),
    "data dir below a file": Bad(
        {"data": "{blocker}/till"},
        env={"LOYALTILL_DATA_DIR": "{blocker}/till"},
        exit_code=74,
        words=("{blocker}/till", "{blocker} is a file, not a directory"),
    ),
    "database not sqlite": Bad(
        env={"LOYALTILL_DATA_DIR": "{work}/garbage"},
        exit_code=65,
        words=("{work}/garbage/till.sqlite3 is not an SQLite database",),
    ),
    "config not utf-8": Bad({"config": "{work}/latin1.toml"}, exit_code=2, words=("UTF-8",)),
    "config unreadable": Bad(
        {"config": "{blocker}/till.toml"}, exit_code=2, words=("{blocker}/till.toml",)
    ),
    "hq down": Bad(
        {"server": HQ_DOWN},
        env={"LOYALTILL_SERVER_URL": HQ_DOWN, "LOYALTILL_SERVER_TOKEN": "t"},
        words=("cannot reach HQ",),
    ),
    "printer down": Bad(words=("Nothing answers at 127.0.0.1:1",)),
    "path below a file": Bad({"path": "{blocker}/x"}, words=("Not a directory",)),
}
DATA = ("data dir is a file", "data dir below a file", "database not sqlite")
CONFIG = ("config not utf-8", "config unreadable")
CASHIER = ("--cashier", "1", "--pin", "1234")
HQ = {"LOYALTILL_SERVER_URL": "http://127.0.0.1:9", "LOYALTILL_SERVER_TOKEN": "t"}

# Every `till` command. {config} defaults to an empty config file, the data directory to a
# fresh one (LOYALTILL_DATA_DIR).
TILL: list[Row] = [
    Row("run", ("--config", "{config}"), CONFIG),
    # (`status` answers a data directory it cannot use with "no till database there yet".)
    Row("status", ("--config", "{config}"), ("database not sqlite", *CONFIG)),
    Row("sale", ("--config", "{config}", *CASHIER, "--line", "A:1", "--tender", "cash"), DATA),
    Row("enrol", ("--config", "{config}", *CASHIER, "--name", "Ann", "--card", "1"), DATA),
    Row("balance", ("--config", "{config}", "9826000000000001"), (*DATA, *CONFIG)),
    Row("sync", ("--once", "--config", "{config}"), (*DATA, *CONFIG, "hq down"), env=HQ),
    Row("journal verify", ("--config", "{config}"), (*DATA, *CONFIG)),
    Row("journal export", ("--config", "{config}"), (*DATA, *CONFIG)),
    Row("demo", ("--data", "{data}", "--no-ui"), ("data dir below a file",)),
    Row(
        "setup",
        ("--server", "{server}", "--code", "ABCD-EFGH", "--config", "{config}"),
        ("hq down", "config not utf-8"),
        pending=True,
    ),
    Row(
        "giftcard sell",
        ("--config", "{config}", *CASHIER, "--card", "1", "--amount", "5", "--tender", "cash"),
        DATA,
    ),
    Row(
        "giftcard topup",
        ("--config", "{config}", *CASHIER, "--card", "1", "--amount", "5", "--tender", "cash"),
        DATA,
    ),
    Row("giftcard balance", ("--config", "{config}", "6000000000000007"), (*DATA, *CONFIG)),
    Row("hw printer-sim", ("--listen", "127.0.0.1:0", "--out", "{path}"), ("path below a file",)),
    Row("hw scanner-sim", ("--link", "{path}"), ("path below a file",)),
    Row("hw decode", ("{path}",), ("path below a file",)),
    Row("hw print-test", ("--printer", "tcp://127.0.0.1:1", "--timeout", "2"), ("printer down",)),
    Row("hw listen", ("--scanner", "{path}", "--seconds", "1"), ("path below a file",)),
]
# What a command says differs from the input's usual line: (command, input) -> (exit, words).
TILL_SPECIAL = {
    ("setup", "hq down"): (1, ("setup failed",)),
    ("setup", "config not utf-8"): (2, ("{work}/latin1.toml", "cannot be read")),
    ("demo", "data dir below a file"): (74, ("{blocker} is a file, not a directory",)),
    ("hw decode", "path below a file"): (2, ("Not a directory",)),
    ("hw listen", "path below a file"): (1, ("never connected",)),
}
# Commands whose failure is deliberately more than the one line (the cause line is still there).
MORE_THAN_ONE_LINE = {
    "hw listen": "reports the scanner's state as it changes",
    "hw decode": "a FILE argument click cannot open is a usage error, with the usage line",
    "hw print-test": "adds a line of technical detail for the engineer",
}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the cases use; an initialised SQLite HQ database for the CSV cases."""
    work = tmp_path_factory.mktemp("ops")
    (work / "blocker").write_text("a regular file, not a directory\n")
    (work / "rules.json").write_text(demo_rules_json(), encoding="utf-8")
    (work / "latin1.json").write_bytes('{"name": "Müller"}'.encode("latin-1"))
    (work / "latin1.toml").write_bytes('store_name = "Bäckerei"\n'.encode("latin-1"))
    (work / "till.toml").write_text("")
    (work / "garbage").mkdir()
    (work / "garbage" / "till.sqlite3").write_bytes(b"not a database " * 400)
    header = "member_id,name,phone,email,tier,card_number,balance\n"
    (work / "members.csv").write_text(header + "M1,Ann,,,,,0\n")
    (work / "catalog.csv").write_text("sku,description,category,price_minor\nA1,Apples,fruit,1\n")
    (work / "no-header.csv").write_text("M1,Ann,,,,,0\n")
    (work / "wrong-header.csv").write_text("sku,Name,Card,balance,description\nA,B,C,0,D\n")
    (work / "empty.csv").write_text("")
    (work / "book.xlsx").write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(64))
    (work / "bad-byte.csv").write_bytes(
        b"sku,description,category,price_minor,name,card_number,balance\n"
        b"A,Caf\xe9,x,1,M\xfcller,,0\n"
        b"B,Bad \x81 byte,x,1,Ann,,0\n"
    )
    (work / "bad-row.csv").write_text(
        "sku,description,category,price_minor,name,card_number,balance\r\n"
        "A,Apples,fruit,1,Ann,,0\r\n"
        "\r\n"
        "B,Pears,fruit,1.5,Bob,,1.5\r\n"
    )
    result = CliRunner().invoke(
        syncserver, ["init", "--db", f"sqlite:///{work / 'hq.sqlite3'}"], env=CLEAN_ENV
    )
    assert result.exit_code == 0, result.output
    return work


def _fill(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _resolve(group: click.Group, path: str, pending: bool) -> None:
    command: click.Command | None = group
    for name in path.split():
        assert isinstance(command, click.Group)
        command = command.commands.get(name)
        if command is None:
            if pending:
                pytest.skip(f"`{path}` does not exist yet: another change adds it")
            pytest.fail(f"`{path}` is in the table but not a command")


def _cases(rows: list[Row], bad: dict[str, Bad]) -> Iterator[object]:
    for row in rows:
        for name in row.bad:
            assert name in bad, name
            yield pytest.param(row, name, id=f"{row.command} | {name}")


def _check(result: Result, exit_code: int, words: tuple[str, ...]) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert "s3cret" not in output, output
    assert result.exit_code == exit_code, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any(all(word in line for word in words) for line in lines), (words, result.stderr)


def _one_line(result: Result) -> None:
    """Our own failures are exactly one line (click's usage errors add a usage line)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr


@pytest.mark.parametrize(("row", "name"), _cases(SERVER, SERVER_BAD))
def test_syncserver(work: Path, row: Row, name: str) -> None:
    _resolve(syncserver, row.command, row.pending)
    bad = SERVER_BAD[name]
    values = {
        "db": "sqlite:///{work}/hq.sqlite3",
        "rules": "{work}/rules.json",
        "csv": f"{{work}}/{row.csv}.csv",
        "as_of": "2027-01-01",
        "card": "6000000000000007",
        "reason": "card reported lost",
        **bad.values,
    }
    if "file" in bad.values:  # the command's file argument, whatever the row calls it
        values["rules"] = values["csv"] = bad.values["file"]
    places = {"work": str(work), "blocker": str(work / "blocker")}
    values = {k: _fill(v, places) for k, v in values.items()}
    args = [*row.command.split(), *(_fill(a, values) for a in row.args), "--db", values["db"]]
    result = CliRunner().invoke(syncserver, args, env=CLEAN_ENV, catch_exceptions=False)
    _check(result, bad.exit_code, tuple(_fill(w, places) for w in bad.words))
    _one_line(result)


@pytest.mark.parametrize(("row", "name"), _cases(TILL, TILL_BAD))
def test_till(work: Path, tmp_path: Path, row: Row, name: str) -> None:
    _resolve(till, row.command, row.pending)
    bad = TILL_BAD[name]
    places = {"work": str(work), "blocker": str(work / "blocker")}
    values = {"config": str(work / "till.toml"), "data": str(tmp_path / "data")}
    values["server"] = "http://127.0.0.1:9"
    values |= {k: _fill(v, places) for k, v in bad.values.items()}
    env = {**CLEAN_ENV, "LOYALTILL_DATA_DIR": str(tmp_path / "data"), **row.env}
    env |= {k: _fill(v, places) for k, v in bad.env.items()}
    args = [*row.command.split(), *(_fill(a, values) for a in row.args)]
    result = CliRunner().invoke(till, args, env=env, catch_exceptions=False, input="")
    exit_code, words = TILL_SPECIAL.get((row.command, name), (bad.exit_code, bad.words))
    _check(result, exit_code, tuple(_fill(w, places) for w in words))
    if row.command not in MORE_THAN_ONE_LINE:
        _one_line(result)


def _leaves(group: click.Group, prefix: str = "") -> Iterator[str]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _leaves(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}"


@pytest.mark.parametrize(
    ("group", "rows"), [(syncserver, SERVER), (till, TILL)], ids=["syncserver", "till"]
)
def test_every_command_has_a_row(group: click.Group, rows: list[Row]) -> None:
    """A new command gets a row in the table above, with the bad inputs it can receive."""
    missing = sorted(set(_leaves(group)) - {row.command for row in rows})
    assert missing == [], f"add these commands to tests/ops/test_operational_errors.py: {missing}"


def _names(database_url: str) -> tuple[dict[str, str], dict[str, str]]:
    database = Database(database_url)
    try:
        with database.read() as conn:
            people = {r.member_id: r.name for r in conn.execute(select(members))}
            goods = {r.sku: r.description for r in conn.execute(select(products))}
    finally:
        database.dispose()
    return people, goods


def test_excel_csv_files_import_with_their_names_intact(tmp_path: Path) -> None:
    """Excel's "CSV" (Windows-1252, here with semicolons as where "," is the decimal
    separator) and "CSV UTF-8" (with a byte-order mark) both import; the names come out right."""
    url = f"sqlite:///{tmp_path / 'hq.sqlite3'}"
    run = CliRunner().invoke
    assert run(syncserver, ["init", "--db", url], env=CLEAN_ENV).exit_code == 0
    header = "member_id;name;phone;email;tier;card_number;balance\r\n"
    (tmp_path / "cp1252.csv").write_bytes(
        (header + "M1;Jürgen Müller;;;gold;;120\r\nM2;Café Noël;;;;;0\r\n").encode("cp1252")
    )
    (tmp_path / "bom.csv").write_bytes(
        codecs.BOM_UTF8
        + "Member_ID,Name,Card_Number,Balance\nM3,Łucja Wróbel,,5\nM4,Zoë “Zizi” Æsir,,0\n".encode()
    )
    catalog = "sku;description;category;price_minor\r\nC1;Crème brûlée;bakery;450\r\n"
    (tmp_path / "catalog.csv").write_bytes((catalog + "C2;Café 250 g;dry;399\r\n").encode("cp1252"))
    (tmp_path / "catalog-bom.csv").write_bytes(
        codecs.BOM_UTF8 + "sku,description,category,price_minor\nC3,Smørrebrød,deli,650\n".encode()
    )
    for command, name, said in [
        ("members", "cp1252.csv", "imported 2 members (120 opening points)"),
        ("members", "bom.csv", "imported 2 members (5 opening points)"),
        ("catalog", "catalog.csv", "2 added"),
        ("catalog", "catalog-bom.csv", "1 added"),
    ]:
        result = run(
            syncserver,
            [command, "import", str(tmp_path / name), "--db", url],
            env=CLEAN_ENV,
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        assert said in result.stdout
    people, goods = _names(url)
    assert people == {
        "M1": "Jürgen Müller",
        "M2": "Café Noël",
        "M3": "Łucja Wróbel",
        "M4": "Zoë “Zizi” Æsir",
    }
    assert goods == {"C1": "Crème brûlée", "C2": "Café 250 g", "C3": "Smørrebrød"}


@pytest.mark.parametrize("group_class", [ServerGroup, TillGroup])
def test_a_bug_is_one_line_naming_the_traceback_file(group_class: type[click.Group]) -> None:
    """An exception nobody expected is still one line (exit 70); the traceback is kept in a
    private file for whoever fixes it, and LOYALTILL_TRACEBACK=1 lets it through."""
    group = group_class(name="cli")

    @group.command()
    def broken() -> None:
        raise RuntimeError("boom")

    result = CliRunner().invoke(group, ["broken"], env=CLEAN_ENV, catch_exceptions=False)
    assert result.exit_code == EXIT_INTERNAL
    _one_line(result)
    assert "internal error (RuntimeError: boom)" in result.stderr
    found = re.search(r"the full traceback is in (\S+) —", result.stderr)
    assert found is not None, result.stderr
    kept = Path(found.group(1))
    try:
        assert kept.stat().st_mode & 0o077 == 0
        text = kept.read_text(encoding="utf-8")
        assert "Traceback" in text
        assert 'raise RuntimeError("boom")' in text
    finally:
        kept.unlink()
    with pytest.raises(RuntimeError, match="boom"):
        CliRunner().invoke(
            group, ["broken"], env={**CLEAN_ENV, "LOYALTILL_TRACEBACK": "1"}, catch_exceptions=False
        )


SCRIPTS = [
    # (script, args, environment, exit code, words): the installed scripts, end to end, for a
    # few cases of the matrix above (each costs a Python start-up).
    ("syncserver", ["serve", "--db", DOWN], {}, 69, ("Connection refused",)),
    ("syncserver", ["init", "--db", UNSUPPORTED], {}, 2, ("unsupported database URL mysql",)),
    (
        "till",
        ["journal", "verify"],
        {"LOYALTILL_DATA_DIR": "{blocker}/till"},
        74,
        ("the data directory {blocker}/till cannot be used", "is a file, not a directory"),
    ),
    ("till", ["status"], {"LOYALTILL_DATA_DIR": "{work}/garbage"}, 65, ("not an SQLite database",)),
]


@pytest.mark.parametrize(
    ("script", "args", "env", "exit_code", "words"),
    SCRIPTS,
    ids=[f"{script} {args[0]} {index}" for index, (script, args, *_) in enumerate(SCRIPTS)],
)
def test_the_console_scripts(
    work: Path,
    script: str,
    args: list[str],
    env: dict[str, str],
    exit_code: int,
    words: tuple[str, ...],
) -> None:
    places = {"work": str(work), "blocker": str(work / "blocker")}
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTILL_")}
    environ |= {k: _fill(v, places) for k, v in env.items()}
    environ.setdefault("LOYALTILL_DATA_DIR", str(work / "script-data"))
    executable = Path(sys.executable).parent / script
    done = subprocess.run(
        [str(executable), *(_fill(a, places) for a in args)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=work,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert "s3cret" not in output, output
    assert done.returncode == exit_code, output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert all(_fill(word, places) in lines[0] for word in words), done.stderr
