"""Who is using the dashboard: the session cookie, CSRF tokens, roles and flash messages.

The cookie holds a random session id (the database keeps only its hash); it is HttpOnly,
SameSite=Strict and Secure (``ServerSettings.cookie_secure``). Every POST must also echo the
session's CSRF token, as the ``csrf_token`` form field or the ``X-CSRF-Token`` header (htmx
sends the header, see base.html), so a page on another site cannot act for a signed-in user.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, unquote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from syncserver.api.deps import DatabaseDep, client_ip
from syncserver.errors import ApiError, ForbiddenError
from syncserver.settings import ServerSettings, utc_now
from syncserver.storage.audit import Actor
from syncserver.storage.users import HqUser, Role, session_by_cookie

__all__ = [
    "COOKIE",
    "FLASH_COOKIE",
    "NO_STORE",
    "AdminPage",
    "CheckedSession",
    "ManagerPage",
    "SignInRequiredError",
    "ViewerPage",
    "WebSession",
    "read_flash",
    "redirect",
    "require_role",
]

COOKIE = "lt_session"
FLASH_COOKIE = "lt_flash"


class SignInRequiredError(ApiError):
    """No valid session: the dashboard redirects to the sign-in page."""

    status, code = 401, "sign_in_required"


@dataclass(frozen=True, slots=True)
class WebSession:
    user: HqUser
    csrf_token: str
    ip: str

    @property
    def actor(self) -> Actor:
        return Actor(self.user.username, ip=self.ip, via="web")


def current_session(request: Request, database: DatabaseDep) -> WebSession:
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise SignInRequiredError("sign in to use the dashboard")
    with database.read() as conn:
        found = session_by_cookie(conn, cookie, utc_now())
    if found is None:
        raise SignInRequiredError("your session has ended: sign in again")
    return WebSession(found.user, found.csrf_token, client_ip(request))


SessionDep = Annotated[WebSession, Depends(current_session)]


def _page_role(needed: Role) -> Callable[[WebSession], WebSession]:
    def check(session: SessionDep) -> WebSession:
        if not session.user.can(needed):
            raise ForbiddenError(
                f"this needs the {needed} role; you are signed in as a {session.user.role}"
            )
        return session

    return check


ViewerPage = Annotated[WebSession, Depends(_page_role(Role.VIEWER))]
ManagerPage = Annotated[WebSession, Depends(_page_role(Role.MANAGER))]
AdminPage = Annotated[WebSession, Depends(_page_role(Role.ADMIN))]


async def checked_session(request: Request, session: SessionDep) -> WebSession:
    """For every POST: the session, after its CSRF token was matched."""
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    # Bytes, not str: compare_digest refuses a str with a non-ASCII character (a TypeError,
    # a 500) and anyone can send one; a header arrives decoded as Latin-1, a form as UTF-8.
    if not sent or not hmac.compare_digest(
        sent.encode("utf-8", "surrogatepass"), session.csrf_token.encode("utf-8")
    ):
        raise ForbiddenError("this form has expired or came from another site: reload the page")
    return session


CheckedSession = Annotated[WebSession, Depends(checked_session)]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""Headers for a page that shows a secret once (a new password or token)."""


def require_role(session: WebSession, needed: Role, what: str) -> None:
    """For a POST: refuse (403, with the next step) unless the user's role includes ``needed``."""
    if not session.user.can(needed):
        raise ForbiddenError(
            f"{what} needs the {needed} role; you are signed in as a {session.user.role}: "
            "ask an admin to change your role"
        )


def redirect(
    url: str, settings: ServerSettings, flash: str | None = None, *, error: bool = False
) -> RedirectResponse:
    """303 See Other to ``url`` (Post/Redirect/Get), with a one-time message to show there."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        value = quote(("error:" if error else "ok:") + flash)
        response.set_cookie(
            FLASH_COOKIE,
            value,
            max_age=60,
            httponly=True,
            samesite="strict",
            secure=settings.cookie_secure,
        )
    return response


def read_flash(request: Request) -> tuple[str, str] | None:
    """The message a redirect left, as (``ok`` | ``error``, text); the page that shows it
    deletes the cookie."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, text = unquote(raw).partition(":")
    return ("error" if kind == "error" else "ok"), text
