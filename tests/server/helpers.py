"""Setting up a server for a test: terminals, rules, members, an API client, real servers."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import httpx
from sqlalchemy import func, select

from syncserver.embedded import serve_in_thread
from syncserver.hq.imports import import_members
from syncserver.hq.rules import publish_rules
from syncserver.hq.setup import initialise
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import member_balances, postings
from syncserver.storage.stores import add_store
from syncserver.storage.terminals import add_terminal
from tests.server.journal import card

PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Server:
    database: Database
    admin_token: str

    def terminal(self, store: str = "S001", name: str = "Till") -> tuple[str, str]:
        with self.database.write() as conn:
            return add_terminal(conn, store, name, utc_now())

    def store(self, store_id: str = "S001", name: str = "", timezone: str = "UTC") -> None:
        """A store at HQ (``terminal add`` refuses a store HQ does not know)."""
        with self.database.write() as conn:
            add_store(
                conn,
                store_id=store_id,
                name=name or f"Store {store_id}",
                address=("1 Test Street", "Testtown"),
                timezone=timezone,
                country="DE",
                tax_id=None,
                now=utc_now(),
            )

    def balance(self, member_id: str) -> int | None:
        with self.database.read() as conn:
            value = conn.execute(
                select(member_balances.c.points).where(member_balances.c.member_id == member_id)
            ).scalar_one_or_none()
        return None if value is None else int(value)

    def posted(self, member_id: str) -> int:
        with self.database.read() as conn:
            value = conn.execute(
                select(func.coalesce(func.sum(postings.c.amount), 0)).where(
                    postings.c.member_id == member_id
                )
            ).scalar_one()
        return int(value)


def demo_rules_json() -> str:
    return files("shared.rules.examples").joinpath("demo_program.json").read_text("utf-8")


MEMBERS = [
    # (member_id, card serial, opening balance, tier)
    ("M0000000001", 1, 1000, "member"),
    ("M0000000002", 2, 300, "silver"),
    ("M0000000003", 3, 0, "gold"),
]


def members_csv(rows: list[tuple[str, str, int, str | None]]) -> str:
    """CSV for ``members import`` from (member_id, card_number, balance, tier)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["member_id", "name", "phone", "email", "tier", "card_number", "balance"])
    for member_id, card_number, balance, tier in rows:
        writer.writerow(
            [
                member_id,
                f"Member {member_id}",
                "",
                f"{member_id or 'new.member'}@example.com",
                tier or "",
                card_number,
                balance,
            ]
        )
    return out.getvalue()


def prepare(database: Database, *, with_members: bool = True) -> Server:
    """An initialised server with the demo rules and (optionally) three members."""
    result = initialise(database)
    assert result.admin is not None
    publish_rules(database, demo_rules_json())
    if with_members:
        import_members(database, members_csv([(m, card(s), b, t) for m, s, b, t in MEMBERS]))
    return Server(database, result.admin.token)


@contextmanager
def api(database: Database) -> Iterator[httpx.Client]:
    """An HTTP client talking to a real uvicorn on loopback serving ``database``."""
    with uvicorn_thread(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def push(client: Any, token: str, terminal_id: str, records: list[dict[str, Any]]) -> Any:
    return client.post(
        PUSH, json={"terminal_id": terminal_id, "entries": records}, headers=bearer(token)
    )


def uvicorn_thread(database: Database) -> AbstractContextManager[str]:
    """A real uvicorn on a free loopback port, in this process; yields its base URL."""
    return serve_in_thread(database)


_LISTENING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


@contextmanager
def server_process(db_url: str, *options: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``syncserver serve`` with ``options`` (and ``env`` on top of this process's
    environment) in its own process on a free port; yields its base URL."""
    # Password checks at normal priority, as tests/server/hq/helpers.TEST_SETTINGS explains.
    environment = {
        **os.environ,
        "LOYALTILL_SERVER_POOL_SIZE": "8",
        "LOYALTILL_SERVER_SIGN_IN_HASH_NICENESS": "0",
        **(env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "syncserver.cli",
            "serve",
            "--db",
            db_url,
            "--port",
            "0",
            "--log-level",
            "info",
            *options,
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    drain: threading.Thread | None = None
    try:
        assert process.stderr is not None
        url = None
        deadline = time.monotonic() + 60  # generous: a busy CI box starts Python slowly
        lines: list[str] = []
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            found = _LISTENING.search(line)
            if found:
                url = found.group(1)
        if url is None:
            raise RuntimeError("syncserver serve did not start:\n" + "".join(lines))
        # Keep draining stderr so the server never blocks on a full pipe.
        drain = threading.Thread(target=process.stderr.read, daemon=True)
        drain.start()
        httpx.get(f"{url}/healthz", timeout=60).raise_for_status()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            if drain is not None:
                drain.join(timeout=5)
            process.stderr.close()
