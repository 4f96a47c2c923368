"""HQ API: the tills' journal entries as stored, with the postings each one caused."""

from __future__ import annotations

from fastapi import APIRouter

from shared.protocol import ErrorBody
from syncserver.api.deps import DatabaseDep, ViewerDep
from syncserver.api.params import SeqPath, TerminalIdPath
from syncserver.errors import NotFoundError
from syncserver.hq.entries import JournalEntryView, entry_view

router = APIRouter(prefix="/api/v1/entries", tags=["entries"])


@router.get(
    "/{terminal_id}/{seq}", responses={s: {"model": ErrorBody} for s in (401, 403, 404, 422)}
)
def get_entry(
    terminal_id: TerminalIdPath,
    seq: SeqPath,
    _user: ViewerDep,
    database: DatabaseDep,
) -> JournalEntryView:
    """The entry as the till sent it (``record``), its terminal and store, receipt number
    and cashier, every posting it caused, and later entries that refer to it (a return or
    void of this sale)."""
    with database.read() as conn:
        found = entry_view(conn, terminal_id, seq)
    if found is None:
        raise NotFoundError(
            f"no journal entry {terminal_id}#{seq} has reached HQ: the till may not have "
            "synced it yet (see Terminals for its acknowledged seq)"
        )
    return found
