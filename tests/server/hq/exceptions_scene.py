"""Real exceptions for the exceptions tests: real till journals pushed to a real server.

Two tills in two stores push entries that reconciliation cannot simply accept; each
exception is then known by a label (``scene.ids["overdraft"]``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from shared.journal import Sale
from shared.rules import ProgramRules
from syncserver.ledger.rebuild import rebuild_check
from syncserver.storage.database import Database
from syncserver.storage.schema import audit_log, cards, exceptions, postings
from tests.server.helpers import push
from tests.server.hq.helpers import Hq, prepare_hq, serve
from tests.server.journal import RULES, JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")  # 1000 points
BEN = member_ref(card(2), "M0000000002")  # 300 points
BIG_BASKET = [("4000000000017", "grocery", 4, 500)]  # 20.00: up to 10.00 redeemable
GENEROUS = ProgramRules.model_validate(
    RULES.model_dump() | {"earn": RULES.earn.model_dump() | {"points_per_unit": "2"}}
)


def earned(entry: Any) -> int:
    assert isinstance(entry.payload, Sale)
    return int(entry.payload.points_earned)


@dataclass
class Scene:
    hq: Hq
    url: str
    client: httpx.Client
    tills: dict[str, tuple[str, str]] = field(default_factory=dict)
    """store -> (terminal id, token)"""
    ids: dict[str, int] = field(default_factory=dict)
    """label -> exception id"""
    figures: dict[str, int] = field(default_factory=dict)
    writers: dict[str, JournalWriter] = field(default_factory=dict)
    """store -> the till's journal (to push more entries)"""

    @property
    def database(self) -> Database:
        return self.hq.database

    def push(self, store: str, till: JournalWriter, since: int = 0) -> list[dict[str, Any]]:
        terminal_id, token = self.tills[store]
        reply = push(self.client, token, terminal_id, till.since(since))
        assert reply.status_code == 200, reply.text
        raised: list[dict[str, Any]] = reply.json()["exceptions"]
        return raised

    def exception_id(self, terminal_id: str, seq: int, kind: str) -> int:
        with self.database.read() as conn:
            found = conn.execute(
                select(exceptions.c.id).where(
                    exceptions.c.terminal_id == terminal_id,
                    exceptions.c.seq == seq,
                    exceptions.c.kind == kind,
                )
            ).scalar_one()
        return int(found)

    def row(self, label: str) -> Any:
        with self.database.read() as conn:
            return conn.execute(select(exceptions).where(exceptions.c.id == self.ids[label])).one()

    def legs(self, hq_event_id: int) -> list[tuple[str, int, str]]:
        with self.database.read() as conn:
            rows = conn.execute(
                select(postings.c.account, postings.c.amount, postings.c.kind)
                .where(postings.c.hq_event_id == hq_event_id)
                .order_by(postings.c.line)
            ).all()
        return [(r.account, int(r.amount), r.kind) for r in rows]

    def account_total(self, account: str) -> int:
        with self.database.read() as conn:
            rows = conn.execute(select(postings.c.amount).where(postings.c.account == account))
            return sum(int(r[0]) for r in rows)

    def card_status(self, number: str) -> str:
        with self.database.read() as conn:
            return str(
                conn.execute(
                    select(cards.c.status).where(cards.c.card_number == number)
                ).scalar_one()
            )

    def audit(self, label: str) -> list[tuple[str, dict[str, Any]]]:
        """(actor, detail) of the exception.resolve rows about that exception."""
        with self.database.read() as conn:
            rows = conn.execute(
                select(audit_log.c.actor, audit_log.c.detail)
                .where(
                    audit_log.c.action == "exception.resolve",
                    audit_log.c.target_kind == "exception",
                    audit_log.c.target_id == str(self.ids[label]),
                )
                .order_by(audit_log.c.id)
            ).all()
        return [(r.actor, json.loads(r.detail)) for r in rows]

    def assert_rebuild_ok(self) -> None:
        report = rebuild_check(self.database)
        assert report.ok, report.differences
        assert report.hq_events >= 1


@contextmanager
def exceptions_scene(database: Database) -> Iterator[Scene]:
    """Pushes, in order (S001 till A, then S002 till B):

    - A#1 Ben redeems 400 with 300 points: ``overdraft`` (offline_overdraft, Ben)
    - A#2 a sale on card 50, which no member owns: ``suspense`` (unknown_card, no member)
    - A#3 Ben's id with card 51, not registered: ``unregistered`` (unknown_card, Ben)
    - A#4 Anna's card 1 replaced by card 11 (no exception)
    - A#5 a card issue for unknown card 60: ``card_op`` (unknown_card, no member, 0)
    - B#1 a sale on Anna's old card 1: ``blocked`` (card_blocked, Anna)
    - B#2 an enrolment with Gold's card 3: ``twice`` (card_enrolled_twice, the new member)
    - B#3 a sale on card 11 with generous rules: ``mismatch`` (rules_mismatch, Anna)
    - B#4 a return of a sale never pushed: ``original`` (unknown_original, Anna)
    - another A#1, refused: ``conflict`` (chain_conflict, no member, the record as evidence)
    """
    hq = prepare_hq(database)
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        scene = Scene(hq, url, client)
        scene.tills["S001"] = hq.server.terminal("S001", "Till A")
        scene.tills["S002"] = hq.server.terminal("S002", "Till B")
        a_id, b_id = scene.tills["S001"][0], scene.tills["S002"][0]
        till_a, till_b = JournalWriter(a_id), JournalWriter(b_id)
        overdraft = till_a.sale(BEN, BIG_BASKET, redeem=400)
        suspense = till_a.sale(member_ref(card(50)))
        till_a.sale(member_ref(card(51), "M0000000002"))
        till_a.replace_card(ANNA, card(11))
        till_a.issue_card(member_ref(card(60)), card(61))
        scene.push("S001", till_a)
        till_b.sale(ANNA)
        till_b.enrol(card(3), name="Claims Gold's Card")
        till_b.sale(member_ref(card(11), "M0000000001"), rules=GENEROUS)
        never_pushed = JournalWriter("T9999").sale(ANNA)
        till_b.ret(never_pushed, member_ref(card(11), "M0000000001"), reversed_points=7)
        scene.push("S002", till_b)
        forged = JournalWriter(a_id)
        forged.sale(BEN)  # another record for A#1 (another entry id): refused, kept as evidence
        refused = push(client, scene.tills["S001"][1], a_id, forged.records)
        assert refused.status_code == 409, refused.text
        for label, terminal_id, seq, kind in (
            ("overdraft", a_id, 1, "offline_overdraft"),
            ("suspense", a_id, 2, "unknown_card"),
            ("unregistered", a_id, 3, "unknown_card"),
            ("card_op", a_id, 5, "unknown_card"),
            ("blocked", b_id, 1, "card_blocked"),
            ("twice", b_id, 2, "card_enrolled_twice"),
            ("mismatch", b_id, 3, "rules_mismatch"),
            ("original", b_id, 4, "unknown_original"),
            ("conflict", a_id, 1, "chain_conflict"),
        ):
            scene.ids[label] = scene.exception_id(terminal_id, seq, kind)
        scene.figures["ben_after_overdraft"] = 300 + earned(overdraft) - 400
        scene.figures["suspense_points"] = earned(suspense)
        scene.writers.update(S001=till_a, S002=till_b)
        yield scene
