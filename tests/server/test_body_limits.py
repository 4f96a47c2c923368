"""Bodies are refused by size before anything reads, authenticates or parses them
(issue 10, section 5), against a real uvicorn on loopback, with raw sockets so the client can
lie about and stream what it sends.

Three unauthenticated 195 MB pushes used to take the server to 2.1 GB. Now a declared
``Content-Length`` over the limit is answered before a byte of the body is read, a chunked
body is cut off once it passes the limit, and the connection is closed either way, so the
server neither holds nor drains what it refused. The server runs in this process, so its
memory is this process's: the figures are printed (``pytest -rP``), and the test only bounds
their growth far below what was offered.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx

from shared.bounds import MAX_PUSH_BYTES
from syncserver.api.limits import (
    DEFAULT_BODY_LIMIT,
    MAX_FORM_FIELDS,
    PROGRAM_BODY_LIMIT,
    body_limit,
)
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.web.program_form import basket_values, document_values
from tests.server.helpers import demo_rules_json
from tests.server.hq.helpers import csrf_of, prepare_hq, serve, signed_in

OFFERED = 200 * 1000 * 1000
"""What each hostile request offers to send: 200 MB."""
CHUNK = 64 * 1024


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@dataclass
class Sent:
    status: int
    body: dict[str, object]
    headers: dict[str, str]
    bytes_sent: int


def _hostile_post(
    url: str, path: str, headers: dict[str, str], *, declare: int | None = None
) -> Sent:
    """POST ``path`` offering ``OFFERED`` bytes: with ``Content-Length: declare`` (and no body
    sent until the server has answered), or chunked, 64 KiB at a time, until the server
    answers or drops the connection. Reads the reply in a thread while sending."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(
        f"Content-Length: {declare}" if declare is not None else "Transfer-Encoding: chunked"
    )
    received: list[bytes] = []
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))

        def read() -> None:
            try:
                while data := sock.recv(65536):
                    received.append(data)
            except OSError:
                pass  # reset after the reply: what came before it is kept

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if declare is None:
            chunk = b"%x\r\n" % CHUNK + b"x" * CHUNK + b"\r\n"
            try:
                for _ in range(OFFERED // CHUNK):  # bounded: 3,051 chunks at most
                    if not reader.is_alive():
                        break
                    sock.sendall(chunk)
                    sent += CHUNK
            except OSError:
                pass  # the server closed the connection: it will not read the rest
        reader.join(timeout=30)
        assert not reader.is_alive(), "the server neither answered nor closed the connection"
    head, _, body = b"".join(received).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in header_lines)
    return Sent(
        int(status_line.split()[1]),
        json.loads(body) if body else {},
        {k.lower(): v for k, v in fields.items()},
        sent,
    )


def test_oversized_bodies_are_refused_before_authentication_and_memory_stays_bounded(
    database: Database,
) -> None:
    hq = prepare_hq(database, with_members=False)
    _, till_token = hq.server.terminal()
    with serve(database) as url:
        before = _rss_mib()
        # 1. Declared: refused at once, before any authentication; nothing was sent.
        declared = _hostile_post(url, "/api/v1/sync/push", {}, declare=OFFERED)
        # 2. Chunked, unauthenticated, to a route whose JSON body FastAPI parses before its
        #    dependencies run: cut off once past 1 MiB.
        streamed = _hostile_post(url, "/api/v1/users", {})
        # 3. Chunked, as a till, to the push: cut off once past MAX_PUSH_BYTES.
        as_till = _hostile_post(url, "/api/v1/sync/push", {"Authorization": f"Bearer {till_token}"})
        # 4. Chunked, unauthenticated, to the push: refused by its token, connection closed.
        anonymous = _hostile_post(url, "/api/v1/sync/push", {})
        after = _rss_mib()
    print(
        f"RSS {before:.0f} MiB before, {after:.0f} MiB after 4 x {OFFERED / 1e6:.0f} MB offered; "
        f"sent before the cut: declared {declared.bytes_sent / 2**20:.1f} MiB, chunked "
        f"{streamed.bytes_sent / 2**20:.1f} MiB (limit 1), till push "
        f"{as_till.bytes_sent / 2**20:.1f} MiB (limit {MAX_PUSH_BYTES // 2**20}), "
        f"anonymous push {anonymous.bytes_sent / 2**20:.1f} MiB"
    )
    for refused, limit in ((declared, MAX_PUSH_BYTES), (streamed, DEFAULT_BODY_LIMIT)):
        assert refused.status == 413
        assert refused.body["error"]["code"] == "too_large"  # type: ignore[index]
        assert f"({limit // 2**20} MiB)" in refused.body["error"]["message"]  # type: ignore[index]
    assert as_till.status == 413
    assert anonymous.status == 401
    for reply in (declared, streamed, as_till, anonymous):
        assert reply.headers["connection"] == "close"
        assert reply.headers["cache-control"] == "no-store"
        assert reply.bytes_sent < OFFERED / 4  # cut off, not drained
    assert declared.bytes_sent == 0
    assert as_till.bytes_sent > MAX_PUSH_BYTES  # the till's whole allowance was read
    assert after - before < 64, f"RSS grew by {after - before:.0f} MiB"


def test_each_route_has_its_own_limit(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    two_mib = json.dumps({"basket": {"lines": []}, "pad": "x" * (2 * 2**20)})
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        json_headers = {**hq.admin.headers, "Content-Type": "application/json"}
        small = client.post("/api/v1/users", content=two_mib, headers=json_headers)
        assert small.status_code == 413
        program = client.post("/api/v1/program/preview", content=two_mib, headers=json_headers)
        assert program.status_code == 422  # read and validated: within the program limit
        with signed_in(url, hq.admin) as browser:
            token = csrf_of(browser.get("/terminals").text)
            form = {"csrf_token": token, "store_id": "S1", "name": "x" * (2 * 2**20)}
            page = browser.post("/terminals", data=form)
            assert page.status_code == 413
            assert page.headers["content-type"].startswith("text/html")
            assert "1 MiB" in page.text


def test_the_largest_program_form_fits_its_limit() -> None:
    """The editor takes MAX_FORM_FIELDS inputs: a program with that many, with names as long
    as a real one's, must fit PROGRAM_BODY_LIMIT with room to spare (and would not fit the
    default 1 MiB with much)."""
    document = json.loads(demo_rules_json())
    campaign = document["campaigns"][0]
    fields: list[tuple[str, str]] = []
    count = 0
    while len(fields) < MAX_FORM_FIELDS:
        count += 50
        document["campaigns"] = [
            {**campaign, "id": f"campaign-{n:05d}", "name": f"Summer double points {n:05d}"}
            for n in range(count)
        ]
        values = document_values(document)
        values.update(basket_values(document, utc_now()))
        fields = values.items()
    size = len(urlencode([*fields, ("note", "n" * 2000), ("csrf_token", "t" * 43)]))
    print(f"{len(fields)} fields ({count} campaigns): {size / 2**20:.2f} MiB as a form")
    assert size * 2 < PROGRAM_BODY_LIMIT
    assert body_limit("POST", "/program/publish") == PROGRAM_BODY_LIMIT
    assert body_limit("POST", "/api/v1/program/versions") == PROGRAM_BODY_LIMIT
    assert body_limit("POST", "/api/v1/sync/push") == MAX_PUSH_BYTES
    assert body_limit("POST", "/api/v1/users") == DEFAULT_BODY_LIMIT
