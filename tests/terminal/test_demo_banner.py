"""``till demo`` hands over a staff API token with the dashboard's password, and both runs of
the same demo (the first sets HQ up, a later one reuses it) print one that works."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from click.testing import CliRunner

from syncserver.embedded import serve_in_thread
from syncserver.storage.database import Database
from terminal.cli.main import till

TOKEN = re.compile(
    r"HQ API: http://127\.0\.0\.1:\d+/api/v1/ with header 'Authorization: Bearer (\S+)'"
)


def test_the_demo_prints_a_staff_api_token_that_works(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    args = ["demo", "--data", str(data), "--members", "20", "--products", "10", "--no-ui"]
    first = CliRunner().invoke(till, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    found = TOKEN.search(first.output)
    assert found, first.output
    token = found.group(1)
    assert "F1 shows all of this again" in first.output
    assert f"Bearer {token}" in (data / "hq-dashboard.txt").read_text("utf-8")

    again = CliRunner().invoke(till, args, catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert f"Bearer {token}" in again.output

    database = Database(f"sqlite:///{data / 'hq.sqlite3'}")
    try:
        with serve_in_thread(database) as url, httpx.Client(base_url=url, timeout=60) as client:
            refused = client.get("/api/v1/terminals", headers={"Authorization": "Bearer nope"})
            assert refused.status_code == 401
            listed = client.get("/api/v1/terminals", headers={"Authorization": f"Bearer {token}"})
            assert listed.status_code == 200, listed.text
    finally:
        database.dispose()
