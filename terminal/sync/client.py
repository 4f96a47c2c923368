"""HTTP client for the sync server. The transport is swappable (httpx), so tests can put a
fault-injecting proxy or an in-process app between the till and the server."""

from __future__ import annotations

import gzip
import json
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from shared.journal import canonical_json
from shared.protocol import (
    ErrorBody,
    LiveGiftCardResponse,
    LiveMemberResponse,
    LiveVoucherResponse,
    OriginalSaleResponse,
    PullResponse,
    PushResponse,
    SyncStatus,
    TerminalClaim,
    TerminalClaimed,
)
from terminal.sync.errors import (
    SyncConflictError,
    SyncError,
    SyncGapError,
    SyncOfflineError,
    SyncRejectedError,
    SyncUnauthorizedError,
)

__all__ = ["SyncClient", "SyncError", "claim_terminal", "encode_push", "push_overhead"]

_Reply = TypeVar(
    "_Reply",
    PushResponse,
    PullResponse,
    LiveMemberResponse,
    LiveGiftCardResponse,
    LiveVoucherResponse,
    SyncStatus,
    OriginalSaleResponse,
)

GZIP_MIN_BYTES = 4096
"""Push bodies smaller than this go as they are (a sale or two: not worth the CPU)."""
GZIP_LEVEL = 6
"""zlib's default: a 500-entry push (~1 MB) becomes ~130 KB in ~20 ms of the till's CPU."""

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
LOOKUP_TIMEOUT = httpx.Timeout(2.0, connect=1.0)


def push_overhead(terminal_id: str) -> int:
    """Bytes of a push body besides its entries' own JSON (without the commas between them)."""
    return len(encode_push(terminal_id, []))


def encode_push(terminal_id: str, entries: list[bytes]) -> bytes:
    """The ``PushRequest`` body, byte for byte: ``{"entries":[…],"terminal_id":"…"}`` with
    each entry's canonical JSON as stored. Built here rather than by httpx so its size is
    known before it is sent (a push must stay within ``MAX_PUSH_BYTES``)."""
    return (
        b'{"entries":['
        + b",".join(entries)
        + b'],"terminal_id":'
        + json.dumps(terminal_id).encode("ascii")
        + b"}"
    )


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
        self._gzip = False
        """Whether pushes are gzipped: HQ's last status answer said it takes gzip."""
        self._gzip_refused = False
        """A gzipped push was answered 415: this client sends plain pushes only."""

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def push(self, terminal_id: str, records: list[dict[str, Any]]) -> PushResponse:
        return self.push_encoded(encode_push(terminal_id, [canonical_json(r) for r in records]))

    def push_encoded(self, body: bytes) -> PushResponse:
        """Send a push body made by :func:`encode_push` (the engine sizes batches by it):
        gzipped when HQ said it takes gzip (``Accept-Encoding`` on its status answer) and the
        body is worth it; sent again as it is if HQ refuses the coding after all (415)."""
        if self._gzip and len(body) >= GZIP_MIN_BYTES:
            try:
                response = self._send(
                    "POST",
                    "/api/v1/sync/push",
                    content=gzip.compress(body, compresslevel=GZIP_LEVEL),
                    headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
                )
                return self._parse(PushResponse, response)
            except SyncRejectedError as error:
                if error.status_code != 415:
                    raise
                # E.g. a proxy in front of HQ that does not pass it on: plain from now on,
                # whatever the status answers say.
                self._gzip = False
                self._gzip_refused = True
        response = self._send(
            "POST",
            "/api/v1/sync/push",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        return self._parse(PushResponse, response)

    def status(self, tip: int | None = None, tip_hash: str | None = None) -> SyncStatus:
        """What HQ holds of this till's journal. With ``tip``/``tip_hash`` (a seq and this
        till's hash for it) HQ also checks them against its copy and raises its side of the
        alarm when the till is behind or different (invariant 10)."""
        params: dict[str, str | int] = {}
        if tip is not None and tip_hash is not None:
            params = {"tip": tip, "tip_hash": tip_hash}
        response = self._send("GET", "/api/v1/sync/status", params=params)
        codings = response.headers.get("Accept-Encoding", "")
        advertised = "gzip" in {part.strip().lower() for part in codings.split(",")}
        self._gzip = advertised and not self._gzip_refused
        return self._parse(SyncStatus, response)

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

    def gift_card(self, card_number: str) -> LiveGiftCardResponse:
        """HQ's live balance and status of one gift card or credit slip (a payment beyond the
        offline gift-card cap; 404 ``SyncRejectedError``: HQ has no such card). Short
        timeout: a cashier is waiting."""
        response = self._send(
            "GET", f"/api/v1/sync/giftcard/{quote(card_number, safe='')}", timeout=LOOKUP_TIMEOUT
        )
        return self._parse(LiveGiftCardResponse, response)

    def voucher(self, code: str) -> LiveVoucherResponse:
        """HQ's live state of one voucher (beyond the offline voucher cap, or a code the till
        has not pulled; 404 ``SyncRejectedError``: HQ never issued it). Short timeout."""
        response = self._send(
            "GET", f"/api/v1/sync/voucher/{quote(code, safe='')}", timeout=LOOKUP_TIMEOUT
        )
        return self._parse(LiveVoucherResponse, response)

    def original_sale(self, terminal_id: str, seq: int) -> OriginalSaleResponse:
        """Another till's sale and the returns HQ holds against it, for a return of goods
        this till did not sell (404 ``SyncRejectedError``: HQ has no such sale). Short
        timeout: a cashier is waiting."""
        response = self._send(
            "GET",
            "/api/v1/sync/original",
            params={"terminal_id": terminal_id, "seq": seq},
            timeout=LOOKUP_TIMEOUT,
        )
        return self._parse(OriginalSaleResponse, response)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise SyncOfflineError(f"HQ did not answer in time ({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise SyncOfflineError(f"cannot reach HQ ({type(error).__name__}: {error})") from error
        if response.status_code < 400:
            return response
        code, message, acked, seq = self._error_detail(response)
        status = response.status_code
        if status == 401 or code == "unauthorized":
            raise SyncUnauthorizedError(
                f"HQ refused this till's token: {message} — ask HQ to register the till"
            )
        if status == 403:
            raise SyncUnauthorizedError(f"HQ refused: {message}")
        if code == "gap":
            raise SyncGapError(message, acked_seq=acked)
        if code == "chain_conflict":
            raise SyncConflictError(
                f"HQ holds a different entry for a seq this till sent: {message}", acked_seq=acked
            )
        if status >= 500 or status in (408, 429):
            # Transient by definition (HQ down, overloaded, timing out): back off and retry.
            raise SyncOfflineError(f"HQ is having trouble (HTTP {status})")
        # Any other 4xx is HQ's deliberate answer to this very data: resending it unchanged
        # gets the same answer, so it is a refusal shown as one, never "offline" and never a
        # fast retry loop (invariant 9).
        if code == "refused" and seq is not None:
            text = f"HQ refused entry seq {seq}: {message}"
            after = "HQ has been alerted"
        else:
            text = f"HQ refused the data (HTTP {status}{', ' + code if code else ''}): {message}"
            after = "tell HQ support"
        raise SyncRejectedError(
            f"{text.rstrip('. ')}. Sales continue and stay on this till; {after}",
            acked_seq=acked,
            seq=seq,
            status_code=status,
        )

    @staticmethod
    def _error_detail(response: httpx.Response) -> tuple[str, str, int | None, int | None]:
        try:
            body = ErrorBody.model_validate_json(response.content)
        except ValidationError:
            return "", response.text[:200] or response.reason_phrase, None, None
        error = body.error
        return error.code, error.message, error.acked_seq, error.seq

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


def claim_terminal(
    base_url: str,
    code: str,
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> TerminalClaimed:
    """Trade HQ's one-time set-up code for this till's identity, token and store (``till
    setup``; docs/protocol.md, "Setting up a till"). No token is needed, nor sent.

    A refusal (unknown, used or expired code, a revoked till: 4xx) is a
    :class:`SyncRejectedError` with HQ's message, which says what to do; no answer, a 5xx or
    too many attempts (429) is a :class:`SyncOfflineError`."""
    body = TerminalClaim(code=code).model_dump_json().encode("utf-8")
    try:
        with httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"User-Agent": "loyaltill-till/0.1", "Content-Type": "application/json"},
            timeout=timeout,
            transport=transport,
        ) as http:
            response = http.post("/api/v1/terminals/claim", content=body)
    except httpx.TimeoutException as error:
        raise SyncOfflineError(f"HQ at {base_url} did not answer in time") from error
    except httpx.TransportError as error:
        raise SyncOfflineError(f"cannot reach HQ at {base_url} ({error})") from error
    except httpx.InvalidURL as error:
        raise SyncRejectedError(f"{base_url!r} is not a server address: {error}") from error
    status = response.status_code
    if status >= 400:
        code_name, message, _, _ = SyncClient._error_detail(response)
        if status == 429:
            wait = response.headers.get("Retry-After")
            raise SyncOfflineError(
                f"HQ refuses set-up codes from this address for now: {message}"
                + (f" (retry after {wait} s)" if wait and wait not in message else "")
            )
        if status >= 500 or status == 408:
            raise SyncOfflineError(f"HQ is having trouble (HTTP {status}): {message}")
        if status == 404 and not code_name:
            raise SyncRejectedError(
                f"{base_url} does not answer set-up codes (HTTP 404): is it a LoyalTill HQ of "
                "this version?",
                status_code=status,
            )
        raise SyncRejectedError(message, status_code=status)
    try:
        return TerminalClaimed.model_validate_json(response.content)
    except ValidationError as error:
        raise SyncOfflineError(
            f"HQ's reply was incomplete or garbled: {error.errors()[0]['msg']}"
        ) from error


_ = SyncError  # re-exported for callers that catch the base class
