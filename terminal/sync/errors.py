"""Sync failures, mapped from httpx and the server's error body to our own small tree.

SyncError
├── SyncOffline          network down, timeout, 5xx, 408/429: retry with backoff
├── SyncUnauthorized     no / unknown / revoked token: needs HQ, not a retry
├── SyncGap              the server wants an earlier seq: resend from acked_seq + 1
├── SyncConflict         chain_conflict: tamper alarm, stop pushing, HQ investigates
├── SyncJournalAlarm     HQ holds more of this till's journal than the till, or another
│                        version of it (invariant 10), or a stored entry is unreadable:
│                        push nothing, alarm loudly, HQ support investigates
└── SyncRejected         HQ refused the data (422 ``refused``, 413, any other 4xx): the
                         message says what and, when HQ named it, which entry (``seq``);
                         checked back slowly, never a fast retry loop (invariant 9)
"""

from __future__ import annotations

__all__ = [
    "SyncConflictError",
    "SyncError",
    "SyncGapError",
    "SyncJournalAlarmError",
    "SyncOfflineError",
    "SyncRejectedError",
    "SyncUnauthorizedError",
]


class SyncError(Exception):
    retryable = False
    state = "refused"
    """What ``sync_state`` the till records and shows for this failure."""

    def __init__(self, message: str, *, acked_seq: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.acked_seq = acked_seq


class SyncOfflineError(SyncError):
    retryable = True
    state = "offline"


class SyncUnauthorizedError(SyncError):
    pass


class SyncGapError(SyncError):
    retryable = True
    state = "offline"


class SyncConflictError(SyncError):
    state = "conflict"


class SyncJournalAlarmError(SyncError):
    """The till's journal and HQ's copy of it disagree in a way no resend can mend."""

    state = "alarm"


class SyncRejectedError(SyncError):
    def __init__(
        self,
        message: str,
        *,
        acked_seq: int | None = None,
        seq: int | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, acked_seq=acked_seq)
        self.seq = seq
        """The entry HQ refused, when it named one (it stays on the till, unsent)."""
        self.status_code = status_code
