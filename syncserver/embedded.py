"""Run the sync server inside another process, in a thread: the demo's embedded HQ and the
tests' real uvicorn on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from syncserver.api.app import create_app
from syncserver.settings import ServerSettings
from syncserver.storage.database import Database

__all__ = ["serve_in_thread"]


@contextmanager
def serve_in_thread(
    database: Database,
    *,
    settings: ServerSettings | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout_s: float = 20,
) -> Iterator[str]:
    """A real uvicorn serving ``database`` (port 0: a free port); yields its base URL."""
    settings = settings or ServerSettings()
    config = uvicorn.Config(
        create_app(settings, database=database),
        host=host,
        port=port,
        log_level="warning",
        # As `syncserver serve` (syncserver.cli.server_config): uvicorn's own default believes
        # X-Forwarded-For from 127.0.0.1, so any local process could pick its address.
        proxy_headers=settings.proxy_headers,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
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
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
