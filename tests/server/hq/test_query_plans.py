"""Query plans, not timings: the overview's queries and the member search / ledger access
paths read indexes, never every row of ``members`` or ``postings``.

The database is seeded by the HQ benchmark's own generator (a few thousand members with a
consistent ledger), then on PostgreSQL analysed (``VACUUM ANALYZE``) and explained with
``enable_seqscan = off``: with that, a sequential scan appears in a plan only when no index
can serve the query at all. On SQLite, ``EXPLAIN QUERY PLAN`` says ``SEARCH … USING INDEX``
for an index range and ``SCAN <table>`` for reading a whole table.

The overview's queries are captured as they really run (``syncserver.hq.overview``). The
member search and ledger queries belong to the members part of the dashboard
(``syncserver.hq.members``, written in parallel), so their access paths are checked here
with equivalent SQL over the schema: card number (cards' primary key), phone, e-mail,
member id (members' primary key), name prefix (a range of ``name_key``), and a member's
ledger pages (``postings (member_id, id)``, first page and a keyset page after a cursor).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, func, select, tuple_

from bench.hq_bench import Seeder
from syncserver.hq import overview as ov
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import cards, member_balances, members, postings
from tests.server_databases import fresh_postgres

SEED_MEMBERS = 3000
PHONE = "phone_key" if "phone_key" in members.c else "phone"
"""Phone search compares the digits only (``members.phone_key``) where the schema has them."""
Query = Callable[[Connection], object]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A few thousand members, their cards and ledger (VACUUM ANALYZE on PostgreSQL), seeded
    once per database for the whole module: every test here only reads and explains."""
    urls: Iterator[str]
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("plans") / "server.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        urls = iter([f"sqlite:///{path}"])
    else:
        urls = fresh_postgres(request)
    database = Database(next(urls))
    try:
        Seeder(database, SEED_MEMBERS, seed=3, heavy_sales=500).run()
        yield database
    finally:
        database.dispose()
        for _ in urls:  # drops the PostgreSQL database
            pass


@contextmanager
def _captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def plans(database: Database, query: Query) -> list[str]:
    """The plan of each SELECT ``query`` runs, as text (one string per statement)."""
    with _captured(database.engine) as statements, database.read() as conn:
        query(conn)
    assert statements, "the query ran no SELECT"
    out = []
    with database.engine.connect() as conn, conn.begin():
        if database.is_postgres:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            for statement, parameters in statements:
                rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
                out.append("\n".join(row[0] for row in rows))
        else:
            for statement, parameters in statements:
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
                out.append("\n".join(row[-1] for row in rows))
    return out


def plan(database: Database, query: Query) -> str:
    (only,) = plans(database, query)
    return only


_PG_INDEX = (
    r"(Index Scan|Index Only Scan)( Backward)? using {index} on {table}"
    r"|Bitmap Index Scan on {index}"
)


def assert_index(database: Database, text: str, table: str, index: str) -> None:
    """The plan reads ``table`` through ``index`` (a range or lookup, not a full scan)."""
    if database.is_postgres:
        assert re.search(_PG_INDEX.format(index=index, table=table), text), text
    else:
        assert re.search(rf"SEARCH {table} USING (COVERING )?INDEX {index} \(", text), text
    assert_no_full_scan(database, text)


def assert_no_full_scan(
    database: Database, text: str, tables: tuple[str, ...] = ("members", "postings")
) -> None:
    for table in tables:
        if database.is_postgres:
            assert not re.search(rf"Seq Scan on {table}\b", text), text
        else:
            # "SCAN members" reads the whole table (or a whole index); SEARCH is a range.
            assert not re.search(rf"\bSCAN {table}\b", text), text


# --- the overview --------------------------------------------------------------------------


def test_active_member_counts_are_ranges_of_last_active_at(seeded: Database) -> None:
    since = utc_now() - timedelta(days=30)
    text = plan(seeded, lambda conn: ov.active_members(conn, since))
    assert_index(seeded, text, "members", "ix_members_last_active_at")


def test_the_daily_series_reads_a_range_of_the_occurred_at_index(seeded: Database) -> None:
    days = ov.series_days(utc_now())
    text = plan(seeded, lambda conn: ov.daily_series(conn, days))
    assert_index(seeded, text, "postings", "ix_postings_occurred_at")


def test_open_exceptions_read_the_status_kind_index(seeded: Database) -> None:
    text = plan(seeded, ov.open_exceptions)
    assert_index(seeded, text, "exceptions", "ix_exceptions_status_kind")


def test_the_member_total_counts_an_index_not_the_rows(seeded: Database) -> None:
    """A total is a count of every member: it reads a whole index, never the table's rows
    (measured at 1,000,000 members in bench/hq_bench.py; cached when slow)."""
    text = plan(seeded, ov.total_members)
    if seeded.is_postgres:
        assert re.search(r"Index Only Scan using \w+ on members", text), text
    else:
        assert re.search(r"SCAN members USING COVERING INDEX \w+", text), text


def test_points_outstanding_reads_only_the_balances(seeded: Database) -> None:
    """The liability is a sum over every balance: one pass over the narrow member_balances
    table (two columns), never members or postings. (Measured in the bench; cached when
    slow.)"""
    text = plan(seeded, ov.points_outstanding)
    assert "member_balances" in text
    assert "postings" not in text
    assert not re.search(r"\bmembers\b", text.replace("member_balances", "")), text


def test_the_point_value_reads_one_row_by_version(seeded: Database) -> None:
    text = plan(seeded, ov.point_value)
    if seeded.is_postgres:
        assert "Limit" in text
        assert re.search(r"Index Scan Backward using pk_rules_versions", text), text
    else:
        # The version is the rowid: the newest is read from the end, no sorting.
        assert "TEMP B-TREE" not in text, text


def test_the_whole_overview_never_scans_members_or_postings(seeded: Database) -> None:
    def everything(conn: Connection) -> None:
        now = utc_now()
        ov.active_members(conn, now - timedelta(days=90))
        ov.daily_series(conn, ov.series_days(now))
        ov.open_exceptions(conn)
        ov.offline_tills(conn, now)
        ov.point_value(conn)

    for text in plans(seeded, everything):
        assert_no_full_scan(seeded, text)


# --- member search and ledger (equivalent SQL over the schema) -----------------------------


def _a_member(database: Database) -> dict[str, Any]:
    with database.read() as conn:
        row = conn.execute(
            select(members.c.member_id, members.c[PHONE], members.c.email, members.c.name_key)
            .where(members.c[PHONE].is_not(None), members.c.email.is_not(None))
            .order_by(members.c.member_id)
            .limit(1)
            .offset(17)
        ).one()
        card = conn.execute(
            select(cards.c.card_number).where(cards.c.member_id == row.member_id)
        ).scalar_one()
    return {**row._asdict(), "card": card}


_MEMBER_ROW = select(
    members.c.member_id,
    members.c.name,
    members.c.phone,
    members.c.email,
    members.c.tier,
    member_balances.c.points,
).join(member_balances, member_balances.c.member_id == members.c.member_id)


def test_search_by_card_is_a_primary_key_lookup(seeded: Database) -> None:
    card = _a_member(seeded)["card"]
    query = _MEMBER_ROW.join(cards, cards.c.member_id == members.c.member_id).where(
        cards.c.card_number == card
    )
    text = plan(seeded, lambda conn: conn.execute(query).all())
    if seeded.is_postgres:
        assert re.search(r"Index Scan using pk_cards on cards", text), text
        assert re.search(r"Index Scan using pk_members on members", text), text
    else:
        assert re.search(
            r"SEARCH cards USING INDEX sqlite_autoindex_cards_1 \(card_number=\?\)", text
        ), text
        assert re.search(
            r"SEARCH members USING INDEX sqlite_autoindex_members_1 \(member_id=\?\)", text
        ), text
    assert_no_full_scan(seeded, text, ("members", "postings", "cards", "member_balances"))


@pytest.mark.parametrize(
    ("column", "index"), [(PHONE, f"ix_members_{PHONE}"), ("email", "ix_members_email")]
)
def test_search_by_phone_or_email_uses_its_index(seeded: Database, column: str, index: str) -> None:
    value = _a_member(seeded)[column]
    query = _MEMBER_ROW.where(members.c[column] == value).order_by(members.c.member_id).limit(51)
    text = plan(seeded, lambda conn: conn.execute(query).all())
    assert_index(seeded, text, "members", index)
    assert_no_full_scan(seeded, text, ("members", "postings", "member_balances"))


def test_search_by_member_id_is_a_primary_key_lookup(seeded: Database) -> None:
    member_id = _a_member(seeded)["member_id"]
    query = _MEMBER_ROW.where(members.c.member_id == member_id)
    text = plan(seeded, lambda conn: conn.execute(query).all())
    index = "pk_members" if seeded.is_postgres else "sqlite_autoindex_members_1"
    assert_index(seeded, text, "members", index)
    assert_no_full_scan(seeded, text, ("members", "postings", "member_balances"))


def test_search_by_name_prefix_is_a_range_of_name_key(seeded: Database) -> None:
    """``name_key >= prefix AND name_key < prefix + U+FFFF``, keyset-paginated by
    (name_key, member_id): the prefix is a range of the name_key index (on PostgreSQL the
    column has the "C" collation, so byte order is index order)."""
    key = _a_member(seeded)["name_key"]
    prefix = key[:4]
    after = (key, "M0000000000")

    def search(conn: Connection) -> None:
        base = _MEMBER_ROW.where(
            members.c.name_key >= prefix, members.c.name_key < prefix + "\uffff"
        ).order_by(members.c.name_key, members.c.member_id)
        conn.execute(base.limit(51)).all()
        conn.execute(
            base.where(tuple_(members.c.name_key, members.c.member_id) > after).limit(51)
        ).all()

    for text in plans(seeded, search):
        assert_index(seeded, text, "members", "ix_members_name_key_member_id")
        assert_no_full_scan(seeded, text, ("members", "postings", "member_balances"))


def test_a_members_ledger_pages_read_the_member_id_index(seeded: Database) -> None:
    """First page: the member's newest postings; a later page: keyset after the cursor's id.
    Both are ranges of ``postings (member_id, id)``. (SQLite walks it backwards, no sort;
    PostgreSQL may fetch a short history as a bitmap and sort those few rows, and walks the
    index backwards for a long one: either way it touches only this member's postings.)"""
    with seeded.read() as conn:
        member_id, newest = conn.execute(
            select(postings.c.member_id, func.max(postings.c.id))
            .where(postings.c.member_id.is_not(None), postings.c.member_id != "M0000000001")
            .group_by(postings.c.member_id)
            .having(func.count() >= 6)
            .order_by(postings.c.member_id)
            .limit(1)
        ).one()

    def pages(conn: Connection) -> None:
        base = select(postings).where(postings.c.member_id == member_id)
        conn.execute(base.order_by(postings.c.id.desc()).limit(51)).all()
        conn.execute(
            base.where(postings.c.id < newest).order_by(postings.c.id.desc()).limit(51)
        ).all()

    for text in plans(seeded, pages):
        assert_index(seeded, text, "postings", "ix_postings_member_id_id")
        if not seeded.is_postgres:
            assert "TEMP B-TREE" not in text, text
