"""A network receipt printer on loopback: a real TCP peer for tests, demos and print checks.

It speaks enough ESC/POS to stand in for a TM-T88-class printer on port 9100: it keeps the
raw bytes of each receipt (a receipt ends at a cut, or when the connection closes), decodes
them to text, optionally writes ``NNNN.bin`` and ``NNNN.txt`` per receipt to a directory, and
answers the ``DLE EOT 1-4`` status queries with the bytes a real printer would send.

Its condition can be changed while it runs (:attr:`PrinterSimulator.mode`):

``online``          prints.
``paper_near_end``  prints; the paper sensor reports near end.
``out_of_paper``    reports offline because of paper end; data is discarded.
``offline``         reports offline with the cover open; data is discarded.
``slow``            prints, but reads 16 bytes at a time with a pause in between, so its
                    status answers come late (a busy or struggling printer).

``offline`` keeps accepting connections, because that is what a real printer that is
switched on but cannot print does: its network interface still answers, status queries
still work (they are real-time commands), and it reports why it is offline. A printer that
is switched off or unplugged does not accept connections at all; to simulate that, stop the
simulator (or point the till at a port nobody listens on).
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from hardware.printing.decode import EscPosParser, Kind, TextRenderer, Token
from hardware.printing.status import (
    CAUSE_COVER_OPEN,
    CAUSE_PAPER_END,
    PAPER_END,
    PAPER_NEAR_END,
    PRINTER_OFFLINE,
    QUERY_ERROR_CAUSE,
    QUERY_OFFLINE_CAUSE,
    QUERY_PAPER,
    QUERY_PRINTER,
    status_byte,
)
from hardware.printing.url import profile_columns, resolve_profile

__all__ = ["CapturedReceipt", "PrinterMode", "PrinterSession", "PrinterSimulator"]

log = logging.getLogger(__name__)

_POLL_S: Final = 0.05
"""How often blocked threads look at the stop flag: bounds how long stop() takes."""
_CHUNK: Final = 4096
_SLOW_CHUNK: Final = 16
_FILE_NUMBER: Final = re.compile(r"(\d{4,})\.bin")


class PrinterMode(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    OUT_OF_PAPER = "out_of_paper"
    PAPER_NEAR_END = "paper_near_end"
    SLOW = "slow"

    @property
    def prints(self) -> bool:
        return self not in (PrinterMode.OFFLINE, PrinterMode.OUT_OF_PAPER)


# DLE EOT n -> the answer in each mode; a mode not listed answers "all clear".
_ANSWERS: Final[dict[PrinterMode, dict[int, int]]] = {
    PrinterMode.OFFLINE: {
        QUERY_PRINTER: PRINTER_OFFLINE,
        QUERY_OFFLINE_CAUSE: CAUSE_COVER_OPEN,
    },
    PrinterMode.OUT_OF_PAPER: {
        QUERY_PRINTER: PRINTER_OFFLINE,
        QUERY_OFFLINE_CAUSE: CAUSE_PAPER_END,
        QUERY_PAPER: PAPER_NEAR_END | PAPER_END,
    },
    PrinterMode.PAPER_NEAR_END: {QUERY_PAPER: PAPER_NEAR_END},
}
_QUERIES: Final = (QUERY_PRINTER, QUERY_OFFLINE_CAUSE, QUERY_ERROR_CAUSE, QUERY_PAPER)


@dataclass(frozen=True, slots=True)
class CapturedReceipt:
    """One receipt as the simulator received it."""

    number: int
    raw: bytes
    """Everything sent for this receipt except status queries (they are not print data)."""
    text: str
    cut: bool
    """False when the receipt ended because the connection closed (no cutter, or cut off)."""
    drawer_kicked: bool


def _last_file_number(directory: Path) -> int:
    """The highest NNNN.bin already there: a restarted simulator does not overwrite them."""
    numbers = (_FILE_NUMBER.fullmatch(path.name) for path in directory.iterdir())
    return max((int(match.group(1)) for match in numbers if match), default=0)


class PrinterSession:
    """The printer's side of one connection: bytes in, status answers out."""

    def __init__(self, simulator: PrinterSimulator) -> None:
        self._sim = simulator
        self._parser = EscPosParser()
        self._renderer = TextRenderer(simulator.profile, simulator.columns)
        self._raw = bytearray()
        self._drawer = False

    def feed(self, data: bytes) -> bytes:
        """Process received bytes; return the answers to any status queries among them."""
        answers = bytearray()
        for token in self._parser.feed(data):
            if token.kind is Kind.STATUS_QUERY:
                answer = self._sim.status_answer(token.value)
                if answer is not None:
                    answers.append(answer)
            elif self._sim.mode.prints:
                self._print(token)
        return bytes(answers)

    def _print(self, token: Token) -> None:
        self._raw += token.raw
        self._drawer = self._drawer or token.kind is Kind.DRAWER
        self._renderer.add(token)
        if token.kind is Kind.CUT:
            self._finish(self._renderer.receipts.pop(), cut=True)

    def close(self) -> None:
        """The connection ended: whatever was printed since the last cut is a receipt."""
        for token in self._parser.finish():
            if self._sim.mode.prints:
                self._print(token)
        if self._renderer.has_content:
            self._finish(self._renderer.end_receipt() or "", cut=False)

    def _finish(self, text: str, *, cut: bool) -> None:
        self._sim.store(bytes(self._raw), text, cut=cut, drawer_kicked=self._drawer)
        self._raw.clear()
        self._drawer = False


class PrinterSimulator:
    """An ESC/POS printer listening on ``host:port`` (port 0 picks a free one).

    Use as a context manager, or call :meth:`start` and :meth:`stop`; both return within a
    bounded time.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        out_dir: Path | None = None,
        profile: str = "TM-T88V",
        columns: int | None = None,
        mode: PrinterMode = PrinterMode.ONLINE,
        slow_delay_s: float = 1.0,
        on_receipt: Callable[[CapturedReceipt], None] | None = None,
    ) -> None:
        self.profile = resolve_profile(profile)
        self.columns = columns or profile_columns(self.profile)
        self.mode = mode
        self.slow_delay_s = slow_delay_s
        self.out_dir = out_dir
        self._on_receipt = on_receipt
        self._requested = (host, port)
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._bound: tuple[str, int] | None = None
        self._acceptor: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._received = threading.Condition()
        self._receipts: list[CapturedReceipt] = []
        self._next_number = 1

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> PrinterSimulator:
        if self._listener is not None:
            raise RuntimeError("the printer simulator is already running")
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._next_number = 1 + _last_file_number(self.out_dir)
        self._stopping.clear()
        self._listener = socket.create_server(self._requested)
        self._listener.settimeout(_POLL_S)
        host, port = self._listener.getsockname()[:2]
        self._bound = (str(host), int(port))
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="printer-sim accept", daemon=True
        )
        self._acceptor.start()
        log.info("printer simulator listening on %s", self.url)
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop listening, end every connection (storing what they sent), and wait for it."""
        self._stopping.set()
        deadline = time.monotonic() + timeout_s
        # The accept thread first: once it has ended, no new connection thread can appear.
        if self._acceptor is not None:
            self._acceptor.join(max(deadline - time.monotonic(), 0))
        for thread in list(self._threads):
            thread.join(max(deadline - time.monotonic(), 0))
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        stuck = [t.name for t in (self._acceptor, *self._threads) if t and t.is_alive()]
        if stuck:
            log.warning("printer simulator threads still running after stop: %s", stuck)

    def __enter__(self) -> PrinterSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): the real port when 0 was asked for. Kept after stop()."""
        if self._bound is None:
            raise RuntimeError("the printer simulator has not been started")
        return self._bound

    @property
    def url(self) -> str:
        host, port = self.address
        return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"

    # -- what it received ------------------------------------------------------------------

    @property
    def receipts(self) -> list[CapturedReceipt]:
        with self._received:
            return list(self._receipts)

    def wait_for_receipts(self, count: int, timeout_s: float = 5.0) -> list[CapturedReceipt]:
        """Block until ``count`` receipts have arrived; raise ``TimeoutError`` after a while."""
        with self._received:
            if not self._received.wait_for(lambda: len(self._receipts) >= count, timeout_s):
                raise TimeoutError(
                    f"{len(self._receipts)} receipt(s) after {timeout_s} s, expected {count}"
                )
            return list(self._receipts)

    def store(self, raw: bytes, text: str, *, cut: bool, drawer_kicked: bool) -> CapturedReceipt:
        with self._received:
            receipt = CapturedReceipt(self._next_number, raw, text, cut, drawer_kicked)
            self._next_number += 1
            if self.out_dir is not None:
                stem = self.out_dir / f"{receipt.number:04d}"
                stem.with_suffix(".bin").write_bytes(raw)
                stem.with_suffix(".txt").write_text(text, encoding="utf-8")
            self._receipts.append(receipt)
            self._received.notify_all()
        if self._on_receipt is not None:
            self._on_receipt(receipt)
        return receipt

    # -- the printer's behaviour ------------------------------------------------------------

    def status_answer(self, query: int) -> int | None:
        """The byte answering ``DLE EOT query`` in the current mode (``None``: no answer)."""
        if query not in _QUERIES:
            return None
        return status_byte(_ANSWERS.get(self.mode, {}).get(query, 0))

    def open_session(self) -> PrinterSession:
        """A session for bytes from any transport (the TCP server uses one per connection)."""
        return PrinterSession(self)

    # -- the TCP server --------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                connection, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed
            self._spawn(self._serve, f"printer-sim {peer[0]}:{peer[1]}", connection)

    def _serve(self, connection: socket.socket) -> None:
        session = self.open_session()
        with connection:
            connection.settimeout(_POLL_S)
            while not self._stopping.is_set():
                slow = self.mode is PrinterMode.SLOW
                try:
                    data = connection.recv(_SLOW_CHUNK if slow else _CHUNK)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                if slow and self._stopping.wait(self.slow_delay_s):
                    break
                answers = session.feed(data)
                if answers:
                    try:
                        connection.sendall(answers)
                    except OSError:
                        break
        session.close()
