"""Printer URLs, profiles, and the transports that are not TCP: file, dummy, serial (a pty).

USB cannot be exercised here (no device, and pyusb is not installed): only the clear error
for the missing driver is tested.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware.printing import (
    PrinterMisconfigured,
    PrinterOffline,
    PrinterTimeout,
    ReceiptPrinter,
    parse_printer_url,
)
from hardware.printing.errors import translate
from hardware.sim.printer_sim import PrinterMode, PrinterSimulator
from shared.receipt import reference_receipt

WAIT_S = 60.0


def test_accepted_forms() -> None:
    tcp = parse_printer_url("tcp://10.0.0.5:9100")
    assert (tcp.scheme, tcp.host, tcp.port, tcp.where) == ("tcp", "10.0.0.5", 9100, "10.0.0.5:9100")
    assert parse_printer_url("tcp://printer.local").port == 9100
    assert parse_printer_url("tcp://[::1]:9101").host == "::1"
    serial = parse_printer_url("serial:///dev/ttyS0?baudrate=19200&parity=e&dsrdtr=0")
    assert (serial.device, serial.baudrate, serial.parity, serial.dsrdtr) == (
        "/dev/ttyS0",
        19200,
        "E",
        False,
    )
    usb = parse_printer_url("usb://04b8:0202")
    assert (usb.usb_vendor, usb.usb_product, usb.where) == (0x04B8, 0x0202, "USB 04b8:0202")
    assert parse_printer_url("file:///dev/usb/lp0").device == "/dev/usb/lp0"
    assert parse_printer_url("dummy://").scheme == "dummy"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "10.0.0.5:9100",
        "http://10.0.0.5",
        "tcp://",
        "tcp://10.0.0.5:99999",
        "tcp://10.0.0.5:9100?x=1",
        "serial://",
        "serial:///dev/ttyS0?baudrate=fast",
        "serial:///dev/ttyS0?speed=9600",
        "serial:///dev/ttyS0?stopbits=3",
        "usb://epson",
        "usb://04b8",
        "file://relative/path",
    ],
)
def test_invalid_urls_name_every_accepted_form(url: str) -> None:
    with pytest.raises(PrinterMisconfigured) as caught:
        parse_printer_url(url)
    message = str(caught.value)
    for form in ("tcp://HOST[:PORT]", "serial:///dev/ttyS0", "usb://VENDOR:PRODUCT", "file://"):
        assert form in message


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(PrinterMisconfigured, match="TM-T88V"):
        ReceiptPrinter("dummy://", profile="TM-T99")


@pytest.mark.skipif(importlib.util.find_spec("usb") is not None, reason="pyusb is installed")
def test_usb_without_pyusb_says_what_to_install() -> None:
    with pytest.raises(PrinterMisconfigured, match="pyusb") as caught:
        ReceiptPrinter("usb://04b8:0202", profile="TM-T88V")
    assert "pip install pyusb" in str(caught.value)


def test_file_printer_receives_exactly_the_rendered_bytes(tmp_path: Path) -> None:
    target = tmp_path / "lp0"
    printer = ReceiptPrinter(f"file://{target}", profile="TM-T88V")
    printer.print_receipt(reference_receipt())
    assert target.read_bytes() == printer.render(reference_receipt())
    assert printer.status().online is None  # a device file cannot answer


def test_missing_device_file_is_offline(tmp_path: Path) -> None:
    with pytest.raises(PrinterOffline, match="is not there"):
        ReceiptPrinter(f"file://{tmp_path}/no/such/lp0").print_receipt(reference_receipt())


def test_a_device_that_blocks_forever_cannot_block_the_till(tmp_path: Path) -> None:
    """Opening a FIFO nobody reads blocks with no timeout, like a wedged printer device."""
    fifo = tmp_path / "lp0"
    os.mkfifo(fifo)
    printer = ReceiptPrinter(f"file://{fifo}", profile="TM-T88V", timeout_s=0.2)
    with pytest.raises(PrinterTimeout, match=r"did not respond within 0\.2 s"):
        printer.print_receipt(reference_receipt())
    # Unwedge the device: the abandoned worker's open() returns, and it must then give up
    # rather than print late: the till has already queued this receipt for a reprint.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:

        def worker_alive() -> bool:
            return any(thread.name == f"printer {fifo}" for thread in threading.enumerate())

        deadline = time.monotonic() + WAIT_S
        while worker_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not worker_alive()
        assert os.read(reader, 65536) == b""
    finally:
        os.close(reader)


def test_dummy_printer_accepts_anything() -> None:
    printer = ReceiptPrinter("dummy://", profile="POS-5890")
    printer.print_receipt(reference_receipt())
    printer.print_lines(["Sales: 1"], title="Z REPORT")
    assert printer.last_status is not None
    assert printer.last_status.online is None


def test_library_and_os_errors_map_into_the_tree() -> None:
    assert isinstance(translate(ConnectionRefusedError(), "x"), PrinterOffline)
    assert isinstance(translate(TimeoutError(), "x"), PrinterTimeout)
    assert isinstance(translate(PermissionError(), "x"), PrinterMisconfigured)
    try:
        try:
            raise BrokenPipeError("peer gone")
        except BrokenPipeError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        mapped = translate(outer, "10.0.0.5:9100")
    assert isinstance(mapped, PrinterOffline)
    assert "receipt may be incomplete" in str(mapped)


# -- serial, through a real pty ----------------------------------------------------------------


@pytest.fixture
def serial_printer() -> Iterator[tuple[str, PrinterSimulator]]:
    """A pty whose far end is the simulator's printer logic: a real serial peer."""
    simulator = PrinterSimulator(profile="TM-T88V")  # not started: no TCP, only sessions
    controller, device = os.openpty()
    tty.setraw(controller)
    stop = threading.Event()

    def pump() -> None:
        session = simulator.open_session()
        os.set_blocking(controller, False)
        while not stop.is_set():
            try:
                data = os.read(controller, 4096)
            except BlockingIOError:
                stop.wait(0.01)
                continue
            except OSError:
                break
            answers = session.feed(data)
            if answers:
                os.write(controller, answers)
        session.close()

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield os.ttyname(device), simulator
    finally:
        stop.set()
        thread.join(WAIT_S)
        os.close(device)
        os.close(controller)


def test_serial_printer_prints_and_reports_status(
    serial_printer: tuple[str, PrinterSimulator],
) -> None:
    path, simulator = serial_printer
    printer = ReceiptPrinter(f"serial://{path}?baudrate=19200", profile="TM-T88V", timeout_s=WAIT_S)
    assert printer.status().online is True
    printer.print_receipt(reference_receipt())
    (receipt,) = simulator.wait_for_receipts(1, WAIT_S)
    assert receipt.raw == printer.render(reference_receipt())
    assert "1,262 pts" in receipt.text

    simulator.mode = PrinterMode.OFFLINE
    status = printer.status()
    assert (status.online, status.message) == (False, str(status.problem))
    with pytest.raises(PrinterOffline, match="cover is open"):
        printer.print_receipt(reference_receipt())
