"""Kill -9 the till at random moments during a stream of sales (docs/design.md, invariant 1).

After each kill the till restarts on the same files: the journal verifies, every receipt the
printer received has its journal entry, and no sale is half-written (its points effects and
print job are there exactly when its entry is).
"""

from __future__ import annotations

import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from hardware.sim.printer_sim import PrinterSimulator
from shared.journal import Sale
from terminal.config import TillConfig
from terminal.demo.seed import seed_demo
from terminal.store import open_database
from terminal.store.journal import iter_records, verify_journal

TRIALS = int(os.environ.get("LOYALTILL_CRASH_TRIALS", "20"))
"""Kills per run: 20 in `make test` (each a fresh Python process); set more for a longer proof."""
ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 60.0
"""How long a trial may wait for the child's next line: a busy machine is slow, not wrong."""


def _lines(stream: IO[str]) -> queue.Queue[str | None]:
    """The child's output lines, read by a thread (None at its end), so every wait on them
    can have a deadline."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _next_line(lines: queue.Queue[str | None]) -> str | None:
    try:
        return lines.get(timeout=DEADLINE_S)
    except queue.Empty:
        raise AssertionError(f"the sale stream said nothing for {DEADLINE_S:.0f} s") from None


def _drained(lines: queue.Queue[str | None]) -> Iterator[str]:
    """What the child wrote before it died (its end is near once it was killed)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError("the killed sale stream's output did not end") from None
        if line is None:
            return
        yield line


def _check_consistent(config: TillConfig, printed: list[str], completed: list[int]) -> int:
    database = open_database(config.database_path)  # a restart: open and migrate again
    try:
        report = verify_journal(database.db)
        assert report.ok, str(report.first_break)
        sales = {}
        for record in iter_records(database.db):
            if record["payload"]["kind"] == "sale":
                sales[record["seq"]] = Sale.model_validate(record["payload"])
        jobs = {row[0] for row in database.conn.execute("SELECT seq FROM print_jobs")}
        assert set(sales) <= jobs, "a journaled sale lost its print job"
        effects = {row[0] for row in database.conn.execute("SELECT seq FROM points_effects")}
        for seq, sale in sales.items():
            moved = sale.points_earned or sale.points_redeemed
            assert (seq in effects) == bool(sale.member and moved), f"sale {seq} half-applied"
        assert effects <= set(sales), "points effects without their sale"
        for text in printed:
            match = re.search(r"\bT1-(\d+)\b", text)
            assert match is not None, f"a cut receipt without its number:\n{text}"
            assert int(match.group(1)) in sales, f"receipt {match.group(0)} has no journal entry"
        missing = sorted(set(completed) - set(sales))
        assert not missing, f"sales reported complete but not in the journal: {missing}"
        return report.checked
    finally:
        database.close()


# Every wait on the child has its own deadline; this only bounds the whole (TRIALS child
# processes) against a hang, generously: a busy 2-core machine starts each child slowly.
@pytest.mark.timeout(900)
def test_kill_nine_never_loses_or_half_writes_a_sale(tmp_path: Path) -> None:
    config = TillConfig(data_dir=tmp_path / "till", timezone="Europe/Berlin")
    database = open_database(config.database_path)
    seed_demo(database, config, members=150, products=80)
    database.close()
    rng = random.Random(4242)
    completed: list[int] = []
    """Seqs of the sales the stream reported complete (journaled, receipt printed)."""
    waited_for = 0
    with PrinterSimulator(out_dir=tmp_path / "receipts") as printer:
        entries = 0
        for trial in range(TRIALS):
            command = [
                sys.executable,
                "-m",
                "tests.terminal.sale_stream",
                str(config.data_dir),
                printer.url,
                str(trial),
            ]
            with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as child:
                assert child.stdout is not None
                lines = _lines(child.stdout)
                try:
                    assert _next_line(lines) == "ready"
                    # Progress is counted, not timed: wait for a few completed sales (none,
                    # for a kill during the first), then a random while more (0-200 ms), so
                    # kills land before, during and after commits and in the middle of
                    # prints, however fast or slow the machine is today.
                    wanted = rng.randint(0, 2)
                    waited_for += wanted
                    for _ in range(wanted):
                        line = _next_line(lines)
                        assert line is not None, "the sale stream ended by itself"
                        assert line.startswith("sale "), line
                        completed.append(int(line.removeprefix("sale ")))
                    threading.Event().wait(rng.uniform(0, 0.2))
                finally:
                    os.kill(child.pid, signal.SIGKILL)
                    child.wait(timeout=DEADLINE_S)
                    # What it wrote before it died; reading to the end also ends the reader
                    # before the pipe is closed.
                    rest = list(_drained(lines))
            completed += [int(line.removeprefix("sale ")) for line in rest]
            cut = [r.text for r in printer.receipts if r.cut]
            after = _check_consistent(config, cut, completed)
            assert after >= entries
            entries = after
        assert len(completed) >= waited_for
        assert entries >= waited_for, "every completed sale is in the journal"
