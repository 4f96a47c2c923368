"""Member search at the till: any word of the name with case and accents folded, phone
numbers in any format or by their last digits in the till's country, the word index kept in
step by enrolment and by pulls, index-only query plans, and migration 004."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from shared.codes import card_number_from_serial
from shared.protocol import CardState, MemberState
from terminal.cli.main import till as till_cli
from terminal.config import TillConfig
from terminal.store import TillDatabase
from terminal.store.members import search_sql
from terminal.store.migrations import MIGRATIONS
from terminal.sync.engine import _apply_members
from terminal.till.errors import EnrolmentRefusedError
from terminal.till.service import Till


@pytest.fixture
def config(tmp_path: Path) -> TillConfig:
    """The shared till fixtures (tests/terminal/conftest.py), in a German store."""
    return TillConfig(
        data_dir=tmp_path / "till", timezone="Europe/Berlin", terminal_id="T1", country="DE"
    )


def _blank(config: TillConfig, serial: int) -> str:
    return card_number_from_serial(config.code_config(), serial)


def _enrol(till: Till, config: TillConfig, name: str, phone: str, serial: int) -> str:
    card = _blank(config, serial)
    till.enrol(name=name, phone=phone, email=None, marketing_consent=False, card_number=card)
    return card


def _names(till: Till, query: str) -> list[str]:
    return [member.name for member, _ in till.find_members(query)]


def test_any_word_any_case_any_accent(till: Till, config: TillConfig) -> None:
    # (Names the demo members do not have.)
    _enrol(till, config, "Wiesława Zawiślak", "0170 1234567", 700_001)
    _enrol(till, config, "Adam Zawiślakowski", "0171 7654321", 700_002)
    _enrol(till, config, "Wieslawa Biały", "0172 5550003", 700_003)
    assert _names(till, "wieslawa") == ["Wieslawa Biały", "Wiesława Zawiślak"]  # by name
    for query in ("Wiesława", "WIESLAWA", "wieslawa zaw", "wiesława zaw", "zaw wiesława"):
        assert "Wiesława Zawiślak" in _names(till, query), query
    assert _names(till, "wiesława zaw") == ["Wiesława Zawiślak"]
    # The exact word first, then longer words.
    assert _names(till, "ZAWIŚL") == ["Wiesława Zawiślak", "Adam Zawiślakowski"]
    assert _names(till, "bialy") == ["Wieslawa Biały"]
    assert _names(till, "adam wieslawa") == []
    assert _names(till, "!!") == []


def test_phone_numbers_in_any_format_or_by_their_last_digits(
    till: Till, config: TillConfig
) -> None:
    card = _enrol(till, config, "Wiesława Zawiślak", "0170 123-45 67", 700_001)
    member = till.find_members("zawislak")[0][0]
    assert member.phone == "+491701234567"  # validated and stored in E.164
    for query in (
        "0170 1234567",
        "+49 170 1234567",
        "0049 (170) 123 4567",
        "1234567",
        "234567",
    ):
        found = till.find_members(query)
        assert [(m.name, c) for m, c in found] == [("Wiesława Zawiślak", card)], query
    assert till.find_members("567") == []  # fewer than 4 digits find nobody


def test_enrolment_refuses_a_wrong_phone_or_email_and_journals_nothing(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    with database.read() as db:
        before = db.execute("SELECT count(*) FROM journal").fetchone()[0]
    card = _blank(config, 700_010)
    with pytest.raises(EnrolmentRefusedError, match=r"^The phone number 0170 12 .*e\.g\. 01512"):
        till.enrol(
            name="Ola", phone="0170 12", email=None, marketing_consent=False, card_number=card
        )
    with pytest.raises(EnrolmentRefusedError, match=r"^The email ola@example has no domain"):
        till.enrol(
            name="Ola", phone=None, email="ola@example", marketing_consent=False, card_number=card
        )
    entry, _ = till.enrol(
        name="Ola",
        phone="+48 601 234 567",
        email=" Ola.Zla@Example.PL ",
        marketing_consent=False,
        card_number=card,
    )
    assert entry.payload.phone == "+48601234567"  # type: ignore[union-attr]
    assert entry.payload.email == "Ola.Zla@example.pl"  # type: ignore[union-attr]
    with database.read() as db:
        assert db.execute("SELECT count(*) FROM journal").fetchone()[0] == before + 1


def test_a_pull_keeps_the_words_and_phone_key_in_step(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    card = _blank(config, 700_020)

    def pulled(name: str, phone: str) -> MemberState:
        return MemberState(
            member_id="M0000000777",
            name=name,
            phone=phone,
            balance=0,
            cards=[CardState(card_number=card, status="active")],
        )

    with database.write() as db:
        _apply_members(db, [pulled("Wiesława Zawiślak", "0170 1234567")], 0, set(), "DE")
    assert _names(till, "zawislak") == ["Wiesława Zawiślak"]
    assert _names(till, "+49 170 1234567") == ["Wiesława Zawiślak"]
    with database.write() as db:  # renamed and a new number at HQ
        renamed = pulled("Wiesława Brzęczyszczykiewicz", "0151 99998888")
        _apply_members(db, [renamed], 0, set(), "DE")
    assert _names(till, "zawislak") == []
    assert _names(till, "brzecz") == ["Wiesława Brzęczyszczykiewicz"]
    assert _names(till, "1234567") == []
    assert _names(till, "99998888") == ["Wiesława Brzęczyszczykiewicz"]


def _plan(db: sqlite_utils.Database, query: str) -> str:
    statement = search_sql(query, 20, "DE")
    assert statement is not None
    sql, args = statement
    rows = db.execute(f"EXPLAIN QUERY PLAN {sql}", args).fetchall()
    return "\n".join(str(row[-1]) for row in rows)


def test_search_plans_are_index_ranges(database: TillDatabase) -> None:
    """The word range on member_words' primary key in its own order (no sort), the other
    words and the first-match check through member_words_member, phones through
    members_phone_rkey: no statement reads a whole table."""
    with database.read() as db:
        one = _plan(db, "nowak")
        two = _plan(db, "łucja now")
        phone = _plan(db, "4567")
        email = _plan(db, "anna@example.com")
    assert "SEARCH w USING PRIMARY KEY (word>? AND word<?)" in one, one
    assert "SEARCH d USING COVERING INDEX member_words_member (member_key=?" in one, one
    assert "SEARCH m USING INDEX sqlite_autoindex_members_1 (member_key=?)" in one, one
    assert "SEARCH o USING COVERING INDEX member_words_member (member_key=?" in two, two
    assert "SEARCH members USING INDEX members_phone_rkey (phone_rkey>? AND phone_rkey<?)" in (
        phone
    ), phone
    assert "SEARCH members USING INDEX members_email (email=?)" in email, email
    for text in (one, two, phone, email):
        assert "SCAN" not in text.replace("SCALAR SUBQUERY", ""), text
    for text in (one, two, phone):
        assert "TEMP B-TREE" not in text, text


def test_migration_004_keys_the_phones_already_cached(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "old.sqlite3")
    names = [name for name, _ in MIGRATIONS]
    assert "004_phone_keys" in names
    for name, migrate in MIGRATIONS:
        if name == "004_phone_keys":
            break
        migrate(db)
    for key, phone in (("M1", "+49 170 1234567"), ("M2", "0170 7654321"), ("M3", None)):
        db.execute(
            "INSERT INTO members (member_key, member_id, name, name_fold, phone, phone_digits, "
            "server_balance, marketing_consent) VALUES (?, ?, 'X', 'x', ?, NULL, 0, 0)",
            [key, key, phone],
        )
    dict(MIGRATIONS)["004_phone_keys"](db)
    rows = db.execute("SELECT member_key, phone_digits, phone_rkey FROM members").fetchall()
    assert sorted(rows) == [
        ("M1", "491701234567", "765432107194"),
        ("M2", "01707654321", "12345670710"),  # no country known here: digits
        ("M3", None, None),
    ]
    indexes = {row[1] for row in db.execute("PRAGMA index_list(members)").fetchall()}
    assert "members_phone_rkey" in indexes
    assert "members_phone" not in indexes


def _cli(config: TillConfig, *args: str) -> tuple[int, str]:
    env = {
        "LOYALTILL_DATA_DIR": str(config.data_dir),
        "LOYALTILL_TIMEZONE": "Europe/Berlin",
        "LOYALTILL_COUNTRY": "DE",
        "LOYALTILL_CASHIER": "1",
        "LOYALTILL_PIN": "1234",
    }
    result = CliRunner().invoke(till_cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_till_enrol_refuses_a_wrong_phone_or_email_and_prints_the_stored_form(
    config: TillConfig, database: TillDatabase
) -> None:
    card = _blank(config, 700_030)
    code, out = _cli(config, "enrol", "--name", "Ola", "--phone", "0170 12", "--card", card)
    assert code == 1
    assert "The phone number 0170 12 is not a valid number in DE" in out
    assert "e.g. 01512 3456789 or +49 1512 3456789" in out
    assert "Traceback" not in out
    code, out = _cli(config, "enrol", "--name", "Ola", "--email", "ola@@x.de", "--card", card)
    assert code == 1
    assert "The email ola@@x.de has more than one @" in out
    code, out = _cli(
        config,
        "enrol",
        "--name",
        "Ola",
        "--phone",
        "0170 1234567",
        "--email",
        "Ola@Example.DE",
        "--card",
        card,
    )
    assert code == 0, out
    stored = json.loads(out)
    assert (stored["phone"], stored["email"]) == ("+491701234567", "Ola@example.de")
    assert stored["seq"] == 1  # the refusals journaled nothing
