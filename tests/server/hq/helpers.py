"""HQ tests: a prepared server with one staff member per role, served by a real uvicorn,
and clients signed in to the dashboard or holding an API token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from syncserver.embedded import serve_in_thread
from syncserver.settings import ServerSettings, utc_now
from syncserver.storage.database import Database
from syncserver.storage.users import Role, add_user, create_token
from tests.server.helpers import Server, bearer, prepare

__all__ = ["TEST_SETTINGS", "Hq", "Staff", "csrf_of", "prepare_hq", "serve", "signed_in"]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Staff:
    username: str
    password: str
    token: str
    role: Role

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class Hq:
    server: Server
    admin: Staff
    manager: Staff
    viewer: Staff

    @property
    def database(self) -> Database:
        return self.server.database


def prepare_hq(database: Database, *, with_members: bool = True) -> Hq:
    """``prepare`` (demo rules, three members) plus ada (admin), mo (manager), vi (viewer)."""
    server = prepare(database, with_members=with_members)
    staff = {}
    with database.write() as conn:
        now = utc_now()
        for name, role in (("ada", Role.ADMIN), ("mo", Role.MANAGER), ("vi", Role.VIEWER)):
            password = f"{name}-correct-horse"
            add_user(conn, name, role, now, password=password)
            staff[role] = Staff(name, password, create_token(conn, name, now, "test"), role)
    return Hq(server, staff[Role.ADMIN], staff[Role.MANAGER], staff[Role.VIEWER])


TEST_SETTINGS: dict[str, object] = {
    "cookie_secure": False,
    # Password checks at the server's normal priority: the production default (nice 19, so
    # the tills' pushes get the CPU first) gives a check ~1 % of a core beside a busy process,
    # and a test's sign-in would wait minutes on a loaded machine. test_sign_in_pool checks
    # the priority itself.
    "sign_in_hash_niceness": 0,
}


@contextmanager
def serve(database: Database, **settings: object) -> Iterator[str]:
    """A real uvicorn on loopback; the session cookie is not marked Secure, because httpx
    (rightly) never sends a Secure cookie over plain http. Tests of the flag pass
    ``cookie_secure=True``."""
    config = ServerSettings(**{**TEST_SETTINGS, **settings})  # type: ignore[arg-type]
    with serve_in_thread(database, settings=config) as url:
        yield url


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


@contextmanager
def signed_in(url: str, staff: Staff) -> Iterator[httpx.Client]:
    """A browser-like client signed in to the dashboard as ``staff``."""
    with httpx.Client(base_url=url, timeout=60, follow_redirects=False) as client:
        reply = client.post(
            "/signin", data={"username": staff.username, "password": staff.password}
        )
        assert reply.status_code == 303, reply.text
        yield client
