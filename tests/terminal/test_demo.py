"""``make demo``'s command, without the UI: the embedded HQ is set up, the till syncs, and the
HQ dashboard's address and admin password are handed to the user (privately)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import httpx
from click.testing import CliRunner

from syncserver.embedded import serve_in_thread
from syncserver.settings import ServerSettings
from syncserver.storage.database import Database
from terminal.cli.main import till


def test_demo_sets_up_hq_and_hands_over_the_dashboard(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    args = ["demo", "--data", str(data), "--members", "30", "--products", "10", "--no-ui"]
    result = CliRunner().invoke(till, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "HQ dashboard: http://127.0.0.1:" in result.output

    note = data / "hq-dashboard.txt"
    assert stat.S_IMODE(note.stat().st_mode) == 0o600
    found = re.search(r"sign in as admin, password (\S+)\)", note.read_text("utf-8"))
    assert found, note.read_text("utf-8")

    # The password really opens the dashboard of the demo's HQ database.
    database = Database(f"sqlite:///{data / 'hq.sqlite3'}")
    try:
        # Password checks at normal priority, as tests/server/hq/helpers.TEST_SETTINGS explains.
        settings = ServerSettings(sign_in_hash_niceness=0)
        with (
            serve_in_thread(database, settings=settings) as url,
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            wrong = client.post("/signin", data={"username": "admin", "password": "nope"})
            assert wrong.status_code == 401
            right = client.post("/signin", data={"username": "admin", "password": found.group(1)})
            assert right.status_code == 303
    finally:
        database.dispose()

    # A second start reuses the HQ and still knows the password.
    again = CliRunner().invoke(till, args, catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert found.group(1) in again.output
