"""Signing in: sessions, the cookie's flags, CSRF on every form, rate-limited failures."""

from __future__ import annotations

import httpx

from syncserver.storage.database import Database
from tests.server.hq.helpers import csrf_of, prepare_hq, serve, signed_in


def test_sign_in_sets_a_strict_http_only_secure_cookie(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    with (
        serve(database, cookie_secure=True) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        reply = client.post("/signin", data={"username": "vi", "password": hq.viewer.password})
    assert reply.status_code == 303
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=strict" in cookie


def test_pages_need_a_session_and_forms_need_the_csrf_token(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    with serve(database) as url:
        with httpx.Client(base_url=url, timeout=60) as anonymous:
            reply = anonymous.get("/members?q=x")
            assert reply.status_code == 303
            assert reply.headers["location"] == "/signin?next=/members%3Fq%3Dx"
        with signed_in(url, hq.viewer) as client:
            assert client.post("/signout").status_code == 403  # no token
            assert client.post("/signout", data={"csrf_token": "forged"}).status_code == 403
            page = client.get("/signin", follow_redirects=True)
            token = csrf_of(page.text)
            assert client.post("/signout", data={"csrf_token": token}).status_code == 303
            # The session is gone: the cookie no longer signs anyone in.
            assert client.get("/signin").status_code == 200


def test_failed_sign_ins_are_rate_limited(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    # Three failures are free; the fourth attempt then waits an hour (not the default 1 s), so
    # it is refused however slow the machine. No lock-out: tests/server/hq/test_sign_in_limits.py.
    slow = {"sign_in_first_delay_seconds": 3600, "sign_in_max_delay_seconds": 3600}
    with serve(database, **slow) as url, httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(3):
            wrong = client.post("/signin", data={"username": "mo", "password": "guess"})
            assert wrong.status_code == 401
            assert "Wrong user name or password" in wrong.text
        # Even the right password is refused now, with what to do about it.
        limited = client.post("/signin", data={"username": "mo", "password": hq.manager.password})
        assert limited.status_code == 429
        assert "Too many failed sign-ins" in limited.text
        # Another user is not locked out by mo's failures.
        other = client.post("/signin", data={"username": "vi", "password": hq.viewer.password})
        assert other.status_code == 303
