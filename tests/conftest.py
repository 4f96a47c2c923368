"""Suite-wide settings: hypothesis profiles, the CI rule that PostgreSQL tests must run, and
the server database fixtures (tests/server_databases.py)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# Server databases (SQLite file and PostgreSQL, with once-per-session templates) for every
# directory that needs one: tests/server and tests/sync.
pytest_plugins = ("tests.server_databases",)

# "ci" explores more; "dev" keeps the edit-test loop quick. Both are deterministic per seed
# printed on failure, and neither has a deadline (a 2-core CI box stalls now and then).
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

_skipped_postgres: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "postgres" in report.keywords:
        _skipped_postgres.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With LOYALTILL_REQUIRE_PG set (.ci/run sets it), a skipped PostgreSQL test is a failure."""
    if os.environ.get("LOYALTILL_REQUIRE_PG") and _skipped_postgres:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                "LOYALTILL_REQUIRE_PG is set but these PostgreSQL tests were skipped: "
                + ", ".join(_skipped_postgres),
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
