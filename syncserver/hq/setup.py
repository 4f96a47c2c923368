"""``syncserver init``: migrate, and on a fresh database create the first HQ admin."""

from __future__ import annotations

from dataclasses import dataclass

from syncserver.hq.staff import create_staff_token
from syncserver.settings import utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.database import Database
from syncserver.storage.migrate import upgrade
from syncserver.storage.users import add_user, create_token, user_exists

__all__ = ["CLI", "FirstAdmin", "InitResult", "initialise", "new_api_token"]

ADMIN = "admin"

CLI = Actor("cli", ip=None, via="cli")
"""Who the audit log names for the server's command line (someone with shell access)."""


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
        record_action(
            conn,
            CLI,
            "user.add",
            now,
            target_kind="user",
            target_id=ADMIN,
            detail={"role": "admin", "api_token": True, "first_admin": True},
        )
    return InitResult(revision, FirstAdmin(ADMIN, password, token))


def new_api_token(
    database: Database, username: str, label: str | None = None, actor: Actor = CLI
) -> str:
    """An API token for ``username`` (audited); NotFoundError for an unknown user."""
    return create_staff_token(database, actor, username, label)
