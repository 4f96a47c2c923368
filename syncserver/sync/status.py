"""``GET /api/v1/sync/status``: what HQ holds of a till's journal, and the alarm when the till
holds less (docs/design.md, invariant 10).

A till's journal can only grow. When the tip a till reports is behind the seq HQ already
acknowledged — or at that seq with another hash — the till's journal was truncated or
restored from an older copy, and the till's next entries would reuse seqs HQ already has.
Both sides raise it: the till stops pushing and shows the alarm; HQ gets a ``journal_behind``
exception (once while it is open) with what each side holds.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from sqlalchemy import Connection

from shared.protocol import RaisedException, SyncStatus
from syncserver.storage.database import Database, DatabaseBusyError, run_write
from syncserver.storage.exceptions import insert_exception, open_exception_exists
from syncserver.storage.terminals import TerminalRecord

__all__ = ["journal_behind_detail", "raise_journal_behind", "sync_status"]

log = logging.getLogger(__name__)

ALARM_LOCK_WAIT_MS = 500
"""How long recording the alarm waits for another writer (it is retried on the next sync)."""


def journal_behind_detail(terminal: TerminalRecord, tip: int, tip_hash: str | None) -> str | None:
    """Why the till's reported tip contradicts what HQ acknowledged, or None when it does not."""
    if tip < terminal.acked_seq:
        return (
            f"till {terminal.terminal_id} reports its journal ends at seq {tip}, but HQ already "
            f"holds its entries up to seq {terminal.acked_seq}: the till's journal was "
            "truncated or restored from an older copy; its new entries would reuse those seqs"
        )
    if tip == terminal.acked_seq and tip_hash is not None and tip_hash != terminal.last_hash:
        return (
            f"till {terminal.terminal_id}'s entry seq {tip} has hash {tip_hash[:16]}…, but HQ "
            f"acknowledged seq {tip} with hash {terminal.last_hash[:16]}…: the journals diverged"
        )
    return None


def raise_journal_behind(
    conn: Connection,
    terminal: TerminalRecord,
    tip: int,
    tip_hash: str | None,
    detail: str,
    now: datetime,
) -> None:
    """Record the alarm unless the same one is already open."""
    evidence = json.dumps(
        {
            "till_tip_seq": tip,
            "till_tip_hash": tip_hash,
            "hq_acked_seq": terminal.acked_seq,
            "hq_acked_hash": terminal.last_hash,
        },
        sort_keys=True,
    )
    if open_exception_exists(
        conn, "journal_behind", terminal.terminal_id, terminal.acked_seq, None
    ):
        return
    insert_exception(
        conn,
        RaisedException(
            kind="journal_behind",
            terminal_id=terminal.terminal_id,
            seq=terminal.acked_seq,
            amount=max(0, terminal.acked_seq - tip),
            detail=detail,
        ),
        now,
        evidence=evidence,
    )


def sync_status(
    database: Database,
    terminal: TerminalRecord,
    tip: int | None,
    tip_hash: str | None,
    now: datetime,
) -> SyncStatus:
    # ``terminal`` is the row read when the token was checked, a moment ago: no second read.
    current = terminal
    if tip is not None:
        detail = journal_behind_detail(current, tip, tip_hash)
        if detail is not None:
            log.error("journal behind HQ: %s", detail)
            try:
                run_write(
                    database,
                    lambda conn: raise_journal_behind(conn, current, tip, tip_hash, detail, now),
                    attempts=2,
                    lock_wait_ms=ALARM_LOCK_WAIT_MS,
                )
            except DatabaseBusyError as error:  # the till asks again on its next round
                log.warning("could not record the journal_behind alarm: %s", error)
    return SyncStatus(
        terminal_id=current.terminal_id,
        acked_seq=current.acked_seq,
        acked_hash=current.last_hash,
    )
