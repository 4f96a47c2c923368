"""README's "Running HQ and several tills for real", run as a reader runs it.

The shell blocks of that section are taken from README.md and run line by line in fresh
processes, substituting only what a reader substitutes: the database URL, HQ's address and
port, the till's set-up code (from ``terminal add``'s output), and where the tills keep their
files. HQ runs on a new SQLite file and on a new PostgreSQL database. Two tills are set up
with ``till setup`` and sync; then HQ is stopped and cashier 7 sells, earns and redeems on
both tills (``till sale``: ``till run`` needs a screen); HQ starts again, the tills sync, and
HQ's API shows the balances the sales add up to, with ``ledger rebuild --check`` clean.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server_databases import PgCluster
from tests.sync.harness import wait_for

ROOT = Path(__file__).resolve().parents[1]
SECTION = "### Running HQ and several tills for real"
BIN = Path(sys.executable).parent
"""Where this venv's ``syncserver`` and ``till`` are: the README's ``.venv/bin/``."""

# What the README writes and a reader replaces with their own.
README_SERVER = "http://hq.example:8080"
README_CODE = "KTUD-VKSJ-MQ9H-PVM7"
README_CONFIG = "till.toml"
README_DATA = "/var/lib/loyaltill"

ANN = ("--cashier", "7", "--pin", "4711")
ANNA_CARD = "9826000000100019"  # M1001 in examples/members.csv, 1,200 opening points
LUCJA_CARD = "9826000000100027"  # M1002, 3,400


def readme_blocks() -> list[list[str]]:
    """The section's shell blocks, as lists of command lines."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start)
    blocks = re.findall(r"```sh\n(.*?)```", text[start:end], flags=re.DOTALL)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _argv(tokens: list[str]) -> list[str]:
    program = tokens[0]
    assert program.startswith(".venv/bin/"), f"the README runs {program} from .venv/bin"
    return [str(BIN / program.removeprefix(".venv/bin/")), *tokens[1:]]


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@contextmanager
def _serving(argv: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    """``syncserver serve`` in the background (the reader's second terminal), until healthy."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL
        )
    try:
        url = f"http://127.0.0.1:{argv[argv.index('--port') + 1]}"

        def healthy() -> bool:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, "HQ to answer /healthz", timeout_s=120, interval_s=0.2)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Hq:
    """The README's HQ block, run with the reader's substitutions."""

    def __init__(self, db_url: str, tmp_path: Path) -> None:
        self.env = {**os.environ, "LOYALTILL_SERVER_POOL_SIZE": "4"}
        self.db_url = db_url
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "serve.log"
        self.serve_argv: list[str] = []
        self.admin_token = ""
        self.codes: list[str] = []

    def run_block(self, lines: list[str]) -> None:
        for line in lines:
            tokens = shlex.split(line, comments=True)
            if tokens[0] == "export":
                name, _, value = tokens[1].partition("=")
                assert name == "LOYALTILL_SERVER_DB"
                assert value.startswith("sqlite:///")
                self.env[name] = self.db_url
                continue
            argv = _argv(tokens)
            if tokens[1] == "serve":
                argv[argv.index("--host") + 1] = "127.0.0.1"
                argv[argv.index("--port") + 1] = str(self.port)
                self.serve_argv = argv
                continue  # started below, like a reader's server in its own terminal
            done = _run(argv, self.env)
            assert done.returncode == 0, (line, done.stdout, done.stderr)
            assert "Traceback" not in done.stderr
            if tokens[1] == "init":
                self.admin_token = json.loads(done.stdout)["admin"]["token"]
            if tokens[1:3] == ["terminal", "add"]:
                self.codes.append(json.loads(done.stdout)["code"])
        assert self.serve_argv, "the README's HQ block ends by serving"

    def serving(self) -> Any:
        return _serving(self.serve_argv, self.env, self.log)

    def balance(self, member_id: str) -> int:
        reply = httpx.get(
            f"{self.url}/api/v1/members/{member_id}/balance",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        return int(reply.json()["points"])


class TillSetup:
    """The README's till block for one till, with its own code and files."""

    def __init__(self, base: Path, hq: Hq, code: str) -> None:
        base.mkdir()
        self.config = base / "till.toml"
        self.substitutions = {
            README_SERVER: hq.url,
            README_CODE: code,
            README_CONFIG: str(self.config),
            README_DATA: str(base / "data"),
        }
        self.env = dict(os.environ)

    def run_block(self, lines: list[str]) -> None:
        assert "till run" in lines[-1], "the till block ends by starting the till"
        for line in lines[:-1]:  # `till run` needs a screen: the test sells with `till sale`
            tokens = [self.substitutions.get(t, t) for t in shlex.split(line, comments=True)]
            done = _run(_argv(tokens), self.env)
            assert done.returncode == 0, (line, done.stdout, done.stderr)
            assert "Traceback" not in done.stderr

    def till(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run([str(BIN / "till"), *args, "--config", str(self.config)], self.env)

    def sale(self, *args: str) -> dict[str, Any]:
        done = self.till("sale", *ANN, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        sold: dict[str, Any] = json.loads(done.stdout)
        return sold


def _follow_the_readme(db_url: str, tmp_path: Path) -> None:
    hq_lines, till_lines = readme_blocks()
    hq = Hq(db_url, tmp_path)
    hq.run_block(hq_lines)
    assert len(hq.codes) == 2
    tills = [TillSetup(tmp_path / f"till{i + 1}", hq, code) for i, code in enumerate(hq.codes)]
    with hq.serving():
        for till in tills:
            till.run_block(till_lines)
        opening = {m: hq.balance(m) for m in ("M1001", "M1002")}
    assert opening == {"M1001": 1200, "M1002": 3400}

    # HQ is down: cashier 7 sells on both tills, members earn and redeem.
    wrong = tills[0].till("sale", "--cashier", "7", "--pin", "0000", "--line", "4011:1",
                          "--tender", "cash:")  # fmt: skip
    assert wrong.returncode == 1
    assert "PIN" in wrong.stderr + wrong.stdout
    one = tills[0].sale("--card", ANNA_CARD, "--line", "4006040012344:2", "--line", "4011:3",
                        "--tender", "cash:")  # fmt: skip
    two = tills[0].sale("--card", ANNA_CARD, "--redeem", "200", "--line", "4000000000020:2",
                        "--tender", "cash:")  # fmt: skip
    three = tills[1].sale("--card", LUCJA_CARD, "--line", "8710398527431:1", "--tender", "card:")
    four = tills[1].sale("--card", ANNA_CARD, "--line", "4000417025005:1", "--tender", "cash:")
    assert one["points_earned"] > 0
    assert two["points_redeemed"] == 200
    assert three["points_earned"] > 0
    status = json.loads(tills[0].till("status").stdout)
    assert status["unsent_entries"] == 2

    with hq.serving():
        for till in tills:
            synced = till.till("sync", "--once", "--quiet")
            assert synced.returncode == 0, synced.stderr
            assert json.loads(synced.stdout)["unsent"] == 0
        anna = 1200 + sum(s["points_earned"] - s["points_redeemed"] for s in (one, two, four))
        lucja = 3400 + three["points_earned"] - three["points_redeemed"]
        assert (hq.balance("M1001"), hq.balance("M1002")) == (anna, lucja)
        # The other till shows the same after its next sync, and says it is online.
        assert tills[1].till("sync", "--once", "--quiet").returncode == 0
        shown = json.loads(tills[1].till("balance", ANNA_CARD).stdout)["balance"]
        assert shown == anna
        assert json.loads(tills[1].till("status").stdout)["online"] is True
    check = _run([str(BIN / "syncserver"), "ledger", "rebuild", "--check"], hq.env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ledger OK" in check.stdout


def test_the_readme_for_real_on_sqlite(tmp_path: Path) -> None:
    _follow_the_readme(f"sqlite:///{tmp_path / 'hq.sqlite3'}", tmp_path)


@pytest.mark.postgres
def test_the_readme_for_real_on_postgresql(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    cluster = request.getfixturevalue("pg_cluster")
    if isinstance(cluster, str):
        pytest.skip(cluster)
    assert isinstance(cluster, PgCluster)
    name = f"loyaltill_readme_{uuid.uuid4().hex[:12]}"
    cluster.execute(f"CREATE DATABASE {name}")  # empty: `syncserver init` migrates it
    try:
        _follow_the_readme(cluster.url_for(name), tmp_path)
    finally:
        cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
