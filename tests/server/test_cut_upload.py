"""A till whose upload is cut mid-body (the fault soak met it dozens of times a run): HQ stores
nothing, answers nothing anyone waits for, and logs no "unhandled error" traceback."""

from __future__ import annotations

import logging
import socket
import time
from urllib.parse import urlsplit

import pytest

from syncserver.storage.database import Database
from tests.server.helpers import PUSH, prepare, uvicorn_thread


def test_a_push_cut_mid_body_is_no_server_error(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    body = b'{"terminal_id": "' + terminal_id.encode() + b'", "entries": [' + b" " * 2000
    caplog.set_level(logging.INFO, logger="syncserver")
    with uvicorn_thread(database) as url:
        where = urlsplit(url)
        with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
            head = (
                f"POST {PUSH} HTTP/1.1\r\nHost: {where.netloc}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body) * 2}\r\n\r\n"
            )
            sock.sendall(head.encode() + body)
            sock.shutdown(socket.SHUT_WR)  # the rest never comes
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if any("disconnected mid-body" in r.getMessage() for r in caplog.records):
                    break
                time.sleep(0.05)
    messages = [record.getMessage() for record in caplog.records]
    assert any("disconnected mid-body" in message for message in messages), messages
    assert not any("unhandled error" in message for message in messages), messages
