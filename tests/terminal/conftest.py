from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from terminal.config import TillConfig
from terminal.demo.seed import seed_demo
from terminal.store import TillDatabase, open_database
from terminal.till.service import Till

# A Monday morning: no weekend or evening campaign applies unless a test moves the clock.
MONDAY_10AM = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class FakeClock:
    """The till's clock, moved by tests. (A real clock is used by every other part.)"""

    def __init__(self, now: datetime = MONDAY_10AM) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def config(tmp_path: Path) -> TillConfig:
    return TillConfig(data_dir=tmp_path / "till", timezone="Europe/Berlin", terminal_id="T1")


@pytest.fixture
def database(config: TillConfig) -> Iterator[TillDatabase]:
    database = open_database(config.database_path)
    seed_demo(database, config, members=60, products=60)
    yield database
    database.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def till(config: TillConfig, database: TillDatabase, clock: FakeClock) -> Till:
    till = Till(config, database, clock=clock)
    till.sign_in("1", "1234")
    return till
