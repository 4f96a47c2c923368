"""Supervisor approvals at the till: closing the program, a refund above the limit, a price.

A supervisor is a cashier with the role ``supervisor`` (HQ manages them and the till pulls
them, terminal/store/cashiers.py); they approve with their own number (cashier id) and PIN,
checked offline against the pulled hash. An approval that lets a journal entry happen is
written into that entry (``Return.approved_by``, ``SaleLine.price_override``), so HQ and any
audit later can see who allowed it.
"""

from __future__ import annotations

from typing import TypeGuard

from shared.money import Money
from terminal.config import TillConfig
from terminal.store.cashiers import Cashier, check_pin
from terminal.store.catalog import Product
from terminal.store.database import TillDatabase
from terminal.till.basket import BasketLine
from terminal.till.errors import SignInFailedError, TillError

__all__ = [
    "NOT_A_SUPERVISOR",
    "SUPERVISOR",
    "PriceChangeRefusedError",
    "SupervisorNeededError",
    "approve",
    "check_keyed_price",
    "check_new_price",
    "check_price_change",
    "is_supervisor",
    "require_supervisor",
]

SUPERVISOR = "supervisor"
"""The role that approves (``syncserver cashier add … --role supervisor``)."""

NOT_A_SUPERVISOR = "Supervisor number or PIN is wrong"
"""One refusal for a wrong PIN, an unknown id, a disabled supervisor and a plain cashier:
someone trying PINs learns nothing about which it was."""


class SupervisorNeededError(TillError):
    """The action needs a supervisor's approval it was not given; nothing was changed.

    The screens answer it by asking a supervisor's number and PIN and trying again with them.
    """


class PriceChangeRefusedError(TillError):
    """A line's price cannot be changed (this till does not allow it, an open-price line, the
    same price), or a fixed-price product was keyed with another price."""


def is_supervisor(cashier: Cashier | None) -> TypeGuard[Cashier]:
    return cashier is not None and cashier.role == SUPERVISOR


def approve(database: TillDatabase, supervisor_id: str, pin: str) -> Cashier:
    """The supervisor whose number and PIN these are (enabled, role ``supervisor``); refuses any
    other answer with one message. Costs one PIN hash, whatever the answer."""
    with database.read() as db:
        cashier = check_pin(db, supervisor_id.strip(), pin.strip())
        if is_supervisor(cashier):
            return cashier
        supervisors = int(
            db.execute(
                "SELECT COUNT(*) FROM cashiers WHERE role = ? AND disabled = 0", [SUPERVISOR]
            ).fetchone()[0]
        )
    if supervisors == 0:
        # Not a secret worth keeping, and the one thing that unblocks the store.
        raise SignInFailedError(
            "No supervisor is set up for this till",
            "HQ adds one (syncserver cashier add … --role supervisor); the till receives "
            "them on its next sync",
        )
    raise SignInFailedError(NOT_A_SUPERVISOR, "try again")


def require_supervisor(supervisor: Cashier | None, what: str, next_step: str) -> Cashier:
    """``supervisor``, when it is one (approved by :func:`approve`); else refuse ``what``."""
    if not is_supervisor(supervisor):
        raise SupervisorNeededError(what, next_step)
    return supervisor


# --- a line's price --------------------------------------------------------------------------


def check_price_change(config: TillConfig, line: BasketLine) -> None:
    """May this line's price be changed at all? Asked before the new price is."""
    if not config.price_override:
        raise PriceChangeRefusedError(
            "Prices cannot be changed on this till",
            "sell the item at its price (price_override is off in the till's settings)",
        )
    if line.product.open_price:
        raise PriceChangeRefusedError(
            f"{line.product.description} is sold at the price keyed with it",
            "void the line (Del) and key it again with the right price",
        )


def check_new_price(line: BasketLine, price_minor: int, currency: str) -> None:
    """Is ``price_minor`` a change to this line's price?"""
    if price_minor == line.unit_price_minor:
        raise PriceChangeRefusedError(
            f"{line.product.description} already costs {Money(price_minor, currency).format()}",
            "key a different price, or Esc",
        )


def check_keyed_price(product: Product, price_minor: int | None, currency: str) -> None:
    """A price keyed with a fixed-price product (``EAN 1.99``, ``till sale --line SKU:1:1.99``)
    must be its catalog price: another one is a price change, which a supervisor approves."""
    if price_minor is None or product.open_price or price_minor == product.price_minor:
        return
    raise PriceChangeRefusedError(
        f"{product.description} costs {Money(product.price_minor, currency).format()}; "
        "another price needs a supervisor",
        "sell it at its catalog price; a supervisor can change a line's price at the till (Ctrl+P)",
    )
