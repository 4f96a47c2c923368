"""The till's application core: every cashier action as one method, UI-independent.

The Textual screens and the scriptable ``till sale``/``till enrol`` commands both call this
class, so they write exactly the same journal entries. Each method that changes anything
does so in one ``TillDatabase.write()`` transaction: the journal entry and the local state
it changes commit together (docs/design.md, invariant 1). A method that refuses raises a
:class:`~terminal.till.errors.TillError` and has changed nothing.
"""

from __future__ import annotations

from terminal.store.cashiers import cashier_enabled
from terminal.till.base import Clock
from terminal.till.membership import MembershipActions
from terminal.till.results import MemberView, ReturnableLine, SaleDone, ScanResult
from terminal.till.resuming import ResumingActions
from terminal.till.returning import ReturningActions, line_amounts_paid
from terminal.till.selling import SellingActions
from terminal.till.shift import ShiftActions

__all__ = [
    "Clock",
    "MemberView",
    "ReturnableLine",
    "SaleDone",
    "ScanResult",
    "Till",
    "line_amounts_paid",
]


class Till(ResumingActions, SellingActions, ReturningActions, MembershipActions, ShiftActions):
    """One till: its config, its database, the signed-in cashier and the clock.

    The actions are grouped by what a cashier is doing (selling, returning, membership,
    the shift); ``TillBase`` holds what they share.
    """

    def signed_in_cashier_disabled(self) -> str | None:
        """HQ disabled the signed-in cashier (a pull brought it in): the message to sign them
        out with, else None. Reads only; the UI signs them out when it can (not mid-payment)."""
        cashier = self.cashier
        if cashier is None:
            return None
        with self.database.read() as db:
            if cashier_enabled(db, cashier.cashier_id):
                return None
        return f"Cashier {cashier.cashier_id} was disabled at HQ and has been signed out"
