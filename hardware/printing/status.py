"""ESC/POS real-time status (``DLE EOT n``): the bytes, and what they mean for the cashier.

A printer answers ``DLE EOT n`` with one byte, at once, even while it is offline. The bit
layout below is Epson's (TM series), which ESC/POS clones follow; every status byte has bits
1 and 4 set and bits 0 and 7 clear, which tells a real answer from stray data.

=====  ================  ===============================================================
``n``  asks              bits used here
=====  ================  ===============================================================
1      printer status    3: offline
2      offline cause     2: cover open, 3: paper fed by the button, 5: stopped at paper
                         end, 6: error
3      error cause       3: autocutter, 5: unrecoverable, 6: automatically recoverable
4      roll paper        2+3: paper near end, 5+6: paper end
=====  ================  ===============================================================

The simulator builds its answers from the same constants, so the two sides cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from hardware.printing.errors import PrinterError, PrinterOffline, PrinterOutOfPaper

__all__ = [
    "CAUSE_COVER_OPEN",
    "CAUSE_ERROR",
    "CAUSE_FEED_BUTTON",
    "CAUSE_PAPER_END",
    "DLE_EOT",
    "PAPER_END",
    "PAPER_NEAR_END",
    "PRINTER_OFFLINE",
    "QUERY_ERROR_CAUSE",
    "QUERY_OFFLINE_CAUSE",
    "QUERY_PAPER",
    "QUERY_PRINTER",
    "PaperState",
    "PrinterStatus",
    "interpret_status",
    "is_status_byte",
    "status_byte",
]

DLE_EOT: Final = b"\x10\x04"
QUERY_PRINTER: Final = 1
QUERY_OFFLINE_CAUSE: Final = 2
QUERY_ERROR_CAUSE: Final = 3
QUERY_PAPER: Final = 4

_FIXED_MASK: Final = 0b1001_0011
_FIXED_BITS: Final = 0b0001_0010

PRINTER_OFFLINE: Final = 0x08
CAUSE_COVER_OPEN: Final = 0x04
CAUSE_FEED_BUTTON: Final = 0x08
CAUSE_PAPER_END: Final = 0x20
CAUSE_ERROR: Final = 0x40
PAPER_NEAR_END: Final = 0x0C
PAPER_END: Final = 0x60

PaperState = Literal["ok", "near_end", "out", "unknown"]


def status_byte(flags: int = 0) -> int:
    """A well-formed status byte carrying ``flags`` (the fixed bits added)."""
    return _FIXED_BITS | (flags & ~_FIXED_MASK & 0xFF)


def is_status_byte(value: int) -> bool:
    return value & _FIXED_MASK == _FIXED_BITS


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer said. ``online`` is ``None`` when it could not be asked."""

    online: bool | None
    paper: PaperState
    message: str
    problem: PrinterError | None = field(default=None, compare=False, repr=False)
    """The error a print would raise now; ``None`` when printing can go ahead."""

    @property
    def ready(self) -> bool:
        """Worth sending a receipt: not known to be offline or out of paper."""
        return self.problem is None


def _paper_state(paper: int | None) -> PaperState:
    if paper is None or not is_status_byte(paper):
        return "unknown"
    if paper & PAPER_END == PAPER_END:
        return "out"
    if paper & PAPER_NEAR_END == PAPER_NEAR_END:
        return "near_end"
    return "ok"


def _offline_problem(cause: int | None) -> PrinterOffline:
    if cause is not None and is_status_byte(cause):
        if cause & CAUSE_COVER_OPEN:
            return PrinterOffline(
                "Printer cover is open", next_step="close the cover, then press Reprint"
            )
        if cause & CAUSE_ERROR:
            return PrinterOffline(
                "Printer reports an error",
                next_step="clear any paper jam, switch the printer off and on, then press Reprint",
            )
        if cause & CAUSE_FEED_BUTTON:
            return PrinterOffline(
                "Printer is busy feeding paper",
                next_step="release the feed button, then press Reprint",
            )
    return PrinterOffline()


def interpret_status(printer: int | None, cause: int | None, paper: int | None) -> PrinterStatus:
    """Combine the answers to ``DLE EOT`` 1, 2 and 4 (``None``: not asked or no answer)."""
    state = _paper_state(paper)
    if cause is not None and is_status_byte(cause) and cause & CAUSE_PAPER_END:
        state = "out"
    if printer is None or not is_status_byte(printer):
        return PrinterStatus(None, state, "Printer status is unknown")
    online = not printer & PRINTER_OFFLINE
    problem: PrinterError | None = None
    if state == "out":
        problem = PrinterOutOfPaper()
    elif not online:
        problem = _offline_problem(cause)
    if problem is not None:
        return PrinterStatus(online, state, str(problem), problem)
    if state == "near_end":
        return PrinterStatus(True, state, "Printer is ready; paper is low — have a new roll ready")
    return PrinterStatus(True, state, "Printer is ready")
