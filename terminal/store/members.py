"""The member cache: lookup by card, phone, email or name, and the balance the till shows.

balance = the server's balance + the points effects of this till's own entries that the
server had not applied when it sent that balance (docs/design.md, sync contract): each member row
keeps the ``applied_through_seq`` its balance came with (0 until the first pull).

Search keys, kept in step by every writer of a member row (:func:`upsert_member`,
:func:`write_member_keys`): ``member_words`` holds each folded word of the name
(``shared.text.search_words``), ``members.phone_rkey`` the phone's key reversed
(``shared.phones``), so a word prefix and the end of a number are both index ranges.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from shared.phones import looks_like_phone, phone_key, phone_suffix, reversed_key
from shared.points.tiers import Contribution
from shared.protocol import MemberState
from shared.text import fold, search_words

__all__ = [
    "CardRecord",
    "MemberRecord",
    "MemberStanding",
    "card_by_number",
    "claim_tier",
    "index_names",
    "lapsed_points",
    "lots_left",
    "member_balance",
    "member_by_key",
    "member_standing",
    "phone_keys",
    "redeemed_on",
    "search_keys",
    "search_members",
    "search_sql",
    "unsent_debits",
    "unsent_qualifying",
    "write_member_keys",
    "write_members_keys",
    "write_pulled_members",
]

WORD_END = "\U0010ffff"
"""The highest code point: ``p <= word < p + WORD_END`` is every word starting with ``p``
(SQLite compares text bytewise, and UTF-8 byte order is code point order)."""


@dataclass(frozen=True, slots=True)
class MemberRecord:
    member_key: str
    member_id: str | None
    local_member_id: str | None
    name: str
    phone: str | None
    email: str | None
    tier: str | None
    """HQ's tier for the member (as of the last pull)."""
    server_balance: int
    marketing_consent: bool
    tier_claimed: str | None = None
    """A tier this till moved the member up to with a sale HQ has not applied yet."""

    @property
    def current_tier(self) -> str | None:
        """The tier the till sells with: its own upgrade until HQ answers, else HQ's."""
        return self.tier_claimed or self.tier


@dataclass(frozen=True, slots=True)
class CardRecord:
    card_number: str
    member_key: str
    status: str
    blocked_reason: str | None

    @property
    def blocked(self) -> bool:
        return self.status == "blocked"


_MEMBER_COLUMNS = (
    "member_key, member_id, local_member_id, name, phone, email, tier, server_balance, "
    "marketing_consent, tier_claimed"
)


def _member(row: tuple[object, ...]) -> MemberRecord:
    return MemberRecord(
        member_key=str(row[0]),
        member_id=row[1] if isinstance(row[1], str) else None,
        local_member_id=row[2] if isinstance(row[2], str) else None,
        name=str(row[3]),
        phone=row[4] if isinstance(row[4], str) else None,
        email=row[5] if isinstance(row[5], str) else None,
        tier=row[6] if isinstance(row[6], str) else None,
        server_balance=int(row[7]),  # type: ignore[call-overload]
        marketing_consent=bool(row[8]),
        tier_claimed=row[9] if isinstance(row[9], str) else None,
    )


def card_by_number(db: sqlite_utils.Database, card_number: str) -> CardRecord | None:
    row = db.execute(
        "SELECT card_number, member_key, status, blocked_reason FROM cards WHERE card_number = ?",
        [card_number],
    ).fetchone()
    return CardRecord(row[0], row[1], row[2], row[3]) if row else None


def member_by_key(db: sqlite_utils.Database, member_key: str) -> MemberRecord | None:
    row = db.execute(
        f"SELECT {_MEMBER_COLUMNS} FROM members WHERE member_key = ?",  # noqa: S608 (constant)
        [member_key],
    ).fetchone()
    return _member(row) if row else None


def active_card_of(db: sqlite_utils.Database, member_key: str) -> str | None:
    row = db.execute(
        "SELECT card_number FROM cards WHERE member_key = ? AND status = 'active' "
        "ORDER BY rowid DESC LIMIT 1",
        [member_key],
    ).fetchone()
    return str(row[0]) if row else None


def phone_keys(phone: str | None, region: str | None) -> tuple[str | None, str | None]:
    """(``phone_digits``, ``phone_rkey``) of a member row: the phone's key (E.164 digits, or
    digits only without a country) and that key reversed, which search ranges over."""
    key = phone_key(phone, region)
    return key, reversed_key(key)


def write_member_keys(
    db: sqlite_utils.Database, member_key: str, name: str, phone: str | None, region: str | None
) -> None:
    """Bring a member's search keys in step with the name and phone just written."""
    write_members_keys(db, [(member_key, name, phone)], region)


def write_members_keys(
    db: sqlite_utils.Database,
    written: Iterable[tuple[str, str, str | None]],
    region: str | None,
) -> None:
    """The same for many (member_key, name, phone) at once: a pull's page in three
    statements, not three per member."""
    rows = [(key, *search_keys(name, phone, region)) for key, name, phone in written]
    db.conn.executemany(
        "UPDATE members SET name_fold = ?, phone_digits = ?, phone_rkey = ? WHERE member_key = ?",
        [(folded, digits, rkey, key) for key, folded, digits, rkey in rows],
    )
    # The folded name has the same words (folding twice changes nothing) and folds faster.
    index_names(db, [(key, folded) for key, folded, _, _ in rows], replace=True)


def search_keys(
    name: str, phone: str | None, region: str | None
) -> tuple[str, str | None, str | None]:
    """(``name_fold``, ``phone_digits``, ``phone_rkey``) of a member row: what
    :func:`write_members_keys` writes, for a writer that puts them in its own statement (then
    :func:`index_names` indexes the folded name)."""
    return (fold(name), *phone_keys(phone, region))


def index_names(
    db: sqlite_utils.Database, members: Iterable[tuple[str, str]], *, replace: bool = False
) -> None:
    """The words of each (member_key, name) into ``member_words``; ``replace`` drops the
    member's old words first (a renamed member is not found by the old name)."""
    pairs = list(members)
    if replace:
        db.conn.executemany(
            "DELETE FROM member_words WHERE member_key = ?", [(key,) for key, _ in pairs]
        )
    db.conn.executemany(
        "INSERT OR IGNORE INTO member_words (word, member_key) VALUES (?, ?)",
        [(word, key) for key, name in pairs for word in search_words(name)],
    )


def _fold(row: tuple[object, ...]) -> str:
    return fold(str(row[3]))


def _phone_sql(suffix: str, limit: int) -> tuple[str, list[object]]:
    start = suffix[::-1]
    return (
        # Only constant SQL fragments are interpolated; values are bound parameters.
        f"SELECT {_MEMBER_COLUMNS} FROM members "  # noqa: S608
        "WHERE phone_rkey >= ? AND phone_rkey < ? ORDER BY phone_rkey LIMIT ?",
        [start, start + WORD_END, limit],
    )


def _words_sql(words: list[str], limit: int) -> tuple[str, list[object]]:
    """Members each of whose query words starts some word of their name.

    The longest query word drives: a range of the ``member_words`` primary key in (word,
    member_key) order, each member once (at its first matching word: the NOT EXISTS), the
    other words checked per member through ``member_words_member``. So the exact word comes
    first ("nowak" before "nowakowski"), then longer words in order. The last column is the
    word that matched."""
    driver = max(words, key=len)
    args: list[object] = [driver, driver + WORD_END]
    also = ""
    for word in (word for word in words if word != driver):
        also += (
            " AND EXISTS (SELECT 1 FROM member_words o WHERE o.member_key = w.member_key "
            "AND o.word >= ? AND o.word < ?)"
        )
        args += [word, word + WORD_END]
    columns = ", ".join(f"m.{column.strip()}" for column in _MEMBER_COLUMNS.split(","))
    return (
        # Only constant SQL fragments are interpolated; values are bound parameters.
        f"SELECT {columns}, w.word FROM member_words w "  # noqa: S608
        "JOIN members m ON m.member_key = w.member_key "
        "WHERE w.word >= ?1 AND w.word < ?2 "
        "AND NOT EXISTS (SELECT 1 FROM member_words d WHERE d.member_key = w.member_key "
        f"AND d.word >= ?1 AND d.word < w.word){also} "
        "ORDER BY w.word, w.member_key LIMIT ?",
        [*args, limit],
    )


def search_sql(
    query: str, limit: int = 20, region: str | None = None
) -> tuple[str, list[object]] | None:
    """The one statement :func:`search_members` runs for ``query`` (None: it finds nobody
    without asking): an email (exact), a phone number (by its end: "4567", "0170 1234567",
    "+49 170 1234567" with ``region`` DE; fewer than 4 digits find nobody) or words of a name
    (each word typed starts a word of the name, any case and accents: "lucja", "NOW" and
    "łucja now" all find "Łucja Nowak")."""
    query = query.strip()
    if not query:
        return None
    if "@" in query:
        return (
            f"SELECT {_MEMBER_COLUMNS} FROM members WHERE email = ? "  # noqa: S608 (constant)
            "ORDER BY name_fold LIMIT ?",
            [query.lower(), limit],
        )
    if looks_like_phone(query):
        suffix = phone_suffix(query, region)
        return _phone_sql(suffix, limit) if suffix else None
    words = search_words(query)
    return _words_sql(words, limit) if words else None


def search_members(
    db: sqlite_utils.Database, query: str, limit: int = 20, region: str | None = None
) -> list[MemberRecord]:
    """Members matching ``query`` (see :func:`search_sql`), name matches with the exact word
    first, then by name.

    Every statement is an index range with a LIMIT, so search stays instant with a million
    cached members."""
    statement = search_sql(query, limit, region)
    if statement is None:
        return []
    rows: list[tuple[object, ...]] = db.execute(*statement).fetchall()
    if statement[0].startswith("SELECT m."):
        # Among members matched by the same word, by name (the page is all the till shows).
        rows = [row[:-1] for row in sorted(rows, key=lambda row: (str(row[-1]), _fold(row)))]
    else:
        rows.sort(key=_fold)
    return [_member(row) for row in rows]


def member_balance(
    db: sqlite_utils.Database, member: MemberRecord, *, today: date | None = None
) -> int:
    """The server's balance plus this till's effects the server had not yet applied.

    With ``today``: less the points whose last usable day has passed but which HQ's expiry
    run had not taken when the till last pulled (:func:`lapsed_points`), so an offline till
    neither shows nor redeems points that are gone."""
    row = db.execute(
        "SELECT COALESCE(SUM(e.delta), 0) FROM points_effects e "
        "JOIN members m ON m.member_key = e.member_key "
        "WHERE e.member_key = ? AND e.seq > m.applied_through_seq",
        [member.member_key],
    ).fetchone()
    balance = member.server_balance + int(row[0])
    if today is None:
        return balance
    return balance - lapsed_points(db, member.member_key, today)


def redeemed_on(db: sqlite_utils.Database, member_key: str, local_date: str) -> int:
    """Points this till let the member redeem on ``local_date`` (the offline cap)."""
    row = db.execute(
        "SELECT COALESCE(SUM(redeemed), 0) FROM points_effects "
        "WHERE member_key = ? AND local_date = ?",
        [member_key, local_date],
    ).fetchone()
    return int(row[0])


def upsert_member(
    db: sqlite_utils.Database,
    *,
    member_key: str,
    name: str,
    phone: str | None,
    email: str | None,
    tier: str | None = None,
    server_balance: int = 0,
    marketing_consent: bool = False,
    member_id: str | None = None,
    local_member_id: str | None = None,
    region: str | None = None,
) -> None:
    """Insert or update a member and their search keys (``region``: the till's country)."""
    db.execute(
        "INSERT INTO members (member_key, member_id, local_member_id, name, name_fold, phone, "
        "email, tier, server_balance, marketing_consent) "
        "VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?) "
        "ON CONFLICT(member_key) DO UPDATE SET member_id=excluded.member_id, "
        "name=excluded.name, phone=excluded.phone, email=excluded.email, tier=excluded.tier, "
        "server_balance=excluded.server_balance, marketing_consent=excluded.marketing_consent",
        [
            member_key,
            member_id,
            local_member_id,
            name,
            phone,
            email.lower() if email else None,
            tier,
            server_balance,
            int(marketing_consent),
        ],
    )
    write_member_keys(db, member_key, name, phone, region)


def assign_card(db: sqlite_utils.Database, card_number: str, member_key: str) -> None:
    db.execute(
        "INSERT INTO cards (card_number, member_key, status) VALUES (?, ?, 'active')",
        [card_number, member_key],
    )


def block_card(db: sqlite_utils.Database, card_number: str, reason: str) -> None:
    db.execute(
        "UPDATE cards SET status = 'blocked', blocked_reason = ? WHERE card_number = ?",
        [reason, card_number],
    )


# --- tiers and expiry (docs/rules.md, "Tiers" and "Points expiry") ------------------------


@dataclass(frozen=True, slots=True)
class MemberStanding:
    """The member's tier and expiry figures as HQ last sent them (``MemberState``), with the
    till's own claim. Dates are ISO strings as stored; None where HQ said nothing."""

    tier: str | None
    tier_since: str | None
    tier_review_on: str | None
    tier_grace: bool
    qualifying_as_of: str | None
    """None: HQ never sent qualifying figures for this member (the figures below are 0)."""
    qualifying: Contribution
    expiring: tuple[tuple[date, int], ...]
    """(last usable day, points), soonest first."""
    tier_claimed: str | None
    tier_claimed_seq: int | None
    applied_through_seq: int


def member_standing(db: sqlite_utils.Database, member_key: str) -> MemberStanding | None:
    row = db.execute(
        "SELECT tier, tier_since, tier_review_on, tier_grace, qualifying_as_of, "
        "qualifying_points, qualifying_spend_minor, qualifying_visits, expiring, "
        "tier_claimed, tier_claimed_seq, applied_through_seq FROM members WHERE member_key = ?",
        [member_key],
    ).fetchone()
    if row is None:
        return None
    return MemberStanding(
        tier=row[0],
        tier_since=row[1],
        tier_review_on=row[2],
        tier_grace=bool(row[3]),
        qualifying_as_of=row[4],
        qualifying=Contribution(points=int(row[5]), spend_minor=int(row[6]), visits=int(row[7])),
        expiring=_expiring_from_json(row[8]),
        tier_claimed=row[9],
        tier_claimed_seq=None if row[10] is None else int(row[10]),
        applied_through_seq=int(row[11]),
    )


def _expiring_from_json(text: str | None) -> tuple[tuple[date, int], ...]:
    try:
        items = json.loads(text or "[]")
        return tuple((date.fromisoformat(str(day)), int(points)) for day, points in items)
    except (ValueError, TypeError):
        return ()  # a damaged cache shows no expiry rather than stopping the till


_PULLED = (
    "INSERT INTO members (member_key, member_id, local_member_id, name, name_fold, phone, "
    "phone_digits, phone_rkey, email, tier, server_balance, marketing_consent, "
    "applied_through_seq, store_credit_minor, tier_since, tier_review_on, tier_grace, "
    "qualifying_as_of, qualifying_window_start, qualifying_points, qualifying_spend_minor, "
    "qualifying_visits, expiring) "
    "VALUES (:key, :member_id, :local_id, :name, :folded, :phone, :digits, :rkey, :email, "
    ":tier, :balance, :consent, :applied, :credit, :since, :review, :grace, :as_of, :start, "
    ":points, :spend, :visits, :expiring) "
    "ON CONFLICT(member_key) DO UPDATE SET "
    "member_id=excluded.member_id, name=excluded.name, name_fold=excluded.name_fold, "
    "phone=excluded.phone, phone_digits=excluded.phone_digits, "
    "phone_rkey=excluded.phone_rkey, email=excluded.email, tier=excluded.tier, "
    "server_balance=excluded.server_balance, marketing_consent=excluded.marketing_consent, "
    "applied_through_seq=excluded.applied_through_seq, "
    "store_credit_minor=excluded.store_credit_minor, tier_since=excluded.tier_since, "
    "tier_review_on=excluded.tier_review_on, tier_grace=excluded.tier_grace, "
    "qualifying_as_of=excluded.qualifying_as_of, "
    "qualifying_window_start=excluded.qualifying_window_start, "
    "qualifying_points=excluded.qualifying_points, "
    "qualifying_spend_minor=excluded.qualifying_spend_minor, "
    "qualifying_visits=excluded.qualifying_visits, expiring=excluded.expiring, "
    # HQ applied the claiming sale (or already says the claimed tier): HQ's tier speaks.
    # (Every right-hand side reads the row as it was: ``tier`` here is HQ's new one.)
    "tier_claimed = CASE WHEN tier_claimed_seq <= :applied OR tier_claimed = excluded.tier "
    "THEN NULL ELSE tier_claimed END, "
    "tier_claimed_seq = CASE WHEN tier_claimed_seq <= :applied "
    "OR tier_claimed = excluded.tier THEN NULL ELSE tier_claimed_seq END"
)


def write_pulled_members(
    db: sqlite_utils.Database,
    pulled: Sequence[tuple[str, MemberState]],
    applied_through: int,
    region: str | None,
    *,
    known: Collection[str],
) -> None:
    """Store members a pull brought, each under its (member_key, HQ's state): profile,
    balance with the ``applied_through`` seq it includes, HQ's tier and expiry figures and
    the search keys (phone keys in the till's country ``region``), one executemany for the
    page. A tier this till claimed with a sale HQ has now applied (``tier_claimed_seq <=
    applied_through``), or that HQ already gives, is cleared: HQ's tier speaks from now on
    (it agreed, or raised ``tier_mismatch``). ``known``: the keys that already had a row
    (only their old name words are dropped)."""
    rows = []
    words = []
    for key, member in pulled:
        folded, digits, rkey = search_keys(member.name, member.phone, region)
        q = member.qualifying
        rows.append(
            {
                "key": key,
                "member_id": member.member_id,
                "local_id": member.local_member_id,
                "name": member.name,
                "folded": folded,
                "phone": member.phone,
                "digits": digits,
                "rkey": rkey,
                "email": member.email.lower() if member.email else None,
                "tier": member.tier,
                "balance": member.balance,
                "consent": int(member.marketing_consent),
                "applied": applied_through,
                "credit": member.store_credit_minor,
                "since": member.tier_since,
                "review": member.tier_review_on,
                "grace": int(member.tier_grace),
                "as_of": q.as_of if q else None,
                "start": q.window_start if q else None,
                "points": q.points if q else 0,
                "spend": q.spend_minor if q else 0,
                "visits": q.visits if q else 0,
                "expiring": json.dumps([[e.expires_on, e.points] for e in member.expiring])
                if member.expiring
                else "[]",
            }
        )
        words.append((key, folded))
    db.conn.executemany(_PULLED, rows)
    # The folded name has the same words (folding twice changes nothing) and folds faster.
    index_names(db, [pair for pair in words if pair[0] in known], replace=True)
    index_names(db, [pair for pair in words if pair[0] not in known])


def claim_tier(db: sqlite_utils.Database, member_key: str, tier: str, seq: int) -> None:
    """This till's sale ``seq`` moved the member up to ``tier`` (until a pull answers)."""
    db.execute(
        "UPDATE members SET tier_claimed = ?, tier_claimed_seq = ? WHERE member_key = ?",
        [tier, seq, member_key],
    )


_UNSENT_SALES = """
SELECT j.kind,
       COALESCE(json_extract(j.record, '$.payload.earned.total_points'), 0),
       COALESCE(json_extract(j.record, '$.payload.total_minor'), 0),
       COALESCE(json_extract(j.record, '$.payload.points_reversed'), 0),
       COALESCE(json_extract(j.record, '$.payload.refund_minor'), 0)
FROM journal j
JOIN cards c ON c.card_number = json_extract(j.record, '$.payload.member.card_number')
WHERE j.kind IN ('sale', 'return') AND c.member_key = ?2 AND {scope}
"""

_UNSENT_VOIDS = """
SELECT COALESCE(json_extract(s.record, '$.payload.earned.total_points'), 0),
       COALESCE(json_extract(s.record, '$.payload.total_minor'), 0)
FROM journal v
JOIN journal s ON s.seq = json_extract(v.record, '$.payload.original.seq') AND s.kind = 'sale'
JOIN cards c ON c.card_number = json_extract(s.record, '$.payload.member.card_number')
WHERE v.kind = 'void' AND c.member_key = ?2 AND {scope}
"""

_EVERY_ENTRY = "{j}.seq > ?1"
_ENTRIES_WITH_POINTS = (
    "{j}.seq IN (SELECT seq FROM points_effects WHERE member_key = ?2 AND seq > ?1)"
)
"""Only entries that moved the member's points, found through ``points_effects_member``:
enough when the program qualifies by points (an entry that moved none adds none), and an
index range instead of a read of the journal since the member's last pull."""


def unsent_qualifying(
    db: sqlite_utils.Database, member_key: str, applied_through: int, *, points_only: bool = False
) -> Contribution:
    """What this till's entries HQ had not applied (seq > ``applied_through``) add to the
    member's qualifying figures: a sale its earned points, its total and one visit; a return
    takes off the points it reversed and its refund; a void takes off the whole sale.

    ``points_only``: only the points figure is wanted (its spend and visits may then miss
    sales that moved no points)."""
    scope = _ENTRIES_WITH_POINTS if points_only else _EVERY_ENTRY
    args = [applied_through, member_key]
    points = spend = visits = 0
    sales = _UNSENT_SALES.format(scope=scope.format(j="j"))
    for kind, earned, total, reversed_, refund in db.execute(sales, args).fetchall():
        if kind == "sale":
            points, spend, visits = points + int(earned), spend + int(total), visits + 1
        else:
            points, spend = points - int(reversed_), spend - int(refund)
    voids = _UNSENT_VOIDS.format(scope=scope.format(j="v"))
    for earned, total in db.execute(voids, args).fetchall():
        points, spend, visits = points - int(earned), spend - int(total), visits - 1
    return Contribution(points=points, spend_minor=spend, visits=visits)


Debit = tuple[date, int]
"""(The till's local day of the entry, points it took from the member's lots)."""


def lapsed_points(db: sqlite_utils.Database, member_key: str, today: date) -> int:
    """Points of HQ's last-pulled expiring lots whose last usable day is before ``today``,
    less what this till's unsent entries dated on or before that day took from them."""
    standing = member_standing(db, member_key)
    if standing is None or not any(day < today for day, _ in standing.expiring):
        return 0
    debits = unsent_debits(db, member_key, standing.applied_through_seq)
    return sum(points for day, points in lots_left(standing.expiring, debits) if day < today)


def lots_left(expiring: Iterable[tuple[date, int]], debits: Iterable[Debit]) -> list[Debit]:
    """HQ's expiring lots (last usable day, points) after this till's unsent debits, taken as
    HQ's FIFO book takes them: each from the soonest lots still alive on its day (a lot whose
    last day had passed pays nothing), in the order they were made."""
    lots = sorted((day, points) for day, points in expiring if points > 0)
    amounts = [points for _, points in lots]
    for debit_day, points in debits:
        left = points
        for i, (day, _) in enumerate(lots):
            if left <= 0:
                break
            if day < debit_day:
                continue
            taken = min(amounts[i], left)
            amounts[i] -= taken
            left -= taken
    return [(day, amount) for (day, _), amount in zip(lots, amounts, strict=True) if amount > 0]


def unsent_debits(db: sqlite_utils.Database, member_key: str, applied_through: int) -> list[Debit]:
    """Points this till's unsent entries took from the member's lots, entry by entry in seq
    order: redemptions and the points returns took back (a sale's earn opens a new lot, which
    expires last)."""
    rows = db.execute(
        "SELECT local_date, redeemed + MAX(0, -(delta + redeemed)) FROM points_effects "
        "WHERE member_key = ? AND seq > ? ORDER BY seq",
        [member_key, applied_through],
    ).fetchall()
    return [(date.fromisoformat(day), int(points)) for day, points in rows if int(points) > 0]
