"""The sale being rung up, kept in the one-row ``open_sale`` table as it is built.

The till rewrites the row on every change to the basket, in a ``TillDatabase.write()``
transaction (``synchronous=FULL``), so a crash or a power cut loses at most the keystroke in
flight: on the next start the till offers the sale back. Completing the sale deletes the row
in the transaction that journals it, so the till can never both journal a sale and offer it
back (docs/design.md, invariant 1).

The row holds a JSON document with a version number. A document this till cannot read (a
damaged file, another version of the till) is reported by :func:`read_open_sale` as an
:class:`UnreadableOpenSale`, never raised: a bad row must not stop the till from selling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

import sqlite_utils
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.bounds import (
    MAX_BALANCE_POINTS,
    MAX_ID,
    MAX_LINES,
    MAX_MINOR,
    MAX_POINTS,
    MAX_QUANTITY,
    MAX_TENDERS,
)
from shared.journal import TenderMethod

__all__ = [
    "OPEN_SALE_VERSION",
    "OpenSaleDocument",
    "SavedLine",
    "SavedMember",
    "SavedOpenSale",
    "SavedRedemption",
    "SavedReward",
    "SavedTender",
    "SavedVoucher",
    "UnreadableOpenSale",
    "clear_open_sale",
    "parse_open_sale",
    "read_open_sale",
    "save_open_sale",
]

OPEN_SALE_VERSION = 1
"""Bump when the document changes shape; a till reads only the versions it knows."""

_MAX_TEXT = 1_000
"""A description or name: the catalog's and the members' own limits are far below."""

Minor = Annotated[int, Field(ge=0, le=MAX_MINOR)]
Text = Annotated[str, Field(min_length=1, max_length=_MAX_TEXT)]
Key = Annotated[str, Field(min_length=1, max_length=MAX_ID)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SavedLine(_Model):
    """A basket line with the product as it was when keyed (its price is what was quoted)."""

    line_no: Annotated[int, Field(ge=1, le=10 * MAX_LINES)]
    sku: Text
    description: Text
    category: Text
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
    unit_price_minor: Minor
    discount_minor: Minor = 0
    tax_rate_bp: Annotated[int, Field(ge=0, le=10_000)]
    open_price: bool
    original_price_minor: Minor | None = None
    """The catalog price when a supervisor changed the line's price (then also set:)."""
    price_approved_by: Key | None = None


class SavedMember(_Model):
    member_key: Key
    card_number: Key
    name: Text
    balance: Annotated[int, Field(ge=-MAX_BALANCE_POINTS, le=MAX_BALANCE_POINTS)]


class SavedRedemption(_Model):
    points: Annotated[int, Field(gt=0, le=MAX_POINTS)]
    discount_minor: Annotated[int, Field(gt=0, le=MAX_MINOR)]


class SavedTender(_Model):
    method: TenderMethod
    amount_minor: Annotated[int, Field(gt=0, le=MAX_MINOR)]
    reference: Annotated[str, Field(max_length=MAX_ID)] | None = None


class SavedVoucher(_Model):
    code: Key
    discount_minor: Annotated[int, Field(gt=0, le=MAX_MINOR)]
    hq_confirmed: bool = False


class SavedReward(_Model):
    """A reward the member buys with the sale (re-priced when the sale is resumed)."""

    reward_id: Key
    name: Text
    points: Annotated[int, Field(gt=0, le=MAX_POINTS)]
    apply_now: bool
    discount_minor: Minor = 0


class OpenSaleDocument(_Model):
    """Everything needed to put the basket back as it was: lines, member, redemption,
    tenders taken, who started it and when."""

    version: Literal[1] = 1
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    started_at: datetime
    cashier_id: Key | None
    cashier_name: Text | None
    lines: Annotated[list[SavedLine], Field(max_length=MAX_LINES)]
    next_line_no: Annotated[int, Field(ge=1, le=10 * MAX_LINES + 1)]
    member: SavedMember | None = None
    redemption: SavedRedemption | None = None
    tenders: Annotated[list[SavedTender], Field(max_length=MAX_TENDERS)] = []
    vouchers: Annotated[list[SavedVoucher], Field(max_length=MAX_TENDERS)] = []
    """Vouchers taken off the sale (re-checked against the basket when it is resumed)."""
    rewards: Annotated[list[SavedReward], Field(max_length=MAX_TENDERS)] = []
    """Rewards the member buys with the sale (dropped when the member is)."""

    @property
    def subtotal_minor(self) -> int:
        return sum(
            line.quantity * line.unit_price_minor - line.discount_minor for line in self.lines
        )

    @property
    def total_minor(self) -> int:
        points = self.redemption.discount_minor if self.redemption else 0
        vouchers = sum(v.discount_minor for v in self.vouchers)
        return self.subtotal_minor - points - vouchers - sum(r.discount_minor for r in self.rewards)

    @property
    def paid_minor(self) -> int:
        return sum(tender.amount_minor for tender in self.tenders)


@dataclass(frozen=True, slots=True)
class SavedOpenSale:
    document: OpenSaleDocument
    updated_at: datetime
    """When the basket last changed (UTC)."""


@dataclass(frozen=True, slots=True)
class UnreadableOpenSale:
    reason: str
    """Why the till cannot use it, in words."""
    raw: str
    """The row as stored, so it can be set aside for a supervisor rather than lost."""
    updated_at: str


def save_open_sale(db: sqlite_utils.Database, document: OpenSaleDocument, now: datetime) -> None:
    """Write the basket (inside the caller's transaction): it replaces the one row."""
    db.execute(
        "INSERT INTO open_sale (id, document, updated_at) VALUES (1, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET document = excluded.document, "
        "updated_at = excluded.updated_at",
        [document.model_dump_json(), now.astimezone(UTC).isoformat()],
    )


def clear_open_sale(db: sqlite_utils.Database) -> None:
    """No sale open any more: completed (same transaction as the journal entry) or dropped."""
    db.execute("DELETE FROM open_sale WHERE id = 1")


def read_open_sale(db: sqlite_utils.Database) -> SavedOpenSale | UnreadableOpenSale | None:
    """The sale left open, None if there is none, or why the row cannot be used."""
    row = db.execute("SELECT document, updated_at FROM open_sale WHERE id = 1").fetchone()
    if row is None:
        return None
    raw, updated = row[0], row[1]
    raw_text = raw if isinstance(raw, str) else repr(raw)
    updated_text = updated if isinstance(updated, str) else repr(updated)
    try:
        document = parse_open_sale(raw_text)
        updated_at = datetime.fromisoformat(updated_text)
    except ValueError as error:
        return UnreadableOpenSale(str(error), raw_text, updated_text)
    if updated_at.tzinfo is None:
        updated_at = updated_at.replace(tzinfo=UTC)
    return SavedOpenSale(document, updated_at)


def parse_open_sale(text: str) -> OpenSaleDocument:
    """Validate a stored document; ValueError says why it cannot be used."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"it is not JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError("it is not a sale document")
    version = data.get("version")
    if version != OPEN_SALE_VERSION:
        raise ValueError(
            f"it was saved in format version {version!r}; this till reads {OPEN_SALE_VERSION}"
        )
    try:
        document = OpenSaleDocument.model_validate_json(text)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{where}: {first['msg']}") from None
    numbers = [line.line_no for line in document.lines]
    if len(set(numbers)) != len(numbers) or any(n >= document.next_line_no for n in numbers):
        raise ValueError("its line numbers are inconsistent")
    if document.subtotal_minor > MAX_MINOR or document.total_minor < 0:
        raise ValueError("its total is beyond what a till can sell")
    if document.redemption is not None and document.member is None:
        raise ValueError("it redeems points without a member")
    return document
