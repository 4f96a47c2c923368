"""HQ staff: users with roles, their API tokens, web sessions and sign-in attempts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, Connection, delete, func, select, update

from syncserver.security import (
    hash_password,
    hash_token,
    needs_rehash,
    new_password,
    new_token,
    verify_password,
)
from syncserver.settings import as_utc
from syncserver.storage.schema import api_tokens, hq_users, sign_in_attempts, staff_sessions

__all__ = [
    "HqUser",
    "Role",
    "SessionRecord",
    "UserRecord",
    "add_user",
    "check_password",
    "create_session",
    "create_token",
    "delete_session",
    "disable_user",
    "list_users",
    "recent_failures",
    "record_sign_in",
    "session_by_cookie",
    "user_by_token",
    "user_exists",
]


class Role(StrEnum):
    """Each role may do everything the roles below it may."""

    VIEWER = "viewer"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True, slots=True)
class HqUser:
    username: str
    role: Role

    def can(self, needed: Role) -> bool:
        return self.role.allows(needed)


@dataclass(frozen=True, slots=True)
class UserRecord:
    username: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None
    last_sign_in_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    user: HqUser
    csrf_token: str
    expires_at: datetime


def user_exists(conn: Connection, username: str | None = None) -> bool:
    query = select(hq_users.c.username)
    if username is not None:
        query = query.where(hq_users.c.username == username)
    return conn.execute(query.limit(1)).first() is not None


def add_user(
    conn: Connection, username: str, role: Role | str, now: datetime, password: str | None = None
) -> str:
    """Create an HQ user (a random password unless one is given); returns the password."""
    password = password or new_password()
    conn.execute(
        hq_users.insert().values(
            username=username,
            password_hash=hash_password(password),
            role=Role(role).value,
            created_at=now,
        )
    )
    return password


def list_users(conn: Connection) -> list[UserRecord]:
    rows = conn.execute(select(hq_users).order_by(hq_users.c.username))
    return [
        UserRecord(r.username, Role(r.role), r.created_at, r.disabled_at, r.last_sign_in_at)
        for r in rows
    ]


def disable_user(conn: Connection, username: str, now: datetime) -> bool:
    """Disable the user, end their sessions and revoke their API tokens; False if unknown."""
    changed = conn.execute(
        update(hq_users)
        .where(hq_users.c.username == username, hq_users.c.disabled_at.is_(None))
        .values(disabled_at=now)
    ).rowcount
    conn.execute(delete(staff_sessions).where(staff_sessions.c.username == username))
    conn.execute(
        update(api_tokens)
        .where(api_tokens.c.username == username, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(changed) or user_exists(conn, username)


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
        .where(
            api_tokens.c.token_hash == hash_token(token),
            api_tokens.c.revoked_at.is_(None),
            hq_users.c.disabled_at.is_(None),
        )
    ).first()
    return HqUser(row.username, Role(row.role)) if row else None


def check_password(conn: Connection, username: str, password: str) -> HqUser | None:
    """The enabled user whose password this is; upgrades a legacy hash in place."""
    row = conn.execute(select(hq_users).where(hq_users.c.username == username)).first()
    if row is None:
        # Spend the same time as a real check, so timing does not reveal who exists.
        verify_password(password, _DUMMY_HASH)
        return None
    if not verify_password(password, row.password_hash) or row.disabled_at is not None:
        return None
    if needs_rehash(row.password_hash):
        conn.execute(
            update(hq_users)
            .where(hq_users.c.username == username)
            .values(password_hash=hash_password(password))
        )
    return HqUser(row.username, Role(row.role))


_DUMMY_HASH = hash_password(secrets.token_urlsafe(12))


def record_sign_in(conn: Connection, username: str, ip: str, now: datetime, ok: bool) -> None:
    conn.execute(sign_in_attempts.insert().values(username=username, ip=ip, at=now, succeeded=ok))
    if ok:
        conn.execute(
            update(hq_users).where(hq_users.c.username == username).values(last_sign_in_at=now)
        )
        # Housekeeping while we are here: ended sessions and attempts older than a day.
        conn.execute(delete(staff_sessions).where(staff_sessions.c.expires_at < now))
        conn.execute(
            delete(sign_in_attempts).where(sign_in_attempts.c.at < now - timedelta(days=1))
        )


def recent_failures(
    conn: Connection, *, username: str, ip: str, since: datetime
) -> tuple[int, int]:
    """Failed sign-ins since ``since``: (for this username, from this address)."""

    def count(condition: ColumnElement[bool]) -> int:
        query = (
            select(func.count())
            .select_from(sign_in_attempts)
            .where(
                sign_in_attempts.c.at >= since, sign_in_attempts.c.succeeded.is_(False), condition
            )
        )
        return int(conn.execute(query).scalar_one())

    return count(sign_in_attempts.c.username == username), count(sign_in_attempts.c.ip == ip)


def create_session(
    conn: Connection, user: HqUser, now: datetime, lifetime: timedelta, ip: str | None
) -> str:
    """A new session; returns the cookie value (only its hash is stored)."""
    cookie = new_token()
    conn.execute(
        staff_sessions.insert().values(
            session_hash=hash_token(cookie),
            username=user.username,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + lifetime,
            last_seen_at=now,
            ip=ip,
        )
    )
    return cookie


def session_by_cookie(conn: Connection, cookie: str, now: datetime) -> SessionRecord | None:
    row = conn.execute(
        select(staff_sessions, hq_users.c.role, hq_users.c.disabled_at)
        .join(hq_users, hq_users.c.username == staff_sessions.c.username)
        .where(staff_sessions.c.session_hash == hash_token(cookie))
    ).first()
    if row is None or row.disabled_at is not None:
        return None
    expires_at = as_utc(row.expires_at)
    if expires_at <= now:
        return None
    return SessionRecord(HqUser(row.username, Role(row.role)), row.csrf_token, expires_at)


def delete_session(conn: Connection, cookie: str) -> None:
    conn.execute(delete(staff_sessions).where(staff_sessions.c.session_hash == hash_token(cookie)))
