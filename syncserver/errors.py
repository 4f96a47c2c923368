"""Errors the API answers with, always in the one ``ErrorBody`` shape (docs/protocol.md)."""

from __future__ import annotations

from typing import ClassVar

from shared.protocol import ErrorBody, ErrorDetail

__all__ = [
    "ApiError",
    "BusyError",
    "ChainConflictError",
    "ConflictError",
    "ForbiddenError",
    "GapError",
    "MalformedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "RefusedError",
    "UnauthorizedError",
    "UnsupportedEncodingError",
]


class ApiError(Exception):
    status = 500
    code = "internal"
    headers: ClassVar[dict[str, str]] = {}
    """Response headers the error's answer carries."""

    def __init__(
        self, message: str, *, acked_seq: int | None = None, seq: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.acked_seq = acked_seq
        self.seq = seq

    def body(self) -> ErrorBody:
        return ErrorBody(
            error=ErrorDetail(
                code=self.code, message=self.message, acked_seq=self.acked_seq, seq=self.seq
            )
        )


class UnauthorizedError(ApiError):
    status, code = 401, "unauthorized"


class ForbiddenError(ApiError):
    status, code = 403, "forbidden"


class NotFoundError(ApiError):
    status, code = 404, "not_found"


class ConflictError(ApiError):
    """The request is well formed but the state does not allow it (already resolved, …)."""

    status, code = 409, "conflict"


class RateLimitedError(ApiError):
    status, code = 429, "rate_limited"


class GapError(ApiError):
    status, code = 409, "gap"


class ChainConflictError(ApiError):
    status, code = 409, "chain_conflict"


class MalformedError(ApiError):
    status, code = 422, "malformed"


class RefusedError(ApiError):
    """HQ cannot store or post this journal entry, whatever it retries: the till keeps it,
    stops pushing and shows the refusal; HQ has an ``entry_refused`` exception."""

    status, code = 422, "refused"


class BusyError(ApiError):
    status, code = 503, "busy"


class PayloadTooLargeError(ApiError):
    """The request body is larger than its route takes (``syncserver.api.limits``): refused
    before it is read, authenticated or parsed."""

    status, code = 413, "too_large"


class UnsupportedEncodingError(ApiError):
    """A request body in a content coding the server does not take; ``Accept-Encoding``
    names the ones it does (RFC 7694)."""

    status, code = 415, "unsupported_encoding"
    headers: ClassVar[dict[str, str]] = {"Accept-Encoding": "gzip"}
