"""The server's one settings object: defaults, then ``LOYALTILL_SERVER_*`` environment variables,
then command-line options (which the CLI passes in explicitly)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_DB", "ServerSettings", "as_utc", "utc_now"]

DEFAULT_DB = "sqlite:///./loyaltill-server.sqlite3"


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOYALTILL_SERVER_", frozen=True, extra="ignore")

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
    sign_in_limit: int = 5
    """Failed sign-ins per user name (4x this per address) within ``sign_in_window_minutes``
    before further attempts are refused."""
    sign_in_window_minutes: int = 15


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
