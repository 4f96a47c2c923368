"""HQ events: ledger changes that come from HQ rather than a till, journaled in
``hq_events`` so ``ledger rebuild`` replays them in order with the tills' entries.

Today: ``member_import`` (members from another system, with cards and opening balances).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from syncserver.ledger.accounts import ADJUSTED, PostingKind, member_account, pair
from syncserver.ledger.context import LedgerContext
from syncserver.storage.members import NewMember, insert_card, insert_member
from syncserver.storage.postings import PostingSource
from syncserver.storage.schema import hq_events

__all__ = ["HqEventConflictError", "ImportedMember", "MemberImport", "apply_event", "record_event"]


class HqEventConflictError(ValueError):
    """An HQ event collides with what the ledger already holds (a member id, a card)."""


class ImportedMember(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    member_id: str
    name: str
    phone: str | None = None
    email: str | None = None
    tier: str | None = None
    card_number: str | None = None
    opening_balance: int = 0
    marketing_consent: bool = False


class MemberImport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["member_import"] = "member_import"
    occurred_at: str
    members: list[ImportedMember] = Field(min_length=1)


def record_event(conn: Connection, event: MemberImport, actor: str, ctx: LedgerContext) -> int:
    """Journal the event (its position is set when the transaction finishes); returns its id."""
    result = conn.execute(
        hq_events.insert().values(
            kind=event.kind, record=event.model_dump_json(), actor=actor, created_at=ctx.now
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def apply_event(ctx: LedgerContext, event_id: int, kind: str, record: dict[str, Any]) -> None:
    if kind != "member_import":
        raise ValueError(f"unknown HQ event kind {kind!r}")
    event = MemberImport.model_validate(record)
    source = PostingSource(hq_event_id=event_id)
    for member in event.members:
        created = insert_member(
            ctx.conn,
            NewMember(
                member_id=member.member_id,
                name=member.name,
                phone=member.phone,
                email=member.email,
                tier=member.tier,
                marketing_consent=member.marketing_consent,
            ),
            ctx.now,
        )
        if not created:
            raise HqEventConflictError(f"member {member.member_id} already exists")
        ctx.adopt_new_member(member.member_id)
        if member.card_number and not insert_card(
            ctx.conn, member.card_number, member.member_id, ctx.now
        ):
            raise HqEventConflictError(f"card {member.card_number} already belongs to a member")
        if member.opening_balance:
            legs = pair(
                member_account(member.member_id),
                ADJUSTED,
                member.opening_balance,
                PostingKind.OPENING,
            )
            ctx.post(source, legs, event.occurred_at)
        ctx.changed(member.member_id)


def event_record(text: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(text)
    return record
