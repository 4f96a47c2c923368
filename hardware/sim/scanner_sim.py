"""A serial barcode scanner made of a pseudo-terminal, for the demo and the tests.

The simulator owns the master side of a pty; the slave side is a real tty device, reached
through a symlink at a path of your choice, which the till opens like any serial scanner
(``SerialScannerConfig(url=link)``). :meth:`ScannerSimulator.send` "scans" a code. Closing
the simulator is unplugging the scanner: the till's reads fail, the link disappears, and a
new simulator on the same link is the scanner plugged back in.

A real scanner sends whatever its symbol holds: bytes, not text. So the simulator never
decodes: :meth:`ScannerSimulator.forward` passes lines of any bytes (invalid UTF-8, NUL,
control characters) through unchanged, and only the till's reader decides what they mean.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
import tty
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final, Self

__all__ = ["MAX_LINE_BYTES", "ScannerSimulator"]

MAX_LINE_BYTES: Final = 64 * 1024
"""Longest piece :meth:`ScannerSimulator.forward` holds before sending: input without line
ends (a binary file piped in) is sent in pieces of this size, never buffered without bound."""


class ScannerSimulator:
    """A pty-backed scanner; use as a context manager (it removes its link on exit)."""

    def __init__(self, link: str | os.PathLike[str], *, write_timeout_s: float = 5.0) -> None:
        self.link = Path(link)
        self.write_timeout_s = write_timeout_s
        self._master: int | None = None
        self._slave: int | None = None
        self.device: str | None = None

    def open(self) -> None:
        if self._master is not None:
            raise RuntimeError("simulator is already open")
        if self.link.is_symlink():
            self.link.unlink()  # a stale link from a simulator that was killed
        elif self.link.exists():
            raise FileExistsError(f"{self.link} exists and is not a symlink; choose another path")
        master, slave = os.openpty()
        # Raw: no echo, no CR/LF translation, no ^S/^Q flow control; bytes pass untouched.
        tty.setraw(slave)
        # The simulator keeps the slave open, so the pty stays up while the till reopens it.
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.device = os.ttyname(slave)
        try:
            self.link.symlink_to(self.device)
        except OSError:
            self.close()
            raise

    def send(self, text: str, terminator: str = "\r") -> None:
        """Scan ``text``: send it as UTF-8 followed by ``terminator``."""
        self.send_bytes((text + terminator).encode("utf-8"))

    def send_bytes(self, data: bytes) -> None:
        """Send raw bytes (garbage, partial frames ...).

        Raises TimeoutError if nobody reads the link and the pty's buffer stays full.
        """
        if self._master is None:
            raise RuntimeError("simulator is not open")
        view = memoryview(data)
        deadline = time.monotonic() + self.write_timeout_s
        while view:
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                written = 0
            view = view[written:]
            if view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"nobody is reading {self.link}; the scan was not sent")
                select.select([], [self._master], [], min(remaining, 0.1))

    def forward(
        self,
        stream: BinaryIO,
        terminator: bytes = b"\r",
        *,
        on_timeout: Callable[[TimeoutError], None] | None = None,
    ) -> int:
        r"""Send each line of ``stream`` as one scan, byte for byte, until end of input.

        A line is everything up to ``\n``; its ``\n`` (and a ``\r`` before it) is replaced by
        ``terminator``, and a last line without a line end gets the terminator too. A line
        longer than :data:`MAX_LINE_BYTES` goes out in pieces as it arrives. Returns the
        lines sent. A send that times out (nobody reads the link) goes to ``on_timeout`` and
        the next line is tried; without ``on_timeout`` it raises.
        """
        sent = 0
        open_line = False  # a piece of a long line went out, its terminator has not
        while piece := stream.readline(MAX_LINE_BYTES):
            ended = piece.endswith(b"\n")
            # readline returns a piece without a line end only at the limit or at the end.
            whole = ended or len(piece) < MAX_LINE_BYTES
            body = piece.removesuffix(b"\n").removesuffix(b"\r") if ended else piece
            delivered = self._send_reporting(body + terminator if whole else body, on_timeout)
            sent += whole and delivered
            open_line = not whole
        if open_line:
            sent += self._send_reporting(terminator, on_timeout)
        return sent

    def _send_reporting(
        self, data: bytes, on_timeout: Callable[[TimeoutError], None] | None
    ) -> bool:
        try:
            self.send_bytes(data)
        except TimeoutError as error:
            if on_timeout is None:
                raise
            on_timeout(error)
            return False
        return True

    def close(self) -> None:
        """Unplug: remove the link (if it is still ours) and close both ends of the pty."""
        with contextlib.suppress(OSError):
            if self.device is not None and os.readlink(self.link) == self.device:
                self.link.unlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        self.device = None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
