"""Pull: everything that changed since the till's cursor, one consistent page at a time.

Members, rules versions, products, offers, cashiers, vouchers and gift cards each carry
``change_seq`` from the one change counter, whose order is the commit order
(syncserver.storage.counter): a page is simply the next ``limit`` changes after the cursor,
across all of them (cashiers of the till's own store only), and the cursor is the last one's
number. The page and ``applied_through_seq`` are read in one snapshot, so every balance on
the page includes exactly this till's entries up to that seq.

Each pull is also the till's report to HQ: when it last pulled and (optional ``tip``) the
last seq in its own journal, so the terminals page can estimate what is still unsent
(``tip_seq - acked_seq``). That is one small UPDATE right after the page is read.
"""

from __future__ import annotations

import heapq
import json
import logging
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Table, select

from shared.protocol import (
    LiveGiftCardResponse,
    LiveMemberResponse,
    LiveVoucherResponse,
    MemberState,
    OfferState,
    ProductState,
    PullResponse,
)
from syncserver.errors import NotFoundError, UnauthorizedError
from syncserver.ledger.accounts import giftcard_account
from syncserver.settings import as_utc
from syncserver.storage.cashiers import cashier_states
from syncserver.storage.database import Database, DatabaseBusyError, run_write
from syncserver.storage.members import (
    changed_member_dicts,
    count_members,
    member_dicts,
    member_ids_for_cards,
    member_states,
)
from syncserver.storage.rewards import reward_counts_of
from syncserver.storage.rules import latest_version, parse_rules
from syncserver.storage.schema import (
    cashiers,
    change_counter,
    members,
    offers,
    products,
    reward_counts,
    rules_versions,
    stored_values,
    terminals,
    vouchers,
)
from syncserver.storage.stored_values import stored_value_states
from syncserver.storage.terminals import TerminalRecord, record_pull
from syncserver.storage.vouchers import ISSUED, voucher_states

__all__ = [
    "MAX_PULL_LIMIT",
    "live_gift_card",
    "live_member",
    "live_voucher",
    "pull",
    "pull_json",
    "report_pull",
]

log = logging.getLogger(__name__)

MAX_PULL_LIMIT = 1000

_SOURCES: tuple[tuple[str, Table, str], ...] = (
    ("member", members, "member_id"),
    ("rules", rules_versions, "version"),
    ("product", products, "sku"),
    ("offer", offers, "offer_id"),
)


def _changes_after(
    conn: Connection, since: int, limit: int, store_id: str
) -> list[tuple[int, str, Any]]:
    """(change_seq, kind, key) of the first ``limit + 1`` changes after ``since``: everyone's
    members, rules, products, offers, vouchers and gift cards (not members' store credit,
    which travels with the member), and the cashiers of this till's store only. A first
    download (``since`` 0) leaves out vouchers that can no longer be used."""
    streams = []
    sources: list[tuple[str, Table, str, ColumnElement[bool] | None]] = [
        (kind, table, key, None) for kind, table, key in _SOURCES
    ]
    sources.append(("cashier", cashiers, "cashier_id", cashiers.c.store_id == store_id))
    sources.append(
        ("voucher", vouchers, "code", vouchers.c.status == ISSUED if since == 0 else None)
    )
    sources.append(("gift_card", stored_values, "account", stored_values.c.kind == "giftcard"))
    sources.append(("reward", reward_counts, "reward_id", None))
    for kind, table, key, only in sources:
        query = (
            select(table.c.change_seq, table.c[key])
            .where(table.c.change_seq > since)
            .order_by(table.c.change_seq)
            .limit(limit + 1)
        )
        rows = conn.execute(query if only is None else query.where(only)).all()
        streams.append([(int(row[0]), kind, row[1]) for row in rows])
    return list(heapq.merge(*streams))[: limit + 1]


def _rewards_issued(conn: Connection, reward_ids: list[str]) -> dict[str, int]:
    """The counts on the page of rewards with a stock limit in the newest rules version (a
    till needs no count for a reward it may sell without limit)."""
    if not reward_ids:
        return {}
    newest = latest_version(conn)
    if newest is None or newest.document is None:
        return {}
    limited = {r.id for r in parse_rules(newest.document).rewards if r.stock is not None}
    return reward_counts_of(conn, [r for r in reward_ids if r in limited])


def _page_members(
    conn: Connection, since: int, page: list[tuple[int, str, Any]], member_ids: list[str]
) -> list[dict[str, Any]]:
    """The page's members, in change order, as ``MemberState.model_dump()`` dicts. The page
    holds every change after ``since`` up to its last one, so its members are those whose
    position is in that range: one range of the ``change_seq`` index, not a thousand ids in
    every statement. (Should the range ever disagree with the page, its list of ids decides.)"""
    if not member_ids:
        return []
    states = changed_member_dicts(conn, since, page[-1][0])
    if [state["member_id"] for state in states] != member_ids:
        log.warning("page after %d: members by position differ from the page's", since)
        return member_dicts(conn, member_ids)
    return states


def _last_position(conn: Connection) -> int:
    """The last position the change counter handed out, as of this snapshot. Every cursor a
    pull hands out is a committed position, so a genuine cursor is never beyond it."""
    return int(
        conn.execute(select(change_counter.c.value).where(change_counter.c.id == 1)).scalar_one()
    )


def pull(database: Database, terminal_id: str, since: int, limit: int) -> PullResponse:
    """A page of changes after ``since`` for ``terminal_id``."""
    page, members = _read_page(database, terminal_id, since, limit)
    return page.model_copy(update={"members": [MemberState.model_validate(m) for m in members]})


_NO_MEMBERS = b',"members":[],'


def pull_json(database: Database, terminal_id: str, since: int, limit: int) -> bytes:
    """:func:`pull`'s page as the JSON ``PullResponse.model_dump_json()`` writes, byte for
    byte, without a model per member: the members go straight from their rows to orjson
    (tests/server/test_pull_json.py holds the two equal)."""
    page, members = _read_page(database, terminal_id, since, limit)
    head = page.model_dump_json().encode()
    # The members field follows cursor (digits), more and applied_through_seq: its first
    # occurrence is the field itself.
    at = head.index(_NO_MEMBERS)
    return b"".join(
        (head[:at], b',"members":', orjson.dumps(members), b",", head[at + len(_NO_MEMBERS) :])
    )


def _read_page(
    database: Database, terminal_id: str, since: int, limit: int
) -> tuple[PullResponse, list[dict[str, Any]]]:
    """The page without its members, and its members as ``MemberState`` dicts."""
    with database.read() as conn:
        applied = conn.execute(
            select(terminals.c.acked_seq, terminals.c.revoked_at, terminals.c.store_id).where(
                terminals.c.terminal_id == terminal_id
            )
        ).first()
        if applied is None or applied.revoked_at is not None:
            raise UnauthorizedError(f"terminal {terminal_id} is not registered (or was revoked)")
        # A cursor beyond every position HQ ever handed out comes from a history HQ no longer
        # has (HQ was restored from a backup): what the till holds may include changes that
        # are gone, and new ones will reuse those positions. Start it afresh.
        reset = since > _last_position(conn)
        if reset:
            log.warning("%s pulled from %d, beyond HQ's history: full download", terminal_id, since)
            since = 0
        changes = _changes_after(conn, since, limit, applied.store_id)
        page, more = changes[:limit], len(changes) > limit
        keys: dict[str, list[Any]] = {kind: [] for kind, _, _ in _SOURCES} | {
            "cashier": [],
            "voucher": [],
            "gift_card": [],
            "reward": [],
        }
        for _, kind, key in page:
            keys[kind].append(key)
        rules = [
            json.loads(document)
            for document in conn.execute(
                select(rules_versions.c.document)
                .where(rules_versions.c.version.in_(keys["rules"]))
                .order_by(rules_versions.c.change_seq)
            ).scalars()
        ]
        product_rows = conn.execute(
            select(products)
            .where(products.c.sku.in_(keys["product"]))
            .order_by(products.c.change_seq)
        ).mappings()
        offer_rows = conn.execute(
            select(offers).where(offers.c.offer_id.in_(keys["offer"])).order_by(offers.c.change_seq)
        ).mappings()
        page_members = _page_members(conn, since, page, keys["member"])
        return PullResponse(
            cursor=str(page[-1][0] if page else since),
            more=more,
            applied_through_seq=int(applied.acked_seq),
            rules=rules,
            products=[
                ProductState(
                    sku=row["sku"],
                    description=row["description"],
                    category=row["category"],
                    price_minor=int(row["price_minor"]),
                    tax_rate_bp=int(row["tax_rate_bp"]),
                    open_price=bool(row["open_price"]),
                )
                for row in product_rows
            ],
            offers=[
                OfferState(
                    offer_id=row["offer_id"],
                    title=row["title"],
                    description=row["description"],
                    tier=row["tier"],
                    valid_until=row["valid_until"],
                )
                for row in offer_rows
            ],
            cashiers=cashier_states(conn, keys["cashier"]),
            vouchers=voucher_states(conn, keys["voucher"]),
            gift_cards=stored_value_states(conn, keys["gift_card"]),
            rewards_issued=_rewards_issued(conn, keys["reward"]),
            reset=reset,
            total_members=count_members(conn) if since == 0 else None,
        ), page_members


REPORT_EVERY = timedelta(seconds=60)
"""A pull that reports nothing new is recorded at most this often: a till downloading a
million members in a thousand pages does not write a thousand times (the dashboard's
"offline" badge is about hours)."""


REPORT_LOCK_WAIT_MS = 100
"""How long a pull's report waits for another writer's lock (twice at most) before giving up."""


def report_pull(
    database: Database, terminal: TerminalRecord, tip_seq: int | None, now: datetime
) -> None:
    """Store when the till pulled and the journal tip it reported (``terminal`` is its row as
    read when the request was authenticated). Best effort: a database too busy to take this
    small write must not cost the till its page; the next pull reports again."""
    last = as_utc(terminal.last_pull_at)
    fresh = last is not None and now - last < REPORT_EVERY
    if fresh and (tip_seq is None or tip_seq == terminal.tip_seq):
        return
    try:
        run_write(
            database,
            lambda conn: record_pull(conn, terminal.terminal_id, now, tip_seq),
            # Best effort, and quick: the till is waiting for its page, and a push holding
            # the write lock (SQLite has one writer) must not make a pull time out.
            attempts=2,
            lock_wait_ms=REPORT_LOCK_WAIT_MS,
        )
    except DatabaseBusyError as error:
        log.warning("could not record %s's pull report: %s", terminal.terminal_id, error)


def live_member(database: Database, terminal_id: str, card_number: str) -> LiveMemberResponse:
    """The card's member with the balance as reconciled now, in one snapshot with this
    terminal's acknowledged seq (so the till can add only its still-unsent effects)."""
    with database.read() as conn:
        applied = conn.execute(
            select(terminals.c.acked_seq, terminals.c.revoked_at).where(
                terminals.c.terminal_id == terminal_id
            )
        ).first()
        if applied is None or applied.revoked_at is not None:
            raise UnauthorizedError(f"terminal {terminal_id} is not registered (or was revoked)")
        member_id = member_ids_for_cards(conn, [card_number]).get(card_number)
        states = member_states(conn, [member_id]) if member_id else []
        if not states:
            raise NotFoundError(f"card {card_number[-4:]} is not known at HQ")
        return LiveMemberResponse(applied_through_seq=int(applied.acked_seq), member=states[0])


def _acked_seq(conn: Connection, terminal_id: str) -> int:
    applied = conn.execute(
        select(terminals.c.acked_seq, terminals.c.revoked_at).where(
            terminals.c.terminal_id == terminal_id
        )
    ).first()
    if applied is None or applied.revoked_at is not None:
        raise UnauthorizedError(f"terminal {terminal_id} is not registered (or was revoked)")
    return int(applied.acked_seq)


def live_gift_card(database: Database, terminal_id: str, number: str) -> LiveGiftCardResponse:
    """A gift card's balance as reconciled now, in one snapshot with this terminal's
    acknowledged seq (the till adds only its still-unsent entries)."""
    with database.read() as conn:
        acked = _acked_seq(conn, terminal_id)
        states = stored_value_states(conn, [giftcard_account(number)])
        if not states:
            raise NotFoundError(
                f"gift card …{number[-4:]} is not known at HQ: check the number, or sell it first"
            )
        return LiveGiftCardResponse(applied_through_seq=acked, card=states[0])


def live_voucher(database: Database, terminal_id: str, code: str) -> LiveVoucherResponse:
    """A voucher's state right now."""
    with database.read() as conn:
        _acked_seq(conn, terminal_id)
        states = voucher_states(conn, [code])
        if not states:
            raise NotFoundError(f"voucher {code} was never issued by HQ: check the code")
        return LiveVoucherResponse(voucher=states[0])
