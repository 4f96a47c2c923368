"""Run the sync server inside another process, in a thread: the demo's embedded HQ and the
tests' real uvicorn on loopback — with the same uvicorn configuration as ``syncserver serve``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from syncserver.api.app import create_app
from syncserver.settings import ServerSettings
from syncserver.storage.database import Database

__all__ = ["run_in_thread", "serve_in_thread", "uvicorn_config"]


def uvicorn_config(
    settings: ServerSettings,
    app: Any,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "warning",
) -> uvicorn.Config:
    """How the server runs under uvicorn, for ``syncserver serve`` and the embedded server
    alike (host and port default to the settings').

    Forwarded headers are passed explicitly: left to itself uvicorn believes
    ``X-Forwarded-For`` from 127.0.0.1 (or from ``$FORWARDED_ALLOW_IPS``), so anyone on the
    server's host could choose the address the sign-in limits see."""
    return uvicorn.Config(
        app,
        host=settings.host if host is None else host,
        port=settings.port if port is None else port,
        log_level=log_level,
        proxy_headers=settings.proxy_headers,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@contextmanager
def run_in_thread(config: uvicorn.Config, *, startup_timeout_s: float = 60) -> Iterator[str]:
    """A real uvicorn for ``config`` in a thread of this process, until the block ends;
    yields its base URL (port 0 in the config: a free port). ``startup_timeout_s`` only
    guards against a server that never starts: a busy machine may take many seconds."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="embedded-syncserver", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the sync server did not start within {startup_timeout_s} s")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{config.host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def serve_in_thread(
    database: Database,
    *,
    settings: ServerSettings | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout_s: float = 60,
) -> Iterator[str]:
    """A real uvicorn serving ``database`` (port 0: a free port); yields its base URL."""
    settings = settings or ServerSettings()
    app = create_app(settings, database=database)
    config = uvicorn_config(settings, app, host=host, port=port)
    with run_in_thread(config, startup_timeout_s=startup_timeout_s) as url:
        yield url
