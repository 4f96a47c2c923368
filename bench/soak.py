"""Fault soak: ≥ 1,000 injected faults against real tills and real servers, then the proofs.

    .venv/bin/python -m bench.soak [--faults 1000] [--db sqlite|postgres|both] [--seed 1]
        [--tills 4] [--max-minutes 240] [--keep]

``--faults`` is the total for the run, shared evenly between the databases. Server SIGKILLs
mid-push (real ``syncserver serve`` processes, restarted), till SIGKILLs mid-sale and
mid-sync (real till processes and ``till sync --once``), connection resets, stalls and
truncations through fault proxies in both directions, duplicate, overlapping, reordered and
replayed push batches, and on PostgreSQL two server replicas with the tills spread across
them and the database restarted under load — in a throwaway cluster of the soak's own
(``initdb``/``pg_ctl`` from the installed PostgreSQL binaries), never the machine's server.
How it works and what it proves: tests/soak/engine.py.

Prints progress on stderr and, per database, the faults injected by kind, entries synced,
retries, elapsed time and every check; exits 1 on any violation (no entry lost or doubled,
every till journal and HQ's chain verify, ``ledger rebuild --check`` green, …). Everything it
starts (servers, till processes, the PostgreSQL cluster) stops when it ends; its scratch
directory is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.sync_bench import ProgressLine, say
from tests.soak.engine import SoakOptions, SoakResult, clean_work_dir, format_result, run_soak
from tests.soak.pg_cluster import cluster_unavailable_reason


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--faults", type=int, default=1000, help="faults to inject in all (split over databases)"
    )
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tills", type=int, default=4, help="tills per database (≥ 2)")
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=240.0,
        help="per database: stop injecting after this long (then sync, check, report)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    if args.faults < 1 or args.tills < 2:
        parser.error("--faults must be ≥ 1 and --tills ≥ 2")
    args.kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in args.kinds and (reason := cluster_unavailable_reason()):
        parser.error(f"PostgreSQL soak needs its own throwaway cluster: {reason}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # A plain `kill` still stops the servers and the cluster (finally blocks run).
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    scratch = Path(tempfile.mkdtemp(prefix="loyaltill-soak-"))
    share = -(-args.faults // len(args.kinds))
    say(
        f"fault soak: {args.faults:,} faults ({share:,} per database: "
        f"{', '.join(args.kinds)}), seed {args.seed}, {args.tills} tills, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    results: list[SoakResult] = []
    try:
        for kind in args.kinds:
            say(f"\n[{kind}] setting up (scratch: {scratch / kind})")
            bar = ProgressLine(f"{kind} faults", share)

            def note(line: str, bar: ProgressLine = bar) -> None:
                if bar.tty:  # off the progress line
                    sys.stderr.write("\n")
                say(line)

            def progress(done: int, total: int, bar: ProgressLine = bar) -> None:
                bar.update(min(done, total), total)

            try:
                result = run_soak(
                    SoakOptions(
                        kind=kind,
                        faults=share,
                        seed=args.seed,
                        work_dir=scratch / kind,
                        tills=args.tills,
                        max_seconds=args.max_minutes * 60,
                        say=note,
                        progress=progress,
                    )
                )
            finally:
                bar.done()
            results.append(result)
            say(format_result(result))
        total = sum(r.total_faults for r in results)
        say(
            f"\nsummary: {total:,} faults injected, "
            f"{sum(r.entries for r in results):,} entries synced, "
            f"{sum(sum(r.retries.values()) for r in results):,} retries, "
            f"{sum(r.elapsed_s for r in results):,.1f} s; "
            + ", ".join(f"{r.kind} {'OK' if r.ok else 'FAILED'}" for r in results)
        )
    finally:
        if args.keep:
            say(f"scratch kept: {scratch}")
        else:
            clean_work_dir(scratch)
    return 0 if results and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
