"""How a scan reaches a screen: the screen on top decides what a scan means there."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["ScanReceiver"]


@runtime_checkable
class ScanReceiver(Protocol):
    """A screen that uses scans (the sale, returns, enrolment, self-check ...)."""

    def handle_scan(self, data: str) -> None:
        """``data`` is the scanned text, whichever scanner read it (wedge or serial)."""
