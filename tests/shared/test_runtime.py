"""The garbage collector settings the server and the till run with (shared.runtime)."""

from __future__ import annotations

import json
import subprocess
import sys

from shared.runtime import YOUNG_COLLECTION_THRESHOLD

PROBE = """
import gc, json
from shared.runtime import tune_garbage_collector
before = gc.get_threshold()
tune_garbage_collector()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""


def test_start_up_objects_are_frozen_and_young_collections_run_less_often() -> None:
    # In a process of its own: freezing would otherwise change this test run's collector.
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(result.stdout)
    assert found["before"][0] < YOUNG_COLLECTION_THRESHOLD
    assert found["after"][0] == YOUNG_COLLECTION_THRESHOLD
    # Everything start-up built (the modules imported here, at the least) is out of every
    # later collection.
    assert found["frozen"] > 1_000
