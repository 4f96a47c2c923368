"""Fixtures for the till UI tests: the real seeded SQLite till, a key clock, an app factory.

The till, its database and its (fake) wall clock come from tests/terminal/conftest.py.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable

import pytest

from terminal.till.printing import PrintQueue, ReceiptSink
from terminal.till.service import Till
from terminal.ui import TillApp
from tests.terminal.conftest import clock, config, database, till  # noqa: F401
from tests.ui.helpers import KeyClock

AppFactory = Callable[..., TillApp]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests in a fresh event loop (no asyncio plugin is installed)."""
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function):
        return None
    names = inspect.signature(function).parameters
    asyncio.run(function(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture
def key_clock() -> KeyClock:
    return KeyClock()


@pytest.fixture
def make_app(till: Till, key_clock: KeyClock) -> AppFactory:  # noqa: F811 (fixture)
    """A TillApp on the seeded till; keys look typed unless a test scans (see KeyClock)."""

    def make(
        *,
        printer: Callable[[], ReceiptSink] | None = None,
        signed_in: bool = True,
        scanner_urls: tuple[str, ...] = (),
    ) -> TillApp:
        if not signed_in:
            till.sign_out()
        return TillApp(
            till,
            PrintQueue(till, printer),
            scanner_urls,
            monotonic=key_clock,
            status_interval_s=3600,  # tests refresh the status bar explicitly
        )

    return make
