"""``till setup`` against a real HQ (uvicorn on loopback; SQLite file and PostgreSQL): the
one-time code becomes a private ``till.toml`` with the till's identity, token and store, the
token ``terminal add`` printed stops working, the till syncs and its receipts carry the
store's name and address; a config of another till is not overwritten without ``--force``;
refusals are one line."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from shared.journal import Sale, TenderMethod
from syncserver.cli import main as syncserver
from syncserver.embedded import serve_in_thread
from syncserver.storage.database import Database
from terminal.cli.main import till as till_cli
from terminal.config import load_config
from terminal.demo.seed import seed_cashiers_and_offers
from terminal.store import open_database
from terminal.till.receipts import receipt_for_entry
from terminal.till.service import Till

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _hq(db: str, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(syncserver, [*args, "--db", db], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout) if result.stdout.startswith("{") else {}
    return parsed


def _till(*args: str) -> Result:
    return CliRunner().invoke(till_cli, list(args), catch_exceptions=False)


@pytest.fixture
def hq(db_url: str) -> Iterator[tuple[str, str]]:
    """(database URL, server URL) of an HQ with one store, the example catalog and rules."""
    _hq(db_url, "init")
    _hq(
        db_url,
        "store",
        "add",
        "S001",
        "--name",
        "Harbour Grocers",
        "--address",
        "12 Quay St",
        "--address",
        "20457 Hamburg",
        "--timezone",
        "Europe/Berlin",
        "--country",
        "DE",
    )
    _hq(db_url, "catalog", "import", str(EXAMPLES / "products.csv"))
    database = Database(db_url)
    try:
        with serve_in_thread(database) as url:
            yield db_url, url
    finally:
        database.dispose()


def test_setup_writes_a_private_config_the_till_syncs_and_prints_with(
    hq: tuple[str, str], tmp_path: Path
) -> None:
    db, url = hq
    added = _hq(db, "terminal", "add", "--store", "S001", "--name", "Till 1")
    config_path = tmp_path / "till.toml"
    data = tmp_path / "till1-data"

    done = _till(
        "setup", "--server", url, "--code", added["code"], "--config", str(config_path),
        "--data-dir", str(data),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "Till T0001 (Till 1) of Harbour Grocers (S001) is set up" in done.output
    assert f"till sync --once --config {config_path}" in done.output
    assert f"till run --config {config_path}" in done.output
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600  # it holds the token
    assert not data.exists()  # nothing but the config is written yet

    config = load_config(config_path)
    assert (config.terminal_id, config.store_id, config.store_name) == (
        "T0001",
        "S001",
        "Harbour Grocers",
    )
    assert config.store_address == ("12 Quay St", "20457 Hamburg")
    assert (config.timezone, config.country, config.data_dir) == ("Europe/Berlin", "DE", data)
    assert config.server_url == url
    assert config.server_token not in (None, added["token"])
    with httpx.Client(base_url=url, timeout=30) as client:
        old = client.get(
            "/api/v1/sync/status", headers={"Authorization": f"Bearer {added['token']}"}
        )
        assert old.status_code == 401  # replaced by the token in till.toml

    synced = _till("sync", "--once", "--quiet", "--config", str(config_path))
    assert synced.exit_code == 0, synced.output
    assert json.loads(synced.stdout)["unsent"] == 0
    status = json.loads(_till("status", "--config", str(config_path)).stdout)
    assert (status["terminal_id"], status["online"]) == ("T0001", True)

    # A sale's receipt is headed with the store as HQ has it.
    database = open_database(config.database_path)
    try:
        seed_cashiers_and_offers(database)
        till = Till(config, database)
        till.sign_in("1", "1234")
        basket = till.new_basket()
        till.add_product(basket, "4006040012344", 2)
        till.add_tender(basket, TenderMethod.CASH, None)
        sale = till.complete_sale(basket)
        assert isinstance(sale.entry.payload, Sale)
        receipt = receipt_for_entry(sale.entry, config, balance_after=None, tier_after=None)
        assert receipt.store.name == "Harbour Grocers"
        assert tuple(receipt.store.address_lines) == ("12 Quay St", "20457 Hamburg")
    finally:
        database.close()


def test_setup_keeps_a_config_of_another_till_unless_forced(
    hq: tuple[str, str], tmp_path: Path
) -> None:
    db, url = hq
    one = _hq(db, "terminal", "add", "--store", "S001", "--name", "Till 1")
    two = _hq(db, "terminal", "add", "--store", "S001", "--name", "Till 2")
    config_path = tmp_path / "till.toml"
    data = str(tmp_path / "data")
    first = _till("setup", "--server", url, "--code", one["code"], "--config", str(config_path))
    assert first.exit_code == 0, first.output
    # Set up again for the same till (a fresh code): its own extra settings stay.
    with config_path.open("a", encoding="utf-8") as out:
        out.write('printer_url = "tcp://10.0.0.5:9100"\n')
    again = _hq(db, "terminal", "code", one["terminal_id"])
    redo = _till(
        "setup", "--server", url, "--code", again["code"], "--config", str(config_path),
        "--data-dir", data,
    )  # fmt: skip
    assert redo.exit_code == 0, redo.output
    kept = load_config(config_path)
    assert (kept.terminal_id, kept.printer_url, str(kept.data_dir)) == (
        "T0001",
        "tcp://10.0.0.5:9100",
        data,
    )
    before = config_path.read_bytes()

    other = _till("setup", "--server", url, "--code", two["code"], "--config", str(config_path))
    assert other.exit_code == 1
    assert "is the configuration of till T0001" in other.output
    assert "syncserver terminal code T0002" in other.output
    assert config_path.read_bytes() == before  # nothing written
    fresh = _hq(db, "terminal", "code", two["terminal_id"])
    forced = _till(
        "setup", "--server", url, "--code", fresh["code"], "--config", str(config_path),
        "--data-dir", str(tmp_path / "data2"), "--force",
    )  # fmt: skip
    assert forced.exit_code == 0, forced.output
    replaced = load_config(config_path)
    assert (replaced.terminal_id, replaced.printer_url) == ("T0002", None)


def test_setup_refusals_are_one_line_with_the_next_step(
    hq: tuple[str, str], tmp_path: Path
) -> None:
    db, url = hq
    added = _hq(db, "terminal", "add", "--store", "S001", "--name", "Till 1")
    config_path = tmp_path / "till.toml"
    cases = [
        (("--server", url, "--code", "AAAA-BBBB-CCCC-DDDD"), "unknown set-up code"),
        (("--server", url, "--code", "nope"), "16 letters and digits"),
        (("--server", "hq.example:8080", "--code", added["code"]), "http:// or https://"),
        (("--server", "http://127.0.0.1:9", "--code", added["code"]), "cannot reach HQ"),
    ]
    for args, words in cases:
        refused = _till("setup", *args, "--config", str(config_path))
        assert refused.exit_code != 0, args
        assert words in refused.output, refused.output
        assert len(refused.output.strip().splitlines()) == 1, refused.output
        assert not config_path.exists()
    ok = _till("setup", "--server", url, "--code", added["code"], "--config", str(config_path))
    assert ok.exit_code == 0, ok.output
    used = _till(
        "setup", "--server", url, "--code", added["code"], "--config", str(tmp_path / "b.toml")
    )
    assert used.exit_code == 1
    assert "already used" in used.output
    assert "syncserver terminal code T0001" in used.output
