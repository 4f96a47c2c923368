"""The reader thread every device scanner shares: open, read, and reopen after an unplug.

A subclass says how to open, read and close its device; this class runs that in a daemon
thread, turns text into classified :class:`~shared.scan.Scan` events, counts drops, and keeps
the device open across unplugs: on an error it closes, reports "reconnecting" with the error,
and retries with capped exponential backoff until :meth:`ScannerReader.stop`.

Callbacks run on the reader thread. The till must hand them to its UI thread (Textual:
``app.call_from_thread``); they should be quick, and an exception in one is logged, not fatal.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Self, TypeVar

from hardware.scanners.stats import ScanStats
from shared.codes import CodeConfig
from shared.scan import RejectedScan, Scan, ScanSource, classify

__all__ = ["ScannerReader", "ScannerState", "ScannerStatus"]

logger = logging.getLogger(__name__)

ScanCallback = Callable[[Scan], None]
RejectCallback = Callable[[RejectedScan], None]
EventT = TypeVar("EventT", Scan, RejectedScan)


class ScannerState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ScannerStatus:
    """A snapshot for the till's status bar."""

    source: ScanSource
    state: ScannerState
    last_error: str | None
    """The latest open or read error; kept after a reconnect, for the record."""
    accepted: int
    rejected: int
    last_rejected_reason: str | None

    def summary(self) -> str:
        text = f"scanner {self.source.name}: {self.state}"
        if self.state is ScannerState.RECONNECTING and self.last_error:
            text += f" ({self.last_error})"
        return f"{text} — {self.accepted} scans, {self.rejected} rejected"


class ScannerReader(abc.ABC):
    """Base of the serial and evdev scanners; subclasses implement the three device hooks."""

    #: How long stop() waits for the thread. A read returns within its short timeout and a
    #: local device opens at once; a socket:// connect to an unreachable host can take
    #: pyserial's 5 s, and then stop() stops waiting (the thread is a daemon and exits after).
    stop_timeout_s = 2.0

    def __init__(
        self,
        source: ScanSource,
        on_scan: ScanCallback,
        *,
        on_reject: RejectCallback | None = None,
        code_config: CodeConfig | None = None,
        stats: ScanStats | None = None,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 2.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self._on_scan = on_scan
        self._on_reject = on_reject
        self._code_config = code_config if code_config is not None else CodeConfig()
        self.stats = stats if stats is not None else ScanStats()
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._wall_clock = wall_clock  # for member QR expiry only
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state = ScannerState.STOPPED
        self._last_error: str | None = None

    # ---------------------------------------------------------------- device hooks

    @abc.abstractmethod
    def _open(self) -> None:
        """Open the device; raise OSError (or ValueError for a bad address) on failure."""

    @abc.abstractmethod
    def _read_once(self) -> None:
        """Wait at most a short timeout for input and handle it; raise OSError on unplug."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Release the device; must not raise, and must be safe to call twice."""

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("scanner is already running")
        self._stop.clear()
        self._set_state(ScannerState.CONNECTING)
        self._thread = threading.Thread(
            target=self._run, name=f"scanner {self.source.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and close the device; returns within about ``stop_timeout_s``."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(self.stop_timeout_s)
            if thread.is_alive():
                logger.warning("scanner %s did not stop in time", self.source.name)
        self._set_state(ScannerState.STOPPED)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def status(self) -> ScannerStatus:
        counts = self.stats.snapshot()
        with self._lock:
            state, last_error = self._state, self._last_error
        return ScannerStatus(
            source=self.source,
            state=state,
            last_error=last_error,
            accepted=counts.accepted,
            rejected=counts.rejected,
            last_rejected_reason=counts.last_rejected_reason,
        )

    # ---------------------------------------------------------------- for subclasses

    def _deliver(self, text: str) -> None:
        scan = classify(text, self.source, self._code_config, int(self._wall_clock()))
        self.stats.record_accepted()
        self._call(self._on_scan, scan)

    def _reject(self, code: str, reason: str, preview: str) -> None:
        rejection = RejectedScan(self.source, code, reason, preview)
        self.stats.record_rejected(rejection)
        if self._on_reject is not None:
            self._call(self._on_reject, rejection)

    # ---------------------------------------------------------------- the thread

    def _run(self) -> None:
        backoff = self._backoff_initial_s
        while not self._stop.is_set():
            try:
                self._open()
            except Exception as error:  # OSError, ValueError (bad URL), or a driver's bug
                if not isinstance(error, OSError | ValueError):
                    logger.exception("scanner %s: unexpected error opening", self.source.name)
                self._close()
                self._record_error(f"cannot open: {error}")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._backoff_max_s)
                continue
            if self._stop.is_set():  # stopped while opening: do not report "connected"
                self._close()
                break
            backoff = self._backoff_initial_s
            self._set_state(ScannerState.CONNECTED)
            logger.info("scanner %s connected", self.source.name)
            try:
                while not self._stop.is_set():
                    self._read_once()
            except OSError as error:
                self._record_error(f"disconnected: {error}")
            except Exception as error:  # a bug must not silently kill the scanner
                logger.exception("scanner %s: unexpected error; reopening", self.source.name)
                self._record_error(f"internal error: {error!r}")
            finally:
                self._close()
            self._stop.wait(backoff)

    def _record_error(self, message: str) -> None:
        with self._lock:
            first = self._state is not ScannerState.RECONNECTING or self._last_error != message
            self._last_error = message
            if not self._stop.is_set():
                self._state = ScannerState.RECONNECTING
        # Log each new error once, not every retry while the scanner stays unplugged.
        if first:
            logger.warning("scanner %s %s; retrying", self.source.name, message)

    def _set_state(self, state: ScannerState) -> None:
        with self._lock:
            self._state = state

    def _call(self, callback: Callable[[EventT], None], event: EventT) -> None:
        try:
            callback(event)
        except Exception:
            logger.exception("scanner %s: the scan callback failed", self.source.name)
