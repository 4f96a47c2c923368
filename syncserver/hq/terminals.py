"""HQ's view of the tills: their health (last contact, unsent estimate, chain status) and the
admin's two writes, registering a till and revoking one — each with its audit row in the same
transaction.

Errors are the API's own (``syncserver.errors``), so the JSON API, the dashboard and the CLI
show the same message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, exc, func, select

from syncserver.errors import ConflictError, MalformedError, NotFoundError
from syncserver.settings import as_utc, utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.database import Database, run_write
from syncserver.storage.schema import exceptions
from syncserver.storage.terminals import (
    TerminalRecord,
    add_terminal,
    get_terminal,
    page_of_terminals,
    revoke_terminal,
)

__all__ = [
    "OFFLINE_AFTER",
    "NewTerminal",
    "TerminalHealth",
    "find_terminal",
    "register_terminal",
    "revoke",
    "terminal_page",
]

OFFLINE_AFTER = timedelta(hours=1)
"""A till not heard from (no push, no pull) for longer than this is shown as offline."""

_STORE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

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
    """Shown once; HQ keeps only its hash."""


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
    store = store_id.strip()
    if not _STORE.match(store):
        raise MalformedError(
            "store: 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(e.g. S001) — the same store id as in the till's configuration"
        )
    label = " ".join(name.split())
    if not label:
        raise MalformedError("name: give the till a name staff will recognise (e.g. Till 2)")
    if len(label) > 200:
        raise MalformedError("name: 200 characters at most")
    return store, label


def register_terminal(database: Database, actor: Actor, store_id: str, name: str) -> NewTerminal:
    """Register a till; its token is returned once (only the hash is stored)."""
    store, label = _clean(store_id, name)

    def work(conn: Connection) -> NewTerminal:
        now = utc_now()
        terminal_id, token = add_terminal(conn, store, label, now)
        record_action(
            conn,
            actor,
            "terminal.add",
            now,
            target_kind="terminal",
            target_id=terminal_id,
            detail={"store_id": store, "name": label},
        )
        return NewTerminal(terminal_id, store, label, token)

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
