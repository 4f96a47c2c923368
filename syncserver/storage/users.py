"""HQ users and their API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from syncserver.security import hash_password, hash_token, new_password, new_token
from syncserver.storage.schema import api_tokens, hq_users

__all__ = ["HqUser", "add_user", "create_token", "user_by_token", "user_exists"]


@dataclass(frozen=True, slots=True)
class HqUser:
    username: str
    role: str


def user_exists(conn: Connection, username: str | None = None) -> bool:
    query = select(hq_users.c.username)
    if username is not None:
        query = query.where(hq_users.c.username == username)
    return conn.execute(query.limit(1)).first() is not None


def add_user(conn: Connection, username: str, role: str, now: datetime) -> str:
    """Create an HQ user with a random password; returns the password (shown once)."""
    password = new_password()
    conn.execute(
        hq_users.insert().values(
            username=username, password_hash=hash_password(password), role=role, created_at=now
        )
    )
    return password


def create_token(conn: Connection, username: str, now: datetime, label: str | None = None) -> str:
    token = new_token()
    conn.execute(
        api_tokens.insert().values(
            token_hash=hash_token(token), username=username, label=label, created_at=now
        )
    )
    return token


def user_by_token(conn: Connection, token: str) -> HqUser | None:
    row = conn.execute(
        select(hq_users.c.username, hq_users.c.role)
        .join(api_tokens, api_tokens.c.username == hq_users.c.username)
        .where(api_tokens.c.token_hash == hash_token(token), api_tokens.c.revoked_at.is_(None))
    ).first()
    return HqUser(row.username, row.role) if row else None
