"""PIN checks the UI needs beyond signing in: unlocking, leaving self-check, quitting."""

from __future__ import annotations

from terminal.store.cashiers import Cashier, check_pin
from terminal.till.approvals import approve
from terminal.till.errors import NotSignedInError, SignInFailedError
from terminal.till.service import Till

__all__ = ["check_signed_in_pin", "check_supervisor_pin"]


def check_signed_in_pin(till: Till, pin: str) -> Cashier:
    """The PIN of the cashier who is signed in (lock screen, leaving self-check)."""
    if till.cashier is None:
        raise NotSignedInError("Nobody is signed in", "sign in with your cashier number and PIN")
    with till.database.read() as db:
        cashier = check_pin(db, till.cashier.cashier_id, pin.strip())
    if cashier is None:
        raise SignInFailedError(f"That is not {till.cashier.name}'s PIN", "try again")
    return cashier


def check_supervisor_pin(till: Till, cashier_id: str, pin: str) -> Cashier:
    """A supervisor's number and PIN (quitting, discarding a paid sale, a refund above the limit,
    a price change): terminal/till/approvals.py decides."""
    return approve(till.database, cashier_id, pin)
