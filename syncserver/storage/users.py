"""HQ staff: users with roles, their API tokens, web sessions and sign-in attempts (with the
sign-in limits)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, delete, func, select, text, update

from syncserver.security import (
    check_password_hash,
    hash_password,
    hash_token,
    new_password,
    new_token,
)
from syncserver.settings import ServerSettings, as_utc
from syncserver.storage.database import is_postgres
from syncserver.storage.schema import api_tokens, hq_users, sign_in_attempts, staff_sessions

__all__ = [
    "HqUser",
    "Reservation",
    "Role",
    "SessionRecord",
    "SignInPolicy",
    "Throttle",
    "ThrottleReason",
    "UserRecord",
    "add_user",
    "check_password",
    "complete_sign_in",
    "create_session",
    "create_token",
    "delete_session",
    "disable_user",
    "list_users",
    "reserve_sign_in",
    "session_by_cookie",
    "sign_in_wait",
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
    """The enabled user whose password this is; upgrades a legacy hash in place.

    For tools and tests that already hold a connection: it hashes inside the caller's
    transaction. The dashboard's sign-in checks passwords outside any transaction
    (:func:`reserve_sign_in`, :func:`complete_sign_in`)."""
    row = conn.execute(select(hq_users).where(hq_users.c.username == username)).first()
    check = check_password_hash(password, row.password_hash if row is not None else None)
    if row is None or not check.ok or row.disabled_at is not None:
        return None
    if check.new_hash is not None:
        conn.execute(
            update(hq_users)
            .where(hq_users.c.username == username)
            .values(password_hash=check.new_hash)
        )
    return HqUser(row.username, Role(row.role))


# --- Sign-in limits ----------------------------------------------------------------------------
#
# OWASP's advice, not lock-outs: five wrong passwords must not let anyone shut an admin out.
# Every evaluated attempt is a row in sign_in_attempts, recorded as a failure *before* the
# password is checked (so concurrent attempts count each other) and turned into a success
# afterwards. Three rules, each answering "wait N seconds", never "locked":
#
# * per (user name, address): ``free_failures`` failures since the pair's last success, then
#   each further attempt waits first_delay * 2^(n - free_failures) after the last failure,
#   capped at max_delay — a guesser slows to a crawl, a typo costs a second;
# * per address, across names: ``address_limit`` failures in the window, then that address
#   waits until the oldest leaves the window (password spraying);
# * per user name, across addresses: beyond the generous ``user_limit``, one attempt per
#   ``user_interval`` — except from an address where the user signed in recently, so the
#   real user at their usual desk is not slowed by a distributed guesser.


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    window: timedelta
    free_failures: int
    first_delay: timedelta
    max_delay: timedelta
    address_limit: int
    user_limit: int
    user_interval: timedelta
    known_address_for: timedelta

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> SignInPolicy:
        return cls(
            window=timedelta(minutes=settings.sign_in_window_minutes),
            free_failures=settings.sign_in_free_failures,
            first_delay=timedelta(seconds=settings.sign_in_first_delay_seconds),
            max_delay=timedelta(seconds=settings.sign_in_max_delay_seconds),
            address_limit=settings.sign_in_address_limit,
            user_limit=settings.sign_in_user_limit,
            user_interval=timedelta(seconds=settings.sign_in_user_interval_seconds),
            known_address_for=timedelta(days=settings.sign_in_known_address_days),
        )

    def pair_delay(self, failures: int) -> timedelta:
        """How long after the last failure the next attempt may come, after ``failures``."""
        if failures < self.free_failures:
            return timedelta(0)
        # In float seconds with a bounded exponent: a timedelta would overflow long before
        # a guesser's failures stop counting, and beyond 2^40 every cap has been reached.
        doubling = min(failures - self.free_failures, 40)
        seconds = self.first_delay.total_seconds() * 2.0**doubling
        return timedelta(seconds=min(seconds, self.max_delay.total_seconds()))


class ThrottleReason(StrEnum):
    PAIR = "pair"
    """Too many failures for this user name from this address."""
    ADDRESS = "address"
    """Too many failures from this address, across user names."""
    USER = "user"
    """Too many failures for this user name, across addresses."""


@dataclass(frozen=True, slots=True)
class Throttle:
    """Not now: the attempt may be made again after ``wait``."""

    reason: ThrottleReason
    wait: timedelta


@dataclass(frozen=True, slots=True)
class Reservation:
    """An attempt recorded as a failure, to be checked outside the transaction."""

    attempt_id: int
    at: datetime
    password_hash: str | None
    """The stored hash to check against; None when there is no such user."""
    enabled: bool


_FAILED = sign_in_attempts.c.succeeded.is_(False)


def sign_in_wait(
    conn: Connection, policy: SignInPolicy, username: str, ip: str, now: datetime
) -> Throttle | None:
    """The longest wait the limits ask of an attempt for ``username`` from ``ip`` at ``now``,
    or None when it may be checked. Reads only: :func:`reserve_sign_in` makes it atomic."""
    since = now - policy.window
    waits: list[Throttle] = []

    def until(reason: ThrottleReason, moment: datetime) -> None:
        if moment > now:
            waits.append(Throttle(reason, moment - now))

    pair = (sign_in_attempts.c.username == username, sign_in_attempts.c.ip == ip)
    last_success = conn.execute(
        select(func.max(sign_in_attempts.c.at)).where(
            *pair, sign_in_attempts.c.succeeded.is_(True), sign_in_attempts.c.at >= since
        )
    ).scalar_one()
    pair_since = (
        sign_in_attempts.c.at > last_success
        if last_success is not None
        else sign_in_attempts.c.at >= since
    )
    count, last = conn.execute(
        select(func.count(), func.max(sign_in_attempts.c.at)).where(
            *pair, _FAILED, sign_in_attempts.c.at >= since, pair_since
        )
    ).one()
    if count >= policy.free_failures:
        until(ThrottleReason.PAIR, as_utc(last) + policy.pair_delay(int(count)))

    from_address = (sign_in_attempts.c.ip == ip, _FAILED, sign_in_attempts.c.at >= since)
    count = conn.execute(select(func.count()).where(*from_address)).scalar_one()
    if count >= policy.address_limit:
        # A sliding window: the attempt may come once fewer than the limit remain in it.
        oldest_kept = conn.execute(
            select(sign_in_attempts.c.at)
            .where(*from_address)
            .order_by(sign_in_attempts.c.at)
            .offset(int(count) - policy.address_limit)
            .limit(1)
        ).scalar_one()
        until(ThrottleReason.ADDRESS, as_utc(oldest_kept) + policy.window)

    count, last = conn.execute(
        select(func.count(), func.max(sign_in_attempts.c.at)).where(
            sign_in_attempts.c.username == username, _FAILED, sign_in_attempts.c.at >= since
        )
    ).one()
    if count >= policy.user_limit and not _known_address(conn, policy, username, ip, now):
        until(ThrottleReason.USER, as_utc(last) + policy.user_interval)

    return max(waits, key=lambda throttle: throttle.wait, default=None)


def _known_address(
    conn: Connection, policy: SignInPolicy, username: str, ip: str, now: datetime
) -> bool:
    return (
        conn.execute(
            select(sign_in_attempts.c.id)
            .where(
                sign_in_attempts.c.username == username,
                sign_in_attempts.c.ip == ip,
                sign_in_attempts.c.succeeded.is_(True),
                sign_in_attempts.c.at >= now - policy.known_address_for,
            )
            .limit(1)
        ).first()
        is not None
    )


# pg_advisory_xact_lock(int4, int4) key spaces: one for user names, one for addresses.
_USER_LOCKS = 0x4C545355  # "LTSU"
_ADDRESS_LOCKS = 0x4C545341  # "LTSA"


def _lock_key(text: str) -> int:
    """A stable signed 32-bit key for ``text`` (Python's hash() differs between processes)."""
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8"), digest_size=4).digest(), "big", signed=True
    )


def reserve_sign_in(
    conn: Connection,
    policy: SignInPolicy,
    username: str,
    ip: str,
    clock: Callable[[], datetime],
) -> Reservation | Throttle:
    """In a write transaction: check the limits and, if they allow it, record the attempt as
    a failure and return what to check the password against.

    Atomic across threads, processes and replicas. On PostgreSQL (READ COMMITTED) two
    transactions would both count the same failures and both go ahead, so this takes
    transaction-scoped advisory locks on the user name and then the address (always in that
    order, so two reservations cannot deadlock): any two attempts sharing a name or an address
    are serialised. SQLite's BEGIN IMMEDIATE already serialises every writer. The time is
    read after the locks, so serialised attempts are recorded in order."""
    if is_postgres(conn):
        for space, value in ((_USER_LOCKS, username), (_ADDRESS_LOCKS, ip)):
            conn.execute(
                text(
                    "SELECT pg_advisory_xact_lock(CAST(:space AS integer), CAST(:key AS integer))"
                ),
                {"space": space, "key": _lock_key(value)},
            )
    now = clock()
    throttle = sign_in_wait(conn, policy, username, ip, now)
    if throttle is not None:
        return throttle
    attempt_id = conn.execute(
        sign_in_attempts.insert()
        .values(username=username, ip=ip, at=now, succeeded=False)
        .returning(sign_in_attempts.c.id)
    ).scalar_one()
    row = conn.execute(
        select(hq_users.c.password_hash, hq_users.c.disabled_at).where(
            hq_users.c.username == username
        )
    ).first()
    if row is None:
        return Reservation(int(attempt_id), now, None, enabled=False)
    return Reservation(int(attempt_id), now, row.password_hash, enabled=row.disabled_at is None)


def complete_sign_in(
    conn: Connection,
    policy: SignInPolicy,
    reservation: Reservation,
    username: str,
    new_hash: str | None,
    now: datetime,
) -> HqUser | None:
    """In a write transaction, after the password checked out against
    ``reservation.password_hash``: mark the attempt a success and store ``new_hash`` (an
    upgrade of a legacy hash) if given. None — the attempt stays a failure — when the user
    was disabled or their stored hash changed while it was being checked (the password that
    was checked may no longer be theirs; the one benign case, two sign-ins at once upgrading
    the same legacy hash, costs the second one a retry)."""
    row = conn.execute(select(hq_users).where(hq_users.c.username == username)).first()
    if row is None or row.disabled_at is not None or row.password_hash != reservation.password_hash:
        return None
    conn.execute(
        update(sign_in_attempts)
        .where(sign_in_attempts.c.id == reservation.attempt_id)
        .values(succeeded=True)
    )
    changes: dict[str, Any] = {"last_sign_in_at": now}
    if new_hash is not None:
        changes["password_hash"] = new_hash
    conn.execute(update(hq_users).where(hq_users.c.username == username).values(**changes))
    # Housekeeping while we are here: ended sessions; failures once no limit looks at them;
    # successes once they no longer make an address known.
    conn.execute(delete(staff_sessions).where(staff_sessions.c.expires_at < now))
    conn.execute(
        delete(sign_in_attempts).where(
            sign_in_attempts.c.at < now - max(policy.window, timedelta(days=1)), _FAILED
        )
    )
    conn.execute(
        delete(sign_in_attempts).where(
            sign_in_attempts.c.at < now - policy.known_address_for,
            sign_in_attempts.c.succeeded.is_(True),
        )
    )
    return HqUser(row.username, Role(row.role))


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
