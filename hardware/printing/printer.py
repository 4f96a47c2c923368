"""``ReceiptPrinter``: print a receipt, or ask the printer how it is, within a time limit.

One call is one short session: connect, ask the status (where the transport can answer),
send the receipt, ask again, disconnect. Holding no connection between receipts means a
printer that was switched off and on, or a cable that was replugged, just works at the next
receipt.

Every call returns within ``timeout_s`` (plus a moment's grace): socket and serial timeouts
are set from one deadline, and the session runs in a worker thread that is abandoned, and
its connection shut down, if the deadline passes anyway (a device file on a dead printer can
block in ``write`` with no timeout at all). Failures are always a
:class:`~hardware.printing.errors.PrinterError`; the till queues the receipt and offers
Reprint.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from hardware.printing.errors import (
    PrinterError,
    PrinterMisconfigured,
    PrinterOffline,
    PrinterOutOfPaper,
    PrinterTimeout,
    translate,
)
from hardware.printing.layout import MIN_COLUMNS
from hardware.printing.render import render_lines, render_receipt
from hardware.printing.status import (
    DLE_EOT,
    PRINTER_OFFLINE,
    QUERY_OFFLINE_CAUSE,
    QUERY_PAPER,
    QUERY_PRINTER,
    PaperState,
    PrinterStatus,
    interpret_status,
    is_status_byte,
)
from hardware.printing.url import (
    PrinterTarget,
    build_printer,
    parse_printer_url,
    profile_columns,
    require_driver,
    resolve_profile,
)
from shared.receipt import Receipt

__all__ = ["ReceiptPrinter"]

_GRACE_S: Final = 0.5
"""How long past the deadline the worker gets to report its own, more precise, error."""

_T = TypeVar("_T")


class _Session:
    """One connection to the printer, every blocking step bounded by ``deadline``."""

    def __init__(self, target: PrinterTarget, profile: str, deadline: float) -> None:
        self.target = target
        self.deadline = deadline
        self.printer = build_printer(target, profile, timeout_s=self._remaining())
        self._opened = False

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("printer deadline passed")
        return remaining

    def _arm(self) -> Any:
        """The underlying socket or serial port, its timeouts set to the time left."""
        device = self.printer.device
        remaining = self._remaining()
        if self.target.scheme == "tcp":
            device.settimeout(remaining)
        elif self.target.scheme == "serial":
            device.timeout = remaining
            device.write_timeout = remaining
        return device

    def open(self) -> None:
        if self.target.scheme == "tcp":
            # Connect here rather than in python-escpos's Network.open(), which (3.1) drops a
            # socket whose connect failed without closing it and hides the error's type.
            self.printer.device = socket.create_connection(
                (self.target.host, self.target.port), timeout=self._remaining()
            )
        else:
            self.printer.open()
        self._opened = True

    def write(self, data: bytes) -> None:
        self._arm()
        self.printer._raw(data)  # python-escpos's way to send pre-rendered bytes

    def query(self, n: int) -> int:
        """Send ``DLE EOT n`` and return the one-byte answer."""
        device = self._arm()
        self.printer._raw(DLE_EOT + bytes([n]))
        if self.target.scheme == "tcp":
            answer = device.recv(1)
            if not answer:
                raise ConnectionResetError("the printer closed the connection")
        else:
            answer = device.read(1)
            if not answer:
                raise TimeoutError("no answer to a status query")
        return int(answer[0])

    def abort(self) -> None:
        """From another thread: unblock whatever the session is waiting for."""
        device = getattr(self.printer, "_device", None)
        try:
            if isinstance(device, socket.socket):
                device.shutdown(socket.SHUT_RDWR)
            elif self.target.scheme == "serial" and device:
                device.cancel_read()
                device.cancel_write()
        except (OSError, AttributeError):
            pass  # already closed or not yet open: nothing is blocked on it

    def close(self) -> None:
        if self._opened:
            # The printer may have gone away; the connection is gone either way.
            with contextlib.suppress(OSError):
                self.printer.close()


class ReceiptPrinter:
    """A receipt printer at ``url`` (see :mod:`hardware.printing.url`) of model ``profile``.

    The setting is checked here, so a wrong URL or profile raises
    :class:`PrinterMisconfigured` at start-up. ``check_status=False`` skips the status
    queries, for the rare printer that does not answer ``DLE EOT``.
    """

    def __init__(
        self,
        url: str,
        profile: str | None = None,
        timeout_s: float = 5.0,
        *,
        columns: int | None = None,
        check_status: bool = True,
    ) -> None:
        if not timeout_s > 0:
            raise PrinterMisconfigured(f"Printer timeout must be positive, not {timeout_s}")
        self.target = parse_printer_url(url)
        require_driver(self.target)
        self.profile = resolve_profile(profile)
        self.columns = columns or profile_columns(self.profile)
        if self.columns < MIN_COLUMNS:
            raise PrinterMisconfigured(f"A receipt needs at least {MIN_COLUMNS} columns")
        self.timeout_s = timeout_s
        self.check_status = check_status and self.target.can_read
        self._lock = threading.Lock()
        self.last_status: PrinterStatus | None = None
        """The printer's status right after the last successful print."""

    @property
    def where(self) -> str:
        return self.target.where

    def render(self, receipt: Receipt) -> bytes:
        """The ESC/POS bytes this printer would be sent for ``receipt``."""
        try:
            return render_receipt(receipt, self.profile, self.columns)
        except Exception as exc:
            raise translate(exc, self.where) from exc

    def print_receipt(self, receipt: Receipt) -> None:
        """Print ``receipt``. :attr:`last_status` then says how the printer is (paper low?)."""
        self.send(self.render(receipt))

    def print_lines(self, lines: Sequence[str], *, title: str) -> None:
        """Print a plain document, e.g. a Z report: ``title`` then ``lines``, then a cut."""
        try:
            data = render_lines(title, lines, self.profile, self.columns)
        except Exception as exc:
            raise translate(exc, self.where) from exc
        self.send(data)

    def send(self, data: bytes) -> None:
        """Send pre-rendered bytes (a reprint kept in the print queue)."""
        self.last_status = self._bounded(lambda session: self._send(session, data))

    def status(self) -> PrinterStatus:
        """Ask the printer how it is. Never raises for a printer problem; reports it."""
        if not self.check_status:
            why = "status queries are off" if self.target.can_read else "cannot report status"
            return PrinterStatus(None, "unknown", f"Printer at {self.where}: {why}")
        try:
            return self._bounded(self._query)
        except PrinterMisconfigured:
            raise
        except PrinterError as exc:
            online = False if isinstance(exc, PrinterOffline | PrinterOutOfPaper) else None
            paper: PaperState = "out" if isinstance(exc, PrinterOutOfPaper) else "unknown"
            return PrinterStatus(online, paper, str(exc), exc)

    def _send(self, session: _Session, data: bytes) -> PrinterStatus:
        if self.check_status:
            before = self._query(session)
            if before.problem is not None:
                raise before.problem
        session.write(data)
        if not self.check_status:
            return PrinterStatus(None, "unknown", f"Sent to {self.where} (no status available)")
        # The answer comes after every byte before it has reached the printer: this confirms
        # the printer took the whole receipt, not just that the OS buffered it.
        return self._query(session)

    @staticmethod
    def _query(session: _Session) -> PrinterStatus:
        printer = session.query(QUERY_PRINTER)
        offline = is_status_byte(printer) and bool(printer & PRINTER_OFFLINE)
        cause = session.query(QUERY_OFFLINE_CAUSE) if offline else None
        return interpret_status(printer, cause, session.query(QUERY_PAPER))

    def _bounded(self, work: Callable[[_Session], _T]) -> _T:
        """Run ``work`` in a fresh session on a worker thread; give up at the deadline."""
        if not self._lock.acquire(timeout=self.timeout_s):
            raise PrinterTimeout(f"Printer at {self.where} is busy with another receipt")
        try:
            return self._run(work)
        finally:
            self._lock.release()

    def _run(self, work: Callable[[_Session], _T]) -> _T:
        deadline = time.monotonic() + self.timeout_s
        results: list[_T] = []
        errors: list[Exception] = []
        done = threading.Event()
        try:
            session = _Session(self.target, self.profile, deadline)
        except Exception as exc:
            raise translate(exc, self.where) from exc

        def run() -> None:
            try:
                session.open()
                results.append(work(session))
            except Exception as exc:  # handed to the caller below
                errors.append(exc)
            finally:
                session.close()
                done.set()

        threading.Thread(target=run, name=f"printer {self.where}", daemon=True).start()
        if not done.wait(self.timeout_s + _GRACE_S):
            session.abort()
            raise PrinterTimeout(
                f"Printer at {self.where} did not respond within {self.timeout_s:g} s"
            )
        if errors:
            raise translate(errors[0], self.where) from errors[0]
        return results[0]
