"""The garbage collector settings the server and the till run with (shared.runtime)."""

from __future__ import annotations

import json
import subprocess
import sys

from shared.runtime import YOUNG_COLLECTION_THRESHOLD

PROBE = """
import gc, json, sys
from shared.runtime import claim_process, tune_garbage_collector
before = gc.get_threshold()
if sys.argv[1] == "program":
    claim_process()
tune_garbage_collector()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""


def _probe(kind: str) -> dict[str, list[int] | int]:
    # In a process of its own: freezing would otherwise change this test run's collector.
    result = subprocess.run(
        [sys.executable, "-c", PROBE, kind], capture_output=True, text=True, timeout=120, check=True
    )
    found: dict[str, list[int] | int] = json.loads(result.stdout)
    return found


def test_a_loyaltill_program_freezes_start_up_and_collects_less_often() -> None:
    found = _probe("program")
    assert found["after"] == [YOUNG_COLLECTION_THRESHOLD, 20, 20]
    assert found["before"] != found["after"]
    # Everything start-up built (the modules imported here, at the least) is out of every
    # later collection.
    assert isinstance(found["frozen"], int)
    assert found["frozen"] > 1_000


def test_a_process_that_only_runs_loyaltill_commands_keeps_its_collector() -> None:
    """A test run or a script invoking `till sync` or `ledger rebuild` in its own process:
    freezing its objects would keep what it drops later alive (open database files among
    them)."""
    found = _probe("embedded")
    assert found["after"] == found["before"]
    assert found["frozen"] == 0
