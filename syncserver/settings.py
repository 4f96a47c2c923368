"""The server's one settings object: defaults, then ``LOYALTILL_SERVER_*`` environment variables,
then command-line options (which the CLI passes in explicitly)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, overload

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_DB", "ServerSettings", "as_utc", "utc_now"]

DEFAULT_DB = "sqlite:///./loyaltill-server.sqlite3"
_DAY_S = 24 * 3600.0


class ServerSettings(BaseSettings):
    # hide_input_in_errors: a refused setting's error would otherwise repeat its value — the
    # database URL's password, say.
    model_config = SettingsConfigDict(
        env_prefix="LOYALTILL_SERVER_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    db: str = DEFAULT_DB
    """SQLAlchemy URL: ``sqlite:///path`` or ``postgresql://user@host/db`` (psycopg 3)."""
    host: str = "127.0.0.1"
    port: int = 8080
    pool_size: int = 10
    """PostgreSQL connections per server process (twice as many at peak)."""
    cookie_secure: bool = True
    """Mark the dashboard's session cookie Secure (sent over HTTPS only; browsers also send
    it to http://localhost). Turn off only for plain HTTP on a trusted network."""
    session_hours: int = 12
    """A dashboard sign-in lasts this long (a shift), then staff sign in again."""
    proxy_headers: bool = False
    """Take the client's address from ``X-Forwarded-For`` (and the scheme from
    ``X-Forwarded-Proto``) — only when the server runs behind a reverse proxy, and only from
    ``forwarded_allow_ips``. Off by default: uvicorn's own default trusts these headers from
    loopback, which let anyone on the server's host pick the address the sign-in limits see."""
    forwarded_allow_ips: str = "127.0.0.1"
    """Comma-separated addresses or networks of the proxies whose forwarded headers are
    believed (``*`` trusts any); only used with ``proxy_headers``."""

    # Not in the settings' repr: a printed settings object must not show the secret.
    metrics_token: str | None = Field(default=None, repr=False)
    """The scrape token for ``GET /metrics`` (Prometheus; docs/operations.md): the scraper
    sends ``Authorization: Bearer <token>``. Unset (or empty): /metrics answers 404."""
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per line, a line per request instead of uvicorn's access log
    (docs/operations.md)."""

    # Sign-in limits (docs/hq.md). Failed attempts count within ``sign_in_window_minutes``;
    # none of them locks an account: they slow the guesser down.
    sign_in_window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    """How far back failed sign-ins count."""
    sign_in_free_failures: int = Field(default=3, ge=1, le=1000)
    """Failures per (user name, address), since that pair's last success, before delays."""
    sign_in_first_delay_seconds: float = Field(default=1.0, gt=0, le=_DAY_S)
    """After ``sign_in_free_failures`` failures, the next attempt from that address for that
    name waits this long after the last failure; each further failure doubles the wait."""
    sign_in_max_delay_seconds: float = Field(default=300.0, gt=0, le=_DAY_S)
    """The longest wait a (user name, address) pair is asked for."""
    sign_in_address_limit: int = Field(default=30, ge=1, le=1_000_000)
    """Failures from one address, across all user names, within the window; further attempts
    from that address wait until the oldest of them leaves the window (password spraying)."""
    sign_in_user_limit: int = Field(default=100, ge=1, le=1_000_000)
    """Failures for one user name, across all addresses, within the window; beyond it the
    name accepts one attempt per ``sign_in_user_interval_seconds`` from addresses where it
    has not signed in before (a distributed guesser is slowed, the account never locked)."""
    sign_in_user_interval_seconds: float = Field(default=10.0, gt=0, le=_DAY_S)
    """Beyond ``sign_in_user_limit``: the time between two attempts for that name."""
    sign_in_known_address_days: int = Field(default=30, ge=1, le=366)
    """An address where a user signed in within this many days is known for that user: the
    per-name slow-down above does not apply to it."""
    sign_in_hash_workers: int = Field(default=2, ge=1, le=64)
    """Password checks at once per server process. Each argon2id check takes 64 MiB and a
    core for tens of milliseconds; more at once only adds memory."""
    sign_in_hash_niceness: int = Field(default=19, ge=0, le=19)
    """How much lower the password checkers' CPU priority is than the rest of the server's
    (Linux nice; 0: the same). At 19 a flood of sign-ins leaves the tills' pushes the CPU;
    sign-ins get what is left."""
    sign_in_queue_seconds: float = Field(default=5.0, gt=0, le=300)
    """How long a sign-in waits for a free password checker before it is answered 503
    ("try again in a moment")."""
    default_country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    """ISO 3166 alpha-2 (e.g. DE): the country of phone numbers written without a + when the
    member's store has none set, and of numbers typed into HQ's member search and imports."""
    timezone: str = "UTC"
    """IANA zone (e.g. Europe/Berlin) for HQ times tied to no store: staff actions, sign-ins,
    program versions. Times of a till or its entries show in their store's zone."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Berlin or UTC)") from None
        return value

    @field_validator("db")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        # A mysql:// (or mistyped) URL is refused here, naming the supported ones, before
        # anything tries to connect — not as a driver error on the first request.
        from syncserver.storage.database import parse_url

        parse_url(value)
        return value


def utc_now() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...


@overload
def as_utc(value: None) -> None: ...


def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite hands timestamps back naive (they are
    all stored in UTC); PostgreSQL's come back aware and are converted to UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
