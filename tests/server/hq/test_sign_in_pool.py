"""Password checks (argon2id, 64 MiB each) run outside any database transaction, a bounded
number at a time: a till's push is never held up by a sign-in, a full pool answers "try again
in a moment" without counting the attempt, and legacy scrypt hashes still sign in and are
upgraded.

The real hasher does the work; the tests only wrap it to see when a check runs (and, where a
test needs a check to be in progress, to hold it until released).
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher, extract_parameters, profiles
from sqlalchemy import select

from syncserver import security
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import hq_users, staff_sessions
from syncserver.storage.users import disable_user
from tests.server.helpers import push
from tests.server.hq.helpers import prepare_hq
from tests.server.hq.test_sign_in_limits import OFFICE, concurrently, evaluated, proxied, sign_in
from tests.server.journal import JournalWriter

# The production argon2id parameters, not the suite's cheap test profile (tests/conftest.py).
pytestmark = pytest.mark.real_password_hashing

DEADLINE_S = 60


class WatchedHasher:
    """The real argon2 hasher, counting checks in progress; with ``hold`` set, each check
    waits (boundedly) for ``release`` before it starts."""

    def __init__(self, real: PasswordHasher, *, hold: bool = False) -> None:
        self.real = real
        self.hold = hold
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.niceness: set[int] = set()

    def verify(self, stored: str, password: str) -> bool:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            if sys.platform == "linux":
                self.niceness.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        self.started.release()
        try:
            if self.hold:
                assert self.release.wait(DEADLINE_S), "the test never released the check"
            return self.real.verify(stored, password)
        finally:
            with self.lock:
                self.running -= 1

    def wait_started(self) -> None:
        assert self.started.acquire(timeout=DEADLINE_S), "no password check started"

    def __getattr__(self, name: str) -> Any:  # hash, check_needs_rehash: the real ones
        return getattr(self.real, name)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[WatchedHasher]:
    watched = WatchedHasher(security._hasher)
    monkeypatch.setattr(security, "_hasher", watched)
    yield watched
    watched.release.set()  # never leave a server thread waiting


def test_a_till_pushes_and_writes_commit_while_a_password_is_being_checked(
    database: Database, hasher: WatchedHasher
) -> None:
    hq = prepare_hq(database, with_members=False)
    terminal_id, token = hq.server.terminal()
    till = JournalWriter(terminal_id)
    till.sale(None)
    hasher.hold = True
    with proxied(database) as url, ThreadPoolExecutor(1) as background:
        signing_in = background.submit(sign_in, url, "ada", hq.admin.password, OFFICE)
        hasher.wait_started()
        # The check is in progress. Had it held a write transaction, SQLite's one write lock
        # would refuse this bounded wait; on both databases the till's push goes through.
        with database.write(lock_wait_ms=5000) as conn:
            conn.execute(hq_users.update().where(hq_users.c.username == "vi").values(role="viewer"))
        with httpx.Client(base_url=url, timeout=DEADLINE_S) as client:
            pushed = push(client, token, terminal_id, till.records)
        assert pushed.status_code == 200, pushed.text
        assert not signing_in.done()
        hasher.release.set()
        assert signing_in.result(timeout=DEADLINE_S).status_code == 303


def test_no_more_checks_run_at_once_than_the_configured_workers_at_low_priority(
    database: Database, hasher: WatchedHasher
) -> None:
    prepare_hq(database, with_members=False)
    pool = {"sign_in_hash_workers": 2, "sign_in_hash_niceness": 5}
    with proxied(database, sign_in_queue_seconds=DEADLINE_S, **pool) as url:
        # Different names from different addresses: no limit stops any of them.
        replies = concurrently(12, lambda i: sign_in(url, f"guess{i}", "guess", f"10.1.{i}.1"))
    assert [reply.status_code for reply in replies] == [401] * 12
    assert 1 <= hasher.most <= 2
    if sys.platform == "linux":  # the server's other threads keep this process's priority
        assert hasher.niceness == {min(19, os.getpriority(os.PRIO_PROCESS, 0) + 5)}


def test_a_sign_in_that_finds_every_checker_busy_is_told_to_try_again_and_not_counted(
    database: Database, hasher: WatchedHasher
) -> None:
    hq = prepare_hq(database, with_members=False)
    hasher.hold = True
    with (
        proxied(database, sign_in_hash_workers=1, sign_in_queue_seconds=0.2) as url,
        ThreadPoolExecutor(1) as background,
    ):
        first = background.submit(sign_in, url, "ada", hq.admin.password, OFFICE)
        hasher.wait_started()
        busy = sign_in(url, "mo", hq.manager.password, "10.2.0.1")
        assert busy.status_code == 503
        assert "busy checking other sign-ins: try again in a moment" in busy.text
        assert busy.headers["retry-after"] == "2"
        assert evaluated(database, ip="10.2.0.1") == 0
        hasher.release.set()
        assert first.result(timeout=DEADLINE_S).status_code == 303
        assert sign_in(url, "mo", hq.manager.password, "10.2.0.1").status_code == 303


def test_a_user_disabled_while_their_password_is_checked_is_not_signed_in(
    database: Database, hasher: WatchedHasher
) -> None:
    hq = prepare_hq(database, with_members=False)
    hasher.hold = True
    with proxied(database) as url, ThreadPoolExecutor(1) as background:
        signing_in = background.submit(sign_in, url, "mo", hq.manager.password, OFFICE)
        hasher.wait_started()
        with database.write() as conn:
            disable_user(conn, "mo", utc_now())
        hasher.release.set()
        reply = signing_in.result(timeout=DEADLINE_S)
    assert reply.status_code == 401
    assert "lt_session" not in reply.headers.get("set-cookie", "")
    with database.read() as conn:
        assert (
            conn.execute(select(staff_sessions).where(staff_sessions.c.username == "mo")).first()
            is None
        )
    assert evaluated(database, username="mo", succeeded=False) == 1


def _legacy_scrypt(password: str) -> str:
    """A hash as an earlier release stored it: scrypt$n$r$p$salt$digest (base64)."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_a_legacy_scrypt_password_signs_in_and_is_upgraded_to_argon2id(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    with database.write() as conn:
        conn.execute(
            hq_users.update()
            .where(hq_users.c.username == "mo")
            .values(password_hash=_legacy_scrypt(hq.manager.password))
        )
    with proxied(database) as url:
        assert sign_in(url, "mo", "not-his-password", OFFICE).status_code == 401
        with database.read() as conn:
            stored = conn.execute(
                select(hq_users.c.password_hash).where(hq_users.c.username == "mo")
            ).scalar_one()
        assert stored.startswith("scrypt$")
        assert sign_in(url, "mo", hq.manager.password, OFFICE).status_code == 303
        with database.read() as conn:
            stored = conn.execute(
                select(hq_users.c.password_hash).where(hq_users.c.username == "mo")
            ).scalar_one()
        assert stored.startswith("$argon2id$")
        assert sign_in(url, "mo", hq.manager.password, OFFICE).status_code == 303


def test_passwords_are_hashed_with_rfc_9106_low_memory_and_weaker_hashes_are_upgraded(
    database: Database,
) -> None:
    assert security.PASSWORD_PARAMETERS == profiles.RFC_9106_LOW_MEMORY
    hq = prepare_hq(database, with_members=False)
    with database.read() as conn:
        stored = conn.execute(
            select(hq_users.c.password_hash).where(hq_users.c.username == "mo")
        ).scalar_one()
    assert extract_parameters(stored) == profiles.RFC_9106_LOW_MEMORY
    weak = PasswordHasher.from_parameters(profiles.CHEAPEST).hash(hq.manager.password)
    with database.write() as conn:
        conn.execute(
            hq_users.update().where(hq_users.c.username == "mo").values(password_hash=weak)
        )
    with proxied(database) as url:
        assert sign_in(url, "mo", hq.manager.password, OFFICE).status_code == 303
    with database.read() as conn:
        stored = conn.execute(
            select(hq_users.c.password_hash).where(hq_users.c.username == "mo")
        ).scalar_one()
    assert extract_parameters(stored) == profiles.RFC_9106_LOW_MEMORY
