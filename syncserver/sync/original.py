"""``GET /api/v1/sync/original``: a sale from any till of the chain, for a till asked to take
back goods it did not sell (docs/protocol.md, "Returns at any till").

The answer is the sale's record exactly as HQ stored it (hash included, so the till can check
it) and the returns HQ holds against it, read in one snapshot: the till telescopes its points
over those plus its own returns HQ has not seen yet, as it does for its own sales.
"""

from __future__ import annotations

from shared.bounds import MAX_SEQ
from shared.protocol import OriginalSaleResponse
from syncserver.errors import ConflictError, NotFoundError
from syncserver.ledger.return_check import returns_against
from syncserver.storage.database import Database
from syncserver.storage.journal import stored_entry, void_of

__all__ = ["original_sale"]


def original_sale(database: Database, terminal_id: str, seq: int) -> OriginalSaleResponse:
    """Sale ``terminal_id``#``seq`` and the returns against it; 404 when HQ has no such sale
    (not pushed yet, a mistyped receipt number, or an entry that is not a sale); 409 when
    its till voided it."""
    with database.read() as conn:
        stored = stored_entry(conn, terminal_id, seq)
        if stored is None or stored.kind != "sale":
            what = "has not received" if stored is None else f"holds a {stored.kind} as"
            raise NotFoundError(
                f"HQ {what} sale {terminal_id}-{seq}: check the receipt number, or make the "
                f"return at {terminal_id} or once it has synced"
            )
        voided = void_of(conn, terminal_id, seq, MAX_SEQ + 1)
        if voided is not None:
            raise ConflictError(
                f"sale {terminal_id}-{seq} was voided ({terminal_id}-{voided}): nothing is "
                "left to return"
            )
        returns = returns_against(conn, stored)
    return OriginalSaleResponse(entry=stored.record, returns=[r.record for r in returns])
