"""Serial scanners for the till UI: one reader thread each, scans handed to the UI thread.

:class:`hardware.scanners.serial_scanner.SerialScanner` calls back on its own thread; Textual
is not thread-safe, so each callback hops to the UI thread with ``App.call_from_thread``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from hardware.scanners.reader import ScannerStatus
from hardware.scanners.serial_scanner import SerialScanner, SerialScannerConfig
from shared.codes import CodeConfig
from shared.scan import RejectedScan, Scan

__all__ = ["ScannerBank"]

log = logging.getLogger(__name__)


class _CallsFromThread(Protocol):
    def call_from_thread(self, callback: Callable[..., Any], *args: Any) -> Any: ...


class ScannerBank:
    """The serial scanners named in the config; started with the app, stopped with it."""

    def __init__(
        self,
        urls: tuple[str, ...],
        code_config: CodeConfig,
        *,
        on_scan: Callable[[str], Awaitable[None] | None],
        on_rejected: Callable[[str], None],
    ) -> None:
        self._urls = urls
        self._code_config = code_config
        self._on_scan = on_scan
        self._on_rejected = on_rejected
        self._scanners: list[SerialScanner] = []

    def start(self, app: _CallsFromThread) -> None:
        def scanned(scan: Scan) -> None:
            self._hop(app, self._on_scan, scan.data)

        def rejected(rejection: RejectedScan) -> None:
            self._hop(app, self._on_rejected, rejection.reason)

        for url in self._urls:
            scanner = SerialScanner(
                SerialScannerConfig(url=url),
                scanned,
                on_reject=rejected,
                code_config=self._code_config,
            )
            scanner.start()
            self._scanners.append(scanner)

    @staticmethod
    def _hop(app: _CallsFromThread, callback: Callable[[str], Any], text: str) -> None:
        try:
            app.call_from_thread(callback, text)
        except RuntimeError:  # the app is not running (any more): nobody to show it to
            log.warning("scan arrived while the till UI was not running; ignored")

    async def stop(self) -> None:
        """Stop every reader without blocking the UI loop (a reader may be waiting on it)."""
        scanners, self._scanners = self._scanners, []
        for scanner in scanners:
            await asyncio.to_thread(scanner.stop)

    def statuses(self) -> list[ScannerStatus]:
        return [scanner.status() for scanner in self._scanners]
