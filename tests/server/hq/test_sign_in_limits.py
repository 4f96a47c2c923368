"""Sign-in limits (OWASP: slow the guesser, never lock the account): progressive delays per
(user name, address), a cap per address across names, a generous slow-down per name across
addresses that spares the user's known addresses — atomic under concurrency on both databases.

The policy's arithmetic is tested with chosen times on a real database (no clock); the HTTP
tests use a real uvicorn configured as ``syncserver serve --proxy-headers --forwarded-allow-ips
127.0.0.1``, so ``X-Forwarded-For`` plays clients at different addresses, and delays far
longer than any test run, so what is evaluated does not depend on how fast the machine is.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from syncserver.api.app import create_app
from syncserver.cli import server_config
from syncserver.embedded import run_in_thread
from syncserver.settings import ServerSettings
from syncserver.storage.database import Database
from syncserver.storage.schema import sign_in_attempts
from syncserver.storage.users import SignInPolicy, Throttle, ThrottleReason, sign_in_wait
from tests.server.hq.helpers import TEST_SETTINGS, prepare_hq

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ATTACKER = "203.0.113.7"
OFFICE = "198.51.100.4"
HOUR = 3600.0


# --- helpers shared with test_sign_in_pool.py --------------------------------------------------


@contextmanager
def proxied(database: Database, **settings: Any) -> Iterator[str]:
    """A real uvicorn on loopback with ``serve``'s own config builder, behind a "proxy" on
    127.0.0.1: each request's ``X-Forwarded-For`` is its client address. Yields the URL."""
    values: dict[str, Any] = {
        **TEST_SETTINGS,
        "port": 0,
        "proxy_headers": True,
        "forwarded_allow_ips": "127.0.0.1",
        **settings,
    }
    config = ServerSettings(**values)
    app = create_app(config, database=database)
    with run_in_thread(
        server_config(config, log_level="warning", app=app), startup_timeout_s=60
    ) as url:
        yield url


def sign_in(url: str, username: str, password: str, address: str | None) -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    with httpx.Client(base_url=url, timeout=120) as client:
        return client.post(
            "/signin", data={"username": username, "password": password}, headers=headers
        )


def concurrently(count: int, attempt: Any) -> list[httpx.Response]:
    """``attempt(i)`` for i in range(count), all in flight at once."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(attempt, range(count)))


def evaluated(database: Database, **where: object) -> int:
    """Attempts whose password was checked (each was reserved as a row first)."""
    conditions = [getattr(sign_in_attempts.c, column) == value for column, value in where.items()]
    with database.read() as conn:
        return int(conn.execute(select(func.count()).where(*conditions)).scalar_one())


# --- the policy, at chosen times ---------------------------------------------------------------

POLICY = SignInPolicy(
    window=timedelta(minutes=60),
    free_failures=3,
    first_delay=timedelta(seconds=1),
    max_delay=timedelta(seconds=300),
    address_limit=30,
    user_limit=100,
    user_interval=timedelta(seconds=10),
    known_address_for=timedelta(days=30),
)


def _attempt(database: Database, username: str, ip: str, at: datetime, *, ok: bool = False) -> None:
    with database.write() as conn:
        conn.execute(
            sign_in_attempts.insert().values(username=username, ip=ip, at=at, succeeded=ok)
        )


def _wait(
    database: Database, policy: SignInPolicy, username: str, ip: str, now: datetime
) -> Throttle | None:
    with database.read() as conn:
        return sign_in_wait(conn, policy, username, ip, now)


def test_delays_double_after_three_failures_up_to_the_cap_and_a_success_resets_them(
    database: Database,
) -> None:
    now = T0
    expected = {1: None, 2: None, 3: 1, 4: 2, 5: 4, 6: 8, 10: 128, 11: 256, 12: 300, 20: 300}
    failures = 0
    for count, seconds in expected.items():
        while failures < count:
            _attempt(database, "ada", ATTACKER, now)
            failures += 1
        throttle = _wait(database, POLICY, "ada", ATTACKER, now)
        if seconds is None:
            assert throttle is None, f"after {count} failures"
        else:
            assert throttle is not None, f"after {count} failures"
            assert (throttle.reason, throttle.wait) == (
                ThrottleReason.PAIR,
                timedelta(seconds=seconds),
            )
            # Waiting that long is enough: a delay, never a lock.
            assert _wait(database, POLICY, "ada", ATTACKER, now + throttle.wait) is None
    # The same name from another address, and another name from this address: not slowed.
    assert _wait(database, POLICY, "ada", OFFICE, now) is None
    assert _wait(database, POLICY, "mo", ATTACKER, now) is None
    # However many failures, the wait stays at the cap (no overflow on the way).
    day = replace(POLICY, first_delay=timedelta(days=1), max_delay=timedelta(days=1))
    assert day.pair_delay(10**9) == timedelta(days=1)
    # Failures older than the window no longer count.
    assert _wait(database, POLICY, "ada", ATTACKER, now + timedelta(minutes=61)) is None

    # A success from an address starts that pair's count again.
    for _ in range(3):
        _attempt(database, "vi", OFFICE, now)
    assert _wait(database, POLICY, "vi", OFFICE, now) is not None
    _attempt(database, "vi", OFFICE, now + timedelta(seconds=1), ok=True)
    later = now + timedelta(seconds=2)
    assert _wait(database, POLICY, "vi", OFFICE, later) is None
    _attempt(database, "vi", OFFICE, later)
    assert _wait(database, POLICY, "vi", OFFICE, later) is None


def test_one_address_trying_many_names_waits_until_its_oldest_failure_leaves_the_window(
    database: Database,
) -> None:
    policy = replace(POLICY, address_limit=5)
    for minute in range(5):
        _attempt(database, f"name{minute}", ATTACKER, T0 + timedelta(minutes=minute))
    at = T0 + timedelta(minutes=5)
    throttle = _wait(database, policy, "someone.else", ATTACKER, at)
    assert throttle is not None
    assert (throttle.reason, throttle.wait) == (ThrottleReason.ADDRESS, timedelta(minutes=55))
    assert _wait(database, policy, "someone.else", ATTACKER, T0 + timedelta(minutes=60)) is None
    assert _wait(database, policy, "someone.else", OFFICE, at) is None


def test_a_name_guessed_from_many_addresses_is_slowed_but_never_locked(
    database: Database,
) -> None:
    policy = replace(POLICY, user_limit=5)
    _attempt(database, "ada", OFFICE, T0 - timedelta(days=2), ok=True)  # her usual desk
    for second in range(5):
        _attempt(database, "ada", f"10.0.0.{second}", T0 + timedelta(seconds=second))
    last = T0 + timedelta(seconds=4)
    throttle = _wait(database, policy, "ada", "10.9.9.9", last)
    assert throttle is not None
    assert (throttle.reason, throttle.wait) == (ThrottleReason.USER, timedelta(seconds=10))
    # One attempt per interval still gets through: slowed, not locked.
    assert _wait(database, policy, "ada", "10.9.9.9", last + timedelta(seconds=10)) is None
    # Her known address is not slowed at all; one not used for 30 days is not known.
    assert _wait(database, policy, "ada", OFFICE, last) is None
    forgetful = replace(policy, known_address_for=timedelta(days=1))
    assert _wait(database, forgetful, "ada", OFFICE, last) is not None


# --- over HTTP, concurrently, on both databases ------------------------------------------------


def test_forty_concurrent_wrong_passwords_are_checked_only_as_often_as_allowed(
    database: Database,
) -> None:
    hq = prepare_hq(database, with_members=False)
    # Delays far longer than the test: what gets evaluated cannot depend on timing.
    limits = {
        "sign_in_free_failures": 5,
        "sign_in_first_delay_seconds": HOUR,
        "sign_in_max_delay_seconds": HOUR,
    }
    with proxied(database, sign_in_queue_seconds=120, **limits) as url:
        started = time.monotonic()
        replies = concurrently(40, lambda _: sign_in(url, "mo", "guess", ATTACKER))
        took = time.monotonic() - started
        statuses = Counter(reply.status_code for reply in replies)
        assert statuses == {401: 5, 429: 35}
        assert evaluated(database, username="mo") == 5
        limited = next(reply for reply in replies if reply.status_code == 429)
        assert "Too many failed sign-ins for mo from this address. Wait 60 minutes" in (
            limited.text
        )
        # An hour from the fifth failure, less however long the attempts took here.
        assert HOUR - took - 1 <= int(limited.headers["retry-after"]) <= HOUR
        # The real mo, from his own address, is not locked out.
        assert sign_in(url, "mo", hq.manager.password, OFFICE).status_code == 303


def test_forty_concurrent_names_from_one_address_stop_at_the_address_limit(
    database: Database,
) -> None:
    hq = prepare_hq(database, with_members=False)
    with proxied(database, sign_in_address_limit=5, sign_in_queue_seconds=120) as url:
        replies = concurrently(40, lambda i: sign_in(url, f"guess{i}", "guess", ATTACKER))
        assert Counter(reply.status_code for reply in replies) == {401: 5, 429: 35}
        assert evaluated(database, ip=ATTACKER) == 5
        limited = next(reply for reply in replies if reply.status_code == 429)
        assert "Too many failed sign-ins from this address. Wait" in limited.text
        assert sign_in(url, "vi", hq.viewer.password, OFFICE).status_code == 303


def test_forty_concurrent_addresses_guessing_one_name_are_slowed_but_its_user_signs_in(
    database: Database,
) -> None:
    hq = prepare_hq(database, with_members=False)
    limits = {"sign_in_user_limit": 5, "sign_in_user_interval_seconds": HOUR}
    with proxied(database, sign_in_queue_seconds=120, **limits) as url:
        assert sign_in(url, "ada", hq.admin.password, OFFICE).status_code == 303
        replies = concurrently(40, lambda i: sign_in(url, "ada", "guess", f"10.0.{i}.1"))
        assert Counter(reply.status_code for reply in replies) == {401: 5, 429: 35}
        assert evaluated(database, username="ada", succeeded=False) == 5
        limited = next(reply for reply in replies if reply.status_code == 429)
        assert "Too many failed sign-ins for ada from elsewhere" in limited.text
        # From her usual address she signs in at once; from a new one she is asked to wait.
        assert sign_in(url, "ada", hq.admin.password, OFFICE).status_code == 303
        elsewhere = sign_in(url, "ada", hq.admin.password, "192.0.2.50")
        assert elsewhere.status_code == 429
        assert "Wait 60 minutes" in elsewhere.text


def test_five_wrong_passwords_do_not_lock_out_the_admin(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    slow = {"sign_in_first_delay_seconds": HOUR, "sign_in_max_delay_seconds": HOUR}
    with proxied(database, **slow) as url:
        statuses = [sign_in(url, "ada", "guess", ATTACKER).status_code for _ in range(8)]
        assert statuses == [401] * 3 + [429] * 5
        # The admin, elsewhere, signs in while the attacker is being slowed down …
        assert sign_in(url, "ada", hq.admin.password, OFFICE).status_code == 303
        assert sign_in(url, "ada", "guess", ATTACKER).status_code == 429
        assert sign_in(url, "ada", hq.admin.password, OFFICE).status_code == 303
