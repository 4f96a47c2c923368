"""A push writes its whole batch in bulk; the ledger must be what entry-by-entry gives.

``ledger rebuild --check`` replays every entry one at a time through the same reconciliation,
so a green check after one big push is the proof. The batch below leans on everything the
bulk path remembers or defers: entries referring to earlier entries *of the same batch*
(returns, voids, a void of a void), to a *later* one (must still count as not yet stored),
members enrolled and then used by local id, a card replaced and then used blocked and new.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from shared.journal import EntryRef, entry_hash
from syncserver.ledger.rebuild import rebuild_check
from syncserver.storage.database import Database
from syncserver.storage.schema import exceptions, journal_entries
from tests.server.helpers import api, prepare, push
from tests.server.journal import JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")  # 1000 points
BEN = member_ref(card(2), "M0000000002")  # 300 points


def test_one_big_push_equals_an_entry_by_entry_replay(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    first = till.sale(ANNA)
    till.ret(first, ANNA, reversed_points=1)  # its original is in this batch
    voided = till.sale(BEN, redeem=100)
    till.void(voided)
    till.void(voided)  # already voided, earlier in this batch
    ahead = len(till.records) + 3  # the first anonymous sale below
    later = EntryRef(terminal_id=terminal_id, seq=ahead, entry_id=str(uuid.uuid4()))
    till.ret(first, ANNA, original=later)  # refers to an entry further on in the batch
    till.void(first, original=later)
    till.sale(None)
    till.sale(None)
    enrolled = till.enrol(card(7))
    local = enrolled.payload.local_member_id  # type: ignore[union-attr]
    till.sale(member_ref(card(7), None, local))
    till.replace_card(BEN, card(8))
    till.sale(BEN)  # the old card, blocked a moment ago in this batch
    till.sale(member_ref(card(8), "M0000000002"))
    till.void(till.sale(member_ref(card(8), "M0000000002")))
    till.ret(first, ANNA, reversed_points=1)
    with api(database) as client:
        reply = push(client, token, terminal_id, till.records)
    assert reply.status_code == 200, reply.text
    assert reply.json()["stored"] == len(till.records)

    report = rebuild_check(database)
    assert report.ok, report.differences
    with database.read() as conn:
        details = [
            row.detail
            for row in conn.execute(
                select(exceptions.c.detail).where(exceptions.c.kind == "unknown_original")
            )
        ]
        stored = [
            json.loads(text) for text in conn.execute(select(journal_entries.c.record)).scalars()
        ]
    assert any("has not reached the server" in d for d in details), details
    assert any("is not a sale the server has" in d for d in details), details
    assert any("was already voided" in d for d in details), details
    # Stored as received: every field, nothing added, and the hash still checks out.
    assert sorted(stored, key=lambda r: r["seq"]) == till.records
    assert all(record["hash"] == entry_hash(record) for record in stored)
