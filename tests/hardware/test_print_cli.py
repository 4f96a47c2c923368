"""``till hw print-test``, ``till hw decode`` in-process; ``till hw printer-sim`` as a process."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from click.testing import CliRunner

from hardware.printing import ReceiptPrinter
from hardware.sim.printer_sim import PrinterMode, PrinterSimulator
from shared.receipt import reference_receipt
from terminal.cli.hw_printer import decode, print_test

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
TILL = [sys.executable, "-c", "from terminal.cli.main import main; main()"]
WAIT_S = 60.0
"""Generous: a deadline for a condition, never a measure of speed (a busy CI box is slow)."""


def test_print_test_prints_the_reference_receipt_on_the_simulator() -> None:
    with PrinterSimulator(profile="TM-T88V") as sim:
        result = CliRunner().invoke(print_test, ["--printer", sim.url, "--profile", "TM-T88V"])
        (receipt,) = sim.wait_for_receipts(1, WAIT_S)
    assert result.exit_code == 0, result.output
    assert f"Printed the reference receipt on 127.0.0.1:{sim.address[1]}" in result.output
    assert "42 columns" in result.output
    assert "Printer is ready" in result.output
    assert "Using hardware barcode" not in result.output  # python-escpos's chatter is muted
    assert "Grüße" in receipt.text
    assert receipt.drawer_kicked


def test_print_test_failure_says_what_to_do_and_exits_non_zero() -> None:
    with PrinterSimulator(mode=PrinterMode.OUT_OF_PAPER) as sim:
        result = CliRunner().invoke(print_test, ["--printer", sim.url, "--no-drawer"])
    assert result.exit_code == 1
    assert "Printer is out of paper — load a new roll, then press Reprint" in result.output


def test_print_test_with_a_bad_url_lists_the_accepted_forms() -> None:
    result = CliRunner().invoke(print_test, ["--printer", "lpt1"])
    assert result.exit_code == 1
    assert "tcp://HOST[:PORT]" in result.output
    assert "usb://VENDOR:PRODUCT" in result.output


def test_decode_a_golden_file() -> None:
    golden = GOLDEN / "reference_TM-T88V.bin"
    result = CliRunner().invoke(decode, [str(golden), "--profile", "TM-T88V"])
    assert result.exit_code == 0, result.output
    assert result.output == (GOLDEN / "reference_TM-T88V.txt").read_text(encoding="utf-8")


def test_decode_rejects_an_unknown_profile() -> None:
    result = CliRunner().invoke(decode, ["-", "--profile", "TM-T99"], input=b"x")
    assert result.exit_code == 2
    assert "Unknown printer profile" in result.output


class Lines:
    """A subprocess pipe read on a thread, so the test can wait for a line with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + WAIT_S
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed within {WAIT_S} s; saw {self.seen}")


def test_printer_sim_process_receives_a_print_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "receipts"
    command = [*TILL, "hw", "printer-sim", "--listen", "127.0.0.1:0", "--out", str(out)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
    )
    try:
        assert process.stdout is not None
        lines = Lines(process.stdout)
        url = lines.wait_for("listening on").rsplit(" ", 1)[1]
        ReceiptPrinter(url, profile="TM-T88V", timeout_s=WAIT_S).print_receipt(reference_receipt())
        lines.wait_for("receipt 0001:")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=WAIT_S) == 0
        lines.wait_for("Stopped after 1 receipt(s).")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT_S)
        if process.stdout is not None:
            process.stdout.close()
    assert "New balance" in (out / "0001.txt").read_text(encoding="utf-8")
    assert (out / "0001.bin").read_bytes().startswith(b"\x1b@")
