"""HQ API: cards — who has a card, blocking one, replacing one.

Reading needs the viewer role, blocking and replacing the manager role; each change is an HQ
event in the ledger (replayed by ``ledger rebuild``) with an audit row.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from shared.protocol import ErrorBody
from syncserver.api.deps import ActorDep, DatabaseDep, ManagerDep, ViewerDep
from syncserver.api.params import CardPath, SafeMultilineText, SafeText
from syncserver.errors import NotFoundError
from syncserver.hq import actions
from syncserver.hq.members import MemberSummary, card_owner, member_summaries

router = APIRouter(prefix="/api/v1/cards", tags=["cards"])


def _errors(*codes: int) -> dict[int | str, dict[str, object]]:
    return {code: {"model": ErrorBody} for code in codes}


@router.get("/{card}", responses=_errors(401, 403, 404))
def get_card_owner(card: CardPath, _user: ViewerDep, database: DatabaseDep) -> MemberSummary:
    """The member who has the card (active or blocked), with the reconciled balance."""
    with database.read() as conn:
        found = card_owner(conn, card)
    if found is None:
        raise NotFoundError(
            f"no member has card {card}: check the number, or search by phone, email or name"
        )
    return found


class BlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: SafeMultilineText = Field(max_length=500, description="Why (at least 3 characters).")


class ReplaceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_card_number: SafeText = Field(
        max_length=64, description="A card from HQ's stock: digits with a valid check digit."
    )
    reason: SafeMultilineText = Field(max_length=500, description="Why (at least 3 characters).")


class CardChange(BaseModel):
    hq_event_id: int
    member: MemberSummary
    """The card's member afterwards: every card with its status."""


def _changed(database: DatabaseDep, result: actions.ActionResult) -> CardChange:
    with database.read() as conn:
        found = member_summaries(conn, [result.member_id] if result.member_id else [])
    if not found:  # a block never removes a member; this is only for the type checker
        raise NotFoundError(f"no member {result.member_id}")
    return CardChange(hq_event_id=result.hq_event_id, member=found[0])


@router.post("/{card}/block", responses=_errors(401, 403, 404, 409, 422))
def block(
    card: CardPath, body: BlockRequest, _user: ManagerDep, actor: ActorDep, database: DatabaseDep
) -> CardChange:
    """Block a card (manager role): tills refuse it after their next pull, and a sale on it
    that reaches HQ later raises a ``card_blocked`` exception."""
    return _changed(database, actions.block_card(database, actor, card, body.reason))


@router.post("/{card}/replace", responses=_errors(401, 403, 404, 409, 422))
def replace(
    card: CardPath,
    body: ReplaceRequest,
    _user: ManagerDep,
    actor: ActorDep,
    database: DatabaseDep,
) -> CardChange:
    """Block the card and give its member the new one (manager role); the balance stays
    with the member."""
    result = actions.replace_card(database, actor, card, body.new_card_number, body.reason)
    return _changed(database, result)
