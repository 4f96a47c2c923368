"""``syncserver serve`` and X-Forwarded-For: a real server process on loopback.

By default the client address is the connection's, so rotating ``X-Forwarded-For`` does not
give a guesser a fresh address per attempt (uvicorn's own default believes the header from
127.0.0.1). Behind a reverse proxy, ``--proxy-headers --forwarded-allow-ips PROXY`` makes the
forwarded address the client's — for the sign-in limits and the audit log alike.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from syncserver.storage.database import Database
from syncserver.storage.schema import audit_log, sign_in_attempts
from tests.server.helpers import server_process
from tests.server.hq.helpers import prepare_hq


@contextmanager
def serve(db_url: str, *options: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``syncserver serve`` with ``options`` in its own process on a free port; yields its URL.

    The sign-in delays are an hour, so what the limits let through does not depend on how
    fast this machine is."""
    settings = {
        "LOYALTILL_SERVER_COOKIE_SECURE": "false",
        "LOYALTILL_SERVER_SIGN_IN_FIRST_DELAY_SECONDS": "3600",
        "LOYALTILL_SERVER_SIGN_IN_MAX_DELAY_SECONDS": "3600",
    }
    with server_process(db_url, *options, env={**settings, **(env or {})}) as url:
        yield url


def _rotating_guesses(url: str, username: str, count: int) -> list[int]:
    statuses = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for i in range(count):
            reply = client.post(
                "/signin",
                data={"username": username, "password": "guess"},
                headers={"X-Forwarded-For": f"10.77.0.{i + 1}"},
            )
            statuses.append(reply.status_code)
    return statuses


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only, overriding the suite's both-databases fixture: which address a request
    comes from is settled before any database is involved, and each case starts a real
    server process (the limits' atomicity on both databases: test_sign_in_limits.py)."""
    path = tmp_path / "server.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def _addresses(database: Database, username: str) -> list[str]:
    with database.read() as conn:
        return list(
            conn.execute(
                select(sign_in_attempts.c.ip)
                .where(sign_in_attempts.c.username == username)
                .order_by(sign_in_attempts.c.id)
            ).scalars()
        )


@pytest.mark.parametrize(
    ("options", "env"),
    [
        pytest.param((), {}, id="default"),
        # A proxy elsewhere: a header sent from loopback is not believed.
        pytest.param(
            ("--proxy-headers", "--forwarded-allow-ips", "10.9.9.9"), {}, id="other-proxy"
        ),
        # The environment's setting, overridden on the command line.
        pytest.param(
            ("--no-proxy-headers",), {"LOYALTILL_SERVER_PROXY_HEADERS": "true"}, id="cli-wins"
        ),
    ],
)
def test_rotating_x_forwarded_for_does_not_bypass_the_address_limit(
    db_url: str, options: tuple[str, ...], env: dict[str, str]
) -> None:
    database = Database(db_url)
    try:
        prepare_hq(database, with_members=False)
        with serve(db_url, *options, env=env) as url:
            statuses = _rotating_guesses(url, "mo", 10)
        assert statuses == [401] * 3 + [429] * 7
        assert _addresses(database, "mo") == ["127.0.0.1"] * 3
    finally:
        database.dispose()


@pytest.mark.parametrize(
    ("options", "env"),
    [
        pytest.param(("--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"), {}, id="options"),
        pytest.param(
            (),
            {
                "LOYALTILL_SERVER_PROXY_HEADERS": "true",
                "LOYALTILL_SERVER_FORWARDED_ALLOW_IPS": "127.0.0.1",
            },
            id="environment",
        ),
    ],
)
def test_behind_a_trusted_proxy_the_forwarded_address_is_the_clients(
    db_url: str, options: tuple[str, ...], env: dict[str, str]
) -> None:
    database = Database(db_url)
    try:
        hq = prepare_hq(database, with_members=False)
        with serve(db_url, *options, env=env) as url:
            statuses = _rotating_guesses(url, "mo", 10)
            with httpx.Client(base_url=url, timeout=60) as client:
                signed_in = client.post(
                    "/signin",
                    data={"username": "vi", "password": hq.viewer.password},
                    headers={"X-Forwarded-For": "198.51.100.4"},
                )
        # Each attempt came from its own address: no pair reached its limit.
        assert statuses == [401] * 10
        assert _addresses(database, "mo") == [f"10.77.0.{i + 1}" for i in range(10)]
        assert signed_in.status_code == 303
        with database.read() as conn:
            audited = conn.execute(
                select(audit_log.c.ip).where(
                    audit_log.c.actor == "vi", audit_log.c.action == "staff.sign_in"
                )
            ).scalar_one()
        assert audited == "198.51.100.4"
    finally:
        database.dispose()
