"""CSV imports: members (with cards and opening balances) and the product catalog.

Every row is validated before anything is written; the first bad row stops the import with
its line number and field, and nothing is imported.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from sqlalchemy import Connection, select, update

from shared.bounds import MAX_MINOR, MAX_POINTS, MAX_TEXT
from shared.codes import luhn_valid
from shared.journal import format_utc
from shared.text import check_safe_text
from syncserver.ledger.context import LedgerContext, LiveMemberIds
from syncserver.ledger.hq_events import ImportedMember, MemberImport, apply_event, record_event
from syncserver.settings import utc_now
from syncserver.storage.counter import allocate_positions
from syncserver.storage.database import Database, run_write
from syncserver.storage.schema import cards, members, products

__all__ = [
    "CatalogImportResult",
    "CsvImportError",
    "MemberImportResult",
    "import_catalog",
    "import_members",
]

_EVENT_SIZE = 500
"""Members per HQ event: bounded records, however large the file."""


class CsvImportError(ValueError):
    """The file cannot be imported; the message names the line and the field."""


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


SafeText = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(check_safe_text)]
Optional = Annotated[SafeText | None, BeforeValidator(_blank_to_none), BeforeValidator(_strip)]
Required = Annotated[SafeText, BeforeValidator(_strip), Field(min_length=1)]


def _integer(value: object) -> object:
    # CSV cells are text; accept "-120" but never "1.5" or "1e3".
    if isinstance(value, str):
        text = value.strip() or "0"
        if not re.fullmatch(r"-?[0-9]{1,19}", text):
            raise ValueError(f"{value!r} is not a whole number")
        return int(text)
    return value


def _flag(value: object) -> object:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "0", "false", "no", "n"):
            return False
        if text in ("1", "true", "yes", "y"):
            return True
        raise ValueError(f"{value!r} is not yes/no")
    return value


Integer = Annotated[int, BeforeValidator(_integer), Field(ge=-MAX_MINOR, le=MAX_MINOR)]
Flag = Annotated[bool, BeforeValidator(_flag)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MemberRow(_Row):
    member_id: Annotated[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")] | None,
        BeforeValidator(_blank_to_none),
        BeforeValidator(_strip),
    ] = None
    name: Required
    phone: Optional = None
    email: Optional = None
    tier: Optional = None
    card_number: Optional = None
    balance: Annotated[Integer, Field(ge=-MAX_POINTS, le=MAX_POINTS)] = 0
    marketing_consent: Flag = False


class ProductRow(_Row):
    sku: Required
    description: Required
    category: Required
    price_minor: Annotated[Integer, Field(ge=0)]
    tax_rate_bp: Annotated[Integer, Field(ge=0, le=10_000)] = 0
    open_price: Flag = False


RowT = TypeVar("RowT", bound=_Row)


def _rows(text: str, model: type[RowT], required: set[str]) -> list[RowT]:
    reader = csv.DictReader(io.StringIO(text))
    missing = required - set(reader.fieldnames or ())
    if missing:
        raise CsvImportError(f"line 1: missing column(s): {', '.join(sorted(missing))}")
    rows = []
    for line_no, raw in enumerate(reader, start=2):
        try:
            rows.append(model.model_validate(raw))
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "row"
            raise CsvImportError(f"line {line_no}, field {field}: {first['msg']}") from None
    return rows


@dataclass(frozen=True, slots=True)
class MemberImportResult:
    imported: int
    skipped: list[str]
    """Member ids already present (left as they are)."""
    opening_points: int


def _check_unique(values: Iterable[str | None], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value is None:
            continue
        if value in seen:
            raise CsvImportError(f"{what} {value} appears twice in the file")
        seen.add(value)


def import_members(database: Database, text: str, actor: str = "cli") -> MemberImportResult:
    """Create members with cards; a non-zero balance is an opening-balance posting
    (member against ``program:adjusted``), recorded as an HQ event so rebuilds replay it."""
    rows = _rows(text, MemberRow, {"name", "card_number", "balance"})
    for index, row in enumerate(rows, start=2):
        if row.card_number is not None and not (
            row.card_number.isdigit() and luhn_valid(row.card_number)
        ):
            raise CsvImportError(f"line {index}, field card_number: not a valid card number")
    _check_unique((r.member_id for r in rows), "member_id")
    _check_unique((r.card_number for r in rows), "card number")

    def work(conn: Connection) -> MemberImportResult:
        now = utc_now()
        wanted = [r.member_id for r in rows if r.member_id]
        existing = set(
            conn.execute(select(members.c.member_id).where(members.c.member_id.in_(wanted)))
            .scalars()
            .all()
        )
        fresh = [r for r in rows if r.member_id not in existing]
        taken = set(
            conn.execute(
                select(cards.c.card_number).where(
                    cards.c.card_number.in_([r.card_number for r in fresh if r.card_number])
                )
            ).scalars()
        )
        if taken:
            raise CsvImportError(f"card {sorted(taken)[0]} already belongs to a member")
        ids = LiveMemberIds()
        imported = [
            ImportedMember(
                member_id=row.member_id or ids.for_enrolment("HQ", 0, 0),
                name=row.name,
                phone=row.phone,
                email=row.email,
                tier=row.tier,
                card_number=row.card_number,
                opening_balance=row.balance,
                marketing_consent=row.marketing_consent,
            )
            for row in fresh
        ]
        ctx = LedgerContext(conn, now, member_ids=ids, live=True)
        event_ids = []
        for start in range(0, len(imported), _EVENT_SIZE):
            event = MemberImport(
                occurred_at=format_utc(now), members=imported[start : start + _EVENT_SIZE]
            )
            event_id = record_event(conn, event, actor, ctx)
            apply_event(ctx, event_id, event.kind, event.model_dump(mode="json"))
            event_ids.append(event_id)
        ctx.finish(hq_event_ids=event_ids)
        return MemberImportResult(
            imported=len(imported),
            skipped=sorted(existing),
            opening_points=sum(m.opening_balance for m in imported),
        )

    return run_write(database, work)


@dataclass(frozen=True, slots=True)
class CatalogImportResult:
    added: int
    changed: int
    unchanged: int


def import_catalog(database: Database, text: str) -> CatalogImportResult:
    """Add or update products; changed ones get a new change_seq, so tills pull them."""
    rows = _rows(text, ProductRow, {"sku", "description", "category", "price_minor"})
    _check_unique((r.sku for r in rows), "sku")
    fields = ("description", "category", "price_minor", "tax_rate_bp", "open_price")

    def work(conn: Connection) -> CatalogImportResult:
        current: dict[str, Any] = {
            row.sku: row
            for row in conn.execute(
                select(products).where(products.c.sku.in_([r.sku for r in rows]))
            )
        }
        added = [r for r in rows if r.sku not in current]
        changed = [
            r
            for r in rows
            if r.sku in current and any(getattr(r, f) != getattr(current[r.sku], f) for f in fields)
        ]
        count = len(added) + len(changed)
        if count:
            position = allocate_positions(conn, count)
            for offset, row in enumerate(added + changed):
                values = {f: getattr(row, f) for f in fields} | {"change_seq": position + offset}
                if row.sku in current:
                    conn.execute(update(products).where(products.c.sku == row.sku).values(values))
                else:
                    conn.execute(products.insert().values(sku=row.sku, **values))
        return CatalogImportResult(len(added), len(changed), len(rows) - count)

    return run_write(database, work)
