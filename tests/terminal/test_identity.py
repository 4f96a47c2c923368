"""A till database belongs to the till and store it was created with: every command that
opens it with a configuration for another terminal or store refuses with one line, a
non-zero exit and nothing written (not even a migration)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from terminal.cli.main import till as till_cli
from terminal.cli.run import _run_app
from terminal.config import TillConfig
from terminal.store import open_database
from terminal.store.identity import (
    IdentityMismatchError,
    TillIdentity,
    open_for_config,
    read_identity,
)


def _fingerprint(data_dir: Path) -> dict[str, str]:
    """Every file in the data directory and its content hash: 'nothing written'."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(data_dir.iterdir())
    }


def _env(data_dir: Path, terminal_id: str, store_id: str) -> dict[str, str]:
    return {
        "LOYALTILL_DATA_DIR": str(data_dir),
        "LOYALTILL_TERMINAL_ID": terminal_id,
        "LOYALTILL_STORE_ID": store_id,
        "LOYALTILL_SERVER_URL": "http://127.0.0.1:9",
        "LOYALTILL_SERVER_TOKEN": "t",
        "LOYALTILL_CASHIER": "1",
        "LOYALTILL_PIN": "1234",
    }


def test_first_open_records_the_identity_and_a_mismatch_is_refused(tmp_path: Path) -> None:
    mine = TillConfig(data_dir=tmp_path / "till", terminal_id="T0001", store_id="S001")
    database = open_for_config(mine)
    database.close()
    assert read_identity(mine.database_path) == TillIdentity("T0001", "S001")
    open_for_config(mine).close()  # the same till again: fine

    for other in (
        mine.model_copy(update={"terminal_id": "T0002"}),
        mine.model_copy(update={"store_id": "S002"}),
    ):
        with pytest.raises(IdentityMismatchError, match="belongs to till T0001 of store S001"):
            open_for_config(other)


def test_a_database_from_before_identities_takes_the_first_config(tmp_path: Path) -> None:
    config = TillConfig(data_dir=tmp_path / "till", terminal_id="T0007", store_id="S003")
    open_database(config.database_path).close()  # as every earlier release created it
    assert read_identity(config.database_path) is None
    open_for_config(config).close()
    assert read_identity(config.database_path) == TillIdentity("T0007", "S003")


@pytest.mark.parametrize(
    "command",
    [
        ("status",),
        ("balance", "9826000000000011"),
        ("sale", "--line", "X:1", "--tender", "cash:1.00"),
        ("enrol", "--name", "Ann", "--card", "9826000009000012"),
        ("sync", "--once", "--quiet"),
        ("journal", "verify"),
    ],
)
def test_every_command_refuses_another_tills_database_writing_nothing(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    data = tmp_path / "till"
    open_for_config(TillConfig(data_dir=data, terminal_id="T0001", store_id="S001")).close()
    # The WAL file is folded in, so any later write would show in the files' content.
    with sqlite3.connect(data / "till.sqlite3") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _fingerprint(data)
    for terminal_id, store_id in (("T0002", "S001"), ("T0001", "S009")):
        result = CliRunner().invoke(
            till_cli, list(command), env=_env(data, terminal_id, store_id), catch_exceptions=False
        )
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert lines == [
            f"till: {data / 'till.sqlite3'} belongs to till T0001 of store S001, but the "
            f"configuration is for till {terminal_id} of store {store_id}: give this till its "
            "own data_dir (or use that till's configuration); nothing was changed"
        ]
        assert _fingerprint(data) == before


def test_the_tui_refuses_another_tills_database_before_it_starts(tmp_path: Path) -> None:
    data = tmp_path / "till"
    open_for_config(TillConfig(data_dir=data, terminal_id="T0001")).close()
    with pytest.raises(SystemExit) as stopped:
        _run_app(TillConfig(data_dir=data, terminal_id="T0002"))
    assert stopped.value.code == 2
