"""A slice of the fault soak (tests/soak/engine.py; the full run is ``python -m bench.soak``).

On each database, real tills and real ``syncserver serve`` processes (two replicas on one
PostgreSQL, in a throwaway cluster of the soak's own, restarted under load) get every kind of
fault at least once — network cuts, stalls, truncations and duplicates in both directions;
stored, overlapping, reordered, replayed and concurrent push batches; a server SIGKILLed
mid-push; till processes SIGKILLed mid-sale and mid-sync — and afterwards no entry is lost
or doubled, every till journal and HQ's chain verify, and ``ledger rebuild --check`` is green.

Nothing is timed: every wait is for a condition, with a generous deadline; the faults are
placed on the requests themselves (a round's first push, a push forwarded to the server, a
pull page delivered), so each kind surely lands.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.soak.engine import KINDS, PG_RESTART, SoakOptions, format_result, run_soak
from tests.soak.pg_cluster import cluster_unavailable_reason

SLICE_FAULTS = 16
"""Small: the first epochs alone cover every kind (about twenty faults with 3 tills) and the
soak stops right after them."""
TILLS = 3


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.timeout(900)
def test_fault_soak_slice(kind: str, tmp_path: Path) -> None:
    if kind == "postgres" and (reason := cluster_unavailable_reason()):
        pytest.skip(f"the soak restarts its own PostgreSQL cluster: {reason}")
    result = run_soak(
        SoakOptions(
            kind=kind,
            faults=SLICE_FAULTS,
            seed=20261203,
            work_dir=tmp_path / "soak",
            tills=TILLS,
            max_seconds=600,
        )
    )
    report = format_result(result)
    assert result.ok, report
    expected = {*KINDS, PG_RESTART} if kind == "postgres" else set(KINDS)
    assert expected <= set(result.faults), f"kinds never injected: {expected - set(result.faults)}"
    assert result.total_faults >= SLICE_FAULTS, report
    assert result.entries > 0, report
    assert len(result.checks) >= 10, report
