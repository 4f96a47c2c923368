"""Dashboard: HQ staff accounts (admin only) — the list, adding a user (the generated password
shown once), API tokens (shown once) and disabling a user (after a confirmation page).

Passwords and tokens are shown in the reply to the POST that created them — never passed
through a redirect, cookie or URL — with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from syncserver.api.deps import DatabaseDep, SettingsDep
from syncserver.api.pagination import CursorQuery, decode_cursor, page_of
from syncserver.errors import ConflictError, ForbiddenError, MalformedError, NotFoundError
from syncserver.hq.staff import (
    add_staff,
    create_staff_token,
    disable_staff,
    find_staff,
    staff_page,
)
from syncserver.storage.users import Role
from syncserver.web.session import (
    NO_STORE,
    AdminPage,
    CheckedSession,
    WebSession,
    redirect,
    require_role,
)
from syncserver.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE = 50
UsernamePath = Annotated[str, Path(min_length=1, max_length=100)]


def _list_page(
    request: Request,
    session: WebSession,
    database: DatabaseDep,
    cursor: str | None,
    *,
    status: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    key = decode_cursor(cursor, 1)
    with database.read() as conn:
        rows = staff_page(conn, after=str(key[0]) if key else None, limit=PAGE + 1)
    users, next_cursor = page_of(rows, PAGE, lambda r: [r.username])
    return render(
        request,
        "users/list.html",
        session,
        status,
        users=users,
        next_cursor=next_cursor,
        roles=[r.value for r in reversed(Role)],
        error=error,
        values=values or {},
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request, session: AdminPage, database: DatabaseDep, cursor: CursorQuery = None
) -> Response:
    return _list_page(request, session, database, cursor)


@router.post("/users", response_class=HTMLResponse)
def add(
    request: Request,
    session: CheckedSession,
    database: DatabaseDep,
    username: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    token: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    require_role(session, Role.ADMIN, "adding a user")
    try:
        created = add_staff(database, session.actor, username, role, with_token=bool(token))
    except (MalformedError, ConflictError) as error:
        values = {"username": username, "role": role, "token": "on" if token else ""}
        return _list_page(
            request,
            session,
            database,
            None,
            status=error.status,
            error=error.message,
            values=values,
        )
    response = render(request, "users/created.html", session, created=created)
    response.headers.update(NO_STORE)
    return response


@router.post("/users/{username}/tokens", response_class=HTMLResponse)
def new_token(
    request: Request,
    username: UsernamePath,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
    label: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    require_role(session, Role.ADMIN, "creating an API token")
    try:
        token = create_staff_token(database, session.actor, username, label or None)
    except (MalformedError, ConflictError, NotFoundError) as error:
        return redirect("/users", settings, error.message, error=True)
    response = render(
        request, "users/token.html", session, username=username, token=token, label=label
    )
    response.headers.update(NO_STORE)
    return response


@router.get("/users/{username}/disable", response_class=HTMLResponse)
def confirm_disable(
    request: Request, username: UsernamePath, session: AdminPage, database: DatabaseDep
) -> Response:
    """Are you sure? The page the disable button leads to (works without JavaScript)."""
    with database.read() as conn:
        user = find_staff(conn, username)
    return render(
        request,
        "users/disable.html",
        session,
        target=user,
        is_self=username == session.user.username,
    )


@router.post("/users/{username}/disable", response_class=HTMLResponse)
def disable(
    username: UsernamePath, session: CheckedSession, database: DatabaseDep, settings: SettingsDep
) -> Response:
    require_role(session, Role.ADMIN, "disabling a user")
    try:
        disable_staff(database, session.actor, username)
    except (ConflictError, NotFoundError, ForbiddenError) as error:
        return redirect("/users", settings, error.message, error=True)
    flash = (
        f"Disabled {username}: signed out everywhere, API tokens revoked, sign-in refused. "
        "Their name stays in the audit log."
    )
    return redirect(f"/users#user-{quote(username, safe='')}", settings, flash)
