"""``till hw scanner-sim`` passes any bytes through, byte for byte, from stdin or a FIFO.

A real scanner sends whatever its symbol holds; garbage once killed the simulator (it decoded
stdin as UTF-8). These run the command as a subprocess and read what arrives at the far side
of its pseudo-terminal through the link, as a till's serial reader would.
"""

from __future__ import annotations

import io
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import serial
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware.sim.scanner_sim import MAX_LINE_BYTES, ScannerSimulator
from tests.hardware.test_scan_cli import ROOT, TILL, Lines

WAIT_S = 30.0

NASTY = [
    b"\xff\xfe\xfd",  # not UTF-8 at all
    b"\xc3",  # a UTF-8 sequence cut short
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\x00\x01\x02\x03\x04\x1a\x1b[2J\x7f",  # NUL, ^C, ^D, ^Z, an ANSI escape, DEL
    b"\x11\x13",  # XON / XOFF: flow control characters a cooked tty would eat
    b"caf\xe9 \x80\x81 \xf0\x9f\x98",  # Latin-1, stray continuation bytes, a cut emoji
    b"",  # an empty line is an empty scan
    b"4006381333931",  # and a good code still arrives as it is
]


def _read_exactly(port: serial.Serial, count: int) -> bytes:
    received = b""
    deadline = time.monotonic() + WAIT_S
    while len(received) < count and time.monotonic() < deadline:
        received += port.read(count - len(received))
    return received


@contextmanager
def _scanner_sim(link: Path, *extra: str) -> Iterator[subprocess.Popen[str]]:
    """The simulator as a subprocess; write bytes to ``process.stdin.buffer``."""
    command = [*TILL, "hw", "scanner-sim", "--link", str(link), "--terminator", "crlf", *extra]
    with subprocess.Popen(
        command,
        cwd=ROOT,
        text=True,
        errors="replace",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        out, err = Lines(process.stdout), Lines(process.stderr)
        try:
            out.wait_for(lambda line: line.startswith("link: "))
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(WAIT_S)
            out.rest()  # drain both, so no reader thread touches a pipe after it is closed
            err.rest()
            print("\n".join(err.seen))  # pytest shows it if the test failed
        assert not any("Traceback" in line for line in err.seen), err.seen


def test_garbage_from_stdin_arrives_byte_for_byte_and_the_simulator_survives(
    tmp_path: Path,
) -> None:
    link = tmp_path / "scanner"
    with _scanner_sim(link) as process, serial.serial_for_url(str(link), timeout=0.2) as port:
        assert process.stdin is not None
        stdin = cast(io.TextIOWrapper, process.stdin).buffer  # bytes, not text
        stdin.write(b"".join(line + b"\n" for line in NASTY))
        stdin.flush()
        expected = b"".join(line + b"\r\n" for line in NASTY)
        assert _read_exactly(port, len(expected)) == expected

        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(st.binary(max_size=200).filter(lambda data: b"\n" not in data))
        def passes_through(data: bytes) -> None:
            stdin.write(data + b"\n")
            stdin.flush()
            # A CR right before the line end belongs to the line end (CRLF input).
            wanted = data.removesuffix(b"\r") + b"\r\n"
            assert _read_exactly(port, len(wanted)) == wanted

        passes_through()
        # End of input unplugs the scanner cleanly.
        process.stdin.close()
        assert process.wait(WAIT_S) == 0
    assert not link.is_symlink()


def test_forward_sends_a_last_line_without_line_end_and_long_lines_in_pieces(
    tmp_path: Path,
) -> None:
    link = tmp_path / "scanner"
    long_line = bytes(range(256)).replace(b"\n", b"") * (3 * MAX_LINE_BYTES // 255)
    stream = io.BytesIO(b"\xff\r\n" + long_line + b"\n\x80tail")
    expected = b"\xff\r" + long_line + b"\r\x80tail\r"
    received: list[bytes] = []
    with ScannerSimulator(link) as sim, serial.serial_for_url(str(link), timeout=0.2) as port:
        # The pty holds a few KiB: read on a thread while the simulator sends.
        reader = threading.Thread(
            target=lambda: received.append(_read_exactly(port, len(expected))), daemon=True
        )
        reader.start()
        assert sim.forward(stream) == 3
        reader.join(WAIT_S)
    assert received == [expected]


def test_a_fifo_feeds_the_simulator_bytes_unchanged(tmp_path: Path) -> None:
    link, fifo = tmp_path / "scanner", tmp_path / "scan"
    os.mkfifo(fifo)
    with (
        _scanner_sim(link, "--input", str(fifo)) as process,
        serial.serial_for_url(str(link), timeout=0.2) as port,
    ):
        # The simulator opened the FIFO for reading when it started, so this open returns.
        writer = os.open(fifo, os.O_WRONLY)
        try:
            os.write(writer, b"\xff\x00garbage\xc3\r\n\x1b\x03\n")
            expected = b"\xff\x00garbage\xc3\r\n\x1b\x03\r\n"
            assert _read_exactly(port, len(expected)) == expected
        finally:
            os.close(writer)
        # The writer closed the FIFO: end of input, the simulator exits.
        assert process.wait(WAIT_S) == 0
