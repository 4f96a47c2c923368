"""HQ's view of the tills: their health (last contact, unsent estimate, chain status) and the
admin's writes — registering a till (with a one-time set-up code), issuing a fresh code and
revoking one — each with its audit row in the same transaction; and the till's own claim of
its code (``till setup``), limited per address like a staff sign-in.

Errors are the API's own (``syncserver.errors``), so the JSON API, the dashboard and the CLI
show the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, exc, func, select, update

from syncserver.errors import (
    ApiError,
    ConflictError,
    ForbiddenError,
    MalformedError,
    NotFoundError,
    RateLimitedError,
)
from syncserver.hq.stores import check_store_id
from syncserver.settings import as_utc, utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.database import Database, run_write
from syncserver.storage.schema import exceptions, sign_in_attempts
from syncserver.storage.stores import StoreRecord, get_store
from syncserver.storage.terminals import (
    TerminalRecord,
    add_terminal,
    get_terminal,
    issue_code,
    normalize_code,
    page_of_terminals,
    revoke_terminal,
    rotate_token,
    setup_code,
    use_code,
)
from syncserver.storage.users import SignInPolicy, Throttle, reserve_sign_in

__all__ = [
    "CLAIM_NAME",
    "OFFLINE_AFTER",
    "ClaimThrottledError",
    "ClaimedTerminal",
    "NewCode",
    "NewTerminal",
    "TerminalHealth",
    "claim_terminal",
    "find_terminal",
    "new_setup_code",
    "register_terminal",
    "revoke",
    "terminal_page",
]

OFFLINE_AFTER = timedelta(hours=1)
"""A till not heard from (no push, no pull) for longer than this is shown as offline."""

JOURNAL_ALARMS = ("chain_conflict", "entry_refused", "journal_behind")
"""Exception kinds that mean a till's journal cannot go on syncing as it is."""


@dataclass(frozen=True, slots=True)
class TerminalHealth:
    """One till as the terminals page and API show it."""

    record: TerminalRecord
    last_contact_at: datetime | None
    """The later of its last push and its last pull; None when it never synced."""
    offline: bool
    """Not heard from for more than OFFLINE_AFTER (a till that never synced is not "offline":
    it was never online)."""
    unsent: int | None
    """Entries the till had journaled but HQ had not acknowledged, as of its last pull
    (``tip_seq - acked_seq``, never below 0); None when the till never reported its tip."""
    open_chain_conflicts: int
    """Open alarms about this till's journal (JOURNAL_ALARMS): tampering, a refused entry,
    a journal behind HQ. Each stops the till's sync until HQ deals with it."""

    @property
    def chain_status(self) -> str:
        return "conflict" if self.open_chain_conflicts else "ok"


@dataclass(frozen=True, slots=True)
class NewTerminal:
    terminal_id: str
    store_id: str
    name: str
    token: str
    """Shown once; HQ keeps only its hash. ``till setup`` replaces it with a fresh one."""
    code: str
    """The one-time set-up code for ``till setup`` (HQ keeps only its hash)."""
    code_expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewCode:
    terminal_id: str
    code: str
    expires_at: datetime


def _health(record: TerminalRecord, conflicts: int, now: datetime) -> TerminalHealth:
    contacts = [t for t in (as_utc(record.last_push_at), as_utc(record.last_pull_at)) if t]
    last = max(contacts) if contacts else None
    unsent = None if record.tip_seq is None else max(0, record.tip_seq - record.acked_seq)
    return TerminalHealth(
        record=record,
        last_contact_at=last,
        offline=last is not None and not record.revoked and now - last > OFFLINE_AFTER,
        unsent=unsent,
        open_chain_conflicts=conflicts,
    )


def _open_conflicts(conn: Connection, terminal_ids: Sequence[str]) -> dict[str, int]:
    if not terminal_ids:
        return {}
    rows = conn.execute(
        select(exceptions.c.terminal_id, func.count())
        .where(
            exceptions.c.status == "open",
            exceptions.c.kind.in_(JOURNAL_ALARMS),
            exceptions.c.terminal_id.in_(terminal_ids),
        )
        .group_by(exceptions.c.terminal_id)
    )
    return {row[0]: int(row[1]) for row in rows}


def terminal_page(
    conn: Connection,
    *,
    store_id: str | None = None,
    after: str | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> list[TerminalHealth]:
    """Up to ``limit`` tills after terminal id ``after`` (keyset), with their health."""
    records = page_of_terminals(conn, store_id=store_id or None, after=after, limit=limit)
    conflicts = _open_conflicts(conn, [r.terminal_id for r in records])
    moment = now or utc_now()
    return [_health(r, conflicts.get(r.terminal_id, 0), moment) for r in records]


def find_terminal(
    conn: Connection, terminal_id: str, now: datetime | None = None
) -> TerminalHealth:
    record = get_terminal(conn, terminal_id)
    if record is None:
        raise NotFoundError(f"no terminal {terminal_id}: check the id on the terminals page")
    conflicts = _open_conflicts(conn, [terminal_id]).get(terminal_id, 0)
    return _health(record, conflicts, now or utc_now())


def _clean(store_id: str, name: str) -> tuple[str, str]:
    store = check_store_id(store_id)
    label = " ".join(name.split())
    if not label:
        raise MalformedError("name: give the till a name staff will recognise (e.g. Till 2)")
    if len(label) > 200:
        raise MalformedError("name: 200 characters at most")
    return store, label


def register_terminal(database: Database, actor: Actor, store_id: str, name: str) -> NewTerminal:
    """Register a till of a store HQ knows; its token and one-time set-up code are returned
    once (only their hashes are stored)."""
    store, label = _clean(store_id, name)

    def work(conn: Connection) -> NewTerminal:
        now = utc_now()
        if get_store(conn, store) is None:
            # The till is set up with its store's name, address and time zone: no store, no
            # receipts worth printing. (Refused, not invented: a typo would make a new store.)
            raise MalformedError(
                f"store {store} is not set up at HQ: add the store first: syncserver store add "
                f'{store} --name "…" --address "…" --timezone Europe/Berlin --country DE'
            )
        terminal_id, token = add_terminal(conn, store, label, now)
        code, expires = issue_code(conn, terminal_id, now)
        record_action(
            conn,
            actor,
            "terminal.add",
            now,
            target_kind="terminal",
            target_id=terminal_id,
            detail={"store_id": store, "name": label, "code_expires_at": expires.isoformat()},
        )
        return NewTerminal(terminal_id, store, label, token, code, expires)

    # Two registrations at once on PostgreSQL may pick the same next id: the loser's insert
    # fails on the primary key and simply runs again (and picks the next one).
    for attempt in range(5):
        try:
            return run_write(database, work)
        except exc.IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def revoke(database: Database, actor: Actor, terminal_id: str) -> TerminalRecord:
    """Refuse the till's token from now on (its journal and postings stay)."""

    def work(conn: Connection) -> TerminalRecord:
        now = utc_now()
        record = get_terminal(conn, terminal_id)
        if record is None:
            raise NotFoundError(f"no terminal {terminal_id}: check the id on the terminals page")
        if not revoke_terminal(conn, terminal_id, now, by=actor.username):
            when = as_utc(record.revoked_at)
            stamp = when.strftime("%Y-%m-%d %H:%M UTC") if when else "earlier"
            raise ConflictError(
                f"terminal {terminal_id} was already revoked ({stamp}, by "
                f"{record.revoked_by or 'unknown'}); register a new till to replace it"
            )
        record_action(
            conn,
            actor,
            "terminal.revoke",
            now,
            target_kind="terminal",
            target_id=terminal_id,
            detail={"store_id": record.store_id, "name": record.name},
        )
        revoked = get_terminal(conn, terminal_id)
        assert revoked is not None
        return revoked

    return run_write(database, work)


def new_setup_code(database: Database, actor: Actor, terminal_id: str) -> NewCode:
    """A fresh one-time set-up code for a registered till (its earlier unused codes stop
    working): for a till being set up again, or when the first code expired."""

    def work(conn: Connection) -> NewCode:
        now = utc_now()
        record = get_terminal(conn, terminal_id)
        if record is None:
            raise NotFoundError(f"no terminal {terminal_id}: check the id on the terminals page")
        if record.revoked:
            raise ConflictError(
                f"terminal {terminal_id} was revoked: register a new till with syncserver "
                f'terminal add --store {record.store_id} --name "…"'
            )
        code, expires = issue_code(conn, terminal_id, now)
        record_action(
            conn,
            actor,
            "terminal.code",
            now,
            target_kind="terminal",
            target_id=terminal_id,
            detail={"code_expires_at": expires.isoformat()},
        )
        return NewCode(terminal_id, code, expires)

    return run_write(database, work)


CLAIM_NAME = "~terminal-claim"
"""The name claims are counted under in ``sign_in_attempts``: never a staff user name (those
are a-z 0-9 . _ @ -), so a till's claims and a person's sign-ins keep separate per-name
budgets, while failures from one address count against that address for both."""


@dataclass(frozen=True, slots=True)
class ClaimedTerminal:
    terminal_id: str
    name: str
    token: str
    """The till's new token (the one ``terminal add`` printed no longer works)."""
    store: StoreRecord


class ClaimThrottledError(RateLimitedError):
    """Too many failed claims from this address: try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


_MALFORMED_CODE = (
    "that is not a set-up code: it is 16 letters and digits in four groups, like "
    "ABCD-EFGH-JKMN-PQRS, as syncserver terminal add printed it"
)


def claim_terminal(database: Database, code: str, ip: str, policy: SignInPolicy) -> ClaimedTerminal:
    """Trade a one-time set-up code for the till's identity, a fresh token and its store.

    Every claim is an attempt in ``sign_in_attempts`` (under :data:`CLAIM_NAME`), recorded as
    a failure before the code is looked up and turned into a success only when it checks out,
    so the sign-in limits apply: a few free failures per address, then growing waits (429
    with Retry-After). A used code, an expired one and a revoked till are refused; the code
    is spent and the token replaced in one transaction."""
    normal = normalize_code(code)

    def work(conn: Connection) -> ClaimedTerminal | ApiError | Throttle:
        reserved = reserve_sign_in(conn, policy, CLAIM_NAME, ip, utc_now)
        if isinstance(reserved, Throttle):
            return reserved
        now = reserved.at
        if normal is None:
            return MalformedError(_MALFORMED_CODE)
        found = setup_code(conn, normal, lock=True)
        if found is None:
            return NotFoundError(
                "unknown set-up code: check it was typed as HQ printed it; a code stops "
                "working when a newer one is issued (syncserver terminal code T…)"
            )
        terminal_id = found.terminal_id
        again = f"issue a new one with syncserver terminal code {terminal_id}"
        if found.used_at is not None:
            used = as_utc(found.used_at)
            return ConflictError(
                f"this set-up code was already used ({used:%Y-%m-%d %H:%M} UTC): {again}"
            )
        if as_utc(found.expires_at) <= now:
            return ConflictError(f"this set-up code expired (codes last 24 hours): {again}")
        record = get_terminal(conn, terminal_id)
        if record is None or record.revoked:
            return ForbiddenError(
                f"terminal {terminal_id} was revoked by HQ: register a new till with "
                "syncserver terminal add"
            )
        store = get_store(conn, record.store_id)
        if store is None:
            return ConflictError(
                f"store {record.store_id} of terminal {terminal_id} is not set up at HQ: add "
                f"it with syncserver store add {record.store_id}, then {again}"
            )
        if not use_code(conn, normal, now):
            return ConflictError(f"this set-up code was already used: {again}")
        token = rotate_token(conn, terminal_id)
        conn.execute(
            update(sign_in_attempts)
            .where(sign_in_attempts.c.id == reserved.attempt_id)
            .values(succeeded=True)
        )
        record_action(
            conn,
            Actor(username=f"till:{terminal_id}", ip=ip, via="api"),
            "terminal.claim",
            now,
            target_kind="terminal",
            target_id=terminal_id,
            detail={"store_id": record.store_id, "name": record.name},
        )
        return ClaimedTerminal(terminal_id, record.name, token, store)

    outcome = run_write(database, work)
    if isinstance(outcome, Throttle):
        seconds = max(1, int(outcome.wait.total_seconds() + 0.999))
        raise ClaimThrottledError(
            f"too many failed set-up codes from this address: try again in {seconds} s",
            seconds,
        )
    if isinstance(outcome, ApiError):
        raise outcome
    return outcome
