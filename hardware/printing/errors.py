"""Printer failures as the cashier should hear about them.

Every failure of a print or a status query is one of these, whatever the transport::

    PrinterError                  the receipt did not (certainly) print
    ├── PrinterOffline            nothing answers, the cover is open, the link dropped
    ├── PrinterOutOfPaper         the roll is empty
    ├── PrinterTimeout            the printer took the connection but stalled
    └── PrinterMisconfigured      the printer setting is wrong: fix the configuration

``str(error)`` is what the till shows: what happened, then what to do next ("Printer is out of
paper — load a new roll, then press Reprint"). ``detail`` keeps the technical cause for the
log. The sale is journaled before printing (docs/design.md, invariant 1), so every one of these
means "queue the receipt and offer Reprint", never "the sale failed".

:func:`translate` maps what python-escpos, the socket layer and pyserial raise into this tree.
"""

from __future__ import annotations

import errno
import socket
from typing import ClassVar

__all__ = [
    "PrinterError",
    "PrinterMisconfigured",
    "PrinterOffline",
    "PrinterOutOfPaper",
    "PrinterTimeout",
    "translate",
]


class PrinterError(Exception):
    """The receipt did not print, or may be incomplete. Base of every printer failure."""

    default_message: ClassVar[str] = "The receipt could not be printed"
    default_next_step: ClassVar[str] = "check the printer, then press Reprint"

    def __init__(
        self, message: str | None = None, *, next_step: str | None = None, detail: str = ""
    ) -> None:
        self.message = message or self.default_message
        self.next_step = next_step or self.default_next_step
        self.detail = detail
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.message} — {self.next_step}"


class PrinterOffline(PrinterError):  # noqa: N818 (httpx-style names, fixed by the issue)
    """Nothing answers at the printer's address, or it answers that it cannot print."""

    default_message = "Printer is offline"
    default_next_step = (
        "check that it is switched on, connected and its cover is closed, then press Reprint"
    )


class PrinterOutOfPaper(PrinterError):  # noqa: N818 (httpx-style names, fixed by the issue)
    """The paper roll is empty (the printer reports paper end)."""

    default_message = "Printer is out of paper"
    default_next_step = "load a new roll, then press Reprint"


class PrinterTimeout(PrinterError):  # noqa: N818 (httpx-style names, fixed by the issue)
    """The printer took the connection but did not finish in time (busy, jammed or slow)."""

    default_message = "Printer did not respond in time"
    default_next_step = "check the printer for a paper jam or error light, then press Reprint"


class PrinterMisconfigured(PrinterError):  # noqa: N818 (httpx-style names, fixed by the issue)
    """The printer setting cannot work: a malformed URL, unknown profile, missing driver."""

    default_message = "The receipt printer is not set up correctly"
    default_next_step = "ask a manager to fix the printer setting"


_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def translate(exc: BaseException, where: str) -> PrinterError:
    """The :class:`PrinterError` for ``exc`` raised while talking to the printer at ``where``.

    python-escpos wraps open failures in ``DeviceNotFoundError`` and keeps the real cause
    (``ConnectionRefusedError``, a timeout, a ``SerialException``) only as ``__context__``, so
    the chain is followed to the most specific cause first.
    """
    if isinstance(exc, PrinterError):
        return exc
    detail = f"{type(exc).__name__}: {exc}"
    for cause in _causes(exc):
        mapped = _translate_one(cause, where, detail)
        if mapped is not None:
            return mapped
    return PrinterError(f"Printing to {where} failed ({type(exc).__name__})", detail=detail)


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from, innermost (the real cause) first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return list(reversed(chain))


def _translate_one(exc: BaseException, where: str, detail: str) -> PrinterError | None:
    if isinstance(exc, PrinterError):
        return exc
    if isinstance(exc, ConnectionRefusedError):
        return PrinterOffline(f"Nothing answers at {where}", detail=detail)
    if isinstance(exc, socket.gaierror):
        return PrinterMisconfigured(f"Printer host in {where} cannot be found", detail=detail)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return PrinterTimeout(f"Printer at {where} did not respond in time", detail=detail)
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return PrinterOffline(
            f"Printer at {where} dropped the connection",
            next_step="check the printer, then press Reprint (the receipt may be incomplete)",
            detail=detail,
        )
    if isinstance(exc, FileNotFoundError):
        return PrinterOffline(
            f"Printer device {where} is not there",
            next_step="check that the printer is plugged in and switched on, then press Reprint",
            detail=detail,
        )
    if isinstance(exc, PermissionError):
        return PrinterMisconfigured(
            f"No permission to use the printer at {where}",
            next_step="ask a manager to give the till user access (e.g. the lp or dialout group)",
            detail=detail,
        )
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        return PrinterOffline(f"Printer at {where} cannot be reached", detail=detail)
    return _translate_library(exc, where, detail)


def _translate_library(exc: BaseException, where: str, detail: str) -> PrinterError | None:
    """python-escpos, pyserial and pyusb exceptions, imported only if already loaded."""
    name = type(exc).__name__
    module = type(exc).__module__
    if module.startswith("serial"):
        if name == "SerialTimeoutException":
            return PrinterTimeout(f"Serial printer {where} did not take the data", detail=detail)
        return PrinterOffline(f"Serial printer {where} is not available", detail=detail)
    if module.startswith("usb"):
        if getattr(exc, "errno", None) == errno.ETIMEDOUT:
            return PrinterTimeout(f"USB printer {where} did not respond in time", detail=detail)
        return PrinterOffline(f"USB printer {where} is not available", detail=detail)
    if module.startswith("escpos"):
        if name in {"DeviceNotFoundError", "USBNotFoundError"}:
            return PrinterOffline(f"Printer {where} is not connected", detail=detail)
        return PrinterError(f"Printing to {where} failed ({name})", detail=detail)
    if isinstance(exc, OSError):
        return PrinterOffline(f"Printer at {where} cannot be used", detail=detail)
    return None
