"""Dependencies shared by the routers: the database and who is calling.

A bearer token is either a till's (it may push its own journal and pull) or an HQ user's
API token (it may read HQ data). Each kind gets 403 on the other kind's endpoints; a missing,
unknown or revoked token gets 401.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from syncserver.errors import ForbiddenError, UnauthorizedError
from syncserver.settings import ServerSettings
from syncserver.storage.audit import Actor
from syncserver.storage.database import Database
from syncserver.storage.terminals import TerminalRecord, terminal_by_token
from syncserver.storage.users import HqUser, Role, user_by_token

__all__ = [
    "ActorDep",
    "AdminDep",
    "Caller",
    "CallerDep",
    "DatabaseDep",
    "HqUserDep",
    "ManagerDep",
    "SettingsDep",
    "TerminalDep",
    "ViewerDep",
    "client_ip",
    "require_role",
]


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]


def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[ServerSettings, Depends(get_settings)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


_bearer = HTTPBearer(auto_error=False, description="A till's token or an HQ API token")

Caller = TerminalRecord | HqUser


def get_caller(
    database: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise UnauthorizedError("missing bearer token: send Authorization: Bearer <token>")
    token = credentials.credentials
    with database.read() as conn:
        terminal = terminal_by_token(conn, token)
        if terminal is not None:
            if terminal.revoked:
                raise UnauthorizedError(f"terminal {terminal.terminal_id} was revoked by HQ")
            return terminal
        user = user_by_token(conn, token)
    if user is None:
        raise UnauthorizedError("unknown or revoked token")
    return user


CallerDep = Annotated[Caller, Depends(get_caller)]


def require_terminal(caller: CallerDep, request: Request) -> TerminalRecord:
    if not isinstance(caller, TerminalRecord):
        raise ForbiddenError("only a till's token may sync; this is an HQ token")
    # For the request's JSON log line (syncserver.api.logs): which till it was.
    request.state.terminal = caller.terminal_id
    return caller


def require_hq(caller: CallerDep) -> HqUser:
    if not isinstance(caller, HqUser):
        raise ForbiddenError("a till's token cannot read HQ data")
    return caller


TerminalDep = Annotated[TerminalRecord, Depends(require_terminal)]
HqUserDep = Annotated[HqUser, Depends(require_hq)]


def require_role(needed: Role) -> Callable[[HqUser], HqUser]:
    """A dependency: an HQ user whose role includes ``needed`` (admin > manager > viewer)."""

    def check(user: HqUserDep) -> HqUser:
        if not user.can(needed):
            raise ForbiddenError(
                f"this needs the {needed} role; {user.username} is a {user.role}: "
                "ask an admin to change your role"
            )
        return user

    return check


ViewerDep = Annotated[HqUser, Depends(require_role(Role.VIEWER))]
ManagerDep = Annotated[HqUser, Depends(require_role(Role.MANAGER))]
AdminDep = Annotated[HqUser, Depends(require_role(Role.ADMIN))]


def api_actor(user: HqUserDep, request: Request) -> Actor:
    """Who is writing, for the audit log and the ledger's HQ events."""
    return Actor(user.username, ip=client_ip(request), via="api")


ActorDep = Annotated[Actor, Depends(api_actor)]
