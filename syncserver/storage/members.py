"""Members, their cards and the balance cache (``member_balances``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    delete,
    func,
    select,
    update,
)

from shared.phones import phone_key as shared_phone_key
from shared.phones import reversed_key
from shared.points.lots import LotBook
from shared.points.tiers import qualifying_window
from shared.protocol import ExpiringPoints, MemberState, QualifyingState
from shared.rules import ProgramRules
from shared.text import search_words
from syncserver.storage.database import execute_many, insert_ignore, is_postgres
from syncserver.storage.schema import (
    cards,
    member_activity,
    member_balances,
    member_lots,
    member_words,
    members,
    rules_versions,
    stores,
    terminals,
)
from syncserver.storage.stored_values import credit_balances

__all__ = [
    "CardRow",
    "NewMember",
    "add_to_balance",
    "add_to_balances",
    "block_card",
    "bulk_update",
    "card_row",
    "card_rows",
    "changed_member_dicts",
    "changed_member_states",
    "count_members",
    "home_country",
    "insert_card",
    "insert_member",
    "lock_balances",
    "member_dicts",
    "member_exists",
    "member_id_by_local",
    "member_id_by_origin",
    "member_ids_for_cards",
    "member_states",
    "name_key",
    "name_words",
    "phone_key",
    "stamp_members",
    "write_member_words",
]

WORD_LENGTH = 100
"""``member_words.word``'s length: longer words are cut (a search never types more)."""

ACTIVE = "active"
BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class CardRow:
    card_number: str
    member_id: str
    status: str
    blocked_reason: str | None

    @property
    def blocked(self) -> bool:
        return self.status == BLOCKED


@dataclass(frozen=True, slots=True)
class NewMember:
    member_id: str
    name: str
    phone: str | None = None
    email: str | None = None
    tier: str | None = None
    marketing_consent: bool = False
    consent_text_version: str | None = None
    local_member_id: str | None = None
    origin_terminal: str | None = None
    origin_seq: int | None = None
    region: str | None = None
    """The country of a phone number written without a +; None: the home store's (the
    origin terminal's store), if it has one."""


_CARD = select(
    cards.c.card_number, cards.c.member_id, cards.c.status, cards.c.blocked_reason
).where(cards.c.card_number == bindparam("card"))


def card_row(conn: Connection, card_number: str) -> CardRow | None:
    row = conn.execute(_CARD, {"card": card_number}).first()
    return CardRow(*row) if row else None


def card_rows(conn: Connection, card_numbers: Sequence[str]) -> list[CardRow]:
    """Many cards in one statement (those that exist)."""
    if not card_numbers:
        return []
    rows = conn.execute(
        select(
            cards.c.card_number, cards.c.member_id, cards.c.status, cards.c.blocked_reason
        ).where(cards.c.card_number.in_(list(card_numbers)))
    )
    return [CardRow(*row) for row in rows]


def member_ids_for_cards(conn: Connection, card_numbers: Iterable[str]) -> dict[str, str]:
    numbers = sorted(set(card_numbers))
    if not numbers:
        return {}
    rows = conn.execute(
        select(cards.c.card_number, cards.c.member_id).where(cards.c.card_number.in_(numbers))
    )
    return {row.card_number: row.member_id for row in rows}


_EXISTS = select(members.c.member_id).where(members.c.member_id == bindparam("member"))


def member_exists(conn: Connection, member_id: str) -> bool:
    return conn.execute(_EXISTS, {"member": member_id}).first() is not None


_BY_LOCAL = select(members.c.member_id).where(members.c.local_member_id == bindparam("local"))


def member_id_by_local(conn: Connection, local_member_id: str) -> str | None:
    return conn.execute(_BY_LOCAL, {"local": local_member_id}).scalar_one_or_none()


def member_id_by_origin(conn: Connection, terminal_id: str, seq: int) -> str | None:
    return conn.execute(
        select(members.c.member_id).where(
            members.c.origin_terminal == terminal_id, members.c.origin_seq == seq
        )
    ).scalar_one_or_none()


def home_country(conn: Connection, terminal_id: str | None) -> str | None:
    """The country of the store a till belongs to (None when unknown or not set)."""
    if terminal_id is None:
        return None
    country: str | None = conn.execute(
        select(stores.c.country)
        .join(terminals, terminals.c.store_id == stores.c.store_id)
        .where(terminals.c.terminal_id == terminal_id)
    ).scalar_one_or_none()
    return country


def insert_member(conn: Connection, member: NewMember, now: datetime) -> bool:
    """Create the member, its search keys (name words, phone key) and its zero balance;
    False when the id (or local id) is taken."""
    region = member.region
    if region is None and member.phone and not member.phone.lstrip().startswith("+"):
        region = home_country(conn, member.origin_terminal)
    key = phone_key(member.phone, region)
    inserted = insert_ignore(
        conn,
        members,
        {
            "member_id": member.member_id,
            "local_member_id": member.local_member_id,
            "origin_terminal": member.origin_terminal,
            "origin_seq": member.origin_seq,
            "name": member.name,
            "name_key": name_key(member.name),
            "phone_key": key,
            "phone_rkey": reversed_key(key),
            "phone": member.phone,
            "email": member.email,
            "tier": member.tier,
            "marketing_consent": member.marketing_consent,
            "consent_text_version": member.consent_text_version,
            "created_at": now,
            # Stamped with a real position when the transaction finishes (stamp_members).
            "change_seq": 0,
        },
    )
    if inserted:
        conn.execute(member_balances.insert().values(member_id=member.member_id, points=0))
        write_member_words(conn, member.member_id, member.name, replace=False)
    return inserted


def name_words(name: str) -> list[str]:
    """The words ``member_words`` holds for a name: folded, each once, cut to the column."""
    return list(dict.fromkeys(word[:WORD_LENGTH] for word in search_words(name)))


def write_member_words(conn: Connection, member_id: str, name: str, *, replace: bool) -> None:
    """Index the member's name by its words; ``replace`` drops the old name's words first
    (whoever changes a member's name calls this in the same transaction)."""
    if replace:
        conn.execute(delete(member_words).where(member_words.c.member_id == member_id))
    words = name_words(name)
    if words:
        conn.execute(
            member_words.insert(), [{"word": word, "member_id": member_id} for word in words]
        )


def insert_card(conn: Connection, card_number: str, member_id: str, now: datetime) -> bool:
    """Assign a card; False when the card already belongs to someone (maybe this member)."""
    return insert_ignore(
        conn,
        cards,
        {
            "card_number": card_number,
            "member_id": member_id,
            "status": ACTIVE,
            "blocked_reason": None,
            "created_at": now,
        },
    )


def block_card(conn: Connection, card_number: str, reason: str) -> None:
    conn.execute(
        update(cards)
        .where(cards.c.card_number == card_number)
        .values(status=BLOCKED, blocked_reason=reason)
    )


def lock_balances(conn: Connection, member_ids: Sequence[str]) -> dict[str, int]:
    """Lock the members' balance rows, in id order (so concurrent pushes cannot deadlock
    on each other's members); returns the balances found."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(member_balances.c.member_id, member_balances.c.points)
        .where(member_balances.c.member_id.in_(ids))
        .order_by(member_balances.c.member_id)
        .with_for_update()
    )
    return {row.member_id: int(row.points) for row in rows}


def add_to_balance(conn: Connection, member_id: str, delta: int) -> None:
    conn.execute(
        update(member_balances)
        .where(member_balances.c.member_id == member_id)
        .values(points=member_balances.c.points + delta)
    )


_ADD_TO_BALANCE = (
    update(member_balances)
    .where(member_balances.c.member_id == bindparam("m_id"))
    .values(points=member_balances.c.points + bindparam("m_delta"))
)


BULK_ROWS = 500
"""From this many rows on, PostgreSQL gets one UPDATE … FROM unnest(arrays) instead of an
executemany (which psycopg sends row by row): the daily runs over a million members."""


def bulk_update(conn: Connection, sql: str, arrays: Mapping[str, Sequence[Any]]) -> bool:
    """Run ``sql`` (an ``UPDATE … FROM unnest(%(name)s::type[], …)``) with ``arrays`` on
    PostgreSQL when they are long; False (nothing done) otherwise: use the executemany."""
    if not is_postgres(conn) or len(next(iter(arrays.values()))) < BULK_ROWS:
        return False
    conn.exec_driver_sql(sql, {name: list(values) for name, values in arrays.items()})
    return True


_BULK_BALANCES = (
    "UPDATE member_balances AS t SET points = t.points + v.delta "
    "FROM unnest(%(ids)s::text[], %(deltas)s::bigint[]) AS v(member_id, delta) "
    "WHERE t.member_id = v.member_id"
)


def add_to_balances(conn: Connection, deltas: Mapping[str, int]) -> None:
    """Move many balances in one executemany (in member-id order, rows already locked)."""
    ids = sorted(deltas)
    if bulk_update(conn, _BULK_BALANCES, {"ids": ids, "deltas": [deltas[m] for m in ids]}):
        return
    execute_many(
        conn,
        _ADD_TO_BALANCE,
        [{"m_id": member_id, "m_delta": deltas[member_id]} for member_id in ids],
    )


def phone_key(phone: str | None, region: str | None = None) -> str | None:
    """The phone number's key: E.164 digits ("491701234567"), or its digits only when it
    cannot be placed in a country (shared.phones); None when it has no digits. Search
    compares its end through ``members.phone_rkey`` (the key reversed)."""
    return shared_phone_key(phone, region)


def name_key(name: str) -> str:
    """What name search compares: lower case, single spaces (an index range finds prefixes).

    Cut to the column's 200 characters: lower-casing can lengthen a name ("İ" becomes two
    characters), and a prefix search never needs more."""
    return " ".join(name.lower().split())[:200]


_ACTIVE_AT = bindparam("m_active", type_=members.c.last_active_at.type)
_STAMP = (
    update(members)
    .where(members.c.member_id == bindparam("m_id"))
    .values(
        change_seq=bindparam("m_position"),
        # Only ever moves forward: a late-synced old sale does not make a member less active.
        last_active_at=case(
            (
                func.coalesce(_ACTIVE_AT, "") > func.coalesce(members.c.last_active_at, ""),
                _ACTIVE_AT,
            ),
            else_=members.c.last_active_at,
        ),
    )
)


_BULK_STAMP = (
    "UPDATE members AS t SET change_seq = v.position, last_active_at = CASE "
    "WHEN coalesce(v.active, '') > coalesce(t.last_active_at, '') THEN v.active "
    "ELSE t.last_active_at END "
    "FROM unnest(%(ids)s::text[], %(positions)s::bigint[], %(active)s::text[]) "
    "AS v(member_id, position, active) WHERE t.member_id = v.member_id"
)


def stamp_members(
    conn: Connection,
    member_ids: Sequence[str],
    first_position: int,
    active_at: Mapping[str, str] | None = None,
) -> None:
    """Give each changed member the next change_seq, so the next pull sends it again, and
    record the time of its latest till activity (``active_at``, ISO text) where there is one."""
    active = active_at or {}
    arrays: dict[str, list[Any]] = {
        "ids": list(member_ids),
        "positions": [first_position + offset for offset in range(len(member_ids))],
        "active": [active.get(member_id) for member_id in member_ids],
    }
    if member_ids and bulk_update(conn, _BULK_STAMP, arrays):
        return
    execute_many(
        conn,
        _STAMP,
        [
            {
                "m_id": member_id,
                "m_position": first_position + offset,
                "m_active": active.get(member_id),
            }
            for offset, member_id in enumerate(member_ids)
        ],
    )


def count_members(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(members)).scalar_one())


_RULES: dict[int, ProgramRules] = {}
"""Published rules versions never change: parsed once per process."""


def _latest_rules(conn: Connection) -> ProgramRules | None:
    version = conn.execute(select(func.max(rules_versions.c.version))).scalar_one_or_none()
    if version is None:
        return None
    known = _RULES.get(int(version))
    if known is None:
        document = conn.execute(
            select(rules_versions.c.document).where(rules_versions.c.version == version)
        ).scalar_one()
        known = _RULES[int(version)] = ProgramRules.from_json(document)
    return known


Within = Callable[[ColumnElement[Any]], ColumnElement[bool]]
"""Restricts a table's member id column to the members being read."""


def _points_states(
    conn: Connection, within: Within, today: date
) -> tuple[QualifyingState | None, dict[str, QualifyingState], dict[str, list[ExpiringPoints]]]:
    """Each member's qualifying figures in the window that counts today (one grouped query)
    and points by expiry day (from their lot book), by the latest published rules."""
    rules = _latest_rules(conn)
    if rules is None:
        return None, {}, {}
    start, end = qualifying_window(rules.tier_qualification, today)
    empty = QualifyingState(as_of=today.isoformat(), window_start=start.isoformat())
    sums = conn.execute(
        select(
            member_activity.c.member_id,
            func.sum(member_activity.c.points),
            func.sum(member_activity.c.spend_minor),
            func.sum(member_activity.c.visits),
        )
        .where(
            within(member_activity.c.member_id),
            member_activity.c.day >= start.isoformat(),
            member_activity.c.day < end.isoformat(),
        )
        .group_by(member_activity.c.member_id)
    )
    qualifying = {
        row[0]: empty.model_copy(
            update={"points": int(row[1]), "spend_minor": int(row[2]), "visits": int(row[3])}
        )
        for row in sums
    }
    expiring: dict[str, list[ExpiringPoints]] = {}
    books = conn.execute(
        select(member_lots.c.member_id, member_lots.c.book).where(within(member_lots.c.member_id))
    )
    for member_id, text in books:
        expiring[member_id] = [
            ExpiringPoints(expires_on=day.isoformat(), points=points)
            for day, points in LotBook.from_json(text).expiring(rules.expiry)
        ]
    return empty, qualifying, expiring


def member_states(
    conn: Connection, member_ids: Sequence[str], *, today: date | None = None
) -> list[MemberState]:
    """Members as a till or HQ sees them: profile, reconciled balance, every card, tier
    status, qualifying figures as of HQ's UTC ``today`` and points by expiry day; in the
    order of ``member_ids`` (those that exist)."""
    return [MemberState.model_validate(m) for m in member_dicts(conn, member_ids, today=today)]


def changed_member_states(
    conn: Connection, after: int, through: int, *, today: date | None = None
) -> list[MemberState]:
    """:func:`member_states` of the members whose last change is at a position in
    (``after``, ``through``], in position order: a pull's page, read by a range of the
    ``change_seq`` index instead of a list of ids in every statement."""
    return [
        MemberState.model_validate(m)
        for m in changed_member_dicts(conn, after, through, today=today)
    ]


def member_dicts(
    conn: Connection, member_ids: Sequence[str], *, today: date | None = None
) -> list[dict[str, Any]]:
    """:func:`member_states` as plain dicts: each exactly what ``MemberState.model_dump()``
    gives (the same keys in the same order, nested models as dicts), ready for JSON."""
    if not member_ids:
        return []
    ids = list(member_ids)
    return _member_dicts(
        conn, members.c.member_id.in_(ids), lambda column: column.in_(ids), ids, today
    )


def changed_member_dicts(
    conn: Connection, after: int, through: int, *, today: date | None = None
) -> list[dict[str, Any]]:
    """:func:`changed_member_states` as plain dicts (see :func:`member_dicts`)."""
    changed = and_(members.c.change_seq > after, members.c.change_seq <= through)
    chosen = select(members.c.member_id).where(changed)
    return _member_dicts(conn, changed, lambda column: column.in_(chosen), None, today)


def _member_dicts(
    conn: Connection,
    chosen: ColumnElement[bool],
    within: Within,
    order: Sequence[str] | None,
    today: date | None,
) -> list[dict[str, Any]]:
    """The members ``chosen`` picks (``within`` the same for another table's member id), in
    the order of ``order`` (None: change order), as ``MemberState.model_dump()`` dicts: no
    model per member, card or figure (a first download reads a million)."""
    # Only the columns a MemberState needs, as plain tuples (no timestamps to convert).
    rows = conn.execute(
        select(
            members.c.member_id,
            members.c.local_member_id,
            members.c.name,
            members.c.phone,
            members.c.email,
            members.c.tier,
            member_balances.c.points,
            members.c.marketing_consent,
            members.c.tier_since,
            members.c.tier_review_on,
            members.c.tier_grace,
        )
        .join(member_balances, member_balances.c.member_id == members.c.member_id)
        .where(chosen)
        .order_by(members.c.change_seq)
    ).all()
    if not rows:
        return []
    by_id = {row[0]: row for row in rows}
    card_rows = conn.execute(
        select(cards.c.card_number, cards.c.member_id, cards.c.status, cards.c.blocked_reason)
        .where(within(cards.c.member_id))
        .order_by(cards.c.created_at, cards.c.card_number)
    )
    member_cards: dict[str, list[dict[str, Any]]] = {}
    for number, member_id, status, reason in card_rows:
        member_cards.setdefault(member_id, []).append(
            {
                "card_number": str(number),
                "status": BLOCKED if status == BLOCKED else ACTIVE,
                "blocked_reason": None if reason is None else str(reason),
            }
        )
    empty, qualifying, expiring = _points_states(conn, within, today or datetime.now(UTC).date())
    empty_dict = empty.model_dump() if empty is not None else None
    store_credit = credit_balances(conn, within)
    states = []
    for member_id in order if order is not None else list(by_id):
        row = by_id.get(member_id)
        if row is None:
            continue
        figures = qualifying.get(member_id)
        lots = expiring.get(member_id)
        states.append(
            {
                "member_id": str(row[0]),
                "local_member_id": _text(row[1]),
                "name": str(row[2]),
                "phone": _text(row[3]),
                "email": _text(row[4]),
                "tier": _text(row[5]),
                "balance": int(row[6]),
                "marketing_consent": bool(row[7]),
                "cards": member_cards.get(member_id, []),
                "tier_since": _text(row[8]),
                "tier_review_on": _text(row[9]),
                "tier_grace": bool(row[10]),
                "qualifying": empty_dict if figures is None else figures.model_dump(),
                "expiring": [lot.model_dump() for lot in lots] if lots else [],
                "store_credit_minor": int(store_credit.get(member_id, 0)),
            }
        )
    return states


def _text(value: object) -> str | None:
    return None if value is None else str(value)
