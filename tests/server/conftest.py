"""Server tests run on a real SQLite file *and* a real PostgreSQL.

The database fixtures (``db_url``, ``pg_url`` and their templates) live in
tests/server_databases.py, loaded for the whole suite by tests/conftest.py, so the sync tests
share them (and their once-per-session templates).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncserver.storage.database import Database


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()
