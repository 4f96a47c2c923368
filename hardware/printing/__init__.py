"""Receipt printing: lay out a :class:`~shared.receipt.Receipt`, render ESC/POS, send it.

- :class:`ReceiptPrinter` prints to ``tcp://``, ``serial://``, ``usb://``, ``file://`` or
  ``dummy://`` printers with a bounded time per call and reports :class:`PrinterStatus`;
- :func:`layout_receipt` (pure) and :func:`render_receipt` (bytes, no device) are the steps;
- :func:`decode_escpos` turns captured bytes back into text, for the simulator and for
  ``till hw decode``.

Failures are :class:`PrinterError` subclasses with a message for the cashier. See
docs/hardware-printers.md.
"""

from hardware.printing.decode import decode_escpos, decode_receipts
from hardware.printing.errors import (
    PrinterError,
    PrinterMisconfigured,
    PrinterOffline,
    PrinterOutOfPaper,
    PrinterTimeout,
)
from hardware.printing.layout import layout_receipt
from hardware.printing.printer import ReceiptPrinter
from hardware.printing.render import render_receipt
from hardware.printing.status import PrinterStatus
from hardware.printing.url import PrinterTarget, parse_printer_url

__all__ = [
    "PrinterError",
    "PrinterMisconfigured",
    "PrinterOffline",
    "PrinterOutOfPaper",
    "PrinterStatus",
    "PrinterTarget",
    "PrinterTimeout",
    "ReceiptPrinter",
    "decode_escpos",
    "decode_receipts",
    "layout_receipt",
    "parse_printer_url",
    "render_receipt",
]
