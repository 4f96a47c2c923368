"""Running one HQ event as one transaction: the event (replayed by ``ledger rebuild``), what
it posts, the audit row. Shared by the voucher and gift-card actions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection

from syncserver.errors import ConflictError
from syncserver.ledger.context import BalanceOutOfBoundsError, LedgerContext, LiveMemberIds
from syncserver.ledger.hq_events import HqEventConflictError, apply_event, record_event
from syncserver.settings import utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.database import Database, run_write

__all__ = ["Planned", "run_event"]

T = TypeVar("T")

Planned = tuple[Any, Mapping[str, Any], T]
"""What an action will do: the HQ event, the audit detail, and what the action returns."""


def run_event(
    database: Database,
    actor: Actor,
    build: Callable[[Connection, LedgerContext, datetime], Planned[T]],
    audit: tuple[str, str, str],
) -> T:
    """``build(conn, ctx, now)`` checks and plans (raising the API's errors); the event is
    then recorded and applied, and the audit row ``audit`` = (action, target kind, target id)
    written, all in one write transaction."""

    def work(conn: Connection) -> T:
        now = utc_now()
        ctx = LedgerContext(conn, now, member_ids=LiveMemberIds(), live=True)
        event, detail, result = build(conn, ctx, now)
        event_id = record_event(conn, event, actor.username, ctx)
        try:
            apply_event(ctx, event_id, event.kind, event.model_dump(mode="json"))
        except (HqEventConflictError, BalanceOutOfBoundsError) as error:
            raise ConflictError(str(error)) from None
        ctx.finish(hq_event_ids=[event_id])
        action, target_kind, target_id = audit
        record_action(
            conn,
            actor,
            action,
            now,
            target_kind=target_kind,
            target_id=target_id,
            detail={**detail, "hq_event_id": event_id},
        )
        return result

    return run_write(database, work)
