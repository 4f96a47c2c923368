"""Push: store a till's journal entries exactly once and reconcile them (docs/protocol.md).

Cheap, stateless checks (shape, contiguity, each record's own hash) run before any database
work. Then one transaction: lock the terminal's row, sort duplicates from new entries, check
the chain against what is stored, store and reconcile the new entries, move ``acked_seq``,
take positions, commit. A transient database failure re-runs the whole transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn

from pydantic import ValidationError
from sqlalchemy import Connection, exc, select, update

from shared.bounds import MAX_ENTRY_BYTES, MAX_SEQ
from shared.journal import (
    HASH_VERIFIED,
    CanonicalJSONError,
    CardIssue,
    CardReplacement,
    JournalEntry,
    MemberRef,
    Return,
    Sale,
    Void,
    entry_hash_and_body,
)
from shared.protocol import PushRequest, PushResponse, RaisedException
from syncserver.errors import (
    ApiError,
    BusyError,
    ChainConflictError,
    ForbiddenError,
    GapError,
    MalformedError,
    RefusedError,
    UnauthorizedError,
)
from syncserver.ledger.context import LedgerContext, LiveMemberIds
from syncserver.ledger.earn_check import EarnCheck, precheck_earn
from syncserver.ledger.reconcile import reconcile_entry
from syncserver.storage.database import Database, DatabaseBusyError, run_write
from syncserver.storage.exceptions import insert_exception, open_exception_exists
from syncserver.storage.journal import store_entries, stored_hashes
from syncserver.storage.members import member_ids_for_cards
from syncserver.storage.rules import published_rules
from syncserver.storage.schema import members, postings, terminals
from syncserver.storage.terminals import lock_terminal

__all__ = ["parse_records", "push"]

log = logging.getLogger(__name__)

_MAX_EVIDENCE = 2 * MAX_ENTRY_BYTES
"""Characters of a refused record kept as evidence."""


class _ChainConflictError(Exception):
    """Raised inside the push transaction (rolling it back); recorded and answered outside."""

    def __init__(self, seq: int, detail: str, record: Mapping[str, Any], acked_seq: int) -> None:
        super().__init__(detail)
        self.seq, self.detail, self.record, self.acked_seq = seq, detail, record, acked_seq


class _RecordRefusedError(Exception):
    """One record of the batch cannot be stored or posted, whatever HQ retries. Records before
    it (``index`` of them) are fine."""

    def __init__(self, index: int, seq: int, detail: str) -> None:
        super().__init__(detail)
        self.index, self.seq, self.detail = index, seq, detail


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "entry"
    return f"field {where}: {first['msg']}"


def _is_deterministic(error: BaseException) -> bool:
    """Whether retrying cannot help: not a lost connection, not a busy database, not one of
    the answers the protocol gives on purpose (gap, conflict, unauthorised)."""
    if isinstance(error, ApiError | _ChainConflictError | DatabaseBusyError):
        return False
    if isinstance(error, exc.DBAPIError):
        # A lost connection or a server shutting down is transient; bad data is not.
        return not (
            error.connection_invalidated
            or isinstance(error, exc.OperationalError | exc.InterfaceError)
        )
    return isinstance(error, Exception)


def parse_records(terminal_id: str, records: Sequence[Mapping[str, Any]]) -> list[JournalEntry]:
    """Validate each record as received; the first problem is a 422 (or 403) naming it."""
    try:
        return [entry for entry, _text in _parse(terminal_id, records)]
    except _RecordRefusedError as refused:
        raise MalformedError(refused.detail) from None


def _parse(
    terminal_id: str, records: Sequence[Mapping[str, Any]]
) -> list[tuple[JournalEntry, str]]:
    """Each record validated, with the JSON text it is stored as."""
    parsed: list[tuple[JournalEntry, str]] = []
    previous: int | None = None
    for index, record in enumerate(records):
        seq = record.get("seq")
        where = f"entry seq {seq}" if type(seq) is int else f"entries[{index}]"
        if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
            raise MalformedError(f"{where}: field seq: must be an integer from 1 to {MAX_SEQ}")
        if record.get("terminal_id") != terminal_id:
            raise ForbiddenError(
                f"{where}: belongs to terminal {record.get('terminal_id')!r}; "
                f"this push is for {terminal_id}"
            )
        if previous is not None and seq != previous + 1:
            raise MalformedError(
                f"{where}: entries must be contiguous, oldest first (after seq {previous})"
            )
        previous = seq
        try:
            expected, body = entry_hash_and_body(record)
        except CanonicalJSONError as error:
            raise _RecordRefusedError(index, seq, f"{where}: {error}") from None
        if record.get("hash") != expected:
            raise _RecordRefusedError(
                index, seq, f"{where}: field hash: does not match the entry's content"
            )
        if len(body) > MAX_ENTRY_BYTES:
            raise _RecordRefusedError(
                index,
                seq,
                f"{where}: the entry is {len(body):,} bytes; at most {MAX_ENTRY_BYTES:,} "
                "bytes are accepted",
            )
        try:
            # The hash was just checked over this record: the model need not compute it again.
            entry = JournalEntry.model_validate(record, context={HASH_VERIFIED: expected})
        except ValidationError as error:
            raise _RecordRefusedError(index, seq, f"{where}: {_describe(error)}") from None
        # Stored as the canonical JSON the hash covers, plus the hash: the same record (its
        # hash checks out the same), without serialising it a second time.
        parsed.append((entry, f'{body[:-1].decode()},"hash":"{expected}"}}'))
    return parsed


def push(
    database: Database,
    terminal_id: str,
    request: PushRequest,
    now: Callable[[], datetime],
) -> PushResponse:
    """Store and reconcile ``request``; a record HQ cannot take is refused (422 ``refused``)
    and kept as an ``entry_refused`` exception, after the records before it are stored."""
    if request.terminal_id != terminal_id:
        raise ForbiddenError(
            f"this token belongs to terminal {terminal_id}, not {request.terminal_id}"
        )
    records = request.entries
    try:
        parsed = _parse(terminal_id, records)
    except _RecordRefusedError as refused:
        # The records before the bad one are good: store them (through this same function,
        # so they get the same care), then refuse it.
        if refused.index:
            prefix = PushRequest(terminal_id=terminal_id, entries=records[: refused.index])
            push(database, terminal_id, prefix, now)
        _refuse(database, terminal_id, records[refused.index], refused.seq, refused.detail, now)
    try:
        return _store_parsed(database, terminal_id, records, parsed, now)
    except Exception as error:
        if not _is_deterministic(error):
            raise
        log.warning("push of %s failed (%r); retrying entry by entry", terminal_id, error)
    # Something in the batch cannot be posted. Entry by entry, each in its own transaction,
    # finds which: the ones before it are stored, it is refused, nothing after it is tried.
    combined = PushResponse(acked_seq=0, stored=0, duplicates=0)
    for record, item in zip(records, parsed, strict=True):
        try:
            reply = _store_parsed(database, terminal_id, [record], [item], now)
        except Exception as error:
            if not _is_deterministic(error):
                raise
            log.exception("entry %s#%d cannot be posted", terminal_id, item[0].seq)
            detail = f"entry seq {item[0].seq}: HQ cannot post it ({_error_text(error)})"
            _refuse(database, terminal_id, record, item[0].seq, detail, now)
        combined = PushResponse(
            acked_seq=reply.acked_seq,
            acked_hash=reply.acked_hash,
            stored=combined.stored + reply.stored,
            duplicates=combined.duplicates + reply.duplicates,
            exceptions=[*combined.exceptions, *reply.exceptions],
        )
    # Every entry went through on its own: the failure did not repeat.
    return combined


def _error_text(error: BaseException) -> str:
    if isinstance(error, exc.StatementError) and error.orig is not None:
        error = error.orig
    text = " ".join(str(error).split())[:300]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _store_parsed(
    database: Database,
    terminal_id: str,
    records: Sequence[Mapping[str, Any]],
    parsed: list[tuple[JournalEntry, str]],
    now: Callable[[], datetime],
) -> PushResponse:
    entries = [entry for entry, _text in parsed]
    # The rules checks are pure CPU: done here, before the transaction takes any lock.
    versions = {
        entry.payload.earned.rules_version
        for entry in entries
        if isinstance(entry.payload, Sale) and entry.payload.earned is not None
    }
    checks = precheck_earn(entries, published_rules(database, versions))
    try:
        return run_write(
            database,
            lambda conn: _push(conn, terminal_id, records, parsed, checks, now()),
        )
    except _ChainConflictError as refused:
        conflict = refused
        run_write(database, lambda conn: _record_conflict(conn, terminal_id, conflict, now()))
        raise ChainConflictError(
            f"seq {conflict.seq}: {conflict.detail}; nothing was overwritten and HQ has been "
            "alerted",
            acked_seq=conflict.acked_seq,
        ) from None
    except DatabaseBusyError as error:
        raise BusyError(f"{error}; retry shortly") from None


def _refuse(
    database: Database,
    terminal_id: str,
    record: Mapping[str, Any],
    seq: int,
    detail: str,
    now: Callable[[], datetime],
) -> NoReturn:
    """Keep the refused record as an HQ exception (once while open) and answer 422."""
    # ASCII JSON: the evidence itself must be storable whatever the record holds (a NUL, a
    # lone surrogate); a record too large to keep whole is cut, and says so.
    evidence = json.dumps(record, ensure_ascii=True, sort_keys=True, default=repr)
    if len(evidence) > _MAX_EVIDENCE:
        evidence = evidence[:_MAX_EVIDENCE] + f"… [cut: {len(evidence):,} characters in all]"

    def work(conn: Connection) -> int:
        if not open_exception_exists(conn, "entry_refused", terminal_id, seq, evidence):
            insert_exception(
                conn,
                RaisedException(
                    kind="entry_refused",
                    terminal_id=terminal_id,
                    seq=seq,
                    amount=0,
                    detail=detail,
                ),
                now(),
                evidence=evidence,
            )
        acked = conn.execute(
            select(terminals.c.acked_seq).where(terminals.c.terminal_id == terminal_id)
        ).scalar_one()
        return int(acked)

    acked = run_write(database, work)
    raise RefusedError(
        f"{detail}. HQ has kept the entry as evidence and raised an alarm; the till keeps it "
        "and everything after it until HQ has dealt with it",
        acked_seq=acked,
        seq=seq,
    )


def _push(
    conn: Connection,
    terminal_id: str,
    records: Sequence[Mapping[str, Any]],
    parsed: Sequence[tuple[JournalEntry, str]],
    checks: Mapping[tuple[str, int], EarnCheck | None],
    now: datetime,
) -> PushResponse:
    entries = [entry for entry, _text in parsed]
    terminal = lock_terminal(conn, terminal_id)
    if terminal is None or terminal.revoked:
        raise UnauthorizedError(f"terminal {terminal_id} is not registered (or was revoked)")
    acked = terminal.acked_seq
    first, last = entries[0].seq, entries[-1].seq
    if first > acked + 1:
        raise GapError(f"expected seq {acked + 1}, got {first}", acked_seq=acked)

    stored = stored_hashes(conn, terminal_id, first, min(last, acked)) if first <= acked else {}
    duplicates = 0
    new: list[tuple[Mapping[str, Any], JournalEntry, str]] = []
    prev_hash = terminal.last_hash
    for record, (entry, text) in zip(records, parsed, strict=True):
        if entry.seq <= acked:
            if stored.get(entry.seq) != entry.hash:
                raise _ChainConflictError(
                    entry.seq,
                    f"already acknowledged with hash {stored.get(entry.seq, '?')[:16]}…, "
                    f"received {entry.hash[:16]}…",
                    record,
                    acked,
                )
            duplicates += 1
            continue
        if entry.prev_hash != prev_hash:
            raise _ChainConflictError(
                entry.seq,
                f"does not link to seq {entry.seq - 1} (prev_hash {entry.prev_hash[:16]}…, "
                f"stored hash {prev_hash[:16]}…)",
                record,
                acked,
            )
        new.append((record, entry, text))
        prev_hash = entry.hash

    if not new:
        return PushResponse(
            acked_seq=acked, acked_hash=terminal.last_hash, stored=0, duplicates=duplicates
        )

    ctx = LedgerContext(conn, now, member_ids=LiveMemberIds(), live=True, earn_checks=checks)
    _lock_members_up_front(ctx, [entry for _, entry, _ in new])
    # The whole batch in one statement; reconciliation then treats an entry's later
    # siblings as not yet stored (reconcile._stored), exactly as a replay sees them.
    store_entries(conn, new, now)
    ctx.remember_entries((record, entry) for record, entry, _ in new)
    # The sales the batch's returns and voids refer to, whole: their checks read them.
    ctx.prefetch_entries(
        (entry.payload.original.terminal_id, entry.payload.original.seq)
        for _, entry, _ in new
        if isinstance(entry.payload, Return | Void)
    )
    # The voucher codes the batch's sales printed: which are free, in one query (the
    # vouchers are then written together rather than one INSERT each).
    ctx.prefetch_voucher_codes(
        code
        for _, entry, _ in new
        if isinstance(entry.payload, Sale)
        for code in _printed_voucher_codes(entry.payload)
    )
    for _record, entry, _text in new:
        reconcile_entry(ctx, entry)
    tip = new[-1][1]
    conn.execute(
        update(terminals)
        .where(terminals.c.terminal_id == terminal_id)
        .values(acked_seq=tip.seq, last_hash=tip.hash, last_push_at=now)
    )
    ctx.finish(entries=(terminal_id, new[0][1].seq, tip.seq))
    return PushResponse(
        acked_seq=tip.seq,
        acked_hash=tip.hash,
        stored=len(new),
        duplicates=duplicates,
        exceptions=ctx.raised,
    )


def _printed_voucher_codes(sale: Sale) -> list[str]:
    codes = [item.voucher_code for item in sale.campaign_vouchers]
    return codes + [p.voucher_code for p in sale.rewards if p.voucher_code is not None]


def _lock_members_up_front(ctx: LedgerContext, entries: Sequence[JournalEntry]) -> None:
    """Lock every member the batch will touch, in one sorted statement. Two pushes that share
    members then queue instead of deadlocking. (Anything missed is locked when reached.)
    Then read their cards in one statement too, now that their members are locked."""
    refs: list[MemberRef] = []
    card_numbers: list[str] = []
    voided: list[int] = []
    for entry in entries:
        payload = entry.payload
        if isinstance(payload, Sale | Return | CardIssue | CardReplacement) and payload.member:
            refs.append(payload.member)
            card_numbers.append(payload.member.card_number)
        elif isinstance(payload, Void) and payload.original.terminal_id == entry.terminal_id:
            voided.append(payload.original.seq)
    conn = ctx.conn
    wanted = {ref.member_id for ref in refs if ref.member_id}
    wanted |= set(member_ids_for_cards(conn, card_numbers).values())
    local_ids = sorted({ref.local_member_id for ref in refs if ref.local_member_id})
    if local_ids:
        by_local = {
            row.local_member_id: row.member_id
            for row in conn.execute(
                select(members.c.local_member_id, members.c.member_id).where(
                    members.c.local_member_id.in_(local_ids)
                )
            )
        }
        ctx.remember_local_ids(by_local)
        wanted |= set(by_local.values())
    if voided:
        wanted |= set(
            conn.execute(
                select(postings.c.member_id).where(
                    postings.c.terminal_id == entries[0].terminal_id,
                    postings.c.seq.in_(voided),
                    postings.c.member_id.is_not(None),
                )
            ).scalars()
        )
    ctx.lock_members(wanted)
    ctx.prefetch_cards(card_numbers)


def _record_conflict(
    conn: Connection, terminal_id: str, conflict: _ChainConflictError, now: datetime
) -> None:
    """The push is refused, but the alarm is kept (once per distinct refused record)."""
    evidence = json.dumps(conflict.record, ensure_ascii=True, sort_keys=True)
    if open_exception_exists(conn, "chain_conflict", terminal_id, conflict.seq, evidence):
        return
    insert_exception(
        conn,
        RaisedException(
            kind="chain_conflict",
            terminal_id=terminal_id,
            seq=conflict.seq,
            amount=0,
            detail=f"seq {conflict.seq} {conflict.detail}",
        ),
        now,
        evidence=evidence,
    )
