"""``till run`` (the TUI) and ``till demo`` (a seeded store with simulated hardware)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from shared.runtime import tune_garbage_collector
from terminal.cli.context import config_option, fail, load, open_till_database, print_queue_for
from terminal.config import TillConfig
from terminal.demo.seed import DEMO_CASHIERS
from terminal.till.service import Till

if TYPE_CHECKING:
    from terminal.demo.hq import DemoHQ


def _run_app(config: TillConfig, about: tuple[str, ...] = ()) -> None:
    """The TUI; ``about``: lines its Help screen (F1) shows first."""
    from terminal.ui.app import TillApp

    database = open_till_database(config)
    worker = None
    client = None
    if config.server_url and config.server_token:
        from terminal.sync.client import SyncClient
        from terminal.sync.engine import SyncEngine
        from terminal.sync.worker import SyncWorker

        client = SyncClient(config.server_url, config.server_token)
        worker = SyncWorker(SyncEngine(config, database, client))
    till = Till(config, database, hq=client.member if client else None)
    till.hq_original = client.original_sale if client else None  # returns at any till
    till.hq_gift_card = client.gift_card if client else None  # beyond the offline caps
    till.hq_voucher = client.voucher if client else None
    app = TillApp(
        till,
        print_queue_for(till),
        scanner_urls=config.scanner_urls,
        sync_worker=worker,
        about=about,
    )
    tune_garbage_collector()  # start-up is done: the TUI and its sync worker run for hours
    app.run()
    if client is not None:
        client.close()
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
    help="Where the demo keeps its databases, receipts and scanner pipe.",
)
@click.option("--members", default=3000, show_default=True, help="Demo members at HQ.")
@click.option("--products", default=300, show_default=True, help="Demo products at HQ.")
@click.option(
    "--hq-port",
    default=0,
    show_default=True,
    help="Port of the embedded HQ (sync server and dashboard); 0 picks a free one.",
)
@click.option("--no-ui", is_flag=True, help="Set everything up, sync once, print, and exit.")
def demo(data_dir: Path, members: int, products: int, hq_port: int, no_ui: bool) -> None:
    """A demo store: an embedded HQ sync server, a till that syncs to it, and the printer
    and scanner simulators wired in."""
    from hardware.sim.printer_sim import PrinterSimulator
    from syncserver.embedded import serve_in_thread
    from syncserver.storage.database import Database
    from terminal.demo.hq import prepare_demo_hq

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

    def say(text: str) -> None:
        click.echo(text, err=True)

    hq = prepare_demo_hq(data_dir, base, members=members, products=products, say=say)
    hq_db = Database(hq.db_url)
    with (
        serve_in_thread(hq_db, port=hq_port) as hq_url,
        PrinterSimulator(out_dir=receipts) as printer,
    ):
        config = base.model_copy(
            update={
                "terminal_id": hq.terminal_id,
                "server_url": hq_url,
                "server_token": hq.token,
                "printer_url": printer.url,
                "scanner_urls": (str(data_dir / "scanner"),),
            }
        )
        _first_sync(config, say)
        with _fifo_to_scanner(data_dir / "scan", data_dir / "scanner"):
            about = _banner(config, hq_url, hq, receipts, say)
            if not no_ui:
                _run_app(config, about)
    hq_db.dispose()


def _first_sync(config: TillConfig, say: Callable[[str], None]) -> None:
    """Pull HQ's members, rules and catalog (with progress), and stage the demo's lost card."""
    from terminal.demo.seed import blocked_demo_card, demo_card, seed_cashiers_and_offers
    from terminal.store.settings import get_setting, set_setting
    from terminal.sync.client import SyncClient
    from terminal.sync.engine import SyncEngine

    database = open_till_database(config)
    seed_cashiers_and_offers(database)
    assert config.server_url
    assert config.server_token

    def progress(what: str, done: int, total: int) -> None:
        click.echo(f"\r  {what}: {done:,}/{total:,}   ", nl=False, err=True)

    with SyncClient(config.server_url, config.server_token) as client:
        engine = SyncEngine(config, database, client)
        engine.sync_once(progress)
        click.echo("", err=True)
        with database.read() as db:
            staged = get_setting(db, "demo_card_replaced")
        if not staged:
            # Member 4 reports their card lost: the till blocks it and issues a new one; HQ
            # learns it on the push and every other till on its next pull.
            till = Till(config, database)
            till.sign_in(DEMO_CASHIERS[1][0], DEMO_CASHIERS[1][2])
            till.replace_card(blocked_demo_card(config), demo_card(config, 4), "lost")
            engine.sync_once()
            with database.write() as db:
                set_setting(db, "demo_card_replaced", "1")
    database.close()


def _banner(
    config: TillConfig,
    hq_url: str,
    hq: DemoHQ,
    receipts: Path,
    say: Callable[[str], None],
) -> tuple[str, ...]:
    """Print what the demo's user needs; return the lines for the till's Help screen (F1),
    since the till's screen covers the terminal they were printed on."""
    from terminal.demo.seed import blocked_demo_card, demo_card

    dashboard = f"  HQ dashboard: {hq_url}/ (sign in as admin, password {hq.admin_password})"
    api = (
        f"  HQ API: {hq_url}/api/v1/ with header 'Authorization: Bearer {hq.api_token}' "
        "(admin's staff token)"
    )
    # The dashboard's address and the token are also kept in a file (private: they hold the
    # demo admin's password and token).
    note = config.data_dir / "hq-dashboard.txt"
    note.touch(mode=0o600)
    note.write_text(f"{dashboard.strip()}\n{api.strip()}\n", encoding="utf-8")
    cashier_id, name, pin, _ = DEMO_CASHIERS[0]
    supervisor = DEMO_CASHIERS[1]
    lines = (
        "LoyalTill demo",
        f"  sign in: cashier {cashier_id} ({name}), PIN {pin}; "
        f"supervisor {supervisor[0]}, PIN {supervisor[2]}",
        f"  member cards: {demo_card(config, 1)}, {demo_card(config, 2)}",
        f"  a blocked (lost) card: {blocked_demo_card(config)}",
        f"  a blank card to enrol: {demo_card(config, 900_001)}",
        f"  scan from another terminal: echo {demo_card(config, 1)} > {config.data_dir / 'scan'}",
        f"  receipts: {config.printer_url}, decoded in {receipts}",
        f"  HQ sync server: {hq_url} (database {config.data_dir / 'hq.sqlite3'})",
        dashboard,
        api,
        f"  (both are also in {note}; in the till, F1 shows all of this again)",
    )
    say("\n".join(lines))
    return lines
