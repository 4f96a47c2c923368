"""Printing over real TCP sockets to the printer simulator, and every way that can fail.

Nothing here asserts how long something took: a failure must raise the right error and the
test must finish, which the suite-wide timeout guards.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware.printing import (
    PrinterOffline,
    PrinterOutOfPaper,
    PrinterTimeout,
    ReceiptPrinter,
    decode_escpos,
)
from hardware.sim.printer_sim import PrinterMode, PrinterSimulator
from shared.receipt import REFERENCE_CARD_NUMBER, reference_receipt

WAIT_S = 60.0


@pytest.fixture
def sim() -> Iterator[PrinterSimulator]:
    with PrinterSimulator(profile="TM-T88V") as simulator:
        yield simulator


def printer_for(sim: PrinterSimulator, timeout_s: float = WAIT_S) -> ReceiptPrinter:
    return ReceiptPrinter(sim.url, profile=sim.profile, timeout_s=timeout_s)


def test_receipt_arrives_intact_over_tcp(sim: PrinterSimulator) -> None:
    printer = printer_for(sim)
    printer.print_receipt(reference_receipt())
    (receipt,) = sim.wait_for_receipts(1, WAIT_S)
    sent = printer.render(reference_receipt())
    assert receipt.raw == sent  # status queries are not part of the receipt
    assert receipt.text == decode_escpos(sent, profile="TM-T88V", columns=42)
    assert receipt.cut
    assert receipt.drawer_kicked
    assert "Grüße" in receipt.text
    assert "1,262 pts" in receipt.text
    assert REFERENCE_CARD_NUMBER not in receipt.text
    assert printer.last_status is not None
    assert printer.last_status.paper == "ok"


def test_no_drawer_kick_without_cash(sim: PrinterSimulator) -> None:
    printer_for(sim).print_receipt(reference_receipt(cash=False))
    (receipt,) = sim.wait_for_receipts(1, WAIT_S)
    assert not receipt.drawer_kicked
    assert "[DRAWER]" not in receipt.text


def test_a_printer_without_cutter_ends_the_receipt_with_the_connection() -> None:
    with PrinterSimulator(profile="POS-5890") as sim:
        printer_for(sim).print_receipt(reference_receipt())
        (receipt,) = sim.wait_for_receipts(1, WAIT_S)
    assert not receipt.cut
    assert "Cashier Zoë" in receipt.text


def test_status_in_each_condition(sim: PrinterSimulator) -> None:
    printer = printer_for(sim)
    expected = {
        PrinterMode.ONLINE: (True, "ok"),
        PrinterMode.PAPER_NEAR_END: (True, "near_end"),
        PrinterMode.OUT_OF_PAPER: (False, "out"),
        PrinterMode.OFFLINE: (False, "ok"),
    }
    for mode, (online, paper) in expected.items():
        sim.mode = mode
        status = printer.status()
        assert (status.online, status.paper) == (online, paper), mode
        assert status.ready == (online and paper != "out"), mode
    assert "cover is open" in status.message


def test_paper_near_end_still_prints_and_says_so(sim: PrinterSimulator) -> None:
    sim.mode = PrinterMode.PAPER_NEAR_END
    printer = printer_for(sim)
    printer.print_receipt(reference_receipt())
    sim.wait_for_receipts(1, WAIT_S)
    assert printer.last_status is not None
    assert "paper is low" in printer.last_status.message


def test_out_of_paper(sim: PrinterSimulator) -> None:
    sim.mode = PrinterMode.OUT_OF_PAPER
    with pytest.raises(PrinterOutOfPaper) as caught:
        printer_for(sim).print_receipt(reference_receipt())
    assert str(caught.value) == "Printer is out of paper — load a new roll, then press Reprint"
    assert sim.receipts == []


def test_offline_then_back_online(sim: PrinterSimulator) -> None:
    printer = printer_for(sim)
    sim.mode = PrinterMode.OFFLINE
    with pytest.raises(PrinterOffline, match="cover is open"):
        printer.print_receipt(reference_receipt())
    sim.mode = PrinterMode.ONLINE
    printer.print_receipt(reference_receipt())
    assert len(sim.wait_for_receipts(1, WAIT_S)) == 1


def test_nothing_listening_is_offline() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    printer = ReceiptPrinter(f"tcp://127.0.0.1:{port}", timeout_s=WAIT_S)
    with pytest.raises(PrinterOffline, match="Nothing answers"):
        printer.print_receipt(reference_receipt())
    status = printer.status()
    assert status.online is False
    assert isinstance(status.problem, PrinterOffline)


def test_slow_printer_times_out_and_the_call_returns() -> None:
    # The simulator pauses far longer than the printer's timeout; stop() interrupts it.
    with PrinterSimulator(mode=PrinterMode.SLOW, slow_delay_s=60.0) as sim:
        printer = printer_for(sim, timeout_s=0.2)
        with pytest.raises(PrinterTimeout, match="did not respond"):
            printer.print_receipt(reference_receipt())
        status = printer.status()
        assert (status.online, status.paper) == (None, "unknown")
        assert isinstance(status.problem, PrinterTimeout)


def test_slow_printer_within_the_timeout_prints() -> None:
    with PrinterSimulator(mode=PrinterMode.SLOW, slow_delay_s=0.001) as sim:
        printer_for(sim).print_receipt(reference_receipt(cash=False))
        (receipt,) = sim.wait_for_receipts(1, WAIT_S)
    assert "New balance" in receipt.text


def test_status_answers_on_the_wire(sim: PrinterSimulator) -> None:
    """The bytes a real ESC/POS printer sends for DLE EOT 1-4, seen by a raw socket."""
    answers = {}
    for mode in (PrinterMode.ONLINE, PrinterMode.OUT_OF_PAPER, PrinterMode.OFFLINE):
        sim.mode = mode
        with socket.create_connection(sim.address, timeout=WAIT_S) as connection:
            reply = b""
            for n in (1, 2, 3, 4):
                connection.sendall(bytes([0x10, 0x04, n]))
                reply += connection.recv(1)
        answers[mode] = reply
    assert answers == {
        PrinterMode.ONLINE: b"\x12\x12\x12\x12",
        PrinterMode.OUT_OF_PAPER: b"\x1a\x32\x12\x7e",
        PrinterMode.OFFLINE: b"\x1a\x16\x12\x12",
    }
    assert sim.receipts == []  # status queries alone are not a receipt


def test_several_receipts_on_one_connection_and_files_on_disk(tmp_path: Path) -> None:
    with PrinterSimulator(out_dir=tmp_path) as sim:
        with socket.create_connection(sim.address, timeout=WAIT_S) as connection:
            connection.sendall(b"\x1b@first\n\x1dV\x01\x1b@second\n\x1dV\x01\x1b@third\n")
        sim.wait_for_receipts(3, WAIT_S)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f"000{n}.{ext}" for n in (1, 2, 3) for ext in ("bin", "txt")
    ]
    assert (tmp_path / "0002.bin").read_bytes() == b"\x1b@second\n\x1dV\x01"
    assert (tmp_path / "0002.txt").read_text(encoding="utf-8") == "second\n[CUT]\n"
    assert (tmp_path / "0003.txt").read_text(encoding="utf-8") == "third\n"

    # A restarted simulator numbers on instead of overwriting.
    with PrinterSimulator(out_dir=tmp_path) as sim:
        with socket.create_connection(sim.address, timeout=WAIT_S) as connection:
            connection.sendall(b"fourth\n")
        (receipt,) = sim.wait_for_receipts(1, WAIT_S)
    assert receipt.number == 4
    assert (tmp_path / "0004.txt").exists()


def test_stop_is_bounded_with_a_client_still_connected() -> None:
    sim = PrinterSimulator().start()
    connection = socket.create_connection(sim.address, timeout=WAIT_S)
    try:
        connection.sendall(b"half a receipt\x10\x04\x01")
        assert connection.recv(1) == b"\x12"  # the simulator has read everything before it
        sim.stop()
        # The connection ended with the simulator, so what it had is a receipt.
        assert [r.text for r in sim.receipts] == ["half a receipt\n"]
    finally:
        connection.close()
