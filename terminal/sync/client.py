"""HTTP client for the sync server. The transport is swappable (httpx), so tests can put a
fault-injecting proxy or an in-process app between the till and the server."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from shared.protocol import (
    ErrorBody,
    LiveMemberResponse,
    PullResponse,
    PushRequest,
    PushResponse,
)
from terminal.sync.errors import (
    SyncConflictError,
    SyncError,
    SyncGapError,
    SyncOfflineError,
    SyncRejectedError,
    SyncUnauthorizedError,
)

__all__ = ["SyncClient", "SyncError"]

_Reply = TypeVar("_Reply", PushResponse, PullResponse, LiveMemberResponse)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
LOOKUP_TIMEOUT = httpx.Timeout(2.0, connect=1.0)


class SyncClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "loyaltill-till/0.1"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def push(self, terminal_id: str, records: list[dict[str, Any]]) -> PushResponse:
        body = PushRequest(terminal_id=terminal_id, entries=records).model_dump(mode="json")
        response = self._send("POST", "/api/v1/sync/push", json=body)
        return self._parse(PushResponse, response)

    def pull(self, since: str, limit: int = 1000, tip: int | None = None) -> PullResponse:
        """A page of changes since ``since``; ``tip`` (the last seq in this till's journal)
        lets HQ show how many entries the till still holds unsent."""
        params: dict[str, str | int] = {"since": since, "limit": limit}
        if tip is not None:
            params["tip"] = tip
        response = self._send("GET", "/api/v1/sync/pull", params=params)
        return self._parse(PullResponse, response)

    def member(self, card_number: str) -> LiveMemberResponse:
        """HQ's live state of one member (a redemption beyond the offline cap). Short
        timeout: a cashier is waiting."""
        response = self._send(
            "GET", "/api/v1/sync/member", params={"card": card_number}, timeout=LOOKUP_TIMEOUT
        )
        return self._parse(LiveMemberResponse, response)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise SyncOfflineError(f"HQ did not answer in time ({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise SyncOfflineError(f"cannot reach HQ ({type(error).__name__}: {error})") from error
        if response.status_code < 400:
            return response
        detail = self._error_detail(response)
        code, message, acked = detail
        if response.status_code == 401 or code == "unauthorized":
            raise SyncUnauthorizedError(
                f"HQ refused this till's token: {message} — ask HQ to register the till"
            )
        if response.status_code == 403:
            raise SyncUnauthorizedError(f"HQ refused: {message}")
        if code == "gap":
            raise SyncGapError(message, acked_seq=acked)
        if code == "chain_conflict":
            raise SyncConflictError(
                f"HQ holds a different entry for a seq this till sent: {message}", acked_seq=acked
            )
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise SyncOfflineError(f"HQ is having trouble (HTTP {response.status_code})")
        raise SyncRejectedError(f"HQ rejected the data (HTTP {response.status_code}): {message}")

    @staticmethod
    def _error_detail(response: httpx.Response) -> tuple[str, str, int | None]:
        try:
            body = ErrorBody.model_validate_json(response.content)
        except ValidationError:
            return "", response.text[:200] or response.reason_phrase, None
        return body.error.code, body.error.message, body.error.acked_seq

    @staticmethod
    def _parse(model: type[_Reply], response: httpx.Response) -> _Reply:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as error:
            # A cut or garbled reply: the push may have been applied; resending is safe
            # (duplicates are acknowledged and ignored), so treat it as transient.
            raise SyncOfflineError(
                f"HQ's reply was incomplete or garbled: {error.errors()[0]['msg']}"
            ) from error


_ = SyncError  # re-exported for callers that catch the base class
