"""HQ staff accounts: adding users, disabling them, their API tokens — each write with its
audit row in the same transaction — and the keyset-paginated staff list.

Errors are the API's own (``syncserver.errors``), so the JSON API, the dashboard and the CLI
show the same message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, exc, func, select

from syncserver.errors import ConflictError, ForbiddenError, MalformedError, NotFoundError
from syncserver.settings import utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.database import Database, run_write
from syncserver.storage.schema import hq_users
from syncserver.storage.users import Role, UserRecord, add_user, create_token, disable_user

__all__ = [
    "NewStaff",
    "add_staff",
    "create_staff_token",
    "disable_staff",
    "find_staff",
    "staff_page",
]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")
RESERVED = frozenset({"cli"})
"""Names the audit log uses for something other than a person."""


@dataclass(frozen=True, slots=True)
class NewStaff:
    username: str
    role: Role
    password: str
    """Shown once; HQ keeps only its argon2 hash."""
    token: str | None = None
    """An API token, when one was asked for; shown once likewise."""


def _record(row: Row[Any, Any, Any, Any, Any]) -> UserRecord:
    return UserRecord(
        row.username, Role(row.role), row.created_at, row.disabled_at, row.last_sign_in_at
    )


_COLUMNS = (
    hq_users.c.username,
    hq_users.c.role,
    hq_users.c.created_at,
    hq_users.c.disabled_at,
    hq_users.c.last_sign_in_at,
)


def staff_page(conn: Connection, *, after: str | None = None, limit: int = 50) -> list[UserRecord]:
    """Up to ``limit`` users in name order after ``after`` (keyset on the primary key)."""
    query = select(*_COLUMNS).order_by(hq_users.c.username).limit(limit)
    if after is not None:
        query = query.where(hq_users.c.username > after)
    return [_record(row) for row in conn.execute(query)]


def find_staff(conn: Connection, username: str) -> UserRecord:
    row = conn.execute(select(*_COLUMNS).where(hq_users.c.username == username)).first()
    if row is None:
        raise NotFoundError(f"no HQ user {username!r}: check the name on the staff page")
    return _record(row)


def _clean_name(username: str) -> str:
    name = username.strip()
    if not _NAME.match(name):
        raise MalformedError(
            "username: 2–100 characters, lower-case letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit (e.g. jane.doe)"
        )
    if name in RESERVED:
        raise MalformedError(f"username: {name!r} is reserved for the audit log; pick another name")
    return name


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise MalformedError(f"role: {role!r} is not a role; choose one of {choices}") from None


def add_staff(
    database: Database, actor: Actor, username: str, role: Role | str, *, with_token: bool = False
) -> NewStaff:
    """Create a user with a random password (and optionally an API token), shown once."""
    name, level = _clean_name(username), _role(role)

    def work(conn: Connection) -> NewStaff:
        now = utc_now()
        if conn.execute(select(hq_users.c.username).where(hq_users.c.username == name)).first():
            raise ConflictError(
                f"an HQ user {name!r} already exists: choose another name "
                "(a disabled user keeps their name, so the audit log stays unambiguous)"
            )
        password = add_user(conn, name, level, now)
        token = None
        if with_token:
            token = create_token(
                conn, name, now, label=f"created with the user by {actor.username}"
            )
        record_action(
            conn,
            actor,
            "user.add",
            now,
            target_kind="user",
            target_id=name,
            detail={"role": level.value, "api_token": with_token},
        )
        return NewStaff(name, level, password, token)

    try:
        return run_write(database, work)
    except exc.IntegrityError:  # added by someone else at the same moment
        raise ConflictError(f"an HQ user {name!r} already exists: choose another name") from None


def disable_staff(database: Database, actor: Actor, username: str) -> UserRecord:
    """Disable the user: their sessions end and their API tokens stop working at once. The
    last enabled admin cannot be disabled, and nobody disables themselves."""

    def work(conn: Connection) -> UserRecord:
        now = utc_now()
        user = find_staff(conn, username)
        if user.disabled_at is not None:
            raise ConflictError(f"{username} is already disabled")
        if actor.via != "cli" and actor.username == username:
            raise ForbiddenError("you cannot disable your own account: ask another admin")
        if user.role is Role.ADMIN:
            admins = conn.execute(
                select(func.count())
                .select_from(hq_users)
                .where(hq_users.c.role == Role.ADMIN.value, hq_users.c.disabled_at.is_(None))
            ).scalar_one()
            if int(admins) <= 1:
                raise ConflictError(
                    f"{username} is the last enabled admin: add another admin first, "
                    "or nobody could manage users and tills"
                )
        disable_user(conn, username, now)
        record_action(conn, actor, "user.disable", now, target_kind="user", target_id=username)
        return find_staff(conn, username)

    return run_write(database, work)


def create_staff_token(
    database: Database, actor: Actor, username: str, label: str | None = None
) -> str:
    """A new API token for ``username`` (shown once; HQ keeps only its hash)."""
    text = " ".join((label or "").split()) or None
    if text is not None and len(text) > 200:
        raise MalformedError("label: 200 characters at most")

    def work(conn: Connection) -> str:
        now = utc_now()
        user = find_staff(conn, username)
        if user.disabled_at is not None:
            raise ConflictError(f"{username} is disabled: a token for them would not work")
        token = create_token(conn, username, now, label=text or f"created by {actor.username}")
        record_action(
            conn,
            actor,
            "user.token_create",
            now,
            target_kind="user",
            target_id=username,
            detail={"label": text},
        )
        return token

    return run_write(database, work)
