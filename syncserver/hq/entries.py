"""A till's journal entry as HQ shows it: the record exactly as the till sent it, the postings
it caused, the entries that refer to it and the members it concerns."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, and_, select

from syncserver.hq.members import record_fields
from syncserver.settings import as_utc
from syncserver.storage.schema import cards, journal_entries, postings, terminals

__all__ = ["EntryPosting", "EntryReference", "JournalEntryView", "entry_view"]


class EntryPosting(BaseModel):
    line: int
    account: str
    member_id: str | None = None
    unit: str
    amount: int
    kind: str


class EntryReference(BaseModel):
    terminal_id: str
    seq: int
    kind: str


class JournalEntryView(BaseModel):
    """A stored till journal entry (the record exactly as the till sent it) and the postings
    it caused."""

    terminal_id: str
    store_id: str | None = None
    terminal_name: str | None = None
    seq: int
    entry_id: str
    kind: str
    occurred_at: str
    received_at: datetime
    cashier_id: str | None = None
    receipt_no: str | None = None
    record: dict[str, Any]
    postings: list[EntryPosting]
    referred_by: list[EntryReference] = []
    """Later entries that refer to this one (a return or void of this sale)."""
    member_ids: list[str] = []
    """Members this entry concerns (its postings' members, or the owner of its card)."""


def entry_view(conn: Connection, terminal_id: str, seq: int) -> JournalEntryView | None:
    """The stored entry (terminal_id, seq), its postings and the entries that refer to it."""
    row = conn.execute(
        select(
            journal_entries.c.terminal_id,
            journal_entries.c.seq,
            journal_entries.c.entry_id,
            journal_entries.c.kind,
            journal_entries.c.occurred_at,
            journal_entries.c.received_at,
            journal_entries.c.record,
            terminals.c.store_id,
            terminals.c.name,
        )
        .join(terminals, terminals.c.terminal_id == journal_entries.c.terminal_id)
        .where(journal_entries.c.terminal_id == terminal_id, journal_entries.c.seq == seq)
    ).first()
    if row is None:
        return None
    record = json.loads(row.record)
    receipt_no, cashier_id = record_fields(row.record)
    entry_postings = [
        EntryPosting(
            line=int(p.line),
            account=p.account,
            member_id=p.member_id,
            unit=p.unit,
            amount=int(p.amount),
            kind=p.kind,
        )
        for p in conn.execute(
            select(
                postings.c.line,
                postings.c.account,
                postings.c.member_id,
                postings.c.unit,
                postings.c.amount,
                postings.c.kind,
            )
            .where(postings.c.terminal_id == terminal_id, postings.c.seq == seq)
            .order_by(postings.c.line)
        )
    ]
    referred_by = [
        EntryReference(terminal_id=r.terminal_id, seq=int(r.seq), kind=r.kind)
        for r in conn.execute(
            select(journal_entries.c.terminal_id, journal_entries.c.seq, journal_entries.c.kind)
            .where(
                and_(
                    journal_entries.c.original_terminal == terminal_id,
                    journal_entries.c.original_seq == seq,
                )
            )
            .order_by(journal_entries.c.terminal_id, journal_entries.c.seq)
        )
    ]
    member_ids = list(dict.fromkeys(p.member_id for p in entry_postings if p.member_id))
    if not member_ids:
        member_ids = _members_named_by(conn, record)
    return JournalEntryView(
        terminal_id=row.terminal_id,
        store_id=row.store_id,
        terminal_name=row.name,
        seq=int(row.seq),
        entry_id=row.entry_id,
        kind=row.kind,
        occurred_at=row.occurred_at,
        received_at=as_utc(row.received_at),
        cashier_id=cashier_id,
        receipt_no=receipt_no,
        record=record,
        postings=entry_postings,
        referred_by=referred_by,
        member_ids=member_ids,
    )


def _members_named_by(conn: Connection, record: dict[str, Any]) -> list[str]:
    """Members an entry without member postings concerns: by its member id or its card."""
    payload = record.get("payload")
    if not isinstance(payload, dict):
        return []
    member = payload.get("member")
    candidates: list[str] = []
    if isinstance(member, dict):
        if isinstance(member.get("member_id"), str):
            return [member["member_id"]]
        if isinstance(member.get("card_number"), str):
            candidates.append(member["card_number"])
    for key in ("card_number", "new_card_number"):
        if isinstance(payload.get(key), str):
            candidates.append(payload[key])
    if not candidates:
        return []
    rows = conn.execute(
        select(cards.c.member_id).where(cards.c.card_number.in_(candidates)).distinct()
    )
    return sorted(row.member_id for row in rows)
