"""What a cashier types, turned into numbers: amounts, quantities, points, receipt numbers.

Refusals are :class:`TillError` s like the core's, so every screen shows them the same way.
Amounts go through ``Money.parse`` (exact decimal to integer minor units, never a float).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.bounds import MAX_MINOR
from shared.codes import ReceiptRef
from shared.money import Money
from terminal.till.errors import TillError

__all__ = [
    "EntryRefusedError",
    "KeyedItem",
    "parse_amount",
    "parse_keyed_item",
    "parse_quantity",
    "parse_receipt",
    "parse_receipt_ref",
]

MAX_QUANTITY = 999
"""No till line needs more; a typo such as 1000 for 1 is refused, not sold."""

_MAX_AMOUNT_TEXT = 24
"""Characters in a typed amount: far more than MAX_MINOR needs, with decimals and spaces."""

_QUANTITY_PREFIX = re.compile(r"^(\d{1,4})\s*[*xX]\s*(\S.*)$")
_PRICED = re.compile(r"^(\S+)\s+(\d+(?:[.,]\d*)?)$")
_RECEIPT_TEXT = re.compile(r"^(?:(?P<terminal>[A-Za-z0-9]{1,16})-)?(?P<seq>\d{1,9})$")


class EntryRefusedError(TillError):
    """The cashier typed something the till cannot use."""


@dataclass(frozen=True, slots=True)
class KeyedItem:
    """A line keyed into the sale's entry field: ``[qty*]code [price]``."""

    code: str
    quantity: int = 1
    price_text: str | None = None


def parse_keyed_item(text: str) -> KeyedItem:
    """``3*4001234567895`` sells three, ``DEPT-FRESH 2.49`` keys a price on a department."""
    text = text.strip()
    quantity = 1
    match = _QUANTITY_PREFIX.match(text)
    if match:
        quantity = parse_quantity(match.group(1))
        text = match.group(2).strip()
    priced = _PRICED.match(text)
    if priced:
        return KeyedItem(priced.group(1), quantity, priced.group(2))
    return KeyedItem(text, quantity)


def parse_amount(text: str, currency: str, *, allow_zero: bool = False) -> int:
    """A typed amount such as ``12.50`` (or ``12,50``) in minor units."""
    cleaned = text.strip().replace(",", ".")
    if len(cleaned) > _MAX_AMOUNT_TEXT:  # int() of a thousand digits is slow and pointless
        raise EntryRefusedError(f"{cleaned[:12]}… is not an amount", "type it like 12.50")
    try:
        minor = Money.parse(cleaned, currency).minor
    except ValueError:
        raise EntryRefusedError(
            f"{text.strip() or 'Nothing'} is not an amount", "type it like 12.50"
        ) from None
    if minor < 0 or (minor == 0 and not allow_zero):
        raise EntryRefusedError("The amount must be more than zero", "type it like 12.50")
    if minor > MAX_MINOR:
        raise EntryRefusedError(
            f"{Money(minor, currency)} is more than a till can take "
            f"(at most {Money(MAX_MINOR, currency)})",
            "check the amount",
        )
    return minor


def parse_quantity(text: str, *, allow_zero: bool = False) -> int:
    cleaned = text.strip()
    if not cleaned.isascii() or not cleaned.isdigit():
        raise EntryRefusedError(f"{cleaned or 'Nothing'} is not a quantity", "type a whole number")
    quantity = int(cleaned)
    if quantity > MAX_QUANTITY:
        raise EntryRefusedError(
            f"{quantity} is more than {MAX_QUANTITY} items", "check the quantity"
        )
    if quantity == 0 and not allow_zero:
        raise EntryRefusedError("The quantity must be at least 1", "type a whole number")
    return quantity


def parse_receipt_ref(text: str, terminal_id: str) -> ReceiptRef:
    """A receipt number as printed (``T1-12``), of this till or any other (returns at any
    till), or just its sequence number (``12``, this till's)."""
    match = _RECEIPT_TEXT.match(text.strip())
    if match is None:
        raise EntryRefusedError(
            f"{text.strip() or 'Nothing'} is not a receipt number",
            f"scan the receipt's barcode or type e.g. {terminal_id}-12",
        )
    terminal = (match.group("terminal") or terminal_id).upper()
    if terminal == terminal_id.upper():
        terminal = terminal_id
    return ReceiptRef(terminal=terminal, seq=int(match.group("seq")))


def parse_receipt(text: str, terminal_id: str) -> int:
    """A receipt number as printed (``T1-12``) or just its sequence number (``12``)."""
    match = _RECEIPT_TEXT.match(text.strip())
    if match is None:
        raise EntryRefusedError(
            f"{text.strip() or 'Nothing'} is not a receipt number",
            f"scan the receipt's barcode or type e.g. {terminal_id}-12",
        )
    terminal = match.group("terminal")
    if terminal and terminal.upper() != terminal_id:
        raise EntryRefusedError(
            f"Receipt {text.strip()} is from till {terminal.upper()}",
            "make the return at that till",
        )
    return int(match.group("seq"))
