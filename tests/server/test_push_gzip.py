"""Gzipped pushes (``Content-Encoding: gzip``, syncserver.api.content_coding): stored like
plain ones; the server says it takes gzip; a bad stream, a bomb and another coding get clear
refusals, and nothing is stored."""

from __future__ import annotations

import gzip
import json
import zlib

from sqlalchemy import func, select

from shared.bounds import MAX_PUSH_BYTES
from syncserver.storage.database import Database
from syncserver.storage.schema import journal_entries
from tests.server.helpers import PUSH, api, bearer, prepare
from tests.server.journal import JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")


def _stored(database: Database) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(journal_entries)).scalar_one())


def _body(terminal_id: str, records: list[dict[str, object]]) -> bytes:
    return json.dumps({"terminal_id": terminal_id, "entries": records}).encode()


def test_a_gzipped_push_is_stored_and_answered_like_a_plain_one(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    for _ in range(40):
        till.sale(ANNA)
    plain = _body(terminal_id, till.records)
    packed = gzip.compress(plain)
    assert len(packed) * 4 < len(plain)
    with api(database) as client:
        status = client.get("/api/v1/sync/status", headers=bearer(token))
        assert status.headers["Accept-Encoding"] == "gzip"
        reply = client.post(
            PUSH,
            content=packed,
            headers={
                **bearer(token),
                "Content-Encoding": "gzip",
                "Content-Type": "application/json",
            },
        )
    assert reply.status_code == 200, reply.text
    assert (reply.json()["stored"], reply.json()["acked_seq"]) == (40, 40)
    assert reply.headers["Accept-Encoding"] == "gzip"
    assert _stored(database) == 40


def test_bad_gzip_a_bomb_and_other_codings_are_refused_clearly(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    till.sale(ANNA)
    plain = _body(terminal_id, till.records)
    # A stream that inflates far beyond what a push may be, from a few kilobytes.
    squeezer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = squeezer.compress(b" " * (MAX_PUSH_BYTES + 1024)) + squeezer.flush()
    assert len(bomb) < 100_000
    cases = [
        ("gzip", plain, 422, "malformed", "not valid gzip"),
        ("gzip", gzip.compress(plain)[:-12], 422, "malformed", "cut short"),
        ("gzip", bomb, 413, "too_large", "inflates beyond"),
        ("br", plain, 415, "unsupported_encoding", "send gzip or no encoding"),
    ]
    with api(database) as client:
        for coding, body, status, code, words in cases:
            reply = client.post(
                PUSH,
                content=body,
                headers={**bearer(token), "Content-Encoding": coding},
            )
            assert reply.status_code == status, (coding, reply.text)
            error = reply.json()["error"]
            assert error["code"] == code
            assert words in error["message"]
            if status == 415:
                assert reply.headers["Accept-Encoding"] == "gzip"
        # Nothing was stored; the same entries plain go through.
        assert _stored(database) == 0
        reply = client.post(PUSH, content=plain, headers=bearer(token))
    assert reply.status_code == 200, reply.text
    assert _stored(database) == 1
