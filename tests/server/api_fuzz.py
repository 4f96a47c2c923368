"""schemathesis over the whole OpenAPI of a real server (issue 10, "Prove it, and keep it proven").

Every operation the API documents is called with generated requests — ones its schema
accepts (positive) and ones it must refuse (negative) — by every kind of caller (no token, a
till, viewer, manager, admin, in that order: the writers come last) against a real uvicorn on
loopback serving a seeded database: members, two tills with journals, an exception of every
kind. Each response must not be a 5xx and must conform to the document: a documented status
code, the documented content type and headers, a body that matches the documented schema (the
error shape included).

Requests are generated once from the document (schemathesis' hypothesis strategies are the
slow part) and sent by each caller. Positive requests to a path with parameters name, every
other time, things the seeded database holds (``KNOWN``), so they get past the 404s.

``make test`` sends a few per operation (tests/server/test_api_fuzz.py); the longer run is
this module's command line (random, not derandomized, generation; see ``--help``)::

    LOYALTILL_TEST_PG=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m tests.server.api_fuzz --examples 100

Problems are collected rather than raised, so one run reports every one it met (with a curl
command that reproduces it), and the counts are figures for the notes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from syncserver.api.app import create_app
from syncserver.storage.database import Database
from tests.server.helpers import bearer
from tests.server.hq.exceptions_scene import exceptions_scene
from tests.server.journal import card

__all__ = [
    "KNOWN",
    "ROLES",
    "FuzzReport",
    "SeededApi",
    "fuzz_roles",
    "generate_cases",
    "main",
    "replay",
    "seeded_api",
]

ROLES = ("anonymous", "till", "viewer", "manager", "admin")
"""In this order on one database: each caller's writes cannot lock out the ones after it."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

KNOWN: dict[str, Any] = {
    "member_id": "M0000000001",
    "card": card(2),  # Ben's card: active, with a member and a balance
    "terminal_id": "T0001",
    "seq": 1,
    "exception_id": 1,
    "version": 3,  # the demo program
    "username": "vi",
}
"""Path parameter -> something the seeded database holds (``seeded_api`` checks each)."""


@dataclass
class SeededApi:
    url: str
    headers: dict[str, dict[str, str]]
    """role -> the headers that make a request that caller's"""


@contextmanager
def seeded_api(database: Database) -> Iterator[SeededApi]:
    """A real server over ``database`` seeded with members, two tills with journals and an
    exception of every kind (tests/server/hq/exceptions_scene.py)."""
    with exceptions_scene(database) as scene:
        hq = scene.hq
        till_id, till_token = scene.tills["S001"]
        assert (till_id, hq.viewer.username) == (KNOWN["terminal_id"], KNOWN["username"])
        assert KNOWN["exception_id"] in scene.ids.values()
        yield SeededApi(
            scene.url,
            {
                "anonymous": {},
                "till": bearer(till_token),
                "viewer": hq.viewer.headers,
                "manager": hq.manager.headers,
                "admin": hq.admin.headers,
            },
        )


@dataclass
class FuzzReport:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    """Responses that do not conform to the document (status, content type, headers, schema)."""
    seconds: float = 0.0

    def merge(self, other: FuzzReport) -> None:
        self.requests += other.requests
        self.statuses.update(other.statuses)
        self.server_errors += other.server_errors
        self.violations += other.violations
        self.seconds += other.seconds

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"{self.requests} requests, {len(self.server_errors)} server errors, "
            f"{len(self.violations)} schema violations in {self.seconds:.1f} s ({codes})"
        )


def generate_cases(examples: int, *, derandomize: bool) -> list[Any]:
    """Up to ``examples`` positive and ``examples`` negative requests per operation of the
    server's own document (no server needed to generate them)."""
    schema = schemathesis.openapi.from_dict(create_app().openapi())
    cases: list[Any] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # the document itself is wrong: that is a failure too
            raise result.err()
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        fixed = {name: KNOWN[name] for name in names if name in KNOWN}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            if fixed and mode is GenerationMode.POSITIVE:
                known = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
                strategy = st.one_of(strategy, known)
            cases += _draw(strategy, examples, derandomize)
    return cases


def _draw(strategy: Any, examples: int, derandomize: bool) -> list[Any]:
    drawn: list[Any] = []

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def collect(case: Any) -> None:
        drawn.append(case)

    # A negative case of an operation without inputs is Unsatisfiable: nothing to get wrong.
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        collect()
    return drawn


def replay(url: str, headers: dict[str, str], cases: list[Any], role: str = "") -> FuzzReport:
    """Send every case as the caller ``headers`` make, and check each response."""
    report = FuzzReport()
    started = time.monotonic()
    with requests.Session() as session:
        for case in cases:
            try:
                response = case.call(base_url=url, session=session, headers=headers)
            except requests.RequestException as error:
                report.server_errors.append(f"{role} {case.operation.label}: {error!r}")
                continue
            report.requests += 1
            report.statuses[response.status_code] += 1
            failures: list[Failure] = []
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as group:
                failures = list(group.exceptions)
            except Failure as failure:
                failures = [failure]
            if failures:
                problem = _describe(role, case, response, failures, headers)
                if response.status_code >= 500:
                    report.server_errors.append(problem)
                else:
                    report.violations.append(problem)
    report.seconds = time.monotonic() - started
    return report


def _describe(
    role: str, case: Any, response: Any, failures: list[Failure], headers: dict[str, str]
) -> str:
    curl = case.as_curl_command(headers=headers)
    titles = "; ".join(f"{f.title}: {f.message}"[:600] for f in failures)
    return f"[{role}] {case.operation.label}: {titles}\n  {curl}\n  -> {response.text[:400]}"


def fuzz_roles(
    api: SeededApi,
    cases: list[Any],
    roles: tuple[str, ...] = ROLES,
    log: Callable[[str], None] | None = None,
) -> dict[str, FuzzReport]:
    """Every case as every caller, in ``roles`` order, on the one seeded database."""
    reports = {}
    for role in roles:
        reports[role] = replay(api.url, api.headers[role], cases, role)
        if log is not None:
            log(f"  {role:9} {reports[role].summary()}")
    return reports


# ---------------------------------------------------------------------------------------------
# The longer run: python -m tests.server.api_fuzz


@contextmanager
def _database(kind: str) -> Iterator[Database]:
    from syncserver.storage.migrate import upgrade
    from tests.server_databases import PG_ENV, PgCluster

    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="loyaltill-fuzz-"))
        database = Database(f"sqlite:///{folder / 'server.sqlite3'}")
        try:
            upgrade(database)
            yield database
        finally:
            database.dispose()
            shutil.rmtree(folder, ignore_errors=True)
        return
    maintenance = os.environ.get(PG_ENV)
    if not maintenance:
        raise SystemExit(f"set {PG_ENV} (a PostgreSQL maintenance URL) to fuzz PostgreSQL")
    cluster = PgCluster(maintenance)
    name = f"loyaltill_fuzz_{uuid.uuid4().hex[:12]}"
    cluster.execute(f"CREATE DATABASE {name}")
    database = Database(cluster.url_for(name))
    try:
        upgrade(database)
        yield database
    finally:
        database.dispose()
        cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="schemathesis over the whole API, every caller, SQLite and PostgreSQL."
    )
    parser.add_argument(
        "--examples", type=int, default=100, help="positive and negative cases per operation"
    )
    parser.add_argument("--rounds", type=int, default=1, help="fresh cases and databases")
    parser.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--derandomize", action="store_true", help="the same cases every run")
    parser.add_argument("--show", type=int, default=20, help="problems printed at most")
    args = parser.parse_args(argv)
    total = FuzzReport()
    problems: list[str] = []
    for round_no in range(1, args.rounds + 1):
        started = time.monotonic()
        cases = generate_cases(args.examples, derandomize=args.derandomize)
        print(f"round {round_no}: {len(cases)} cases in {time.monotonic() - started:.0f} s")
        for kind in args.db.split(","):
            print(f" {kind}", flush=True)
            with _database(kind) as database, seeded_api(database) as api:
                reports = fuzz_roles(api, cases, log=lambda line: print(line, flush=True))
            for report in reports.values():
                total.merge(report)
                problems += report.server_errors + report.violations
    print(f"total: {total.summary()}")
    for problem in problems[: args.show]:
        print("  " + problem.replace("\n", "\n  "))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
