"""``bench.sync_bench`` at toy size, as an operator runs it: real tills journal, a real
``syncserver serve`` (one process, then two replicas) takes the pushes, the ledger is rebuilt
and checked, and ``--json`` writes figures another run can be compared with. Figures are not
judged here (a test never asserts a speed); their presence and consistency are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_ingest_bench_writes_comparable_figures_per_server_count(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.sync_bench",
            "--db",
            "sqlite",
            "--phases",
            "ingest",
            "--entries",
            "240",
            "--tills",
            "2",
            "--members",
            "60",
            "--servers",
            "1,2",
            "--cache",
            str(tmp_path / "tills"),
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(out.read_text())
    runs = figures["ingest"]
    assert [(run["database"], run["servers"]) for run in runs] == [("sqlite", 1), ("sqlite", 2)]
    for run in runs:
        assert run["entries"] == 240
        assert run["entries_per_s"] > 0
        assert run["raw_rows_per_s"] > 0
        assert abs(run["ratio"] - run["entries_per_s"] / run["raw_rows_per_s"]) < 0.01
        # The replicas' ledger replays to exactly what they posted.
        assert run["rebuild_check_ok"] is True
    assert figures["settings"]["servers"] == [1, 2]
    assert "summary (1. ingest + reconciliation over HTTP)" in result.stdout


def test_a_bad_server_count_is_refused_with_the_reason() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.sync_bench", "--db", "sqlite", "--servers", "two"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "--servers takes counts like 1 or 1,2,4" in result.stderr
