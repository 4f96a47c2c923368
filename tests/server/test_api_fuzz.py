"""schemathesis over the whole API, as every kind of caller, on SQLite and PostgreSQL: no
server errors and no response the OpenAPI document does not describe (tests/server/api_fuzz.py).

A few cases per operation keep this in ``make test`` (derandomized: the same requests every
run, so a failure here is a regression, not luck); ``python -m tests.server.api_fuzz`` is the
longer, random run.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from syncserver.storage.database import Database
from tests.server.api_fuzz import ROLES, FuzzReport, fuzz_roles, generate_cases, seeded_api

EXAMPLES = int(os.environ.get("LOYALTILL_FUZZ_EXAMPLES", "4"))
"""Positive and negative cases per operation (about 12 x 37 requests per caller)."""


@functools.cache
def _cases() -> list[Any]:
    """Generated once per process: the same cases for both databases."""
    return generate_cases(EXAMPLES, derandomize=True)


def test_every_caller_gets_documented_answers_and_never_a_5xx(database: Database) -> None:
    cases = _cases()
    with seeded_api(database) as api:
        reports = fuzz_roles(api, cases)
    total = FuzzReport()
    for role, report in reports.items():
        print(f"{database.dialect} {role:9} {report.summary()}")
        total.merge(report)
        assert report.requests == len(cases), f"{role}: not every case got an answer"
    problems = total.server_errors + total.violations
    assert not problems, f"{len(problems)} problems, the first:\n" + "\n".join(problems[:5])
    # Every caller got past authentication somewhere, and the writers wrote something.
    for role in ROLES[1:]:
        assert reports[role].statuses[200] > 0, role
    assert reports["admin"].statuses[201] > 0
