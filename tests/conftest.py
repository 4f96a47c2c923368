"""Suite-wide settings: hypothesis profiles, the CI rule that PostgreSQL tests must run, and
the server database fixtures (tests/server_databases.py)."""

from __future__ import annotations

import os

import pytest
from argon2 import PasswordHasher, profiles
from hypothesis import HealthCheck, settings

from syncserver import security

# Server databases (SQLite file and PostgreSQL, with once-per-session templates) for every
# directory that needs one: tests/server and tests/sync.
pytest_plugins = ("tests.server_databases",)

# "ci" explores more (within the suite's time budget: well under 10 minutes on 2 cores);
# "dev" keeps the edit-test loop quick. Both are deterministic per seed
# printed on failure, and neither has a deadline (a 2-core CI box stalls now and then).
settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# Every HQ user a test creates costs one production argon2id hash (64 MiB, ~0.1 s of a core):
# over the suite, minutes. Tests hash with argon2's own test profile instead, except those
# marked real_password_hashing (they prove the production parameters). Servers a test starts
# in another process hash as in production.
_CHEAP_HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if request.node.get_closest_marker("real_password_hashing") is None:
        monkeypatch.setattr(security, "_hasher", _CHEAP_HASHER)


# Tests that CI must not skip: marker -> the environment variable that makes a skip a failure.
_REQUIRED = {"postgres": "LOYALTILL_REQUIRE_PG", "browser": "LOYALTILL_REQUIRE_BROWSER"}
_skipped: dict[str, list[str]] = {marker: [] for marker in _REQUIRED}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        for marker in _REQUIRED:
            if marker in report.keywords:
                _skipped[marker].append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With LOYALTILL_REQUIRE_PG / LOYALTILL_REQUIRE_BROWSER set (.ci/run sets both), a skipped
    PostgreSQL or browser test is a failure."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for marker, variable in _REQUIRED.items():
        if os.environ.get(variable) and _skipped[marker]:
            if reporter is not None:
                reporter.write_line(
                    f"{variable} is set but these {marker} tests were skipped: "
                    + ", ".join(_skipped[marker]),
                    red=True,
                )
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
