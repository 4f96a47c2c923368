"""HQ member search by any word of the name and by the end of a phone number, on SQLite and
PostgreSQL: the word index (``member_words``) kept in step by imports and enrolments, phone
keys in the store's country, pages without gaps or repeats, index-only query plans, and
migration 0004 re-keying the phones already stored."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import Connection, select, text

from bench.hq_bench import Seeder
from shared.journal import Enrolment
from syncserver.hq.imports import CsvImportError, import_members
from syncserver.hq.members import Search, classify, explicit, search_members
from syncserver.storage import migrate
from syncserver.storage.database import Database
from syncserver.storage.members import write_member_words
from syncserver.storage.schema import member_words, members
from tests.server.helpers import api, prepare, push
from tests.server.hq.helpers import prepare_hq, serve
from tests.server.hq.test_query_plans import assert_no_full_scan, plans
from tests.server.journal import STORE, JournalWriter, card

# (member_id, name, phone, email)
PEOPLE = [
    ("M0000000201", "Łucja Nowak", "0170 1234567", "lucja@Example.PL"),
    ("M0000000202", "Adam Nowakowski", "+48 601 999 888", None),
    ("M0000000203", "Jan Kowalski-Nowak", "(030) 555-0203", None),
    ("M0000000204", "Anna Müller", "0049 151 22224567", "anna@example.com"),
    ("M0000000205", "Lucja Biały", None, "lucja.bialy@example.com"),
    ("M0000000206", "Nowak", None, "nowak@example.com"),
]


def _csv(rows: Sequence[tuple[str, str, str | None, str | None]], first_card: int = 200) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["member_id", "name", "phone", "email", "tier", "card_number", "balance"])
    for serial, (member_id, name, phone, email) in enumerate(rows, start=first_card):
        writer.writerow([member_id, name, phone or "", email or "", "", card(serial), 0])
    return out.getvalue()


def _ids(conn: Connection, search: Search, limit: int = 50) -> list[str]:
    found, _ = search_members(conn, search, limit, None)
    return [m.member_id for m in found]


def test_any_word_of_the_name_any_case_any_accent(database: Database) -> None:
    prepare(database, with_members=False)
    import_members(database, _csv(PEOPLE), region="DE")
    with database.read() as conn:

        def q(typed: str) -> list[str]:
            return _ids(conn, classify(typed, "DE"))

        assert q("lucja") == ["M0000000201", "M0000000205"]
        assert q("Łucja") == q("LUCJA") == q("lucja")
        # The exact word first, then longer words; among equals by member id.
        assert q("nowak") == ["M0000000201", "M0000000203", "M0000000206", "M0000000202"]
        assert q("NOW") == q("nowak")
        assert q("łucja now") == ["M0000000201"]  # every word typed must match
        assert q("now łucja") == ["M0000000201"]  # in any order
        assert q("kowalski nowak") == ["M0000000203"]  # hyphenated names are two words
        assert q("mül") == q("MULLER") == q("muller") == ["M0000000204"]
        assert q("bialy") == q("Biały") == ["M0000000205"]
        assert q("anna nowak") == []
        assert q("zz") == []
        assert q("!!!") == []  # no word at all: nobody, not everybody
        assert _ids(conn, explicit(name="nowak łucja") or classify(None)) == ["M0000000201"]


def test_phone_numbers_in_any_format_or_by_their_last_digits(database: Database) -> None:
    prepare(database, with_members=False)
    import_members(database, _csv(PEOPLE), region="DE")
    with database.read() as conn:
        stored = dict(conn.execute(select(members.c.member_id, members.c.phone)).all())
        emails = dict(conn.execute(select(members.c.member_id, members.c.email)).all())

        def q(typed: str, region: str | None = "DE") -> list[str]:
            return _ids(conn, classify(typed, region))

        # Imported numbers are stored in E.164, e-mail domains in lower case.
        assert stored["M0000000201"] == "+491701234567"
        assert stored["M0000000204"] == "+4915122224567"
        assert emails["M0000000201"] == "lucja@example.pl"
        for typed in (
            "0170 1234567",
            "+49 170 1234567",
            "0049 170 1234567",
            "01701234567",
            "(0170) 123-4567",
            "1234567",
        ):
            assert q(typed) == ["M0000000201"], typed
        assert q("0170 1234567", None) == ["M0000000201"]  # no country: the end still matches
        assert sorted(q("4567")) == ["M0000000201", "M0000000204"]
        assert q("+48 601 999 888") == q("601 999 888") == ["M0000000202"]
        assert q("(030) 555-0203") == q("0203") == ["M0000000203"]
        assert q("567") == []  # fewer than 4 digits: nobody
        assert classify("567", "DE").phone is None
        assert _ids(conn, explicit(phone="030 5550203", region="DE") or classify(None)) == [
            "M0000000203"
        ]


def test_an_import_refuses_a_wrong_phone_or_email_naming_line_and_field(
    database: Database,
) -> None:
    prepare(database, with_members=False)
    bad_phone = [*PEOPLE[:2], ("M0000000299", "Ola Zła", "0170 12", None)]
    with pytest.raises(CsvImportError, match=r"^line 4, field phone: The phone number 0170 12 "):
        import_members(database, _csv(bad_phone), region="DE")
    bad_email = [*PEOPLE[:1], ("M0000000299", "Ola Zła", None, "ola@example")]
    with pytest.raises(CsvImportError, match=r"^line 3, field email: The email ola@example "):
        import_members(database, _csv(bad_email), region="DE")
    with database.read() as conn:  # nothing of either file was imported
        assert conn.execute(select(members.c.member_id)).all() == []
        assert conn.execute(select(member_words.c.word)).all() == []


def test_an_enrolment_is_indexed_and_keyed_in_its_stores_country(database: Database) -> None:
    server = prepare(database, with_members=False)
    server.store(STORE)  # country DE
    terminal_id, token = server.terminal(STORE)
    till = JournalWriter(terminal_id)
    till.append(
        Enrolment(
            store_id=STORE,
            local_member_id="7a1c1a38-8a8e-4e55-9f59-2f7d3c1c0a01",
            name="Żaneta Wójcik-Łącka",
            phone="0170 7654321",  # a till without a country sends it as typed
            marketing_consent=False,
            consent_text_version="2026-01",
            card_number=card(300),
        )
    )
    with api(database) as client:
        assert push(client, token, terminal_id, till.records).status_code == 200
    with database.read() as conn:
        (member_id, key, rkey) = conn.execute(
            select(members.c.member_id, members.c.phone_key, members.c.phone_rkey)
        ).one()
        assert key == "491707654321"  # the store's country placed the national number
        assert rkey == key[::-1]
        words = conn.execute(
            select(member_words.c.word).where(member_words.c.member_id == member_id)
        ).scalars()
        assert sorted(words) == ["lacka", "wojcik", "zaneta"]
        for typed in ("zaneta", "WÓJCIK", "łącka żan", "+49 170 7654321", "4321"):
            assert _ids(conn, classify(typed, "DE")) == [member_id], typed


def test_a_renamed_member_is_found_by_the_new_name_only(database: Database) -> None:
    prepare(database, with_members=False)
    import_members(database, _csv(PEOPLE[:1]), region="DE")
    with database.write() as conn:
        conn.execute(
            members.update().where(members.c.member_id == "M0000000201").values(name="Ewa Lis")
        )
        write_member_words(conn, "M0000000201", "Ewa Lis", replace=True)
    with database.read() as conn:
        assert _ids(conn, classify("lucja")) == []
        assert _ids(conn, classify("lis ewa")) == ["M0000000201"]


@pytest.mark.parametrize("limit", [1, 3])
def test_word_and_phone_pages_follow_each_other_without_gaps_or_repeats(
    database: Database, limit: int
) -> None:
    hq = prepare_hq(database, with_members=False)
    names = ["Kim Lee"] * 4 + ["Lee Kim", "Kimberly Kim", "Kimi Ng", "Ki Kim", "Kiran Rao"]
    rows = [
        (f"M{index:010d}", name, f"+49 170 55{index:03d}99", None)
        for index, name in enumerate(names, start=1)
    ]
    import_members(database, _csv(rows), region="DE")

    def walk(api: httpx.Client, q: str) -> list[str]:
        seen: list[str] = []
        cursor = None
        for _ in range(50):  # bounded: at most 50 pages
            params: dict[str, Any] = {"q": q, "limit": limit}
            if cursor is not None:
                params["cursor"] = cursor
            page = api.get("/api/v1/members", params=params)
            assert page.status_code == 200, page.text
            body = page.json()
            assert len(body["items"]) <= limit
            seen += [m["member_id"] for m in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return seen
        raise AssertionError("the pages never ended")

    with (
        serve(database, default_country="DE") as url,
        httpx.Client(base_url=url, headers=hq.viewer.headers, timeout=30) as api,
    ):
        kim = walk(api, "kim")
        # "kim" exactly (members 1-6 and 8, by id), then "kimberly" (none left: 6 is
        # counted at its first word), then "kimi" (7).
        assert kim == [rows[i][0] for i in (0, 1, 2, 3, 4, 5, 7, 6)]
        assert len(set(kim)) == len(kim)
        assert walk(api, "kim lee") == [rows[i][0] for i in (0, 1, 2, 3, 4)]
        assert walk(api, "99") == []  # 2 digits: too few for a phone search
        every = walk(api, "5599")  # +49 170 55ddd99: none ends in 5599 …
        assert every == []
        ending = walk(api, "0199")  # … member 1 ends in 00199
        assert ending == [rows[0][0]]
        national = walk(api, "0170 5500399")  # national, in the server's default country
        assert national == [rows[2][0]]


@pytest.fixture
def seeded(database: Database) -> Database:
    """A few thousand members with realistic names, phones and a ledger (the HQ bench's
    generator, which fills ``member_words`` and ``phone_rkey`` like the live code)."""
    Seeder(database, 3000, seed=5, heavy_sales=50).run()
    if database.is_postgres:
        with database.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    return database


def test_word_and_phone_searches_are_index_ranges(seeded: Database) -> None:
    """The real search functions' SQL: ``member_words`` through its primary key (the range
    of the longest word) and its member index (the other words, the first-match check);
    phones through ``ix_members_phone_rkey_member_id``. No scan of members or words."""
    with seeded.read() as conn:
        name, phone = conn.execute(
            select(members.c.name, members.c.phone).where(members.c.phone.is_not(None)).limit(1)
        ).one()
    first, last = name.split()[0].split("-")[0], name.split()[-1]
    searches = {
        "one word": classify(last[:4]),
        "two words": classify(f"{first} {last[:1]}"),
        "phone end": classify(phone[-4:]),
        "whole phone": classify(phone),
    }
    for label, search in searches.items():
        with seeded.read() as conn:
            found, cursor = search_members(conn, search, 2, None)
        assert found, label

        def run(conn: Connection, search: Search = search, cursor: str | None = cursor) -> None:
            search_members(conn, search, 2, None)
            if cursor is not None:  # and the next page, keyset after the cursor
                search_members(conn, search, 2, cursor)

        texts = plans(seeded, run)
        for plan_text in texts:
            # SQLite names a table by its alias in the query (w, d, o0: member_words).
            tables = ("members", "member_words", "cards", "w", "d", "o0")
            assert_no_full_scan(seeded, plan_text, tables)
        joined = "\n".join(texts)
        if search.kind == "name":
            index = "pk_member_words" if seeded.is_postgres else "sqlite_autoindex_member_words_1"
            assert index in joined, joined
            assert "ix_member_words_member_id_word" in joined, joined
        else:
            assert "ix_members_phone_rkey_member_id" in joined, joined
        if not seeded.is_postgres:
            first_plan = texts[0]
            assert "TEMP B-TREE" not in first_plan, first_plan  # the index gives the order


def test_migration_0004_rekeys_the_phones_already_stored(database: Database) -> None:
    """Back to 0003 (a member with a national number from a store in DE, one with an
    international number), then forward: keys in E.164, reversed keys filled."""
    server = prepare(database, with_members=False)
    server.store(STORE)
    terminal_id, _ = server.terminal(STORE)
    config = migrate._config()
    with database.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
    with database.write() as conn:
        for member_id, phone, origin in (
            ("M0000000401", "0170 1234567", terminal_id),
            ("M0000000402", "+48 601 234 567", None),
            ("M0000000403", "030 555 0403", None),  # no store: digits
        ):
            conn.execute(
                text(
                    "INSERT INTO members (member_id, name, phone, phone_key, marketing_consent, "
                    "created_at, change_seq, origin_terminal, origin_seq) VALUES "
                    "(:id, 'X', :phone, :digits, false, CURRENT_TIMESTAMP, 0, :origin, :seq)"
                ),
                {
                    "id": member_id,
                    "phone": phone,
                    "digits": "".join(c for c in phone if c.isdigit()),
                    "origin": origin,
                    "seq": 1 if origin else None,
                },
            )
    migrate.upgrade(database)
    with database.read() as conn:
        keys = {
            row.member_id: (row.phone_key, row.phone_rkey)
            for row in conn.execute(
                select(members.c.member_id, members.c.phone_key, members.c.phone_rkey)
            )
        }
    assert keys == {
        "M0000000401": ("491701234567", "765432107194"),
        "M0000000402": ("48601234567", "76543210684"),
        "M0000000403": ("0305550403", "3040555030"),
    }
