"""``syncserver init``: migrate, and on a fresh database create the first HQ admin."""

from __future__ import annotations

from dataclasses import dataclass

from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.migrate import upgrade
from syncserver.storage.users import add_user, create_token, user_exists

__all__ = ["FirstAdmin", "InitResult", "initialise", "new_api_token"]

ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class FirstAdmin:
    username: str
    password: str
    token: str


@dataclass(frozen=True, slots=True)
class InitResult:
    revision: str
    admin: FirstAdmin | None
    """Set only when this run created the admin (the password and token are shown once)."""


def initialise(database: Database) -> InitResult:
    revision = upgrade(database)
    with database.write() as conn:
        if user_exists(conn):
            return InitResult(revision, None)
        now = utc_now()
        password = add_user(conn, ADMIN, "admin", now)
        token = create_token(conn, ADMIN, now, label="created by syncserver init")
    return InitResult(revision, FirstAdmin(ADMIN, password, token))


def new_api_token(database: Database, username: str, label: str | None = None) -> str:
    with database.write() as conn:
        if not user_exists(conn, username):
            raise LookupError(f"no HQ user {username!r}")
        return create_token(conn, username, utc_now(), label=label)
