"""One meaning per word between the till's screen and its command line: redeeming "0" and
"" mean the same in both, the command line never names the screen's keys, and ``till sync``
without ``--once`` keeps syncing until it is stopped."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncserver.storage.database import Database
from terminal.cli.main import till as till_cli
from terminal.config import TillConfig
from terminal.demo.seed import blocked_demo_card, demo_card
from terminal.till.errors import command_line_words
from terminal.till.printing import PrintQueue
from terminal.till.service import Till
from terminal.ui import TillApp
from terminal.ui.screens.sale import SaleScreen
from tests.sync.harness import running_hq, till_config_file, wait_for
from tests.terminal.helpers import products
from tests.ui.helpers import KeyClock, press, type_text

ROOT = Path(__file__).resolve().parents[2]
TILL_KEY = re.compile(r"\b(F\d{1,2}|Ctrl[+-][A-BE-Z]|Esc|Del)\b")
"""A key of the till's screen named in text (Ctrl+C and Ctrl+D are the terminal's own)."""
DEADLINE_S = 60.0


@pytest.fixture
def env(config: TillConfig, database) -> dict[str, str]:
    return {
        "LOYALTILL_DATA_DIR": str(config.data_dir),
        "LOYALTILL_TIMEZONE": "Europe/Berlin",
        "LOYALTILL_TERMINAL_ID": config.terminal_id,
        "LOYALTILL_CASHIER": "1",
        "LOYALTILL_PIN": "1234",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(till_cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def redeemed_on_screen(till: Till, card: str, skus: list[str], typed: str) -> int:
    """Points the till's redeem prompt (F5) takes for ``typed``; the sale is not completed."""
    app = TillApp(till, PrintQueue(till, None), monotonic=KeyClock(), status_interval_s=3600)

    async def drive() -> int:
        async with app.run_test(size=(120, 40)) as pilot:
            sale = app.screen
            assert isinstance(sale, SaleScreen)
            sale.attach(card)
            for sku in skus:
                till.add_product(sale.basket, sku)
            await press(pilot, "f5")
            await type_text(pilot, typed, "enter")
            redemption = sale.basket.redemption
            till.discard_open_sale()  # leave nothing behind for the next start
            return redemption.points if redemption else 0

    return asyncio.run(drive())


def test_redeem_zero_and_empty_mean_the_same_on_screen_and_in_till_sale(
    env, till, config, database
) -> None:
    card = demo_card(config, 9)
    skus = [product.sku for product in products(database)[:3]]
    lines = [arg for sku in skus for arg in ("--line", f"{sku}:1")]

    assert redeemed_on_screen(till, card, skus, "0") == 0
    code, out = run(env, "sale", "--card", card, *lines, "--redeem", "0", "--tender", "cash:")
    assert code == 0, out
    assert json.loads(out)["points_redeemed"] == 0

    most = redeemed_on_screen(till, card, skus, "")
    assert most > 0
    code, out = run(env, "sale", "--card", card, *lines, "--redeem", "", "--tender", "cash:")
    assert code == 0, out
    assert json.loads(out)["points_redeemed"] == most

    code, out = run(env, "sale", "--card", card, *lines, "--redeem", "lots", "--tender", "cash:")
    assert code == 1
    assert out.strip() == "till: lots is not a number of points — type e.g. 500, 0 for none, or max"


def test_the_command_line_never_names_the_screens_keys(env, config, database) -> None:
    sku = products(database)[0].sku
    outputs = [
        run(env, "balance", demo_card(config, 99_999)),  # "enrol the customer (F6)" on screen
        run(env, "balance", blocked_demo_card(config)),
        run(env, "sale", "--line", f"{sku}:1", "--redeem", "500", "--tender", "cash:"),
        run(
            env,
            "sale",
            "--card",
            demo_card(config, 99_999),
            "--line",
            f"{sku}:1",
            "--tender",
            "cash:",
        ),
    ]
    for command in ("--help", "sale --help", "sync --help", "balance --help"):
        outputs.append(run(env, *command.split()))
    for _code, out in outputs:
        assert out.strip()
        assert not TILL_KEY.search(out), out
    assert "enrol the customer (`till enrol`) to assign it" in outputs[0][1]


def test_every_key_the_tills_refusals_name_is_worded_for_the_command_line() -> None:
    """Every string in the till's core that names a key reads without it on a command line
    (the screen shows ``message`` and ``next_step``; ``str()`` is what commands print)."""
    named = []
    for path in sorted((ROOT / "terminal" / "till").glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and TILL_KEY.search(node.value)
            ):
                named.append((path.name, node.value))
    assert named, "the core names the screen's keys somewhere (F4, F5, F6)"
    for where, text in named:
        if where == "errors.py":
            continue  # the mapping itself
        assert not TILL_KEY.search(command_line_words(text)), (where, text)


def test_till_sync_without_once_keeps_syncing_until_sigterm(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'hq.sqlite3'}")
    base = tmp_path / "hq"
    base.mkdir()
    try:
        with running_hq(database, base) as hq:
            till = hq.open_till(tmp_path / "tills")
            config_path = till_config_file(tmp_path, till, hq.url)
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from terminal.cli.main import main; main()",
                    "sync",
                    "--config",
                    str(config_path),
                    "--interval",
                    "0.5",
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            output: list[str] = []
            assert child.stdout is not None
            reader = threading.Thread(
                target=lambda: output.extend(iter(child.stdout.readline, "")),  # type: ignore[union-attr]
                daemon=True,
            )
            reader.start()
            try:
                first = till.sale(None)
                wait_for(lambda: hq.acked(till.terminal_id) >= first.seq, "the first sale")
                second = till.sale(None)  # a later round picks this one up too
                wait_for(lambda: hq.acked(till.terminal_id) >= second.seq, "the second sale")
                assert child.poll() is None, "".join(output)
                os.kill(child.pid, signal.SIGTERM)
                assert child.wait(timeout=DEADLINE_S) == 0, "".join(output)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait(timeout=DEADLINE_S)
            reader.join(DEADLINE_S)
            child.stdout.close()
            text = "".join(output)
            assert f"syncing with {hq.url} every 0.5 s — Ctrl+C stops" in text
            # A round pushes until nothing is unsent, so the second sale may ride in the
            # first round (when it lands mid-round) or in a later one: count, not position.
            pushed = [int(n) for n in re.findall(r"synced: pushed (\d+)", text)]
            assert sum(pushed) == 2, text
            assert text.rstrip().endswith("stopped; 0 entries unsent")
            assert "Traceback" not in text
    finally:
        database.dispose()
