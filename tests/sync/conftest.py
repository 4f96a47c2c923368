"""The till's sync client against a real server: a server database (SQLite file or
PostgreSQL, from tests/server_databases.py), set up through ``syncserver``'s own CLI and served
by a real uvicorn on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncserver.storage.database import Database
from tests.sync.harness import Hq, running_hq


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def hq(database: Database, tmp_path: Path) -> Iterator[Hq]:
    """An initialised HQ with the demo program published, serving on loopback."""
    base = tmp_path / "hq"
    base.mkdir()
    with running_hq(database, base) as server:
        yield server
