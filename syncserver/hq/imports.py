"""CSV imports: members (with cards and opening balances) and the product catalog.

Every row is validated before anything is written; the first bad row stops the import with
its line number and field, and nothing is imported.

Files come as Excel writes them: UTF-8 with or without a byte-order mark ("CSV UTF-8"),
Windows-1252 ("CSV"), or UTF-16 with a BOM ("Unicode text"); separated by commas, or by
semicolons (Excel where the decimal separator is a comma) or tabs. The header names the
columns in any order and case; a file without one, or without a required column, is refused
naming the columns expected and the ones found.
"""

from __future__ import annotations

import codecs
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
from shared.emails import validate_email
from shared.journal import format_utc
from shared.phones import validate_phone
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
    "decode_csv",
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


def decode_csv(data: bytes) -> str:
    """The file's text: a BOM says UTF-8 or UTF-16; otherwise valid UTF-8 is UTF-8 and
    anything else Windows-1252 (Excel's plain "CSV" in western Europe and the Americas)."""
    if data.startswith(codecs.BOM_UTF8):
        encoding, body = "utf-8", data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, body = "utf-16", data
    elif data.startswith(b"PK\x03\x04") or b"\x00" in data[:4096]:
        raise CsvImportError(
            "this is not a CSV file (an .xlsx workbook or other binary file): "
            'in Excel use File > Save As > "CSV UTF-8"'
        )
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            encoding, body = "cp1252", data
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as error:
        line = body[: error.start].count(b"\n") + 1
        name = {"cp1252": "Windows-1252", "utf-8": "UTF-8", "utf-16": "UTF-16"}[encoding]
        raise CsvImportError(
            f"line {line}: byte 0x{body[error.start]:02x} is not {name} text: "
            'save the file as "CSV UTF-8"'
        ) from None


def _delimiter(header: str) -> str:
    """The separator the header line uses most: Excel writes ";" where "," is the decimal
    separator, and tabs in its "Unicode text"."""
    counts = {mark: header.count(mark) for mark in (",", ";", "\t")}
    best = max(counts, key=lambda mark: counts[mark])
    return best if counts[best] > counts[","] else ","


def _columns(model: type[_Row], required: set[str]) -> str:
    optional = [name for name in model.model_fields if name not in required]
    ordered = [name for name in model.model_fields if name in required]
    return f"{', '.join(ordered)} (optional: {', '.join(optional)})"


def _rows(text: str | bytes, model: type[RowT], required: set[str]) -> list[tuple[int, RowT]]:
    """The rows with their line numbers (in the file, as an editor or Excel counts them)."""
    if isinstance(text, bytes):
        text = decode_csv(text)
    text = text.removeprefix("\ufeff")  # a BOM left by a reader that assumed plain UTF-8
    expected = _columns(model, required)
    if not text.strip():
        raise CsvImportError(f"the file is empty: the first line must name the columns {expected}")
    first_line = text.split("\n", 1)[0]
    # newline="": the csv module's own line handling (\r\n, line breaks inside quotes).
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    try:
        found = [name.strip() for name in next(reader)]
        header = [name.lower() for name in found]
        known = set(model.model_fields)
        missing = [name for name in model.model_fields if name in required - set(header)]
        if missing:
            unknown = [f for f, h in zip(found, header, strict=True) if h and h not in known]
            shown = ", ".join(repr(name) for name in found[:12]) or "nothing"
            lead = (
                "line 1 is not a header"
                if len(missing) == len(required)
                else f"line 1: the header lacks {', '.join(missing)}"
            )
            extra = (
                f"; not columns we know: {', '.join(unknown)}"
                if unknown and len(missing) < len(required)
                else ""
            )
            raise CsvImportError(f"{lead} — expected the columns {expected}; found {shown}{extra}")
        twice = sorted({name for name in header if name and header.count(name) > 1})
        if twice:
            raise CsvImportError(f"line 1: column {twice[0]} appears twice in the header")
        rows: list[tuple[int, RowT]] = []
        for values in reader:
            line_no = reader.line_num
            if not any(value.strip() for value in values):
                continue  # blank lines, and the ";;;;" rows Excel leaves below a table
            if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
                raise CsvImportError(
                    f"line {line_no}: {len(values)} values but the header names "
                    f"{len(header)} columns (is a value with a separator in it unquoted?)"
                )
            raw = dict(zip(header, values, strict=False))  # missing trailing cells: blank
            try:
                rows.append((line_no, model.model_validate(raw)))
            except ValidationError as error:
                first = error.errors()[0]
                field = ".".join(str(p) for p in first["loc"]) or "row"
                message = str(first["msg"]).removeprefix("Value error, ")
                raise CsvImportError(f"line {line_no}, field {field}: {message}") from None
    except csv.Error as error:
        raise CsvImportError(f"line {reader.line_num}: not valid CSV ({error})") from None
    return rows


@dataclass(frozen=True, slots=True)
class MemberImportResult:
    imported: int
    skipped: list[str]
    """Member ids already present (left as they are)."""
    opening_points: int


def _check_unique(values: Iterable[tuple[int, str | None]], what: str) -> None:
    seen: dict[str, int] = {}
    for line_no, value in values:
        if value is None:
            continue
        if value in seen:
            raise CsvImportError(
                f"line {line_no}: {what} {value} appears twice in the file "
                f"(also on line {seen[value]})"
            )
        seen[value] = line_no


def _contact(index: int, row: MemberRow, region: str | None) -> MemberRow:
    """The row with its phone in E.164 and its email's domain in lower case (shared.phones,
    shared.emails), or the line, the field and what is wrong."""
    try:
        phone = validate_phone(row.phone, region) if row.phone else None
    except ValueError as error:
        raise CsvImportError(f"line {index}, field phone: {error}") from None
    try:
        email = validate_email(row.email) if row.email else None
    except ValueError as error:
        raise CsvImportError(f"line {index}, field email: {error}") from None
    return row.model_copy(update={"phone": phone, "email": email})


def import_members(
    database: Database, text: str | bytes, actor: str = "cli", *, region: str | None = None
) -> MemberImportResult:
    """Create members with cards; a non-zero balance is an opening-balance posting
    (member against ``program:adjusted``), recorded as an HQ event so rebuilds replay it.
    ``text`` as bytes is a file's content in any encoding :func:`decode_csv` reads.
    ``region``: the country of phone numbers written without + (the server's default)."""
    numbered = _rows(text, MemberRow, {"name", "card_number", "balance"})
    numbered = [(index, _contact(index, row, region)) for index, row in numbered]
    rows = [row for _, row in numbered]
    for index, row in numbered:
        if row.card_number is not None and not (
            row.card_number.isdigit() and luhn_valid(row.card_number)
        ):
            raise CsvImportError(f"line {index}, field card_number: not a valid card number")
    _check_unique(((n, r.member_id) for n, r in numbered), "member_id")
    _check_unique(((n, r.card_number) for n, r in numbered), "card number")

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
        rules = ctx.latest_rules()
        event_ids = []
        for start in range(0, len(imported), _EVENT_SIZE):
            event = MemberImport(
                occurred_at=format_utc(now),
                members=imported[start : start + _EVENT_SIZE],
                rules_version=rules.version if rules is not None else None,
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


def import_catalog(database: Database, text: str | bytes) -> CatalogImportResult:
    """Add or update products; changed ones get a new change_seq, so tills pull them."""
    numbered = _rows(text, ProductRow, {"sku", "description", "category", "price_minor"})
    rows = [row for _, row in numbered]
    _check_unique(((n, r.sku) for n, r in numbered), "sku")
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
