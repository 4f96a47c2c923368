"""``syncserver serve --log-format json``: a real server process on loopback writes one JSON
line per request (and no uvicorn access line beside it)."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from syncserver.storage.database import Database
from tests.server.helpers import prepare, push
from tests.server.journal import JournalWriter, card, member_ref

_LISTENING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")
_STARTUP_TIMEOUT_S = 60.0
"""Only guards against a server that never starts or never logs: a busy machine is slow."""


@dataclass
class _Stream:
    """A pipe's lines, read as they come (the server never blocks on a full pipe)."""

    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def drain(self, pipe: IO[str]) -> None:
        for line in pipe:
            self.lines.put(line)

    def wait_for(self, wanted: Any) -> str:
        """The first line (read so far or yet to come) for which ``wanted`` holds."""
        for line in self.seen:
            if wanted(line):
                return line
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if wanted(line):
                return line
        raise AssertionError("never logged; seen:\n" + "".join(self.seen))

    def rest(self) -> list[str]:
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return self.seen


@dataclass
class _Serving:
    url: str
    stdout: _Stream
    stderr: _Stream


@contextmanager
def _serve(db_url: str, *options: str, env: dict[str, str] | None = None) -> Iterator[_Serving]:
    process = subprocess.Popen(
        [sys.executable, "-m", "syncserver.cli", "serve", "--db", db_url, "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LOYALTILL_SERVER_POOL_SIZE": "4", **(env or {})},
    )
    assert process.stdout is not None
    assert process.stderr is not None
    out, err = _Stream(), _Stream()
    drains = [
        threading.Thread(target=out.drain, args=(process.stdout,), daemon=True),
        threading.Thread(target=err.drain, args=(process.stderr,), daemon=True),
    ]
    for drain in drains:
        drain.start()
    try:
        listening = err.wait_for(_LISTENING.search)
        found = _LISTENING.search(listening)
        assert found is not None
        yield _Serving(found.group(1), out, err)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for drain in drains:
            drain.join(timeout=10)
        process.stdout.close()
        process.stderr.close()


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: how a request is logged does not depend on the database, and each case
    starts a real server process."""
    path = tmp_path / "server.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def _json_lines(lines: list[str]) -> list[dict[str, Any]]:
    parsed = []
    for line in lines:
        value = json.loads(line)  # every line is one JSON object, nothing else
        assert isinstance(value, dict), line
        parsed.append(value)
    return parsed


@pytest.mark.parametrize(
    ("options", "env"),
    [
        pytest.param(("--log-format", "json"), {}, id="option"),
        pytest.param((), {"LOYALTILL_SERVER_LOG_FORMAT": "json"}, id="environment"),
    ],
)
def test_json_mode_logs_one_json_line_per_request(
    db_url: str, options: tuple[str, ...], env: dict[str, str]
) -> None:
    database = Database(db_url)
    try:
        server = prepare(database)
        terminal_id, token = server.terminal()
    finally:
        database.dispose()
    till = JournalWriter(terminal_id)
    till.sale(member_ref(card(1), "M0000000001"))
    till.close_shift()
    with _serve(db_url, *options, env=env) as serving:
        with httpx.Client(base_url=serving.url, timeout=60) as client:
            assert client.get("/healthz").status_code == 200
            reply = push(client, token, terminal_id, till.records)
            assert reply.status_code == 200, reply.text
            assert client.get("/api/v1/members/M0000000001").status_code == 401
        serving.stdout.wait_for(lambda line: "/api/v1/members/{member_id}" in line)
        stdout = serving.stdout.rest()
    requests = _json_lines(stdout)
    by_route = {line["route"]: line for line in requests}
    assert [line["route"] for line in requests] == [
        "/healthz",
        "/api/v1/sync/push",
        "/api/v1/members/{member_id}",
    ]  # one line per request
    pushed = by_route["/api/v1/sync/push"]
    assert pushed["method"] == "POST"
    assert pushed["status"] == 200
    assert pushed["terminal"] == terminal_id
    assert pushed["entries"] == len(till.records)
    assert pushed["client"] == "127.0.0.1"
    assert pushed["level"] == "INFO"
    assert pushed["time"].endswith("Z")
    for line in requests:
        assert isinstance(line["duration_ms"], float)
        assert line["duration_ms"] >= 0
    refused = by_route["/api/v1/members/{member_id}"]
    assert refused["status"] == 401
    assert "terminal" not in refused
    assert "entries" not in refused
    # uvicorn's own access line is off, and its other messages are JSON too.
    stderr = serving.stderr.rest()
    assert not any("HTTP/1.1" in line for line in stdout + stderr)
    assert any("Uvicorn running on" in line["message"] for line in _json_lines(stderr))


def test_text_mode_keeps_uvicorn_access_log(db_url: str) -> None:
    database = Database(db_url)
    try:
        prepare(database, with_members=False)
    finally:
        database.dispose()
    with _serve(db_url) as serving:
        assert httpx.get(f"{serving.url}/healthz", timeout=60).status_code == 200
        access = serving.stdout.wait_for(lambda line: "/healthz" in line)
    assert '"GET /healthz HTTP/1.1" 200' in access
    with pytest.raises(json.JSONDecodeError):
        json.loads(access)
