"""``till hw printer-sim | print-test | decode``: receipt printer checks and the simulator."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import BinaryIO

import click

from hardware.printing import PrinterError, ReceiptPrinter, decode_escpos
from hardware.printing.url import profile_columns
from hardware.sim.printer_sim import CapturedReceipt, PrinterMode, PrinterSimulator
from shared.receipt import reference_receipt

__all__ = ["decode", "print_test", "printer_sim"]


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise click.BadParameter(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:9100)")
    return host.strip("[]"), int(port)


@click.command("printer-sim")
@click.option(
    "--listen",
    default="127.0.0.1:9100",
    show_default=True,
    help="HOST:PORT to listen on; port 0 picks a free port.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for NNNN.bin (raw bytes) and NNNN.txt (decoded) per receipt.",
)
@click.option("--profile", default="TM-T88V", show_default=True, help="Printer model to act as.")
@click.option(
    "--mode",
    type=click.Choice([mode.value for mode in PrinterMode]),
    default=PrinterMode.ONLINE.value,
    show_default=True,
    help="Condition to start in (offline and out_of_paper discard what they are sent).",
)
@click.option(
    "--slow-delay",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds per 16 bytes in slow mode.",
)
def printer_sim(
    listen: str, out_dir: Path | None, profile: str, mode: str, slow_delay: float
) -> None:
    """Run a simulated network receipt printer until Ctrl-C."""
    host, port = _host_port(listen)

    def announce(receipt: CapturedReceipt) -> None:
        extras = "".join(
            (", cut" if receipt.cut else "", ", drawer kicked" if receipt.drawer_kicked else "")
        )
        where = f" -> {out_dir / f'{receipt.number:04d}.txt'}" if out_dir else ""
        click.echo(f"receipt {receipt.number:04d}: {len(receipt.raw)} bytes{extras}{where}")

    try:
        simulator = PrinterSimulator(
            host,
            port,
            out_dir=out_dir,
            profile=profile,
            mode=PrinterMode(mode),
            slow_delay_s=slow_delay,
            on_receipt=announce,
        )
        simulator.start()
    except PrinterError as error:
        raise click.BadParameter(str(error), param_hint="--profile") from error
    except OSError as error:
        raise click.ClickException(f"cannot listen on {listen}: {error}") from error

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"Printer simulator ({simulator.profile}, {mode}) listening on {simulator.url}")
    if out_dir is not None:
        click.echo(f"Receipts are written to {out_dir}")
    click.echo("Press Ctrl-C to stop.")
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
        signal.signal(signal.SIGTERM, previous)
    click.echo(f"Stopped after {len(simulator.receipts)} receipt(s).")


@click.command("print-test")
@click.option("--printer", "url", required=True, help="Printer URL, e.g. tcp://10.0.0.5:9100.")
@click.option("--profile", help="python-escpos profile, e.g. TM-T88V or POS-5890.")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds per call.")
@click.option(
    "--drawer/--no-drawer",
    default=True,
    show_default=True,
    help="Pay the test receipt in cash, which opens the cash drawer.",
)
@click.option(
    "--no-status", is_flag=True, help="Skip status queries (for printers without DLE EOT)."
)
def print_test(
    url: str, profile: str | None, timeout: float, drawer: bool, no_status: bool
) -> None:
    """Print the reference receipt: checks the connection, code pages, barcodes and cutter."""
    try:
        printer = ReceiptPrinter(url, profile, timeout, check_status=not no_status)
        printer.print_receipt(reference_receipt(cash=drawer))
    except PrinterError as error:
        click.echo(f"Print test failed: {error}", err=True)
        if error.detail:
            click.echo(f"(technical detail: {error.detail})", err=True)
        raise SystemExit(1) from error
    click.echo(
        f"Printed the reference receipt on {printer.where} "
        f"(profile {printer.profile}, {printer.columns} columns)."
    )
    if printer.last_status is not None:
        click.echo(printer.last_status.message)


@click.command("decode")
@click.argument("file", type=click.File("rb"))
@click.option("--profile", help="Profile the bytes were made for: it numbers the code pages.")
@click.option(
    "--columns", type=int, help="Paper width in characters, for centring (default: the profile's)."
)
def decode(file: BinaryIO, profile: str | None, columns: int | None) -> None:
    """Decode captured ESC/POS bytes (a printer-sim .bin, a print to file) to text."""
    try:
        width = profile_columns(profile) if columns is None else columns
        text = decode_escpos(file.read(), profile=profile, columns=width or None)
    except PrinterError as error:
        raise click.BadParameter(str(error), param_hint="--profile") from error
    click.echo(text, nl=False)
