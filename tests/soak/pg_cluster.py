"""A throwaway PostgreSQL cluster the fault soak owns, so it may restart it under load.

``initdb``/``pg_ctl`` from the installed PostgreSQL binaries, as the ``postgres`` user when we
are root (initdb refuses root), on a free loopback port, ``fsync=off`` (a throwaway). The same
recipe as tests/server_databases.py, plus ``restart()``: ``-m immediate`` is a crash (the
server's processes die at once, the next start runs crash recovery), ``-m fast`` a clean
shutdown that aborts open transactions. Never the machine's own PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["ClusterUnavailableError", "ThrowawayCluster", "cluster_unavailable_reason"]

_CTL_TIMEOUT_S = 120


class ClusterUnavailableError(RuntimeError):
    """No PostgreSQL binaries, or no way to run them here."""


def _bindir() -> Path | None:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(binaries[-1]).parent if binaries else None


def cluster_unavailable_reason() -> str | None:
    """Why a throwaway cluster cannot run here, or None when it can."""
    if _bindir() is None:
        return "PostgreSQL binaries not found (/usr/lib/postgresql/*/bin/initdb)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a `postgres` user to run initdb as"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayCluster:
    def __init__(self) -> None:
        reason = cluster_unavailable_reason()
        if reason is not None:
            raise ClusterUnavailableError(reason)
        bindir = _bindir()
        assert bindir is not None
        self._bindir = bindir
        self._prefix: list[str] = []
        self.base = Path(tempfile.mkdtemp(prefix="loyaltill-soak-pg-"))
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.base, account.pw_uid, account.pw_gid)
            self._prefix = ["runuser", "-u", "postgres", "--"]
        self.data = self.base / "data"
        self.port = _free_port()
        self.restarts = 0
        self._started = False

    @property
    def maintenance_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self._prefix, str(self._bindir / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            stdin=subprocess.DEVNULL,
            # The postmaster inherits these: a pipe would keep this call waiting for an
            # end-of-file that never comes. Its output goes to -l LOG.
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=_CTL_TIMEOUT_S,
        )

    def _start(self) -> None:
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        self._ctl("-o", options, "-l", str(self.base / "server.log"), "-w", "start")
        self._started = True

    def start(self) -> ThrowawayCluster:
        try:
            subprocess.run(
                [
                    *self._prefix,
                    str(self._bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                ],
                check=True,
                capture_output=True,
                timeout=_CTL_TIMEOUT_S,
            )
            self._start()
        except (subprocess.SubprocessError, OSError) as error:
            self.stop()
            raise ClusterUnavailableError(
                f"could not start a PostgreSQL cluster: {error}"
            ) from None
        return self

    def restart(self, mode: str) -> None:
        """Stop (``immediate``: a crash; ``fast``: abort sessions, shut down cleanly) and start
        again on the same port and data; returns once it accepts connections."""
        assert mode in ("immediate", "fast")
        self._ctl("-m", mode, "-w", "stop")
        self._start()
        self.restarts += 1

    def stop(self) -> None:
        if self._started:
            pg_ctl = str(self._bindir / "pg_ctl")
            subprocess.run(
                [*self._prefix, pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
                check=False,
                capture_output=True,
                timeout=_CTL_TIMEOUT_S,
            )
            self._started = False
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> ThrowawayCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
