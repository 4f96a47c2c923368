"""Server databases for tests, shared by every test directory (a plugin: tests/conftest.py).

``db_url`` is parametrised over a real SQLite file *and* a real PostgreSQL. Every test gets a
fresh database: a copy of a migrated SQLite template file, or ``CREATE DATABASE … TEMPLATE``
of a migrated PostgreSQL template, so tests never see each other's data and migrations run
once per session (per xdist worker), whichever directory the tests live in.

PostgreSQL comes from ``LOYALTILL_TEST_PG`` (e.g. ``postgresql://postgres@127.0.0.1:5432/test``,
a maintenance database the tests may create databases from). Without it, a throwaway cluster
is started with ``initdb``/``pg_ctl`` when the PostgreSQL binaries are installed; otherwise the
PostgreSQL half is skipped with the reason (and CI, with LOYALTILL_REQUIRE_PG, fails on that).
"""

from __future__ import annotations

import glob
import os
import pwd
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from syncserver.storage.database import Database, normalize_url
from syncserver.storage.migrate import upgrade

PG_ENV = "LOYALTILL_TEST_PG"


@dataclass
class PgCluster:
    maintenance_url: str
    """A database we may connect to for CREATE/DROP DATABASE."""

    def url_for(self, name: str) -> str:
        return (
            make_url(normalize_url(self.maintenance_url))
            .set(database=name)
            .render_as_string(hide_password=False)
        )

    def execute(self, statement: str) -> None:
        engine = create_engine(normalize_url(self.maintenance_url), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _throwaway_cluster() -> Iterator[PgCluster | str]:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        yield f"PostgreSQL tests need {PG_ENV} or PostgreSQL binaries (initdb not found)"
        return
    bindir = Path(binaries[-1]).parent
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="loyaltill-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root: run the cluster as `postgres`
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            yield f"running as root without a `postgres` user: set {PG_ENV} for PostgreSQL tests"
            return
        os.chown(base, account.pw_uid, account.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    try:
        subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        # The server's output goes to a log file: a pipe would be inherited by the postmaster
        # and keep this call waiting for an end-of-file that never comes.
        subprocess.run(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(base / "server.log"),
                "-w",
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
    except (subprocess.SubprocessError, OSError) as error:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)
        yield f"could not start a throwaway PostgreSQL cluster: {error}"
        return
    try:
        yield PgCluster(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster | str]:
    """The PostgreSQL to test against, or why there is none."""
    url = os.environ.get(PG_ENV)
    if url:
        yield PgCluster(url)
    else:
        yield from _throwaway_cluster()


class DatabaseSupply:
    """Fresh PostgreSQL databases copied from the template one test ahead, and used ones
    dropped, on a background thread: ``CREATE DATABASE … TEMPLATE`` and ``DROP DATABASE``
    cost ~0.25 s together, which no test then waits for. One job queue, one connection; the
    thread ends at :meth:`close` (a sentinel), which also drops what was made but not used."""

    _STOP = ("stop", "")

    def __init__(self, cluster: PgCluster, template: str) -> None:
        self.cluster, self.template = cluster, template
        self._jobs: queue.Queue[tuple[str, str]] = queue.Queue()
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="pg-supply", daemon=True)
        self._thread.start()
        self._jobs.put(("create", ""))

    def _run(self) -> None:
        engine = create_engine(
            normalize_url(self.cluster.maintenance_url), isolation_level="AUTOCOMMIT"
        )
        try:
            with engine.connect() as conn:
                while (job := self._jobs.get()) != self._STOP:
                    kind, name = job
                    try:
                        if kind == "create":
                            name = f"loyaltill_test_{uuid.uuid4().hex[:12]}"
                            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {self.template}"))
                            self._ready.put(name)
                        else:
                            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    except Exception as error:  # handed to the test that waits for it
                        if kind == "create":
                            self._ready.put(error)
        except Exception as error:  # the connection itself failed: every waiter hears why
            self._ready.put(error)
        finally:
            engine.dispose()

    def take(self) -> str:
        """A fresh database's name (and the next one starts being made)."""
        self._jobs.put(("create", ""))
        made = self._ready.get(timeout=300)
        if isinstance(made, BaseException):
            raise made
        return made

    def give_back(self, name: str) -> None:
        self._jobs.put(("drop", name))

    def close(self) -> None:
        self._jobs.put(self._STOP)
        self._thread.join(timeout=300)
        while not self._ready.empty():
            left = self._ready.get_nowait()
            if isinstance(left, str):
                self.cluster.execute(f"DROP DATABASE IF EXISTS {left} WITH (FORCE)")


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PgCluster | str) -> Iterator[tuple[PgCluster, str] | str]:
    if isinstance(pg_cluster, str):
        yield pg_cluster
        return
    name = f"loyaltill_tmpl_{uuid.uuid4().hex[:12]}"
    pg_cluster.execute(f"CREATE DATABASE {name}")
    database = Database(pg_cluster.url_for(name))
    try:
        upgrade(database)
    finally:
        database.dispose()
    try:
        yield pg_cluster, name
    finally:
        pg_cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pg_supply(pg_template: tuple[PgCluster, str] | str) -> Iterator[DatabaseSupply | str]:
    if isinstance(pg_template, str):
        yield pg_template
        return
    supply = DatabaseSupply(*pg_template)
    try:
        yield supply
    finally:
        supply.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "server.sqlite3"
    database = Database(f"sqlite:///{path}")
    try:
        upgrade(database)
        with database.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        database.dispose()
    return path


def fresh_postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    supply = request.getfixturevalue("pg_supply")
    if isinstance(supply, str):
        pytest.skip(supply)
    name = supply.take()
    try:
        yield supply.cluster.url_for(name)
    finally:
        supply.give_back(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database: an SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "server.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        yield from fresh_postgres(request)


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database only (tests that need several server processes)."""
    yield from fresh_postgres(request)
