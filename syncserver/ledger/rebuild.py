"""``ledger rebuild --check``: replay everything from scratch and compare (docs/design.md, inv. 4).

The replay runs the *same* reconciliation code as a push, against an empty scratch database
(a temporary SQLite file), feeding it every stored journal entry, HQ event and rules version
in position order — the order they first happened. The live database is read in one
snapshot. Then postings, exceptions and balances of the two ledgers must be identical, and
the live balance cache must equal the sum of the live postings.

Member ids are not re-invented in the replay: an enrolment gets the id the live server gave
it (looked up by the entry that created the member), because ids are identity, not ledger.
Alarms about records HQ never stored (chain conflicts, refused entries) and about a till's
own journal (journal_behind) are not replayable and are left out (NOT_REPLAYED).
"""

from __future__ import annotations

import heapq
import json
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, exc, func, select

from shared.journal import GENESIS_HASH, JournalEntry
from shared.points.lots import LotBook
from syncserver.ledger.context import LedgerContext
from syncserver.ledger.hq_events import apply_event
from syncserver.ledger.reconcile import reconcile_entry
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.journal import iter_entries_by_position, store_entry
from syncserver.storage.members import member_id_by_origin
from syncserver.storage.schema import (
    change_counter,
    exceptions,
    hq_events,
    member_activity,
    member_balances,
    member_lots,
    members,
    metadata,
    postings,
    reward_counts,
    rules_versions,
    stored_values,
    terminals,
    tier_changes,
    vouchers,
)

__all__ = ["NOT_REPLAYED", "RebuildReport", "rebuild_check"]

NOT_REPLAYED = ("chain_conflict", "entry_refused", "journal_behind")
"""Alarms about records HQ never stored (a refused or conflicting record, a till's report of
its own journal): nothing in the ledger's history to replay them from."""


@dataclass
class RebuildReport:
    entries: int = 0
    hq_events: int = 0
    rules_versions: int = 0
    postings: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


class _ReplayMemberIds:
    def __init__(self, live: Connection) -> None:
        self.live = live

    def for_enrolment(self, terminal_id: str, seq: int, attempt: int) -> str:
        found = member_id_by_origin(self.live, terminal_id, seq)
        # A sentinel id no live member can have: every posting to it shows up as a difference.
        return found if found is not None else f"?{terminal_id}#{seq}"


def rebuild_check(database: Database, *, max_differences: int = 20) -> RebuildReport:
    report = RebuildReport()
    with tempfile.TemporaryDirectory(prefix="loyaltill-rebuild-") as scratch_dir:
        scratch = Database(f"sqlite:///{Path(scratch_dir) / 'replay.sqlite3'}", durable=False)
        try:
            metadata.create_all(scratch.engine)
            with database.read() as live, scratch.write() as replay:
                replay.execute(change_counter.insert().values(id=1, value=0))
                _copy_terminals(live, replay)
                replayed = _replay(live, replay, report)
                if replayed and len(report.differences) < max_differences:
                    _compare(live, replay, report)
        finally:
            scratch.dispose()
    del report.differences[max_differences:]
    return report


def _copy_terminals(live: Connection, replay: Connection) -> None:
    rows = [dict(row) for row in live.execute(select(terminals)).mappings()]
    if rows:
        replay.execute(terminals.insert(), rows)


def _events(live: Connection) -> Iterator[tuple[int, int, str, Any]]:
    """(position, tie-break, kind, data) of everything that shaped the ledger, in order."""
    entries = ((pos, 0, "entry", text) for pos, text in iter_entries_by_position(live))
    events = (
        (int(row.position), 1, "hq", row)
        for row in live.execute(
            select(hq_events.c.id, hq_events.c.position, hq_events.c.kind, hq_events.c.record)
            .where(hq_events.c.position.is_not(None))
            .order_by(hq_events.c.position)
        )
    )
    rules = (
        (int(row.change_seq), 2, "rules", row)
        for row in live.execute(select(rules_versions).order_by(rules_versions.c.change_seq))
    )
    return heapq.merge(entries, events, rules, key=lambda item: (item[0], item[1]))


def _replay(live: Connection, replay: Connection, report: RebuildReport) -> bool:
    """Replay everything; False when something could not be replayed at all (then the report
    says what, and the ledgers are not compared: every later figure would differ)."""
    ids = _ReplayMemberIds(live)
    now = utc_now()
    tips: dict[str, tuple[int, str]] = defaultdict(lambda: (0, GENESIS_HASH))
    for _position, _tie, kind, data in _events(live):
        try:
            _replay_one(live, replay, report, ids, now, tips, kind, data)
        except Exception as error:  # a report, never a traceback: say what and where
            what = (
                f"HQ event {data.id} ({data.kind})"
                if kind == "hq"
                else (f"rules version {data.version}" if kind == "rules" else _label(data))
            )
            report.differences.append(
                f"{what} cannot be replayed: {type(error).__name__}: {error}; the replay "
                "stopped there"
            )
            return False
    return True


def _label(text: str) -> str:
    try:
        record = json.loads(text)
        return f"stored entry {record.get('terminal_id')}#{record.get('seq')}"
    except (ValueError, AttributeError):
        return "a stored entry that is not a JSON object"


def _replay_one(
    live: Connection,
    replay: Connection,
    report: RebuildReport,
    ids: _ReplayMemberIds,
    now: datetime,
    tips: dict[str, tuple[int, str]],
    kind: str,
    data: Any,
) -> None:
    ctx = LedgerContext(replay, now, member_ids=ids, live=False)
    if kind == "rules":
        replay.execute(rules_versions.insert().values(dict(data._mapping)))
        report.rules_versions += 1
    elif kind == "hq":
        apply_event(ctx, int(data.id), data.kind, json.loads(data.record))
        report.hq_events += 1
    else:
        record = json.loads(data)
        try:
            entry = JournalEntry.model_validate(record)
        except (ValidationError, ValueError) as error:
            label = f"{record.get('terminal_id')}#{record.get('seq')}"
            report.differences.append(f"stored entry {label} is no longer valid: {error}")
            return
        seq, tip = tips[entry.terminal_id]
        if entry.seq != seq + 1 or entry.prev_hash != tip:
            report.differences.append(
                f"stored entry {entry.terminal_id}#{entry.seq} does not follow "
                f"{entry.terminal_id}#{seq} in the chain"
            )
        tips[entry.terminal_id] = (entry.seq, entry.hash)
        store_entry(replay, record, entry, now)
        reconcile_entry(ctx, entry)
        report.entries += 1
    ctx.flush()


_PostingKey = tuple[str, int, int, int]


def _postings(conn: Connection) -> dict[_PostingKey, tuple[Any, ...]]:
    rows = conn.execute(
        select(
            postings.c.terminal_id,
            postings.c.seq,
            postings.c.hq_event_id,
            postings.c.line,
            postings.c.account,
            postings.c.unit,
            postings.c.amount,
            postings.c.kind,
            postings.c.occurred_at,
        )
    )
    return {
        (r.terminal_id or "", int(r.seq or 0), int(r.hq_event_id or 0), int(r.line)): (
            r.account,
            r.unit,
            int(r.amount),
            r.kind,
            r.occurred_at,
        )
        for r in rows
    }


def _posting_label(key: _PostingKey) -> str:
    terminal_id, seq, event_id, line = key
    source = f"{terminal_id}#{seq}" if terminal_id else f"HQ event {event_id}"
    return f"posting {source} line {line}"


def _exceptions(conn: Connection) -> list[tuple[Any, ...]]:
    rows = conn.execute(
        select(
            exceptions.c.terminal_id,
            exceptions.c.seq,
            exceptions.c.kind,
            exceptions.c.member_id,
            exceptions.c.amount,
            exceptions.c.detail,
        ).where(exceptions.c.kind.not_in(NOT_REPLAYED))
    )
    return sorted(
        (r.terminal_id or "", int(r.seq or 0), r.kind, r.member_id or "", int(r.amount), r.detail)
        for r in rows
    )


def _balances(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(member_balances.c.member_id, member_balances.c.points))
    return {r.member_id: int(r.points) for r in rows}


def _posted_balances(conn: Connection) -> dict[str, int]:
    wanted = (postings.c.member_id.is_not(None), postings.c.unit == "points")
    try:
        rows = conn.execute(
            select(postings.c.member_id, func.sum(postings.c.amount))
            .where(*wanted)
            .group_by(postings.c.member_id)
        ).all()
        return {r[0]: int(r[1]) for r in rows}
    except exc.OperationalError as error:
        if "integer overflow" not in str(error.orig):
            raise
    # SQLite's SUM stops at 2^63 (only a ledger damaged before balances were bounded gets
    # here): add up in Python, so the report can still say which balance is wrong.
    totals: dict[str, int] = defaultdict(int)
    for member_id, amount in conn.execute(
        select(postings.c.member_id, postings.c.amount).where(*wanted)
    ):
        totals[member_id] += int(amount)
    return dict(totals)


def _compare(live: Connection, replay: Connection, report: RebuildReport) -> None:
    out = report.differences
    live_postings, replay_postings = _postings(live), _postings(replay)
    report.postings = len(live_postings)
    for key in sorted(live_postings.keys() | replay_postings.keys()):
        have, want = live_postings.get(key), replay_postings.get(key)
        if have == want:
            continue
        if have is None:
            out.append(f"{_posting_label(key)} is missing from the live ledger: replay has {want}")
        elif want is None:
            out.append(f"{_posting_label(key)} is in the live ledger but not in the replay: {have}")
        else:
            out.append(f"{_posting_label(key)} on {have[0]}: live {have}, replay {want}")

    live_exceptions, replay_exceptions = _exceptions(live), _exceptions(replay)
    if live_exceptions != replay_exceptions:
        missing = [e for e in replay_exceptions if e not in live_exceptions]
        extra = [e for e in live_exceptions if e not in replay_exceptions]
        for item in missing:
            out.append(f"exception {item[2]} for {item[0]}#{item[1]} is missing live: {item}")
        for item in extra:
            out.append(f"exception {item[2]} for {item[0]}#{item[1]} is not in the replay: {item}")

    live_balances, replay_balances = _balances(live), _balances(replay)
    for member_id in sorted(live_balances.keys() | replay_balances.keys()):
        live_points, replay_points = live_balances.get(member_id), replay_balances.get(member_id)
        if live_points != replay_points:
            out.append(f"balance of member {member_id}: live {live_points}, replay {replay_points}")

    posted = _posted_balances(live)
    for member_id in sorted(live_balances):
        cached, summed = live_balances[member_id], posted.get(member_id, 0)
        if cached != summed:
            out.append(
                f"balance cache of member {member_id} says {cached}, its postings sum to {summed}"
            )
    _compare_points(live, replay, live_balances, out)
    _compare_money(live, replay, out)


def _rows_by_key(conn: Connection, table: Any) -> dict[str, tuple[Any, ...]]:
    """Every row but its pull position (``change_seq``, not replayed), by primary key."""
    columns = [c for c in table.c if c.name != "change_seq"]
    key = next(iter(table.primary_key.columns)).name
    return {row._mapping[key]: _plain(tuple(row)) for row in conn.execute(select(*columns))}


def _compare_money(live: Connection, replay: Connection, out: list[str]) -> None:
    """Stored values (gift cards, credit slips, store credit), vouchers and reward purchase
    counts, row by row; and
    every live stored-value balance against the sum of its account's money postings."""
    tables = (
        ("stored value", stored_values),
        ("voucher", vouchers),
        ("reward count", reward_counts),
    )
    for what, table in tables:
        have, want = _rows_by_key(live, table), _rows_by_key(replay, table)
        for key in sorted(have.keys() | want.keys()):
            if have.get(key) != want.get(key):
                out.append(f"{what} {key}: live {have.get(key)}, replay {want.get(key)}")
    summed = {
        row.account: int(row.total)
        for row in live.execute(
            select(postings.c.account, func.sum(postings.c.amount).label("total"))
            .where(
                postings.c.unit != "points", postings.c.account.in_(select(stored_values.c.account))
            )
            .group_by(postings.c.account)
        )
    }
    for row in live.execute(select(stored_values.c.account, stored_values.c.balance_minor)):
        if int(row.balance_minor) != summed.get(row.account, 0):
            out.append(
                f"balance of {row.account} says {int(row.balance_minor)}, its postings sum to "
                f"{summed.get(row.account, 0)}"
            )


def _member_rows(conn: Connection, query: Any) -> dict[str, list[tuple[Any, ...]]]:
    rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in conn.execute(query):
        rows[row[0]].append(tuple(row[1:]))
    return rows


def _compare_points(
    live: Connection, replay: Connection, balances: dict[str, int], out: list[str]
) -> None:
    """Lot books, qualifying activity, tier history and tier status, named per member
    (syncserver.ledger.points); and every live book's total against the member's balance."""
    lots = select(member_lots.c.member_id, member_lots.c.book, member_lots.c.next_expiry)
    activity = select(
        member_activity.c.member_id,
        member_activity.c.day,
        member_activity.c.points,
        member_activity.c.spend_minor,
        member_activity.c.visits,
    ).order_by(member_activity.c.member_id, member_activity.c.day)
    changes = select(
        tier_changes.c.member_id,
        tier_changes.c.kind,
        tier_changes.c.from_tier,
        tier_changes.c.to_tier,
        tier_changes.c.reason,
        tier_changes.c.effective_on,
        tier_changes.c.terminal_id,
        tier_changes.c.seq,
        tier_changes.c.hq_event_id,
    ).order_by(tier_changes.c.member_id, tier_changes.c.id)
    status = select(
        members.c.member_id,
        members.c.tier,
        members.c.tier_since,
        members.c.tier_review_on,
        members.c.tier_grace,
    )
    for what, query in (
        ("lot book", lots),
        ("qualifying activity", activity),
        ("tier history", changes),
        ("tier status", status),
    ):
        have, want = _member_rows(live, query), _member_rows(replay, query)
        for member_id in sorted(have.keys() | want.keys()):
            mine = [_plain(row) for row in have.get(member_id, [])]
            theirs = [_plain(row) for row in want.get(member_id, [])]
            if mine != theirs:
                out.append(f"{what} of member {member_id}: live {mine}, replay {theirs}")
    for member_id, book_rows in _member_rows(live, lots).items():
        try:
            held = LotBook.from_json(book_rows[0][0]).balance
        except (ValueError, TypeError, KeyError, IndexError) as error:
            out.append(f"lot book of member {member_id} cannot be read: {error}")
            continue
        if held != balances.get(member_id, 0):
            out.append(
                f"lot book of member {member_id} holds {held} points, its balance is "
                f"{balances.get(member_id, 0)}"
            )


def _plain(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # Booleans and integers read back alike from both databases.
    return tuple(int(v) if isinstance(v, bool) else v for v in row)
