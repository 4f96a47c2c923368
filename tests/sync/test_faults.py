"""The till syncs through a fault-injecting proxy (tests/sync/fault_proxy.py): cut requests,
held requests delivered late, cut and garbled replies, duplicated requests. Whatever the
network does, the till ends with every entry at HQ exactly once, the ledger rebuilds, the
balances are right, and while the faults last the till says it is offline."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from terminal.sync.errors import SyncOfflineError
from terminal.sync.worker import SyncWorker
from tests.server.tills import members_csv_from_till, workload
from tests.sync.fault_proxy import FAULTS, Fault, FaultProxy, fault_proxy
from tests.sync.harness import (
    PATIENT,
    Hq,
    SyncedTill,
    assert_converged,
    catalog_csv_of,
    wait_for,
)

TIMEOUT = httpx.Timeout(1.0, connect=1.0)
"""Short, for tills whose requests are held: a held request costs the till this long. Such a
till may also give up on a reply that is merely slow (a busy machine): the tests retry
until a generous deadline where that matters."""
DEADLINE_S = 120.0


@pytest.fixture
def proxy(hq: Hq) -> Iterator[FaultProxy]:
    with fault_proxy(hq.url, hold_limit_s=15) as running:
        yield running


def faulty_till(
    hq: Hq, proxy: FaultProxy, base: Path, timeout: httpx.Timeout = TIMEOUT
) -> SyncedTill:
    """A demo till that syncs through the proxy in small requests (7 entries a push, 5
    changes a pull page), so one round is many requests a fault can land between."""
    till = hq.open_till(base, url=proxy.url, timeout=timeout, push_batch=7, pull_limit=5)
    hq.import_members(members_csv_from_till(till))
    hq.import_catalog(catalog_csv_of(till))
    return till


def assert_offline(till: SyncedTill) -> None:
    status = till.till.status()
    assert (status["online"], status["sync_state"]) == (False, "offline")
    assert status["sync_error"]


def _timed_out(error: SyncOfflineError) -> bool:
    return "did not answer in time" in error.message


def faulty_round(till: SyncedTill, proxy: FaultProxy, fault: Fault, *plan: Fault) -> None:
    """A sync round with ``plan`` scripted on its first requests: it succeeds, or fails
    offline. When a request before the fault's turn timed out (a slow reply, not a fault),
    the fault never came: the round is run again, until a generous deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        mark = proxy.mark
        proxy.script(*plan)
        failed: SyncOfflineError | None = None
        try:
            till.engine.sync_once()
        except SyncOfflineError as error:
            failed = error
        proxy.wait_idle()
        proxy.calm()
        if failed is None:
            return
        assert_offline(till)
        if fault in proxy.faults_since(mark) or not _timed_out(failed):
            return
        assert time.monotonic() < deadline, f"no round reached the fault: {failed.message}"


@pytest.mark.parametrize("fault", FAULTS, ids=[f.value for f in FAULTS])
def test_every_entry_reaches_hq_once_whatever_the_fault(
    hq: Hq, proxy: FaultProxy, tmp_path: Path, fault: Fault
) -> None:
    # Only a held request needs the till to give up soon; the others answer at once.
    till = faulty_till(hq, proxy, tmp_path, TIMEOUT if fault is Fault.HOLD else PATIENT)
    workload(till, 24)

    # The fault on every request: the till stays offline and says so (a duplicate is
    # invisible: the second delivery is acknowledged as a duplicate).
    proxy.randomize(seed=1, rate=1.0, choices=[fault])
    for _ in range(2):
        acked_before = hq.acked(till.terminal_id)
        if fault is Fault.DUPLICATE:
            proxy.script(Fault.PASS)  # the tip comparison (GET /sync/status) gets through
            sent = till.last_seq() - till.engine.acked_seq()
            report = till.engine.sync_once()
            assert report.acked_seq == till.last_seq()
            # Each push was stored by its first delivery; the till hears the second.
            assert (report.pushed, report.duplicates) == (0, sent)
        else:
            deadline = time.monotonic() + DEADLINE_S
            while True:
                mark = proxy.mark
                proxy.script(Fault.PASS)  # the tip comparison (GET /sync/status) gets through
                with pytest.raises(SyncOfflineError):
                    till.engine.sync_once()
                assert_offline(till)
                proxy.wait_idle()
                if fault in proxy.faults_since(mark):
                    break
                # The tip comparison timed out before the push (a busy machine): again.
                assert time.monotonic() < deadline, "no push reached the fault"
            if fault is Fault.RESET:
                # A request cut mid-body is never applied.
                assert hq.acked(till.terminal_id) == acked_before == till.engine.acked_seq()
            else:
                # Held (then delivered late), or applied with the reply lost: HQ has the
                # first batch, the till does not know it yet.
                assert hq.acked(till.terminal_id) > till.engine.acked_seq()
        proxy.wait_idle()
        workload(till, 3)

    # The fault once, at each place in a round: before, between and after the pushes and
    # the pull pages. Each round either succeeds or leaves the till offline.
    proxy.calm()
    for position in (0, 1, 3, 5, 8):
        workload(till, 4)
        faulty_round(till, proxy, fault, *[Fault.PASS] * position, fault)

    till.sync_until_done()
    proxy.wait_idle()
    assert till.till.status()["online"] is True
    assert proxy.stats.faults[fault] >= 5
    assert_converged(hq, [till])


def test_random_faults_from_a_seeded_rng(hq: Hq, proxy: FaultProxy, tmp_path: Path) -> None:
    """Every kind of fault, mixed, on a third of the requests, across many rounds."""
    till = faulty_till(hq, proxy, tmp_path)
    proxy.randomize(seed=20261123, rate=0.3)
    outcomes = []
    for _ in range(12):
        workload(till, 5)
        try:
            till.engine.sync_once()
            outcomes.append("ok")
        except SyncOfflineError:
            assert_offline(till)
            outcomes.append("offline")
        proxy.wait_idle()
    assert "offline" in outcomes
    proxy.calm()
    till.sync_until_done()
    proxy.wait_idle()
    assert sum(proxy.stats.faults[f] for f in FAULTS) >= 5
    assert_converged(hq, [till])


def test_a_network_that_is_down_keeps_the_till_offline_until_it_is_back(
    hq: Hq, proxy: FaultProxy, tmp_path: Path
) -> None:
    till = faulty_till(hq, proxy, tmp_path, PATIENT)  # nothing is held here
    workload(till, 10)
    till.engine.sync_once()
    synced = till.last_seq()
    proxy.down = True
    for _ in range(3):
        workload(till, 3)
        with pytest.raises(SyncOfflineError, match="cannot reach HQ"):
            till.engine.sync_once()
        assert_offline(till)
        assert till.till.status()["unsent_entries"] == till.last_seq() - synced
        assert hq.acked(till.terminal_id) == synced
    proxy.down = False
    report = till.engine.sync_once()
    assert report.pushed == till.last_seq() - synced
    assert till.till.status()["online"] is True
    assert_converged(hq, [till])


def test_the_worker_keeps_up_with_a_busy_till_on_a_flaky_network(
    hq: Hq, proxy: FaultProxy, tmp_path: Path
) -> None:
    """As in the TUI: the cashier keeps selling (and nudges the worker after each sale)
    while the worker syncs in the background through a network that fails a fifth of the
    requests. Nothing is lost, nothing counted twice, and the worker catches up."""
    till = faulty_till(hq, proxy, tmp_path)
    outcomes: list[str] = []
    worker = SyncWorker(
        till.engine,
        interval_s=0.05,
        on_result=lambda report, error: outcomes.append("ok" if error is None else "failed"),
        backoff_base_s=0.01,
        backoff_cap_s=0.1,
        rng=random.Random(7),
    )
    proxy.randomize(seed=99, rate=0.2)
    worker.start()
    try:
        for _ in range(6):
            workload(till, 8)
            worker.sync_now()
        wait_for(lambda: "failed" in outcomes and "ok" in outcomes, "good and failed rounds")
        proxy.calm()
        wait_for(
            lambda: till.engine.acked_seq() == till.last_seq() and outcomes[-1] == "ok",
            "the worker to catch up",
        )
    finally:
        worker.stop()
    assert not worker.running
    proxy.wait_idle()
    assert_converged(hq, [till])
