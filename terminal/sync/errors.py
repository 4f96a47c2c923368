"""Sync failures, mapped from httpx and the server's error body to our own small tree.

SyncError
├── SyncOffline          network down, timeout, 5xx: retry with backoff
├── SyncUnauthorized     no / unknown / revoked token: needs HQ, not a retry
├── SyncGap              the server wants an earlier seq: resend from acked_seq + 1
├── SyncConflict         chain_conflict: tamper alarm, stop pushing, HQ investigates
└── SyncRejected         malformed or refused: the message says what; not retried blindly
"""

from __future__ import annotations

__all__ = [
    "SyncConflictError",
    "SyncError",
    "SyncGapError",
    "SyncOfflineError",
    "SyncRejectedError",
    "SyncUnauthorizedError",
]


class SyncError(Exception):
    retryable = False

    def __init__(self, message: str, *, acked_seq: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.acked_seq = acked_seq


class SyncOfflineError(SyncError):
    retryable = True


class SyncUnauthorizedError(SyncError):
    pass


class SyncGapError(SyncError):
    retryable = True


class SyncConflictError(SyncError):
    pass


class SyncRejectedError(SyncError):
    pass
