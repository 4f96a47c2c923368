"""Serial barcode scanners through ``serial.serial_for_url``.

One code path for a USB-serial scanner (``/dev/ttyACM0``), a scanner behind a terminal server
(``socket://host:port``, ``rfc2217://host:port``), the pty simulator's link and ``loop://``.
Reading, reconnecting and callbacks are :class:`~hardware.scanners.reader.ScannerReader`'s;
this module opens the port and feeds a :class:`~hardware.scanners.framing.Framer`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

import serial

from hardware.scanners.framing import Frame, Framer, FrameResult, FramingConfig
from hardware.scanners.reader import RejectCallback, ScanCallback, ScannerReader
from hardware.scanners.stats import ScanStats
from shared.codes import CodeConfig
from shared.scan import ScanSource, SourceKind

__all__ = ["SerialScanner", "SerialScannerConfig"]


@dataclass(frozen=True, slots=True)
class SerialScannerConfig:
    url: str
    """A device path or a pyserial URL: socket://, rfc2217://, loop:// ..."""
    baudrate: int = 9600
    framing: FramingConfig = field(default_factory=FramingConfig)
    read_timeout_s: float = 0.05
    """How long one read waits; bounds how quickly stop() and frame timeouts take effect."""
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 2.0


class _Port(Protocol):
    """What the reader uses of a pyserial port. Every class ``serial_for_url`` returns has
    ``in_waiting``, but the type stubs declare it on the subclasses only."""

    @property
    def in_waiting(self) -> int: ...
    def read(self, size: int = 1, /) -> bytes: ...
    def write(self, data: bytes, /) -> int | None: ...
    def close(self) -> None: ...


class SerialScanner(ScannerReader):
    """Reads scans from one serial scanner in a daemon thread; see the module docstring."""

    def __init__(
        self,
        config: SerialScannerConfig,
        on_scan: ScanCallback,
        *,
        on_reject: RejectCallback | None = None,
        code_config: CodeConfig | None = None,
        stats: ScanStats | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            ScanSource(SourceKind.SERIAL, config.url),
            on_scan,
            on_reject=on_reject,
            code_config=code_config,
            stats=stats,
            backoff_initial_s=config.backoff_initial_s,
            backoff_max_s=config.backoff_max_s,
        )
        self.config = config
        self._monotonic = monotonic
        self._framer = Framer(config.framing)
        self._port: _Port | None = None
        # Guards _port: send_command runs on the caller's thread, the reader on its own.
        self._port_lock = threading.Lock()

    def send_command(self, data: bytes) -> None:
        """Write to the scanner (a trigger or a setting). With ``loop://`` it comes back as
        input, which is how the tests drive that transport. Raises OSError if not connected."""
        with self._port_lock:
            if self._port is None:
                raise serial.SerialException(f"scanner {self.config.url} is not connected")
            self._port.write(data)

    def _open(self) -> None:
        port = serial.serial_for_url(
            self.config.url,
            baudrate=self.config.baudrate,
            timeout=self.config.read_timeout_s,
        )
        with self._port_lock:
            self._port = cast(_Port, port)

    def _read_once(self) -> None:
        port = self._port
        assert port is not None, "_read_once runs only between _open and _close"
        chunk = port.read(max(1, port.in_waiting))
        self._handle(self._framer.feed(chunk, self._monotonic()))

    def _close(self) -> None:
        # A frame cut off by the unplug is reported, not silently forgotten; first, because
        # closing can take a while (pyserial's socket:// close waits 0.3 s).
        self._handle(self._framer.flush())
        with self._port_lock:
            port, self._port = self._port, None
        if port is not None:
            # An unplugged device may fail to close; there is nothing left to release then.
            with contextlib.suppress(OSError):
                port.close()

    def _handle(self, results: list[FrameResult]) -> None:
        for result in results:
            if isinstance(result, Frame):
                self._deliver(result.text)
            else:
                self._reject(result.code, result.reason, result.preview)
