"""Cashiers managed at HQ reach the till through the pull (a real server on loopback, HQ's own
CLI): a till with nobody to sign in gets its store's cashiers on the next sync, signs them in
with HQ stopped, and refuses — and signs out — a cashier HQ disabled, once it has pulled."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.pilot import Pilot
from textual.widgets import Static

from syncserver.cli import main as syncserver
from terminal.cli.main import till as till_cli
from terminal.config import TillConfig
from terminal.demo.seed import DEMO_CASHIERS, demo_products
from terminal.store import TillDatabase, open_database
from terminal.store.cashiers import check_pin, enabled_cashier_count
from terminal.sync.client import SyncClient
from terminal.sync.engine import SyncEngine
from terminal.sync.errors import SyncOfflineError
from terminal.sync.worker import SyncWorker
from terminal.till.errors import SignInFailedError
from terminal.till.printing import PrintQueue
from terminal.till.service import Till
from terminal.ui import TillApp
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.screens.sign_in import SignInScreen
from terminal.ui.widgets.message_line import MessageLine
from tests.sync.harness import PATIENT, Hq

DEADLINE_S = 60.0


@dataclass
class FreshTill:
    """A real till straight after set-up: its own empty database, no cashier, no catalog."""

    config: TillConfig
    database: TillDatabase
    client: SyncClient
    engine: SyncEngine

    def till(self) -> Till:
        return Till(self.config, self.database)

    def cashier_row(self, cashier_id: str) -> tuple[object, ...] | None:
        with self.database.read() as db:
            row = db.execute(
                "SELECT name, role, disabled, origin FROM cashiers WHERE cashier_id = ?",
                [cashier_id],
            ).fetchone()
        return None if row is None else tuple(row)


@contextmanager
def fresh_till(hq: Hq, base: Path, store: str = "S001") -> Iterator[FreshTill]:
    terminal_id, token = hq.add_terminal("Front till", store)
    config = TillConfig(
        data_dir=base / terminal_id,
        timezone="UTC",
        terminal_id=terminal_id,
        store_id=store,
        server_url=hq.url,
        server_token=token,
    )
    database = open_database(config.database_path)
    client = SyncClient(hq.url, token, timeout=PATIENT)
    try:
        yield FreshTill(config, database, client, SyncEngine(config, database, client))
    finally:
        client.close()
        database.close()


def _add_store(hq: Hq, store: str) -> None:
    hq.cli("store", "add", store, "--name", f"Store {store}", "--timezone", "UTC")


def test_hq_cashiers_sign_in_offline_and_a_disable_reaches_the_till(hq: Hq, tmp_path: Path) -> None:
    _add_store(hq, "S002")
    with fresh_till(hq, tmp_path) as front:
        till = front.till()
        with front.database.read() as db:
            assert enabled_cashier_count(db) == 0
        with pytest.raises(SignInFailedError):
            till.sign_in("7", "8642")

        hq.cli("cashier", "add", "--store", "S001", "--id", "7", "--name", "Ann", "--pin", "8642")
        hq.cli(
            "cashier", "add", "--store", "S001", "--id", "9", "--name", "Sam", "--pin", "9753",
            "--role", "supervisor",
        )  # fmt: skip
        hq.cli("cashier", "add", "--store", "S002", "--id", "5", "--name", "Eve", "--pin", "1357")
        front.engine.sync_once()
        assert front.cashier_row("7") == ("Ann", "cashier", 0, "hq")
        assert front.cashier_row("9") == ("Sam", "supervisor", 0, "hq")
        assert front.cashier_row("5") is None  # another store's cashier never reaches this till

        # HQ goes away: the cashiers it sent still sign in, offline.
        hq.stop()
        with pytest.raises(SyncOfflineError):
            front.engine.sync_once()
        assert till.sign_in("7", "8642").name == "Ann"
        till.sign_out()
        with pytest.raises(SignInFailedError):
            till.sign_in("7", "2468")
        with pytest.raises(SignInFailedError):
            till.sign_in("5", "1357")
        assert till.sign_in("9", "9753").role == "supervisor"
        till.sign_out()

        # Ann is signed in when HQ disables her; the till hears of it on its next pull.
        assert till.sign_in("7", "8642").cashier_id == "7"
        hq.start()
        hq.cli("cashier", "disable", "7")
        assert till.signed_in_cashier_disabled() is None  # not pulled yet: nothing changes
        front.engine.sync_once()
        assert front.cashier_row("7") == ("Ann", "cashier", 1, "hq")
        assert (
            till.signed_in_cashier_disabled()
            == "Cashier 7 was disabled at HQ and has been signed out"
        )
        with pytest.raises(SignInFailedError):
            front.till().sign_in("7", "8642")

        # Enabled again, with a new PIN: the old one stops working once pulled.
        hq.cli("cashier", "enable", "7")
        hq.cli("cashier", "pin", "7", "--pin", "2468")
        front.engine.sync_once()
        fresh = front.till()
        with pytest.raises(SignInFailedError):
            fresh.sign_in("7", "8642")
        assert fresh.sign_in("7", "2468").name == "Ann"
        assert fresh.signed_in_cashier_disabled() is None


def _catalog_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sku", "description", "category", "price_minor", "tax_rate_bp", "open_price"])
    for p in demo_products(3):
        writer.writerow(
            [p.sku, p.description, p.category, p.price_minor, p.tax_rate_bp, int(p.open_price)]
        )
    return out.getvalue()


async def _wait_for(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until ``condition()`` holds (bounded by a generous deadline)."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {DEADLINE_S} s waiting for {what}")
        await pilot.pause(0.05)


def test_the_till_app_signs_out_a_cashier_hq_disabled(hq: Hq, tmp_path: Path) -> None:
    hq.import_catalog(_catalog_csv())
    hq.cli("cashier", "add", "--store", "S001", "--id", "7", "--name", "Ann", "--pin", "8642")
    with fresh_till(hq, tmp_path) as front:
        front.engine.sync_once()
        till = front.till()
        till.sign_in("7", "8642")
        worker = SyncWorker(front.engine, interval_s=3600)
        # The status (and with it the cashier check) refreshes often, as on a real till.
        app = TillApp(till, PrintQueue(till, None), sync_worker=worker, status_interval_s=0.2)
        sku = demo_products(1)[0].sku

        async def scenario() -> None:
            async with app.run_test(size=(120, 40)) as pilot:
                assert isinstance(app.screen, SaleScreen)
                sale = app.screen
                for key in [*sku, "enter"]:
                    await pilot.press(key)
                await _wait_for(pilot, lambda: len(sale.basket.lines) == 1, "the line")

                hq.cli("cashier", "disable", "7")
                worker.sync_now(force=True)
                await _wait_for(pilot, lambda: isinstance(app.screen, SignInScreen), "sign-in")
                assert till.cashier is None
                assert app.screen.query_one(MessageLine).text == (
                    "Cashier 7 was disabled at HQ and has been signed out"
                )
                with front.database.read() as db:  # the open sale is kept, not discarded
                    kept = db.execute("SELECT COUNT(*) FROM open_sale").fetchone()[0]
                assert kept == 1
                # Ann's PIN no longer signs anyone in here; with nobody else enabled, the
                # screen says so and how to add someone — not "PIN is wrong".
                screen = app.screen
                assert isinstance(screen, SignInScreen)
                await _wait_for(pilot, lambda: screen.cashiers == 0, "the cashier count")
                for key in ["7", "enter", *"8642", "enter"]:
                    await pilot.press(key)
                assert app.screen is screen
                assert till.cashier is None
                assert screen.query_one(MessageLine).text == (
                    "Nobody can sign in yet: this till has no cashiers (see below)"
                )
                help_text = str(screen.query_one("#no-cashiers", Static).content)
                assert "syncserver cashier add --store S001 --id" in help_text

        asyncio.run(scenario())


def test_the_demo_hq_holds_the_demo_cashiers_the_till_pulls(tmp_path: Path) -> None:
    """``till demo``: HQ's Cashiers list has the demo cashiers, and the till's copies (seeded
    locally, then pulled) are HQ's and sign in with the demo PINs."""
    data = tmp_path / "demo"
    args = ["demo", "--data", str(data), "--members", "10", "--products", "5", "--no-ui"]
    result = CliRunner().invoke(till_cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    listed = CliRunner().invoke(
        syncserver, ["cashier", "list", "--db", f"sqlite:///{data / 'hq.sqlite3'}"]
    )
    assert listed.exit_code == 0, listed.output
    hq_side = [
        (c["cashier_id"], c["name"], c["role"], c["active"]) for c in json.loads(listed.stdout)
    ]
    assert hq_side == [(i, name, role, True) for i, name, _pin, role in DEMO_CASHIERS]
    database = open_database(data / "till.sqlite3")
    try:
        with database.read() as db:
            rows = db.execute(
                "SELECT cashier_id, origin, disabled FROM cashiers ORDER BY cashier_id"
            ).fetchall()
            assert [tuple(r) for r in rows] == [("1", "hq", 0), ("9", "hq", 0)]
            for cashier_id, name, pin, _role in DEMO_CASHIERS:
                signed = check_pin(db, cashier_id, pin)
                assert signed is not None
                assert signed.name == name
    finally:
        database.close()
