"""A record HQ refuses is a refusal, shown as one, never "offline" and never a retry loop
(docs/design.md, invariant 9); pushes stay within the protocol's size limits.

Real tills against a real server (SQLite file and PostgreSQL, real uvicorn); for the HTTP
answers a healthy server never gives on purpose (a 500, a 413 from a proxy in front of HQ), a
scripted HTTP server on loopback.
"""

from __future__ import annotations

import json
import queue
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shared.bounds import MAX_PUSH_BYTES
from shared.journal import GENESIS_HASH, canonical_json, entry_hash
from shared.protocol import MAX_PUSH_BATCH
from terminal.sync.client import SyncClient
from terminal.sync.engine import SyncEngine, SyncReport
from terminal.sync.errors import (
    SyncError,
    SyncGapError,
    SyncJournalAlarmError,
    SyncOfflineError,
    SyncRejectedError,
)
from terminal.sync.worker import SyncWorker
from tests.server.tills import TillDriver, members_csv_from_till, workload
from tests.sync.harness import PATIENT, Hq, SyncedTill, assert_converged, catalog_csv_of, wait_for


def _store(hq: Hq, base: Path, **options: Any) -> SyncedTill:
    till = hq.open_till(base / "tills", **options)
    hq.import_members(members_csv_from_till(till))
    hq.import_catalog(catalog_csv_of(till))
    return till


def _journal_unstorable_enrolment(till: SyncedTill) -> int:
    """Journal what an older till could: an enrolment whose name holds a NUL (PostgreSQL
    cannot store it; on SQLite it went in). Today's models refuse it, so it is written here
    as a correctly chained record, as that till would have. Returns its seq."""
    till.enrol()
    with till.database.read() as db:
        template = json.loads(
            db.execute("SELECT record FROM journal ORDER BY seq DESC LIMIT 1").fetchone()[0]
        )
    assert template["payload"]["kind"] == "enrolment"
    record = {
        **template,
        "seq": template["seq"] + 1,
        "entry_id": str(uuid.uuid4()),
        "prev_hash": template["hash"],
        "payload": {
            **template["payload"],
            "name": "Ana\x00Lima",
            "local_member_id": str(uuid.uuid4()),
            "card_number": till.fresh_card(),
        },
    }
    record["hash"] = entry_hash(record)
    with till.database.write() as db:  # the journal's own guards accept it: it is chained
        db.execute(
            "INSERT INTO journal (seq, entry_id, kind, occurred_at, hash, record) "
            "VALUES (?, ?, 'enrolment', ?, ?, ?)",
            [
                record["seq"],
                record["entry_id"],
                record["occurred_at"],
                record["hash"],
                json.dumps(record, sort_keys=True, separators=(",", ":")),
            ],
        )
    return int(record["seq"])


def _entry_refused(hq: Hq, terminal_id: str) -> list[tuple[str, str, int, str | None, int]]:
    return [e for e in hq.exceptions([terminal_id]) if e[0] == "entry_refused"]


def test_an_entry_hq_refuses_is_shown_as_a_refusal_naming_it(hq: Hq, tmp_path: Path) -> None:
    till = _store(hq, tmp_path)
    workload(till, 6)
    till.engine.sync_once()
    till.sale(None)
    bad = _journal_unstorable_enrolment(till)
    till.sale(till.cards[0])  # the till sells on after it
    assert till.last_seq() == bad + 1

    for _ in range(2):
        with pytest.raises(SyncRejectedError) as raised:
            till.engine.sync_once()
        assert raised.value.seq == bad
        assert not raised.value.retryable
        assert raised.value.message.startswith(f"HQ refused entry seq {bad}: ")
        assert "Sales continue and stay on this till; HQ has been alerted" in raised.value.message

    # Everything before it reached HQ; it and what follows wait on the till.
    assert hq.acked(till.terminal_id) == till.engine.acked_seq() == bad - 1
    status = till.till.status()
    assert (status["sync_state"], status["online"]) == ("refused", False)
    assert status["refused_seq"] == bad
    assert status["sync_error"] == raised.value.message
    assert status["sync_alarm"] is None
    assert status["unsent_entries"] == 2
    assert len(_entry_refused(hq, till.terminal_id)) == 1  # one alarm, however often retried


def test_a_refused_entry_does_not_become_a_fast_retry_loop(hq: Hq, tmp_path: Path) -> None:
    """The worker checks back at its slow pace (the backoff cap) after a refusal, and the
    nudge the TUI gives after every sale does not cut that wait short: only an explicit
    request does."""
    till = _store(hq, tmp_path)
    till.sale(None)
    bad = _journal_unstorable_enrolment(till)
    results: queue.Queue[SyncError | None] = queue.Queue()
    worker = SyncWorker(
        till.engine,
        interval_s=0.01,  # a good round would come back at once …
        on_result=lambda report, error: results.put(error),
        backoff_base_s=0.01,
        backoff_cap_s=3600.0,  # … a refused one not within this test
        rng=random.Random(1),
    )
    seen: list[SyncError | None] = []

    def drain() -> list[SyncError | None]:
        while not results.empty():
            seen.append(results.get_nowait())
        return seen

    worker.start()
    try:
        wait_for(lambda: len(drain()) >= 1 and worker.next_delay_s > 0, "the first round")
        assert isinstance(seen[0], SyncRejectedError)
        assert seen[0].seq == bad
        assert worker.next_delay_s == 3600.0
        assert worker.stalled
        for _ in range(5):  # a busy till: a sale, a nudge
            till.sale(None)
            worker.sync_now()
            assert not worker.wake_pending
        worker.sync_now(force=True)  # the cashier (or HQ support) asks: it tries once more
        wait_for(lambda: len(drain()) >= 2, "the round that was asked for")
    finally:
        worker.stop()
    assert not worker.running
    drain()
    assert len(seen) == 2, seen  # the first round and the one asked for: no loop
    assert all(isinstance(error, SyncRejectedError) and error.seq == bad for error in seen)
    assert len(_entry_refused(hq, till.terminal_id)) == 1
    assert till.till.status()["sync_state"] == "refused"


class _SizeSpy(SyncClient):
    """A real client that also notes the size of every push body it sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bodies: list[int] = []

    def push_encoded(self, body: bytes) -> Any:
        self.bodies.append(len(body))
        return super().push_encoded(body)


def test_pushes_are_split_by_bytes_as_well_as_by_count(hq: Hq, tmp_path: Path) -> None:
    till = _store(hq, tmp_path)
    workload(till, 30)
    limit = 6 * 1024
    sizes = [len(canonical_json(r)) for r in till.records()]
    assert max(sizes) < limit - 100 < sum(sizes)
    with _SizeSpy(hq.url, till.token, timeout=PATIENT) as client:
        engine = SyncEngine(till.config, till.database, client, push_bytes=limit)
        report = engine.sync_once()
        assert report.acked_seq == till.last_seq()
        assert len(client.bodies) > 2
        assert all(size <= limit for size in client.bodies)
        # Fuller than half the limit on average: batches are packed, not one entry each.
        assert len(client.bodies) < till.last_seq()
    assert_converged(hq, [till])
    # The production limits are the protocol's.
    default = SyncEngine(till.config, till.database, till.client)
    assert (default.push_batch, default.push_bytes) == (MAX_PUSH_BATCH, MAX_PUSH_BYTES)


def test_an_entry_too_large_for_any_push_is_refused_by_the_till_naming_it(
    hq: Hq, tmp_path: Path
) -> None:
    till = _store(hq, tmp_path)
    till.sale(till.cards[0])
    with SyncClient(hq.url, till.token, timeout=PATIENT) as client:
        engine = SyncEngine(till.config, till.database, client, push_bytes=400)
        with pytest.raises(SyncRejectedError, match=r"entry seq 1 is .* bytes") as raised:
            engine.sync_once()
    assert raised.value.seq == 1
    assert till.till.status()["sync_state"] == "refused"
    assert hq.acked(till.terminal_id) == 0


# --- answers a healthy HQ does not give on purpose: a scripted server on loopback -----------


@dataclass
class _Script:
    """What the scripted server answers: ``push(body) -> (status, json)``; status as given."""

    terminal_id: str
    push: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
    acked_seq: int = 0
    acked_hash: str = GENESIS_HASH
    pushes: list[int] = field(default_factory=list)
    """Entries in each push received."""
    gets: list[str] = field(default_factory=list)
    """The path and query of each GET received."""


@contextmanager
def _scripted_hq(script: _Script) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            script.gets.append(self.path)
            self._reply(
                200,
                {
                    "terminal_id": script.terminal_id,
                    "acked_seq": script.acked_seq,
                    "acked_hash": script.acked_hash,
                },
            )

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            script.pushes.append(len(body["entries"]))
            self._reply(*script.push(body))

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output to what the test says

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _error(code: str, message: str, **extra: int) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[TillDriver]:
    till = TillDriver(tmp_path / "tills", "T0001", 0)
    for _ in range(8):
        till.sale(None)
    yield till
    till.close()


@pytest.mark.parametrize(
    ("status", "body", "error", "state"),
    [
        (500, {"detail": "Internal Server Error"}, SyncOfflineError, "offline"),
        (503, _error("busy", "the database is busy"), SyncOfflineError, "offline"),
        (429, _error("rate_limited", "slow down"), SyncOfflineError, "offline"),
        (409, _error("gap", "expected seq 1", acked_seq=0), SyncGapError, "offline"),
        (422, _error("refused", "entry seq 3: bad", seq=3, acked_seq=2), SyncRejectedError, None),
        (422, _error("malformed", "body.entries: bad"), SyncRejectedError, "refused"),
        (413, _error("too_large", "the body is too large"), SyncRejectedError, "refused"),
        (404, _error("not_found", "no such route"), SyncRejectedError, "refused"),
    ],
)
def test_hqs_answers_map_to_offline_or_refused(
    driver: TillDriver,
    status: int,
    body: dict[str, Any],
    error: type[SyncError],
    state: str | None,
) -> None:
    """5xx (and 408/429) are transient: "offline", retried with backoff. Any other 4xx but
    401/403/409 is HQ's answer to this very data: a refusal, never "offline"."""
    script = _Script(driver.terminal_id, lambda _body: (status, body))
    with _scripted_hq(script) as url, SyncClient(url, "token", timeout=PATIENT) as client:
        engine = SyncEngine(driver.config, driver.database, client, push_batch=1)
        with pytest.raises(error) as raised:
            engine.sync_once()
    assert driver.till.status()["sync_state"] == (state or "refused")
    if state is None:  # "refused": the entry HQ named, and how far HQ stored
        assert isinstance(raised.value, SyncRejectedError)
        assert raised.value.seq == 3
        assert raised.value.message == (
            "HQ refused entry seq 3: entry seq 3: bad. Sales continue and stay on this till; "
            "HQ has been alerted"
        )
        assert driver.till.status()["refused_seq"] == 3
        assert engine.acked_seq() == 2
    elif isinstance(raised.value, SyncRejectedError):
        assert f"HTTP {status}" in raised.value.message


def test_a_push_hq_finds_too_large_is_halved_down_to_the_entry_it_refuses(
    driver: TillDriver,
) -> None:
    """A proxy in front of HQ that takes less than the protocol promises: the till halves its
    batches for the round; an entry refused on its own is named."""
    script = _Script(driver.terminal_id, lambda _body: (413, _error("too_large", "too large")))
    with _scripted_hq(script) as url, SyncClient(url, "token", timeout=PATIENT) as client:
        engine = SyncEngine(driver.config, driver.database, client)
        with pytest.raises(SyncRejectedError, match="HTTP 413") as raised:
            engine.push_all(SyncReport())
    assert script.pushes == [8, 4, 2, 1]
    assert raised.value.seq == 1


def test_the_till_tells_hq_its_tip_only_when_it_alarms(driver: TillDriver) -> None:
    """The routine question carries no tip: a request delivered late (after the till gave up
    on it and pushed more) must not read as "the till's journal ends here" at HQ. A till
    that finds HQ ahead of it reports what it holds, so HQ raises its side of the alarm."""
    tip = 8  # the driver fixture's sales
    script = _Script(driver.terminal_id, lambda _body: (200, {}), acked_seq=0)
    with _scripted_hq(script) as url, SyncClient(url, "token", timeout=PATIENT) as client:
        engine = SyncEngine(driver.config, driver.database, client)
        assert engine.compare_with_hq() == 0
        assert script.gets == ["/api/v1/sync/status"]

        script.acked_seq, script.acked_hash = 100, "a" * 64
        with pytest.raises(SyncJournalAlarmError, match="up to seq 100"):
            engine.compare_with_hq()
    with driver.database.read() as db:
        tip_hash = db.execute("SELECT hash FROM journal WHERE seq = ?", [tip]).fetchone()[0]
    assert script.gets[1:] == [
        "/api/v1/sync/status",
        f"/api/v1/sync/status?tip={tip}&tip_hash={tip_hash}",
    ]
    assert script.pushes == []  # nothing pushed on an alarm
