"""The till gzips its pushes once HQ says it takes gzip (``Accept-Encoding`` on the status
answer), leaves small ones plain, and falls back to plain when gzip is refused (415)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from syncserver.storage.database import Database
from terminal.sync.client import GZIP_MIN_BYTES, SyncClient
from tests.server.helpers import prepare, uvicorn_thread
from tests.server.journal import JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")


class RecordingTransport(httpx.HTTPTransport):
    """httpx's own transport, noting each request's path, coding and body size."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str | None, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.sent.append((request.url.path, request.headers.get("Content-Encoding"), len(body)))
        return super().handle_request(request)


def test_pushes_are_gzipped_once_hq_says_it_takes_gzip(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    for _ in range(30):
        till.sale(ANNA)
    transport = RecordingTransport()
    with uvicorn_thread(database) as url, SyncClient(url, token, transport=transport) as client:
        # Before HQ has said anything: plain.
        first = client.push(terminal_id, till.records[:10])
        client.status()
        rest = client.push(terminal_id, till.records[10:])
    assert (first.stored, rest.stored, rest.acked_seq) == (10, 20, 30)
    pushes = [(coding, size) for path, coding, size in transport.sent if path.endswith("/push")]
    assert pushes[0][0] is None
    assert pushes[1][0] == "gzip"
    plain_size = len(json.dumps({"terminal_id": terminal_id, "entries": till.records[10:]}))
    assert plain_size >= GZIP_MIN_BYTES
    assert pushes[1][1] * 3 < plain_size


def test_a_small_push_stays_plain(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    till.sale(ANNA)
    transport = RecordingTransport()
    with uvicorn_thread(database) as url, SyncClient(url, token, transport=transport) as client:
        client.status()
        assert client.push(terminal_id, till.records).stored == 1
    assert [coding for path, coding, _ in transport.sent if path.endswith("/push")] == [None]


class _GzipRefusingHq(BaseHTTPRequestHandler):
    """HQ behind a proxy that drops gzipped bodies: the status answer says gzip, the push
    is refused with 415 when gzipped and stored when plain."""

    def do_GET(self) -> None:
        self._answer(200, {"terminal_id": "T1", "acked_seq": 0, "acked_hash": "0" * 64})

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        if self.headers.get("Content-Encoding"):
            self._answer(
                415, {"error": {"code": "unsupported_encoding", "message": "no gzip here"}}
            )
            return
        entries = json.loads(body)["entries"]
        self._answer(
            200,
            {
                "acked_seq": entries[-1]["seq"],
                "acked_hash": entries[-1]["hash"],
                "stored": len(entries),
                "duplicates": 0,
                "exceptions": [],
            },
        )

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Accept-Encoding", "gzip")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _refusing_hq() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _GzipRefusingHq)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=30)


def test_a_refused_gzip_push_is_sent_again_plain_and_later_ones_stay_plain() -> None:
    till = JournalWriter("T1")
    for _ in range(30):
        till.sale(ANNA)
    transport = RecordingTransport()
    with _refusing_hq() as url, SyncClient(url, "token", transport=transport) as client:
        client.status()
        assert client.push("T1", till.records[:15]).stored == 15
        client.status()  # says gzip again: the refusal stands
        assert client.push("T1", till.records[15:]).stored == 15
    codings = [coding for path, coding, _ in transport.sent if path.endswith("/push")]
    assert codings == ["gzip", None, None]
