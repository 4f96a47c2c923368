"""``till hw listen`` and ``till hw scanner-sim``, in-process and end to end as subprocesses."""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import serial
from click.testing import CliRunner

from hardware.sim.scanner_sim import ScannerSimulator
from shared.codes import CodeConfig, card_number_from_serial, format_receipt_barcode
from terminal.cli.hw_scanner import listen

ROOT = Path(__file__).resolve().parents[2]
TILL = [sys.executable, "-c", "from terminal.cli.main import main; main()"]
WAIT_S = 60.0
EAN = "4006381333931"
CARD = card_number_from_serial(CodeConfig(), 7)


class Lines:
    """A subprocess pipe read on a thread, so the test can wait for a line with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._unread: queue.Queue[str | None] = queue.Queue()
        self._ended = False
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._unread.put(line.rstrip("\n"))
        self._unread.put(None)

    def _next(self, deadline: float) -> str | None:
        if self._ended:
            return None
        try:
            line = self._unread.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if line is None:
            self._ended = True
        else:
            self.seen.append(line)
        return line

    def wait_for(self, predicate: Callable[[str], bool]) -> str:
        deadline = time.monotonic() + WAIT_S
        while (line := self._next(deadline)) is not None:
            if predicate(line):
                return line
        raise AssertionError(f"expected line never came; got {self.seen}")

    def rest(self) -> list[str]:
        """The lines not read yet, up to end of stream (call once the process has ended)."""
        self._thread.join(WAIT_S)
        deadline = time.monotonic() + WAIT_S
        lines: list[str] = []
        while (line := self._next(deadline)) is not None:
            lines.append(line)
        return lines


def stop(process: subprocess.Popen[str], out: Lines, err: Lines) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(WAIT_S)
    out.rest()  # drain both, so no reader thread touches a pipe after it is closed
    err.rest()
    print("\n".join(err.seen))  # pytest shows it if the test failed


def test_listen_prints_json_lines_for_the_pty_simulator(tmp_path: Path) -> None:
    link = tmp_path / "scanner"
    receipt = format_receipt_barcode("T7", 1234)
    with ScannerSimulator(link) as sim:
        command = [*TILL, "hw", "listen", "--scanner", str(link), "--count", "4"]
        with subprocess.Popen(
            command, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as process:
            assert process.stdout is not None
            assert process.stderr is not None
            out, err = Lines(process.stdout), Lines(process.stderr)
            try:
                err.wait_for(lambda line: ": connected" in line)
                sim.send(CARD)
                sim.send(EAN)
                sim.send(receipt)
                sim.send_bytes(b"\xff\xfe\r")
                assert process.wait(WAIT_S) == 0
                documents = [json.loads(line) for line in out.rest()]
            finally:
                stop(process, out, err)
    source = {"kind": "serial", "name": str(link)}
    assert documents[:3] == [
        {"source": source, "raw": CARD, "kind": "loyalty_card", "value": CARD},
        {"source": source, "raw": EAN, "kind": "product", "value": EAN},
        {
            "source": source,
            "raw": receipt,
            "kind": "receipt",
            "value": {"terminal": "T7", "seq": 1234},
        },
    ]
    assert documents[3]["kind"] == "rejected"
    assert "baud rate" in documents[3]["reason"]
    assert len(documents) == 4


def test_scanner_sim_forwards_stdin_lines_to_the_link(tmp_path: Path) -> None:
    link = tmp_path / "scanner"
    command = [*TILL, "hw", "scanner-sim", "--link", str(link), "--terminator", "crlf"]
    with subprocess.Popen(
        command,
        cwd=ROOT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        out, err = Lines(process.stdout), Lines(process.stderr)
        try:
            device = out.wait_for(lambda line: line.startswith("device: "))
            assert out.wait_for(lambda line: line.startswith("link: ")) == f"link: {link}"
            assert link.resolve() == Path(device.removeprefix("device: "))
            with serial.serial_for_url(str(link), timeout=0.05) as port:
                process.stdin.write(f"{EAN}\nhello\n")
                process.stdin.flush()
                expected = f"{EAN}\r\nhello\r\n".encode()
                received = b""
                deadline = time.monotonic() + WAIT_S
                while len(received) < len(expected) and time.monotonic() < deadline:
                    received += port.read(64)
                assert received == expected
            process.stdin.close()  # end of input: the simulator unplugs and exits
            assert process.wait(WAIT_S) == 0
        finally:
            stop(process, out, err)
    assert not link.is_symlink()


class RepeatingTerminalServer:
    """Accepts one connection on 127.0.0.1 and sends ``payload`` over and over until closed.

    Opening a port discards what is already waiting (pyserial flushes input on open, like a
    real serial port), and this thread cannot see when the open is done; so it repeats, and
    the test reads the first complete payload.
    """

    def __init__(self, payload: bytes) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT_S)
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        self._payload = payload
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
            with connection:
                while not self._done.wait(0.05):
                    connection.sendall(self._payload)
        except OSError:
            pass  # the client went away first (listen stopped): nothing more to send

    def close(self) -> None:
        self._done.set()
        self._thread.join(WAIT_S)
        self.listener.close()


def test_listen_options_prefix_suffix_aim_and_card_prefix() -> None:
    config = CodeConfig(card_prefix="1234")
    own_card = card_number_from_serial(config, 5)
    payload = b"".join(
        b"\x02" + body + b"\x03\r\n" for body in (b"]E0" + EAN.encode(), own_card.encode())
    )
    server = RepeatingTerminalServer(payload + b"]E0" + EAN.encode() + b"\x03\r\n")
    try:
        result = CliRunner().invoke(
            listen,
            [
                "--scanner",
                server.url,
                "--terminator",
                "crlf",
                "--prefix",
                r"\x02",
                "--suffix",
                r"\x03",
                "--aim",
                "--card-prefix",
                "1234",
                "--count",
                "3",
                "--seconds",
                str(WAIT_S),
            ],
        )
    finally:
        server.close()
    assert result.exit_code == 0, result.output
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(doc["kind"], doc.get("value")) for doc in documents] == [
        ("product", EAN),
        ("loyalty_card", own_card),
        ("rejected", None),
    ]
    assert "prefix" in documents[2]["reason"]
    assert "connected" in result.stderr


def test_listen_gives_up_clearly_when_the_scanner_never_connects(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        listen, ["--scanner", str(tmp_path / "nothing-here"), "--seconds", "0.3"]
    )
    assert result.exit_code == 1
    assert "never connected" in result.stderr
    assert "nothing-here" in result.stderr
    assert result.stdout == ""


def test_listen_refuses_a_bad_card_prefix() -> None:
    result = CliRunner().invoke(
        listen, ["--scanner", "loop://", "--card-prefix", "12ab", "--seconds", "0.1"]
    )
    assert result.exit_code == 2
    assert "--card-prefix" in result.stderr
