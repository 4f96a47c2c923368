"""Process-wide settings for LoyalTill's long-running processes: the sync server (`serve`,
`ledger rebuild`) and the till (its TUI, `till sync`)."""

from __future__ import annotations

import gc

__all__ = ["YOUNG_COLLECTION_THRESHOLD", "claim_process", "tune_garbage_collector"]

YOUNG_COLLECTION_THRESHOLD = 20_000
"""Allocations between two collections of the youngest generation (CPython's default: 700)."""


_claimed = False


def claim_process() -> None:
    """Said by a LoyalTill program's entry point (``till``, ``syncserver``, the benches): the
    process is LoyalTill's own, so :func:`tune_garbage_collector` may change its collector.
    A process that runs LoyalTill's commands inside its own (a test run, a script) keeps its
    collector as it is: freezing its objects would keep what it drops later alive."""
    global _claimed
    _claimed = True


def tune_garbage_collector() -> None:
    """Make the cyclic garbage collector cheap, once start-up is done.

    A push allocates hundreds of thousands of short-lived objects (parsed records, models,
    rows), and with CPython's defaults the collector ran ~1,500 times per 10,000 entries,
    each older-generation pass walking every object the process holds: a quarter of the
    ingest's CPU time in ``bench.sync_bench``. A till's first download of a million members
    took 49 s instead of 37 s for the same reason. Freezing what start-up built (modules, the
    app, its routes and screens) takes it out of every later pass; a higher young threshold
    runs the passes less often. Memory is unaffected for all but cyclic garbage, which is
    still collected.

    Does nothing in a process no entry point claimed (:func:`claim_process`)."""
    if not _claimed:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, 20, 20)
