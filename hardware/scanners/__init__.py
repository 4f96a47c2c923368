"""Barcode scanners: every kind turns its input into one :class:`shared.scan.Scan` event.

* :mod:`~hardware.scanners.wedge` — keyboard-wedge (USB HID) scanners, told from typing by
  timing; the till feeds it key events.
* :mod:`~hardware.scanners.serial_scanner` — serial scanners through pyserial URLs, framed by
  :mod:`~hardware.scanners.framing`.
* :mod:`~hardware.scanners.evdev_scanner` — Linux input devices with an exclusive grab
  (optional; needs ``loyaltill[evdev]``, imported only when used).

docs/hardware-scanners.md has the settings and how to choose between them.
"""

from __future__ import annotations

from hardware.scanners.framing import Framer, FramingConfig, Terminator
from hardware.scanners.reader import ScannerState, ScannerStatus
from hardware.scanners.serial_scanner import SerialScanner, SerialScannerConfig
from hardware.scanners.stats import ScanStats, StatsSnapshot
from hardware.scanners.wedge import (
    BurstDropped,
    KeyPress,
    PassThrough,
    ScanDetected,
    WedgeDetector,
    WedgeEvent,
)

__all__ = [
    "BurstDropped",
    "Framer",
    "FramingConfig",
    "KeyPress",
    "PassThrough",
    "ScanDetected",
    "ScanStats",
    "ScannerState",
    "ScannerStatus",
    "SerialScanner",
    "SerialScannerConfig",
    "StatsSnapshot",
    "Terminator",
    "WedgeDetector",
    "WedgeEvent",
]
