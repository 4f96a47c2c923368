"""Background sync: a thread that syncs now and then, backing off while HQ is unreachable.

Exponential backoff with full jitter (1 s, 2 s, 4 s … capped at 5 minutes, each a random
fraction of that) so a fleet of tills coming back online does not hammer HQ in step. A
failure no resend mends (HQ refused an entry, a chain conflict, a journal alarm) is checked
back at the cap, and nudges after sales do not cut that wait short: a refused entry never
becomes a retry loop (docs/design.md, invariant 9).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from terminal.sync.engine import Progress, SyncEngine, SyncReport
from terminal.sync.errors import SyncError

__all__ = ["SyncWorker", "backoff_delay"]

log = logging.getLogger(__name__)


def backoff_delay(
    failures: int, *, base: float = 1.0, cap: float = 300.0, rng: random.Random | None = None
) -> float:
    """Full-jitter backoff: uniform(0, min(cap, base * 2**failures))."""
    ceiling = min(cap, base * 2 ** min(failures, 30))
    return (rng or random).uniform(0, ceiling)  # jitter, not a secret


class SyncWorker:
    def __init__(
        self,
        engine: SyncEngine,
        *,
        interval_s: float = 15.0,
        on_result: Callable[[SyncReport | None, SyncError | None], None] | None = None,
        progress: Progress | None = None,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._rng = rng
        self._on_result = on_result
        self._progress = progress
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        """Failed rounds in a row (0 after a good one)."""
        self.next_delay_s = 0.0
        """How long the worker waits before its next round (the status bar may show it)."""
        self._last_error: SyncError | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="till-sync", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def sync_now(self, *, force: bool = False) -> None:
        """Skip the wait (after a sale, or when the cashier asks: ``force``).

        Not after a refusal or an alarm unless forced: HQ would answer the same, and a busy
        till nudging after every sale would turn a refused entry into a retry loop
        (invariant 9). The worker checks back at its slow pace on its own.
        """
        if force or not self.stalled:
            self._wake.set()

    @property
    def stalled(self) -> bool:
        """The last round ended in a failure no resend mends (refused, conflict, alarm)."""
        return self._last_error is not None and not self._last_error.retryable

    @property
    def wake_pending(self) -> bool:
        """A nudge is waiting to cut the current wait short."""
        return self._wake.is_set()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _backoff(self) -> float:
        return backoff_delay(
            self.failures, base=self.backoff_base_s, cap=self.backoff_cap_s, rng=self._rng
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            delay = self.interval_s
            try:
                report = self.engine.sync_once(self._progress)
                self.failures = 0
                self._last_error = None
                if self._on_result:
                    self._on_result(report, None)
            except SyncError as error:
                self.failures += 1
                self._last_error = error
                # Retryable: back off; not retryable (refused, conflict): check back slowly.
                delay = self._backoff() if error.retryable else self.backoff_cap_s
                if not error.retryable:
                    # A nudge that arrived during this round would only repeat the refusal.
                    # (Cleared before the stop check below, so a stop() is never missed.)
                    self._wake.clear()
                log.warning("sync failed (%s); next try in %.1f s", error.message, delay)
                if self._on_result:
                    self._on_result(None, error)
            except Exception:  # a bug must not kill the thread: log it and keep the till going
                log.exception("sync round crashed")
                self.failures += 1
                delay = self._backoff()
            self.next_delay_s = delay
            if self._stop.is_set():
                break
            self._wake.wait(delay)
            self._wake.clear()
