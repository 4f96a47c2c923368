"""When the till counts as online: one rule for ``till status``, the status bar and receipts.

"Online" means a sync round with HQ succeeded at most :data:`ONLINE_WITHIN` ago — not the
state the till last recorded, which says nothing about a cable pulled since.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import sqlite_utils

from terminal.store.settings import get_setting

__all__ = ["ONLINE_WITHIN", "hq_online", "last_contact"]

ONLINE_WITHIN: Final = timedelta(seconds=60)


def last_contact(db: sqlite_utils.Database) -> datetime | None:
    """When the last successful sync round ended (the engine records it), if ever."""
    text = get_setting(db, "last_contact_at") or get_setting(db, "last_sync_at")
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def hq_online(db: sqlite_utils.Database, now: datetime) -> bool:
    """The last sync round succeeded and ended within :data:`ONLINE_WITHIN` of ``now``. Either
    side of ``now``: a sale stamped by a till clock a few seconds behind the sync thread's is
    still "just after" the contact."""
    if get_setting(db, "sync_state") != "online":
        return False
    when = last_contact(db)
    if when is None or now.tzinfo is None:
        return False
    return abs(now - when) <= ONLINE_WITHIN
