"""Signing in and out of the dashboard.

A sign-in is three steps, so the expensive password check (argon2id: 64 MiB and tens of
milliseconds of a core) never runs inside a database transaction, where on SQLite it would
hold the one write lock every till's push needs:

1. a short write transaction checks the limits and reserves the attempt, recorded as a
   failure until proven otherwise (``reserve_sign_in``: atomic on both databases);
2. the password is checked outside any transaction by one of a few checkers per process
   (``PasswordCheckers``, ``sign_in_hash_workers``); a sign-in that cannot get one within
   ``sign_in_queue_seconds`` is told to try again in a moment (503);
3. only for the right password, a short write transaction marks the attempt a success,
   upgrades a legacy hash and creates the session (``complete_sign_in``).

Attempts the limits already refuse are answered from a read before step 1, so a flood of
refused attempts neither queues for a checker nor takes the write lock.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from syncserver.api.deps import DatabaseDep, SettingsDep, client_ip
from syncserver.security import PasswordCheckers, PasswordCheckersBusyError
from syncserver.settings import ServerSettings, utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.database import Database, run_write
from syncserver.storage.users import (
    HqUser,
    Reservation,
    SignInPolicy,
    Throttle,
    ThrottleReason,
    complete_sign_in,
    create_session,
    delete_session,
    reserve_sign_in,
    session_by_cookie,
    sign_in_wait,
)
from syncserver.web.session import COOKIE, CheckedSession, redirect
from syncserver.web.templating import render

router = APIRouter(include_in_schema=False)

WRONG = "Wrong user name or password, or the account is disabled."
BUSY = (
    "The server is busy checking other sign-ins: try again in a moment "
    "(your attempt was not counted)."
)
BUSY_RETRY_AFTER_S = 2
NEXT_MAX = 2048
"""The page to return to after signing in: a path on this site, as long as a browser's."""


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _checkers(request: Request, settings: ServerSettings) -> PasswordCheckers:
    """This app's password checkers, made on the first sign-in (inside the app's event loop,
    which their semaphore belongs to)."""
    state = request.app.state
    checkers: PasswordCheckers | None = getattr(state, "password_checkers", None)
    if checkers is None:
        checkers = PasswordCheckers(
            settings.sign_in_hash_workers,
            settings.sign_in_queue_seconds,
            niceness=settings.sign_in_hash_niceness,
        )
        state.password_checkers = checkers
    return checkers


def _seconds(wait: timedelta) -> int:
    """Whole seconds, rounded up: "wait 0 seconds" would be wrong."""
    return max(1, math.ceil(wait.total_seconds()))


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


def _limited_message(throttle: Throttle, name: str) -> str:
    wait = _duration(_seconds(throttle.wait))
    who = name or "this name"
    if throttle.reason is ThrottleReason.PAIR:
        return (
            f"Too many failed sign-ins for {who} from this address. Wait {wait}, then try "
            "again; check the user name and Caps Lock. Each further failure doubles the wait."
        )
    if throttle.reason is ThrottleReason.ADDRESS:
        return (
            f"Too many failed sign-ins from this address. Wait {wait}, then try again; "
            "if you share this address with others, one of them may be mistyping."
        )
    return (
        f"Too many failed sign-ins for {who} from elsewhere: it takes one attempt at a time "
        f"for now. Wait {wait}, then try again. Signing in from an address you used before "
        "is not slowed."
    )


@router.get("/signin", response_class=HTMLResponse)
def sign_in_page(
    request: Request,
    database: DatabaseDep,
    next: Annotated[str | None, Query(max_length=NEXT_MAX)] = None,
) -> Response:
    cookie = request.cookies.get(COOKIE)
    if cookie:
        with database.read() as conn:
            if session_by_cookie(conn, cookie, utc_now()) is not None:
                return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "signin.html", None, next=_safe_next(next))


def _read_wait(database: Database, policy: SignInPolicy, name: str, ip: str) -> Throttle | None:
    with database.read() as conn:
        return sign_in_wait(conn, policy, name, ip, utc_now())


def _complete(
    database: Database,
    policy: SignInPolicy,
    reservation: Reservation,
    name: str,
    ip: str,
    new_hash: str | None,
    session_hours: int,
) -> str | None:
    """Step 3: the session cookie, or None when the user was disabled meanwhile."""

    def work(conn: Connection) -> str | None:
        now = utc_now()
        user: HqUser | None = complete_sign_in(conn, policy, reservation, name, new_hash, now)
        if user is None:
            return None
        cookie = create_session(conn, user, now, timedelta(hours=session_hours), ip)
        record_action(conn, Actor(user.username, ip, "web"), "staff.sign_in", now)
        return cookie

    return run_write(database, work)


@router.post("/signin", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=NEXT_MAX)] = "/",
) -> Response:
    ip = client_ip(request)
    name = username.strip()
    policy = SignInPolicy.from_settings(settings)

    def again(status: int, message: str, retry_after: int) -> Response:
        response = render(
            request, "signin.html", None, status, error=message, next=next, username=name
        )
        response.headers["Retry-After"] = str(retry_after)
        return response

    throttle = await run_in_threadpool(_read_wait, database, policy, name, ip)
    if throttle is not None:
        return again(429, _limited_message(throttle, name), _seconds(throttle.wait))
    try:
        async with _checkers(request, settings).slot():
            # Reserved only once a checker is ours: a reservation is checked at once, so the
            # limits never count an attempt that then waited and was turned away.
            reserved = await run_in_threadpool(
                run_write,
                database,
                lambda conn: reserve_sign_in(conn, policy, name, ip, utc_now),
            )
            if isinstance(reserved, Throttle):
                return again(429, _limited_message(reserved, name), _seconds(reserved.wait))
            check = await _checkers(request, settings).check(password, reserved.password_hash)
    except PasswordCheckersBusyError:
        return again(503, BUSY, BUSY_RETRY_AFTER_S)
    cookie = None
    if check.ok and reserved.enabled:
        cookie = await run_in_threadpool(
            _complete, database, policy, reserved, name, ip, check.new_hash, settings.session_hours
        )
    if cookie is None:
        return render(request, "signin.html", None, 401, error=WRONG, next=next, username=name)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=settings.session_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
    )
    return response


@router.post("/signout")
def sign_out(
    request: Request, session: CheckedSession, database: DatabaseDep, settings: SettingsDep
) -> Response:
    cookie = request.cookies.get(COOKIE, "")
    with database.write() as conn:
        delete_session(conn, cookie)
        record_action(conn, session.actor, "staff.sign_out", utc_now())
    response = redirect("/signin", settings, "Signed out.")
    response.delete_cookie(COOKIE)
    return response
