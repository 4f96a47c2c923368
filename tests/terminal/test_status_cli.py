"""``till status``: it never creates a database where there was none, and ``online`` means a
successful sync with HQ within the last minute — not the state the till last recorded.
Against a real HQ (uvicorn on loopback, SQLite file)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result

from syncserver.embedded import serve_in_thread
from syncserver.hq.setup import CLI, initialise
from syncserver.hq.stores import StoreFields, create_store
from syncserver.hq.terminals import register_terminal
from syncserver.storage.database import Database
from terminal.cli.main import till as till_cli
from terminal.store import open_database
from terminal.store.settings import set_setting


def _status(config: Path) -> Result:
    return CliRunner().invoke(till_cli, ["status", "--config", str(config)])


def _write(path: Path, data: Path, terminal_id: str, url: str, token: str) -> Path:
    path.write_text(
        f'[till]\ndata_dir = "{data}"\nterminal_id = "{terminal_id}"\n'
        f'server_url = "{url}"\nserver_token = "{token}"\n',
        encoding="utf-8",
    )
    return path


def test_status_without_a_database_says_what_to_do_and_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "never-synced"
    config = _write(tmp_path / "till.toml", data, "T0001", "http://127.0.0.1:9", "t")
    result = _status(config)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"till: no till database at {data / 'till.sqlite3'} yet: run `till sync --config "
        f"{config} --once` for its first download"
    ]
    assert not data.exists()
    bare = tmp_path / "bare.toml"
    bare.write_text(f'[till]\ndata_dir = "{data}"\n', encoding="utf-8")
    result = _status(bare)
    assert result.exit_code == 1
    assert "till setup --server URL --code CODE" in result.output
    assert not data.exists()


def test_online_means_a_successful_sync_within_the_last_minute(tmp_path: Path) -> None:
    hq_db = Database(f"sqlite:///{tmp_path / 'hq.sqlite3'}")
    initialise(hq_db)
    create_store(hq_db, CLI, StoreFields("S001", "Harbour Grocers", timezone="UTC"))
    added = register_terminal(hq_db, CLI, "S001", "Till 1")
    data = tmp_path / "till"
    try:
        with serve_in_thread(hq_db) as url:
            config = _write(tmp_path / "till.toml", data, added.terminal_id, url, added.token)
            synced = CliRunner().invoke(till_cli, ["sync", "--once", "--config", str(config)])
            assert synced.exit_code == 0, synced.output
            state = json.loads(_status(config).stdout)
            assert (state["sync_state"], state["online"]) == ("online", True)
            assert state["last_contact"] is not None

            # The last good contact is older than a minute: the recorded state still says
            # "online", but the till is not shown online.
            database = open_database(data / "till.sqlite3")
            stale = (datetime.now(UTC) - timedelta(seconds=61)).isoformat()
            with database.write() as db:
                set_setting(db, "last_contact_at", stale)
            database.close()
            state = json.loads(_status(config).stdout)
            assert (state["sync_state"], state["online"]) == ("online", False)

            again = CliRunner().invoke(till_cli, ["sync", "--once", "--config", str(config)])
            assert again.exit_code == 0, again.output
            assert json.loads(_status(config).stdout)["online"] is True
        # HQ gone: the next sync fails, and the till is offline at once.
        failed = CliRunner().invoke(till_cli, ["sync", "--once", "--config", str(config)])
        assert failed.exit_code == 1
        state = json.loads(_status(config).stdout)
        assert (state["sync_state"], state["online"]) == ("offline", False)
    finally:
        hq_db.dispose()
