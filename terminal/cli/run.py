"""``till run`` (the TUI) and ``till demo`` (a seeded store with simulated hardware)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import click

from terminal.cli.context import config_option, fail, load, print_queue_for
from terminal.config import TillConfig
from terminal.demo.seed import DEMO_CASHIERS, blocked_demo_card, demo_card, seed_demo
from terminal.store import open_database
from terminal.till.service import Till


def _run_app(config: TillConfig) -> None:
    from terminal.ui.app import TillApp

    database = open_database(config.database_path)
    till = Till(config, database)
    app = TillApp(till, print_queue_for(till), scanner_urls=config.scanner_urls)
    app.run()
    database.close()


@click.command()
@config_option
def run(config_path: Path | None) -> None:
    """Start the till (Textual TUI)."""
    config = load(config_path)
    if not sys.stdin.isatty():
        fail("the till needs an interactive terminal (run it in a terminal, not a pipe)")
    _run_app(config)


@contextlib.contextmanager
def _fifo_to_scanner(fifo: Path, link: Path) -> Iterator[None]:
    """Lines written to ``fifo`` (``echo CARD > fifo``) arrive at the till as serial scans
    through a real pty — the same path a USB-serial scanner takes."""
    from hardware.sim.scanner_sim import ScannerSimulator

    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo)
    stop = threading.Event()
    with ScannerSimulator(link) as simulator:

        def pump() -> None:
            while not stop.is_set():
                # Opening a FIFO blocks until a writer comes; stop() writes an empty line.
                with fifo.open("r", encoding="utf-8", errors="replace") as pipe:
                    for line in pipe:
                        if line.strip():
                            simulator.send(line.strip())

        thread = threading.Thread(target=pump, name="demo-scan-fifo", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(OSError):
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
            thread.join(timeout=2)
            with contextlib.suppress(OSError):
                fifo.unlink()


@click.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".demo"),
    show_default=True,
    help="Where the demo store keeps its database, receipts and scanner pipe.",
)
@click.option("--members", default=3000, show_default=True, help="Demo members to create.")
@click.option("--products", default=300, show_default=True, help="Demo products to create.")
@click.option("--no-ui", is_flag=True, help="Seed and start the simulators, print, and exit.")
def demo(data_dir: Path, members: int, products: int, no_ui: bool) -> None:
    """A seeded demo store with the printer and scanner simulators wired in."""
    from hardware.sim.printer_sim import PrinterSimulator

    data_dir = data_dir.resolve()
    receipts = data_dir / "receipts"
    receipts.mkdir(parents=True, exist_ok=True)
    base = TillConfig(
        data_dir=data_dir,
        store_id="harbour",
        store_name="Harbour Grocers (demo)",
        store_address=("1 Quay Street", "Hamburg"),
        timezone="Europe/Berlin",
    )
    database = open_database(base.database_path)

    def progress(what: str, done: int, total: int) -> None:
        click.echo(f"  seeding {what}: {done:,}/{total:,}", err=True)

    if seed_demo(database, base, members=members, products=products, progress=progress):
        click.echo(f"Seeded the demo store in {data_dir}", err=True)
    database.close()
    with PrinterSimulator(host="127.0.0.1", port=0, out_dir=receipts) as printer:
        host, port = printer.address
        config = base.model_copy(
            update={
                "printer_url": f"tcp://{host}:{port}",
                "scanner_urls": (str(data_dir / "scanner"),),
            }
        )
        with _fifo_to_scanner(data_dir / "scan", data_dir / "scanner"):
            cashier_id, name, pin, _ = DEMO_CASHIERS[0]
            click.echo(
                "\n".join(
                    [
                        "LoyalTill demo",
                        f"  sign in: cashier {cashier_id} ({name}), PIN {pin}",
                        f"  member cards: {demo_card(config, 1)}, {demo_card(config, 2)}, "
                        f"{demo_card(config, 12)} (gold)",
                        f"  a blocked card: {blocked_demo_card(config)}",
                        f"  a blank card to enrol: {demo_card(config, 900_001)}",
                        f"  scan from another terminal: echo {demo_card(config, 1)} > "
                        f"{data_dir / 'scan'}",
                        f"  receipts print to {config.printer_url}, saved in {receipts}",
                    ]
                ),
                err=True,
            )
            if no_ui:
                return
            _run_app(config)
