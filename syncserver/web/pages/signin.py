"""Signing in and out of the dashboard, with failed attempts rate limited."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from syncserver.api.deps import DatabaseDep, SettingsDep, client_ip
from syncserver.settings import utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.database import run_write
from syncserver.storage.users import (
    check_password,
    create_session,
    delete_session,
    recent_failures,
    record_sign_in,
    session_by_cookie,
)
from syncserver.web.session import COOKIE, CheckedSession, redirect
from syncserver.web.templating import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/signin", response_class=HTMLResponse)
def sign_in_page(request: Request, database: DatabaseDep, next: str | None = None) -> Response:
    cookie = request.cookies.get(COOKIE)
    if cookie:
        with database.read() as conn:
            if session_by_cookie(conn, cookie, utc_now()) is not None:
                return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "signin.html", None, next=_safe_next(next))


@router.post("/signin", response_class=HTMLResponse)
def sign_in(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    ip = client_ip(request)
    name = username.strip()
    now = utc_now()
    window = timedelta(minutes=settings.sign_in_window_minutes)

    def attempt(conn: Connection) -> tuple[str, str | None]:
        by_name, by_ip = recent_failures(conn, username=name, ip=ip, since=now - window)
        if by_name >= settings.sign_in_limit or by_ip >= 4 * settings.sign_in_limit:
            return "limited", None
        user = check_password(conn, name, password)
        record_sign_in(conn, name, ip, now, ok=user is not None)
        if user is None:
            return "wrong", None
        cookie = create_session(conn, user, now, timedelta(hours=settings.session_hours), ip)
        record_action(conn, Actor(user.username, ip, "web"), "staff.sign_in", now)
        return "ok", cookie

    outcome, cookie = run_write(database, attempt)
    if outcome == "limited":
        minutes = settings.sign_in_window_minutes
        message = (
            f"Too many failed sign-ins for {name or 'this name'} or from this address. "
            f"Wait {minutes} minutes and try again, or ask an admin to reset your password."
        )
        return render(request, "signin.html", None, 429, error=message, next=next, username=name)
    if outcome == "wrong" or cookie is None:
        message = "Wrong user name or password, or the account is disabled."
        return render(request, "signin.html", None, 401, error=message, next=next, username=name)
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
