"""Serial scanners over a real pty, a real loopback TCP socket and loop://.

Every wait polls with a deadline; nothing sleeps to assert a time.
"""

from __future__ import annotations

import queue
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware.scanners.framing import FramingConfig, Terminator
from hardware.scanners.reader import ScannerState
from hardware.scanners.serial_scanner import SerialScanner, SerialScannerConfig
from hardware.sim.scanner_sim import ScannerSimulator
from shared.codes import CodeConfig, card_number_from_serial
from shared.scan import RejectedScan, Scan, SourceKind

WAIT_S = 60.0
EAN = "4006381333931"
CARD = card_number_from_serial(CodeConfig(), 7)


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


class Inbox:
    """Collects what the reader thread delivers, for the test thread to wait on."""

    def __init__(self) -> None:
        self.events: queue.Queue[Scan | RejectedScan] = queue.Queue()

    def next(self, timeout: float = WAIT_S) -> Scan | RejectedScan:
        return self.events.get(timeout=timeout)

    def next_scan(self) -> Scan:
        event = self.next()
        assert isinstance(event, Scan), event
        return event

    def next_rejection(self) -> RejectedScan:
        event = self.next()
        assert isinstance(event, RejectedScan), event
        return event


def fast_config(url: str, framing: FramingConfig | None = None) -> SerialScannerConfig:
    # Short backoff so reconnect tests finish quickly; the defaults are for a real till.
    return SerialScannerConfig(
        url=url,
        framing=framing or FramingConfig(),
        backoff_initial_s=0.02,
        backoff_max_s=0.1,
    )


@contextmanager
def running(config: SerialScannerConfig, inbox: Inbox) -> Iterator[SerialScanner]:
    scanner = SerialScanner(config, inbox.events.put, on_reject=inbox.events.put)
    with scanner:
        yield scanner
    assert not scanner.is_alive(), "stop() must end the reader thread"
    assert scanner.status().state is ScannerState.STOPPED


def connected(scanner: SerialScanner) -> Callable[[], bool]:
    return lambda: scanner.status().state is ScannerState.CONNECTED


def reconnecting(scanner: SerialScanner) -> Callable[[], bool]:
    return lambda: scanner.status().state is ScannerState.RECONNECTING


# ------------------------------------------------------------------------------------------
# pty (the simulator)
# ------------------------------------------------------------------------------------------


def test_scans_through_the_pty_simulator_arrive_classified(tmp_path: Path) -> None:
    link = tmp_path / "scanner"
    inbox = Inbox()
    with ScannerSimulator(link) as sim, running(fast_config(str(link)), inbox) as scanner:
        assert wait_until(connected(scanner))
        sim.send(CARD)
        sim.send(EAN, terminator="\r\n")
        sim.send("hello", terminator="\n")
        scans = [inbox.next_scan() for _ in range(3)]
        assert [scan.code.kind for scan in scans] == ["loyalty_card", "product", "unrecognised"]
        assert [scan.data for scan in scans] == [CARD, EAN, "hello"]
        assert scans[0].source.kind is SourceKind.SERIAL
        assert scans[0].source.name == str(link)
        status = scanner.status()
        assert (status.accepted, status.rejected) == (3, 0)


def test_random_bytes_never_crash_the_reader(tmp_path: Path) -> None:
    link = tmp_path / "scanner"
    inbox = Inbox()
    with ScannerSimulator(link) as sim, running(fast_config(str(link)), inbox) as scanner:
        assert wait_until(connected(scanner))

        # One scanner for all examples: the point is that it survives every one of them.
        @settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.binary(min_size=1, max_size=400))
        def send_garbage(data: bytes) -> None:
            sim.send_bytes(data)

        send_garbage()
        sim.send_bytes(b"\r")  # end whatever partial frame the garbage left
        sim.send(EAN)
        # Garbage makes scans and rejections of its own; the real scan comes after them all.
        last = inbox.next()
        while not (isinstance(last, Scan) and last.data == EAN):
            last = inbox.next()  # raises queue.Empty (fails) if the scan never arrives
        assert scanner.is_alive()
        assert scanner.status().state is ScannerState.CONNECTED


def test_unplugging_the_pty_reconnects_and_scans_flow_again(tmp_path: Path) -> None:
    link = tmp_path / "scanner"
    inbox = Inbox()
    sim = ScannerSimulator(link)
    sim.open()
    try:
        with running(fast_config(str(link)), inbox) as scanner:
            assert wait_until(connected(scanner))
            sim.send(EAN)
            assert inbox.next_scan().data == EAN
            sim.close()

            assert wait_until(reconnecting(scanner))
            assert "disconnected" in (scanner.status().last_error or "")

            sim = ScannerSimulator(link)
            sim.open()
            assert wait_until(connected(scanner))
            sim.send(CARD)
            assert inbox.next_scan().code.kind == "loyalty_card"
            assert scanner.is_alive()
    finally:
        sim.close()


def test_a_missing_device_is_retried_and_reported(tmp_path: Path) -> None:
    link = tmp_path / "not-plugged-in"
    inbox = Inbox()
    with running(fast_config(str(link)), inbox) as scanner:
        assert wait_until(reconnecting(scanner))
        status = scanner.status()
        assert "cannot open" in (status.last_error or "")
        assert "reconnecting" in status.summary()
        with ScannerSimulator(link) as sim:
            assert wait_until(connected(scanner))
            sim.send(EAN)
            assert inbox.next_scan().data == EAN


def test_a_path_that_is_not_a_serial_device_is_reported(tmp_path: Path) -> None:
    not_a_tty = tmp_path / "notes.txt"
    not_a_tty.write_text("hello\r")
    with running(fast_config(str(not_a_tty)), Inbox()) as scanner:
        assert wait_until(reconnecting(scanner))
        assert "cannot open" in (scanner.status().last_error or "")
        assert scanner.is_alive()


def test_a_failing_callback_does_not_stop_the_scanner(tmp_path: Path) -> None:
    link = tmp_path / "scanner"
    seen: queue.Queue[str] = queue.Queue()

    def on_scan(scan: Scan) -> None:
        seen.put(scan.data)
        if scan.data == "boom":
            raise RuntimeError("the till's handler has a bug")

    with ScannerSimulator(link) as sim, SerialScanner(fast_config(str(link)), on_scan) as scanner:
        assert wait_until(connected(scanner))
        sim.send("boom")
        sim.send(EAN)
        assert [seen.get(timeout=WAIT_S), seen.get(timeout=WAIT_S)] == ["boom", EAN]
        assert scanner.status().state is ScannerState.CONNECTED


def test_prefix_suffix_and_aim_over_the_wire(tmp_path: Path) -> None:
    link = tmp_path / "scanner"
    inbox = Inbox()
    framing = FramingConfig(Terminator.CR, prefix="\x02", suffix="\x03", strip_aim=True)
    config = fast_config(str(link), framing)
    with ScannerSimulator(link) as sim, running(config, inbox) as scanner:
        assert wait_until(connected(scanner))
        sim.send(f"\x02]E0{EAN}\x03")
        sim.send(f"]E0{EAN}\x03")
        assert inbox.next_scan().code.kind == "product"
        rejection = inbox.next_rejection()
        assert rejection.code == "no_prefix"
        assert scanner.status().last_rejected_reason == rejection.reason


# ------------------------------------------------------------------------------------------
# socket:// to a loopback TCP server (a scanner behind a terminal server)
# ------------------------------------------------------------------------------------------


class TerminalServer:
    """A TCP listener on 127.0.0.1 standing in for a serial-to-network adapter."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port: int = self.listener.getsockname()[1]
        self.connection: socket.socket | None = None

    def accept(self) -> socket.socket:
        self.listener.settimeout(WAIT_S)
        self.connection, _ = self.listener.accept()
        return self.connection

    def send(self, data: bytes) -> None:
        assert self.connection is not None
        self.connection.sendall(data)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.listener.close()


def test_scans_over_a_tcp_socket_and_reconnect_after_the_server_restarts() -> None:
    server = TerminalServer()
    inbox = Inbox()
    try:
        url = f"socket://127.0.0.1:{server.port}"
        with running(fast_config(url), inbox) as scanner:
            server.accept()
            assert wait_until(connected(scanner))
            server.send(CARD.encode() + b"\r\n" + EAN[:6].encode())
            server.send(EAN[6:].encode() + b"\r\n")
            first, second = inbox.next_scan(), inbox.next_scan()
            assert (first.code.kind, second.data) == ("loyalty_card", EAN)
            assert first.source.name == url

            server.send(b"98260")  # the line drops half-way through a scan:
            server.close()  # TCP delivers the bytes before the end of stream
            assert wait_until(reconnecting(scanner))
            rejection = inbox.next_rejection()
            assert (rejection.code, rejection.preview) == ("incomplete", "98260")

            server = TerminalServer(server.port)  # and comes back on the same port
            server.accept()
            assert wait_until(connected(scanner))
            server.send(EAN.encode() + b"\r")
            assert inbox.next_scan().data == EAN
    finally:
        server.close()


def test_a_refused_connection_is_reported_as_reconnecting() -> None:
    server = TerminalServer()
    port = server.port
    server.close()
    with running(fast_config(f"socket://127.0.0.1:{port}"), Inbox()) as scanner:
        assert wait_until(reconnecting(scanner))
        assert "refused" in (scanner.status().last_error or "").lower()


def test_a_bad_url_is_reported_not_fatal() -> None:
    with running(fast_config("nosuchscheme://x"), Inbox()) as scanner:
        assert wait_until(reconnecting(scanner))
        assert "nosuchscheme" in (scanner.status().last_error or "")
        assert scanner.is_alive()


# ------------------------------------------------------------------------------------------
# loop://
# ------------------------------------------------------------------------------------------


def test_loop_url_echoes_commands_back_as_scans() -> None:
    inbox = Inbox()
    with running(fast_config("loop://"), inbox) as scanner:
        assert wait_until(connected(scanner))
        scanner.send_command(EAN.encode() + b"\r" + b"\xff\r")
        assert inbox.next_scan().data == EAN
        assert inbox.next_rejection().code == "not_text"
        assert scanner.status().rejected == 1


def test_send_command_when_not_connected_says_so() -> None:
    scanner = SerialScanner(fast_config("loop://"), lambda scan: None)
    with pytest.raises(OSError, match="not connected"):
        scanner.send_command(b"x")
