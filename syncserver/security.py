"""Secrets: bearer tokens (stored only as SHA-256 hashes) and HQ passwords (argon2id).

Passwords hashed by an earlier release with scrypt still verify; :func:`needs_rehash` tells
the sign-in code to store an argon2id hash in their place.

A password check costs 64 MiB and tens of milliseconds of a core, so the dashboard runs them
through :class:`PasswordCheckers`: a few at a time per process, never inside a database
transaction, and a sign-in that cannot get a checker soon is told to try again
(:class:`PasswordCheckersBusyError`) instead of queueing without end.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import secrets
import sys
import threading
import weakref
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "PASSWORD_PARAMETERS",
    "PasswordCheck",
    "PasswordCheckers",
    "PasswordCheckersBusyError",
    "check_password_hash",
    "hash_password",
    "hash_token",
    "needs_rehash",
    "new_password",
    "new_token",
    "verify_password",
]

log = logging.getLogger(__name__)

PASSWORD_PARAMETERS: Parameters = profiles.RFC_9106_LOW_MEMORY
"""RFC 9106's "low memory" profile (argon2id, 64 MiB, 3 passes, 4 lanes): tens of
milliseconds per sign-in, expensive for anyone guessing offline. (The test suite swaps in
argon2's cheapest profile, except in the tests that prove these parameters.)"""

_hasher = PasswordHasher.from_parameters(PASSWORD_PARAMETERS)


def new_token() -> str:
    """A bearer token: 32 random bytes, URL-safe text. Shown once, never stored."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the database keeps. Tokens carry 256 bits of entropy, so a plain hash suffices."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(18)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return _verify_legacy_scrypt(password, stored)
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True for a legacy scrypt hash or argon2 parameters weaker than today's."""
    return stored.startswith("scrypt$") or _hasher.check_needs_rehash(stored)


def _verify_legacy_scrypt(password: str, stored: str) -> bool:
    try:
        _scheme, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate, base64.b64decode(digest))


_UNKNOWN_USER_HASH: str | None = None


def _unknown_user_hash() -> str:
    """A hash nobody's password matches, checked for an unknown user name so that the answer
    takes as long as for a real one (timing does not reveal who exists). Made on first use:
    hashing at import would cost every process that imports this module 64 MiB."""
    global _UNKNOWN_USER_HASH
    if _UNKNOWN_USER_HASH is None:
        _UNKNOWN_USER_HASH = hash_password(secrets.token_urlsafe(18))
    return _UNKNOWN_USER_HASH


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    ok: bool
    new_hash: str | None = None
    """When the password is right but stored as legacy scrypt or with weaker argon2
    parameters: the argon2id hash to store in its place."""


def check_password_hash(password: str, stored: str | None) -> PasswordCheck:
    """Check ``password`` against ``stored`` (None: no such user, always wrong). CPU and
    memory heavy: call it through :class:`PasswordCheckers`, outside any transaction."""
    if stored is None:
        verify_password(password, _unknown_user_hash())
        return PasswordCheck(ok=False)
    if not verify_password(password, stored):
        return PasswordCheck(ok=False)
    return PasswordCheck(
        ok=True, new_hash=hash_password(password) if needs_rehash(stored) else None
    )


class PasswordCheckersBusyError(RuntimeError):
    """Every password checker stayed busy for the whole wait: answer "try again in a moment"."""


def _lower_this_threads_priority(niceness: int) -> None:
    """Runs first in each checker thread. Linux keeps a niceness per thread (and the threads
    the argon2 library starts for its lanes inherit it); elsewhere the call would renice the
    whole process, so it is skipped there."""
    if sys.platform != "linux" or niceness <= 0:
        return
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + niceness))
    except OSError as error:  # e.g. a sandbox without setpriority: checks still work
        log.warning("password checkers run at normal priority: %s", error)


class PasswordCheckers:
    """At most ``workers`` password checks at once in this process (each takes 64 MiB).

    A sign-in first takes a checker with :meth:`slot` — waiting without holding a thread, at
    most ``wait_seconds`` — then runs :meth:`check` on one of the checkers' own threads.
    argon2id keeps a core busy per lane (4 lanes, so 4 threads per check): ``niceness``
    lowers those threads' CPU priority so that a flood of sign-ins does not take the CPU from
    the tills' pushes (at 19, all of them together weigh about a tenth of one normal thread,
    yet still progress on a busy machine). Create one per event loop (the dashboard keeps one
    per app)."""

    def __init__(self, workers: int, wait_seconds: float, *, niceness: int = 0) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.wait_seconds = wait_seconds
        self._free = anyio.Semaphore(workers, max_value=workers)
        self._threads = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="password-check",
            initializer=_lower_this_threads_priority,
            initargs=(niceness,),
        )
        # Idle threads end with the app that owned these checkers.
        weakref.finalize(self, self._threads.shutdown, wait=False)
        # Make the unknown-user hash now, so that not even the first check of a name that does
        # not exist takes longer than one that does.
        self._threads.submit(_unknown_user_hash)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        acquired = False
        with anyio.move_on_after(self.wait_seconds):
            await self._free.acquire()
            acquired = True
        if not acquired:
            raise PasswordCheckersBusyError(
                f"all {self.workers} password checkers stayed busy for {self.wait_seconds:g} s"
            )
        try:
            yield
        finally:
            self._free.release()

    async def check(self, password: str, stored: str | None) -> PasswordCheck:
        """Run :func:`check_password_hash` on a checker thread; call it inside :meth:`slot`.
        The hash releases the GIL, so requests (till pushes) go on meanwhile."""
        return await asyncio.wrap_future(
            self._threads.submit(check_password_hash, password, stored)
        )
