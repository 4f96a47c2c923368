"""The scriptable ``till`` commands, through click's runner, on a real seeded database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from terminal.cli.main import till
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from tests.terminal.helpers import products


@pytest.fixture
def env(config: TillConfig, database) -> dict[str, str]:
    return {
        "LOYALTILL_DATA_DIR": str(config.data_dir),
        "LOYALTILL_TIMEZONE": "Europe/Berlin",
        "LOYALTILL_CASHIER": "1",
        "LOYALTILL_PIN": "1234",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(till, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_sale_enrol_balance_and_status(env, config, database) -> None:
    sku = products(database)[0].sku
    card = demo_card(config, 1)
    code, out = run(env, "balance", card)
    assert code == 0, out
    before = json.loads(out)["balance"]

    code, out = run(env, "sale", "--card", card, "--line", f"{sku}:3", "--tender", "cash:50.00")
    assert code == 0, out
    sale = json.loads(out)
    assert sale["seq"] == 1
    assert sale["printed"] is False
    assert "no receipt printer" in sale["print_message"]
    assert json.loads(run(env, "balance", card)[1])["balance"] == before + sale["points_earned"]

    blank = demo_card(config, 80_000)
    code, out = run(
        env, "enrol", "--name", "Ana Lima", "--email", "ana@example.com", "--card", blank
    )
    assert code == 0, out
    assert json.loads(run(env, "balance", blank)[1])["balance"] == 0

    status = json.loads(run(env, "status")[1])
    assert status["last_seq"] == 2
    assert status["unsent_entries"] == 2
    assert status["print_queue"] == 1
    assert status["online"] is False


def test_refusals_exit_non_zero_with_the_reason(env, config, database) -> None:
    sku = products(database)[0].sku
    code, out = run(env, "sale", "--line", f"{sku}:1", "--tender", "card:999.00")
    assert code == 1
    assert "cannot be more than" in out
    code, out = run(env, "balance", demo_card(config, 99_999))
    assert code == 1
    assert "not registered" in out
    code, out = run(env, "sale", "--line", "nonsense", "--tender", "cash:1")
    assert code == 1
    assert "SKU:QTY" in out
    code, out = run({**env, "LOYALTILL_PIN": "0000"}, "status")
    assert code == 0  # status needs no cashier
    code, out = run(
        {**env, "LOYALTILL_PIN": "0000"}, "sale", "--line", f"{sku}:1", "--tender", "cash:"
    )
    assert code == 1
    assert "PIN is wrong" in out
    assert json.loads(run(env, "status")[1])["last_seq"] == 0


def test_journal_export_and_verify_names_the_first_broken_link(env, config, database) -> None:
    sku = products(database)[0].sku
    for _ in range(3):
        assert run(env, "sale", "--line", f"{sku}:1", "--tender", "cash:")[0] == 0
    code, out = run(env, "journal", "verify")
    assert code == 0
    assert json.loads(out)["entries"] == 3
    lines = run(env, "journal", "export", "--since", "1")[1].splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [2, 3]

    # Someone edits the database behind the till's back (triggers dropped first).
    conn = sqlite3.connect(Path(config.database_path))
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("UPDATE journal SET record = replace(record, '\"C', '\"X') WHERE seq = 2")
    conn.execute(
        "UPDATE journal SET record = replace(record, 'cashier_id\":\"1', "
        "'cashier_id\":\"7') WHERE seq = 2"
    )
    conn.commit()
    conn.close()
    code, out = run(env, "journal", "verify")
    assert code == 1
    assert "edited at seq 2" in out
