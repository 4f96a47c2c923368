"""What HQ reads about members: search, the member's profile, cards and ledger history (the
journal entries behind the postings are syncserver.hq.entries).

Every query here is an indexed lookup or an index range with a LIMIT, so a page costs the
same with a million members as with ten:

- card number: ``cards`` primary key; member id: ``members`` primary key; email: its index;
- phone, by the end of the number: ``members.phone_rkey`` (the phone key reversed) between
  the reversed digits and those followed by U+10FFFF, keyset-paginated by (phone_rkey,
  member_id);
- name: every word typed (folded: "lucja" finds "Łucja") starts some word of the name; the
  longest drives a range of ``member_words`` (word, member_id), the others are checked per
  member; keyset-paginated by (word, member_id). Byte order throughout: PostgreSQL's key
  columns are ``COLLATE "C"``, SQLite compares text bytewise;
- a member's ledger history: the member's postings through ``postings (member_id, id)``, in
  time order (occurred_at, id), newest first, keyset by (occurred_at, id), with a running
  balance (a window sum in the same statement). This one reads all of the member's postings
  per page — that is what makes every page's balance right; the benchmark's heavy member
  (12,000 postings) costs about 75 ms a page on SQLite and 45 ms on PostgreSQL. The till
  entries and HQ events behind one page are fetched by primary key in one statement each.

The result types are pydantic models: the JSON API returns them as they are and the dashboard
renders the same objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Connection, and_, case, func, or_, select

from shared.codes import luhn_valid
from shared.phones import looks_like_phone, phone_suffix
from shared.protocol import CardState
from shared.text import search_words
from syncserver.api.pagination import decode_cursor, page_of
from syncserver.settings import as_utc
from syncserver.storage.members import WORD_LENGTH
from syncserver.storage.rules import parse_rules
from syncserver.storage.schema import (
    cards,
    exceptions,
    hq_events,
    journal_entries,
    member_balances,
    member_words,
    members,
    postings,
    rules_versions,
    terminals,
)

__all__ = [
    "Balance",
    "HqSource",
    "LedgerPosting",
    "MemberDetail",
    "MemberException",
    "MemberSummary",
    "Search",
    "SearchKind",
    "TillSource",
    "card_owner",
    "classify",
    "member_balance",
    "member_detail",
    "member_exceptions",
    "member_ledger",
    "member_summaries",
    "record_fields",
    "search_members",
]

SearchKind = Literal["all", "card", "email", "id", "phone", "name"]

NAME_END = "\U0010ffff"
"""The highest code point: ``prefix <= key < prefix + NAME_END`` is every key with that
prefix (UTF-8 byte order is code point order)."""

_MEMBER_ID = re.compile(r"^[Mm]\d+$")
_CARD_LENGTHS = range(12, 20)
"""Card numbers are 12–19 digits (ISO/IEC 7812 lengths; LoyalTill's own are 16)."""


# ------------------------------------------------------------------------------------------
# Result models (API responses and what the dashboard renders)
# ------------------------------------------------------------------------------------------


class MemberSummary(BaseModel):
    """A member as a search lists them: who, tier, reconciled balance and every card."""

    member_id: str
    name: str
    phone: str | None = None
    email: str | None = None
    tier: str | None = None
    balance: int = Field(description="Reconciled points balance (sum of the member's postings).")
    cards: list[CardState] = []


class MemberDetail(MemberSummary):
    """The whole profile: contact, consent, where and when the member was created."""

    local_member_id: str | None = None
    """The till's own id for a member enrolled offline."""
    marketing_consent: bool = False
    consent_text_version: str | None = None
    created_at: datetime
    origin_terminal: str | None = None
    """The till that enrolled the member (null for members imported by HQ)."""
    origin_store: str | None = None
    origin_seq: int | None = None
    """The enrolment entry's seq on ``origin_terminal``."""
    last_active_at: str | None = None
    """Time of the member's latest visit: the latest till entry naming them (ISO, UTC)."""


class Balance(BaseModel):
    member_id: str
    points: int


class TillSource(BaseModel):
    """The till journal entry that caused a posting."""

    terminal_id: str
    store_id: str | None = None
    seq: int
    entry_kind: str | None = None
    receipt_no: str | None = None
    cashier_id: str | None = None


class HqSource(BaseModel):
    """The HQ event (staff action or import) that caused a posting."""

    hq_event_id: int
    event_kind: str | None = None
    actor: str | None = None
    """The HQ username (or ``cli``) who did it."""
    reason: str | None = None


class LedgerPosting(BaseModel):
    """One posting on the member's points account, with what caused it."""

    id: int
    occurred_at: str
    kind: str
    points: int = Field(description="Signed: positive onto the member, negative off.")
    unit: str = "points"
    balance_after: int = Field(
        description="The member's balance in this unit after this posting, in time order."
    )
    till: TillSource | None = None
    hq: HqSource | None = None
    note: str | None = Field(
        default=None,
        description="What the posting was for, where the kind alone does not say: "
        '"Reward Coffee treat bought" for a reward posting.',
    )


class MemberException(BaseModel):
    id: int
    kind: str
    status: str
    amount: int
    detail: str
    terminal_id: str | None = None
    seq: int | None = None
    created_at: datetime
    resolved_by: str | None = None


# ------------------------------------------------------------------------------------------
# Search
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Search:
    """What a search box text was taken to mean."""

    kind: SearchKind
    value: str = ""
    phone: str | None = None
    """For a phone search (or a card number nobody has, which may be a phone number): the
    digits a member's phone key must end with (shared.phones.phone_suffix); None when too
    few digits were typed."""
    words: tuple[str, ...] = ()
    """For a name search: the folded words typed, each starting some word of the name."""

    @property
    def label(self) -> str:
        return {
            "all": "all members",
            "card": "card number",
            "email": "email address",
            "id": "member id",
            "phone": "phone number ending in",
            "name": "name with words starting",
        }[self.kind]


def _name(text: str) -> Search:
    words = tuple(word[:WORD_LENGTH] for word in search_words(text))
    return Search("name", " ".join(words) or text, words=words)


def _phone(text: str, region: str | None) -> Search:
    suffix = phone_suffix(text, region)
    return Search("phone", suffix or text, suffix)


def classify(q: str | None, region: str | None = None) -> Search:
    """Tell what was typed: a card number (Luhn-valid), an email, a member id, a phone
    number (``region``: the country of a number written without +), or else words of a
    name; empty lists everyone."""
    text = " ".join((q or "").split())
    if not text:
        return Search("all")
    compact = re.sub(r"[\s-]", "", text)
    if (
        compact.isascii()
        and compact.isdigit()
        and len(compact) in _CARD_LENGTHS
        and luhn_valid(compact)
    ):
        # A phone number can pass the check digit too: if no card has it, try phones.
        return Search("card", compact, phone_suffix(text, region))
    if "@" in text:
        return Search("email", text)
    if _MEMBER_ID.fullmatch(text):
        return Search("id", text.upper())
    if looks_like_phone(text):
        return _phone(text, region)
    return _name(text)


def explicit(
    *,
    card: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
    region: str | None = None,
) -> Search | None:
    """A search from the API's explicit filters (at most one is given); None for none."""
    if card is not None:
        return Search("card", card.strip())
    if phone is not None:
        return _phone(" ".join(phone.split()), region)
    if email is not None:
        return Search("email", email.strip())
    if name is not None:
        return _name(name) if name.strip() else Search("all")
    return None


def cursor_arity(search: Search) -> int:
    keyed_by_two = search.kind in ("name", "phone") or (search.kind == "card" and search.phone)
    return 2 if keyed_by_two else 1


def search_members(
    conn: Connection, search: Search, limit: int, cursor: str | None
) -> tuple[list[MemberSummary], str | None]:
    """One page of members matching ``search`` and the cursor of the next page.

    Order: for a name search (matched word, member_id) — members whose word is exactly the
    one typed first, then longer words in order; for a phone search (the phone key reversed,
    member_id); member_id otherwise."""
    after = decode_cursor(cursor, cursor_arity(search))
    keyed: list[tuple[str, str]] | None = None
    if search.kind == "name":
        keyed = _by_words(conn, list(search.words), limit, after) if search.words else []
    elif search.kind == "phone" or (search.kind == "card" and search.phone):
        owner = _card_owner_id(conn, search.value) if search.kind == "card" else None
        if owner is not None:
            return member_summaries(conn, [owner] if after is None else []), None
        keyed = _by_phone(conn, search.phone, limit, after) if search.phone else []
    if keyed is not None:
        found = member_summaries(conn, [member_id for member_id, _ in keyed])
        keys = dict(keyed)
        return page_of(found, limit, lambda m: (keys[m.member_id], m.member_id))
    after_id = str(after[0]) if after else None
    ids = _member_ids(conn, search, limit, after_id)
    return page_of(member_summaries(conn, ids), limit, lambda m: (m.member_id,))


def _card_owner_id(conn: Connection, card_number: str) -> str | None:
    owner: str | None = conn.execute(
        select(cards.c.member_id).where(cards.c.card_number == card_number)
    ).scalar_one_or_none()
    return owner


def _keyset(
    column: ColumnElement[str],
    id_column: ColumnElement[str],
    start: str,
    after: list[Any] | None,
) -> list[ColumnElement[bool]]:
    """``start <= column < start + NAME_END`` after the cursor's (key, member_id)."""
    lower = start
    conditions: list[ColumnElement[bool]] = [column < start + NAME_END]
    if after is not None:
        after_key, after_id = str(after[0]), str(after[1])
        if after_key >= start:
            lower = after_key
            conditions.append(or_(column > after_key, id_column > after_id))
    return [column >= lower, *conditions]


def _by_words(
    conn: Connection, words: list[str], limit: int, after: list[Any] | None
) -> list[tuple[str, str]]:
    """(member_id, matched word) of members each of whose query words starts a word of
    their name. The longest word drives a range of ``member_words``' primary key in (word,
    member_id) order; each member counts once, at its first matching word; the other words
    are checked per member through ``ix_member_words_member_id_word``."""
    driver = max(words, key=len)
    word = member_words.alias("w")
    conditions = _keyset(word.c.word, word.c.member_id, driver, after)
    earlier = _word_of(word, driver, word.c.word, "d")
    conditions.append(earlier.is_(None))
    for index, other in enumerate(w for w in words if w != driver):
        conditions.append(_word_of(word, other, other + NAME_END, f"o{index}").is_not(None))
    rows = conn.execute(
        select(word.c.member_id, word.c.word)
        .where(*conditions)
        .order_by(word.c.word, word.c.member_id)
        .limit(limit + 1)
    )
    return [(row.member_id, row.word) for row in rows]


def _word_of(
    word: Any, lower: str, upper: ColumnElement[str] | str, alias: str
) -> ColumnElement[Any]:
    """A word of ``word``'s member in [lower, upper), or NULL: one probe of the member's
    few words. A LIMITed scalar subquery, not EXISTS: PostgreSQL may turn EXISTS into a join
    and, misjudging how many members a word range holds, loop one word range over another
    (78 s seen on a million members); a subquery with a LIMIT is never flattened."""
    other = member_words.alias(alias)
    return (
        select(other.c.word)
        .where(other.c.member_id == word.c.member_id, other.c.word >= lower, other.c.word < upper)
        .limit(1)
        .scalar_subquery()
    )


def _by_phone(
    conn: Connection, suffix: str, limit: int, after: list[Any] | None
) -> list[tuple[str, str]]:
    """(member_id, phone_rkey) of members whose phone key ends with ``suffix``: a prefix
    range of the reversed key, keyset by (phone_rkey, member_id)."""
    conditions = _keyset(members.c.phone_rkey, members.c.member_id, suffix[::-1], after)
    rows = conn.execute(
        select(members.c.member_id, members.c.phone_rkey)
        .where(*conditions)
        .order_by(members.c.phone_rkey, members.c.member_id)
        .limit(limit + 1)
    )
    return [(row.member_id, row.phone_rkey) for row in rows]


def _emails(text: str) -> list[str]:
    """An email as typed, with its domain in lower case (how enrolment stores it), and all in
    lower case (how older records and imports may have it)."""
    local, _, domain = text.rpartition("@")
    return sorted({text, f"{local}@{domain.lower()}", text.lower()})


def _member_ids(conn: Connection, search: Search, limit: int, after_id: str | None) -> list[str]:
    where: list[ColumnElement[bool]] = []
    if search.kind == "card":
        owner = _card_owner_id(conn, search.value)
        if owner is None:
            return []
        return [owner] if after_id is None or owner > after_id else []
    if search.kind == "email":
        where.append(members.c.email.in_(_emails(search.value)))
    elif search.kind == "id":
        where.append(members.c.member_id == search.value)
    if after_id is not None:
        where.append(members.c.member_id > after_id)
    rows = conn.execute(
        select(members.c.member_id).where(*where).order_by(members.c.member_id).limit(limit + 1)
    )
    return [row.member_id for row in rows]


def _member_cards(conn: Connection, member_ids: Sequence[str]) -> dict[str, list[CardState]]:
    found: dict[str, list[CardState]] = {}
    if not member_ids:
        return found
    rows = conn.execute(
        select(cards.c.card_number, cards.c.member_id, cards.c.status, cards.c.blocked_reason)
        .where(cards.c.member_id.in_(list(member_ids)))
        .order_by(cards.c.created_at, cards.c.card_number)
    )
    for row in rows:
        found.setdefault(row.member_id, []).append(
            CardState(
                card_number=row.card_number,
                status="blocked" if row.status == "blocked" else "active",
                blocked_reason=row.blocked_reason,
            )
        )
    return found


def member_summaries(conn: Connection, member_ids: Sequence[str]) -> list[MemberSummary]:
    """The members, in the order given (those that exist)."""
    if not member_ids:
        return []
    rows = conn.execute(
        select(
            members.c.member_id,
            members.c.name,
            members.c.phone,
            members.c.email,
            members.c.tier,
            member_balances.c.points,
        )
        .join(member_balances, member_balances.c.member_id == members.c.member_id)
        .where(members.c.member_id.in_(list(member_ids)))
    )
    by_id = {row.member_id: row for row in rows}
    member_cards = _member_cards(conn, list(by_id))
    return [
        MemberSummary(
            member_id=row.member_id,
            name=row.name,
            phone=row.phone,
            email=row.email,
            tier=row.tier,
            balance=int(row.points),
            cards=member_cards.get(row.member_id, []),
        )
        for member_id in member_ids
        if (row := by_id.get(member_id)) is not None
    ]


def card_owner(conn: Connection, card_number: str) -> MemberSummary | None:
    """The member who has ``card_number`` (active or blocked)."""
    owner = conn.execute(
        select(cards.c.member_id).where(cards.c.card_number == card_number)
    ).scalar_one_or_none()
    found = member_summaries(conn, [owner]) if owner is not None else []
    return found[0] if found else None


# ------------------------------------------------------------------------------------------
# One member
# ------------------------------------------------------------------------------------------


def member_detail(conn: Connection, member_id: str) -> MemberDetail | None:
    row = conn.execute(
        select(members, member_balances.c.points, terminals.c.store_id)
        .join(member_balances, member_balances.c.member_id == members.c.member_id)
        .outerjoin(terminals, terminals.c.terminal_id == members.c.origin_terminal)
        .where(members.c.member_id == member_id)
    ).first()
    if row is None:
        return None
    return MemberDetail(
        member_id=row.member_id,
        name=row.name,
        phone=row.phone,
        email=row.email,
        tier=row.tier,
        balance=int(row.points),
        cards=_member_cards(conn, [member_id]).get(member_id, []),
        local_member_id=row.local_member_id,
        marketing_consent=bool(row.marketing_consent),
        consent_text_version=row.consent_text_version,
        created_at=as_utc(row.created_at),
        origin_terminal=row.origin_terminal,
        origin_store=row.store_id,
        origin_seq=None if row.origin_seq is None else int(row.origin_seq),
        last_active_at=row.last_active_at,
    )


def member_balance(conn: Connection, member_id: str) -> Balance | None:
    points = conn.execute(
        select(member_balances.c.points).where(member_balances.c.member_id == member_id)
    ).scalar_one_or_none()
    return None if points is None else Balance(member_id=member_id, points=int(points))


def record_fields(record_text: str) -> tuple[str | None, str | None]:
    """(receipt number, cashier id) from a stored journal record."""
    try:
        record = json.loads(record_text)
    except ValueError:
        return None, None
    payload = record.get("payload") if isinstance(record, dict) else None
    receipt = payload.get("receipt_no") if isinstance(payload, dict) else None
    cashier = record.get("cashier_id") if isinstance(record, dict) else None
    return (
        receipt if isinstance(receipt, str) else None,
        cashier if isinstance(cashier, str) else None,
    )


def _event_reason(record_text: str) -> str | None:
    try:
        record = json.loads(record_text)
    except ValueError:
        return None
    reason = record.get("reason") if isinstance(record, dict) else None
    return reason if isinstance(reason, str) else None


def member_ledger(
    conn: Connection, member_id: str, limit: int, cursor: str | None
) -> tuple[list[LedgerPosting], str | None]:
    """The member's postings in time order, newest first, each with the balance after it and
    the till entry or HQ event behind it.

    Time order is when it happened (``occurred_at``, the till's clock for till entries), ties
    broken by arrival (posting id), so an offline sale that reached HQ late still sits where
    it happened. The running balance is a window sum over the member's postings of that
    unit in this order, computed in the same statement as the page: every page is right
    whichever page it is, and the newest row's balance is the member's current balance."""
    after = decode_cursor(cursor, 2)
    running = (
        func.sum(postings.c.amount)
        .over(
            partition_by=postings.c.unit,
            order_by=(postings.c.occurred_at, postings.c.id),
            rows=(None, 0),
        )
        .label("balance_after")
    )
    history = (
        select(
            postings.c.id,
            postings.c.occurred_at,
            postings.c.kind,
            postings.c.amount,
            postings.c.unit,
            postings.c.terminal_id,
            postings.c.seq,
            postings.c.hq_event_id,
            running,
        )
        .where(postings.c.member_id == member_id)
        .subquery()
    )
    query = select(history)
    if after is not None:
        at, before_id = str(after[0]), int(after[1])
        query = query.where(
            or_(
                history.c.occurred_at < at,
                and_(history.c.occurred_at == at, history.c.id < before_id),
            )
        )
    rows = conn.execute(
        query.order_by(history.c.occurred_at.desc(), history.c.id.desc()).limit(limit + 1)
    ).all()
    page, next_cursor = page_of(rows, limit, lambda row: (row.occurred_at, int(row.id)))
    tills = _till_sources(
        conn, {(row.terminal_id, int(row.seq)) for row in page if row.terminal_id is not None}
    )
    events = _hq_sources(
        conn, {int(row.hq_event_id) for row in page if row.hq_event_id is not None}
    )
    notes = _reward_notes(
        conn,
        {
            (row.terminal_id, int(row.seq))
            for row in page
            if row.kind == "reward" and row.terminal_id is not None
        },
    )
    lines = [
        LedgerPosting(
            id=int(row.id),
            occurred_at=row.occurred_at,
            kind=row.kind,
            points=int(row.amount),
            unit=row.unit,
            balance_after=int(row.balance_after),
            till=tills.get((row.terminal_id, int(row.seq)))
            if row.terminal_id is not None
            else None,
            hq=events.get(int(row.hq_event_id)) if row.hq_event_id is not None else None,
            note=_reward_note(notes, row) if row.kind == "reward" else None,
        )
        for row in page
    ]
    return lines, next_cursor


def _reward_note(notes: dict[tuple[str, int], list[tuple[str, int]]], row: Any) -> str:
    """ "Reward <name> bought" for a reward posting: the sale's reward of those points (one
    posting per reward; rewards of the same price read "Coffee treat or Cake")."""
    bought = notes.get((row.terminal_id, int(row.seq)), [])
    names = sorted({name for name, points in bought if points == -int(row.amount)})
    return f"Reward {' or '.join(names)} bought" if names else "Reward bought"


def _reward_notes(
    conn: Connection, keys: set[tuple[str, int]]
) -> dict[tuple[str, int], list[tuple[str, int]]]:
    """(name, points) of the rewards each sale bought, named as the rules version the
    purchase names has them (the reward's id when HQ lacks it)."""
    if not keys:
        return {}
    rows = conn.execute(
        select(
            journal_entries.c.terminal_id, journal_entries.c.seq, journal_entries.c.record
        ).where(_entry_keys(keys))
    )
    bought: dict[tuple[str, int], list[tuple[str, int, int]]] = {}
    for row in rows:
        payload = json.loads(row.record).get("payload", {})
        bought[(row.terminal_id, int(row.seq))] = [
            (str(r["reward_id"]), int(r["points"]), int(r["rules_version"]))
            for r in payload.get("rewards", [])
        ]
    versions = sorted({version for items in bought.values() for _, _, version in items})
    names: dict[tuple[int, str], str] = {}
    for version, document in conn.execute(
        select(rules_versions.c.version, rules_versions.c.document).where(
            rules_versions.c.version.in_(versions)
        )
    ):
        for reward in parse_rules(document).rewards:
            names[(int(version), reward.id)] = reward.name
    return {
        key: [
            (names.get((version, reward_id), reward_id), points)
            for reward_id, points, version in items
        ]
        for key, items in bought.items()
    }


def _till_sources(
    conn: Connection, keys: set[tuple[str, int]]
) -> dict[tuple[str, int], TillSource]:
    if not keys:
        return {}
    rows = conn.execute(
        select(
            journal_entries.c.terminal_id,
            journal_entries.c.seq,
            journal_entries.c.kind,
            journal_entries.c.record,
            terminals.c.store_id,
        )
        .join(terminals, terminals.c.terminal_id == journal_entries.c.terminal_id)
        .where(_entry_keys(keys))
    )
    found = {}
    for row in rows:
        receipt_no, cashier_id = record_fields(row.record)
        found[(row.terminal_id, int(row.seq))] = TillSource(
            terminal_id=row.terminal_id,
            store_id=row.store_id,
            seq=int(row.seq),
            entry_kind=row.kind,
            receipt_no=receipt_no,
            cashier_id=cashier_id,
        )
    # A posting always has its entry; should one be missing, still say where it came from.
    for terminal_id, seq in keys - set(found):
        found[(terminal_id, seq)] = TillSource(terminal_id=terminal_id, seq=seq)
    return found


def _entry_keys(keys: set[tuple[str, int]]) -> ColumnElement[bool]:
    """(terminal_id, seq) IN keys, spelt so both databases search the primary key for each
    till (SQLite answers a row-value IN by scanning the till's whole journal)."""
    by_terminal: dict[str, list[int]] = {}
    for terminal_id, seq in sorted(keys):
        by_terminal.setdefault(terminal_id, []).append(seq)
    return or_(
        *(
            and_(journal_entries.c.terminal_id == terminal_id, journal_entries.c.seq.in_(seqs))
            for terminal_id, seqs in by_terminal.items()
        )
    )


def _hq_sources(conn: Connection, event_ids: set[int]) -> dict[int, HqSource]:
    if not event_ids:
        return {}
    rows = conn.execute(
        select(hq_events.c.id, hq_events.c.kind, hq_events.c.actor, hq_events.c.record).where(
            hq_events.c.id.in_(sorted(event_ids))
        )
    )
    found = {
        int(row.id): HqSource(
            hq_event_id=int(row.id),
            event_kind=row.kind,
            actor=row.actor,
            reason=_event_reason(row.record),
        )
        for row in rows
    }
    for event_id in event_ids - set(found):
        found[event_id] = HqSource(hq_event_id=event_id)
    return found


MEMBER_EXCEPTIONS_SHOWN = 50


def member_exceptions(
    conn: Connection, member_id: str, limit: int = MEMBER_EXCEPTIONS_SHOWN
) -> list[MemberException]:
    """The member's exceptions, open ones first, newest first within each."""
    rows = conn.execute(
        select(
            exceptions.c.id,
            exceptions.c.kind,
            exceptions.c.status,
            exceptions.c.amount,
            exceptions.c.detail,
            exceptions.c.terminal_id,
            exceptions.c.seq,
            exceptions.c.created_at,
            exceptions.c.resolved_by,
        )
        .where(exceptions.c.member_id == member_id)
        .order_by(
            case((exceptions.c.status == "open", 0), else_=1),
            exceptions.c.created_at.desc(),
            exceptions.c.id.desc(),
        )
        .limit(limit)
    )
    return [
        MemberException(
            id=int(row.id),
            kind=row.kind,
            status=row.status,
            amount=int(row.amount),
            detail=row.detail,
            terminal_id=row.terminal_id,
            seq=None if row.seq is None else int(row.seq),
            created_at=as_utc(row.created_at),
            resolved_by=row.resolved_by,
        )
        for row in rows
    ]
