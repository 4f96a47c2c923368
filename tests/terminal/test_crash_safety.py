"""Kill -9 the till at random moments during a stream of sales (docs/design.md, invariant 1).

After each kill the till restarts on the same files: the journal verifies, every receipt the
printer received has its journal entry, and no sale is half-written (its points effects and
print job are there exactly when its entry is).
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from hardware.sim.printer_sim import PrinterSimulator
from shared.journal import Sale
from terminal.config import TillConfig
from terminal.demo.seed import seed_demo
from terminal.store import open_database
from terminal.store.journal import iter_records, verify_journal

TRIALS = 50
ROOT = Path(__file__).resolve().parents[2]


def _check_consistent(config: TillConfig, printed: list[str]) -> int:
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
        return report.checked
    finally:
        database.close()


def test_kill_nine_never_loses_or_half_writes_a_sale(tmp_path: Path) -> None:
    config = TillConfig(data_dir=tmp_path / "till", timezone="Europe/Berlin")
    database = open_database(config.database_path)
    seed_demo(database, config, members=150, products=80)
    database.close()
    rng = random.Random(4242)
    with PrinterSimulator(out_dir=tmp_path / "receipts") as printer:
        entries = 0
        for trial in range(TRIALS):
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.terminal.sale_stream",
                    str(config.data_dir),
                    printer.url,
                    str(trial),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            # Let it run a random while (0-500 ms): kills land before, during and after
            # commits and in the middle of prints.
            threading.Event().wait(rng.uniform(0, 0.5))
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
            child.stdout.close()
            cut = [r.text for r in printer.receipts if r.cut]
            after = _check_consistent(config, cut)
            assert after >= entries
            entries = after
        assert entries >= TRIALS, "the stream should have completed many sales"
