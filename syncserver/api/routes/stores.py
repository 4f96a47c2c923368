"""HQ API: the stores — name and address (printed on receipts), time zone and country. Reading
needs the viewer role; adding and changing one needs manager. Every change is an audit row."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from shared.protocol import ErrorBody
from syncserver.api.deps import ActorDep, DatabaseDep, ManagerDep, ViewerDep
from syncserver.api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page_of
from syncserver.api.params import SafeText
from syncserver.hq.stores import (
    StoreChanges,
    StoreFields,
    change_store,
    create_store,
    find_store,
    store_page,
)
from syncserver.settings import as_utc
from syncserver.storage.stores import StoreRecord

router = APIRouter(prefix="/api/v1/stores", tags=["stores"])

StoreIdPath = Annotated[
    str, Path(min_length=1, max_length=64, description="e.g. S001", examples=["S001"])
]
AddressLine = Annotated[SafeText, Field(max_length=100)]


class StoreView(BaseModel):
    store_id: str
    name: str
    address: list[str] = Field(description="Receipt header lines, top to bottom.")
    timezone: str = Field(description="IANA time zone, e.g. Europe/Berlin.")
    country: str | None = Field(description="ISO 3166 alpha-2, e.g. DE.")
    tax_id: str | None
    created_at: datetime
    updated_at: datetime


class StoreCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store_id: SafeText = Field(max_length=64, description="e.g. S001, as in the tills' config.")
    name: SafeText = Field(max_length=200, description="What customers see, e.g. Harbour Grocers.")
    address: list[AddressLine] = Field(default=[], max_length=6)
    timezone: SafeText = Field(max_length=64, description="IANA time zone, e.g. Europe/Berlin.")
    country: SafeText | None = Field(default=None, max_length=2, description="e.g. DE.")
    tax_id: SafeText | None = Field(default=None, max_length=64)


class StoreUpdate(BaseModel):
    """Only the fields given change; an empty ``country`` or ``tax_id`` clears it."""

    model_config = ConfigDict(extra="forbid")

    name: SafeText | None = Field(default=None, max_length=200)
    address: list[AddressLine] | None = Field(default=None, max_length=6)
    timezone: SafeText | None = Field(default=None, max_length=64)
    country: SafeText | None = Field(default=None, max_length=2)
    tax_id: SafeText | None = Field(default=None, max_length=64)


def store_view(record: StoreRecord) -> StoreView:
    return StoreView(
        store_id=record.store_id,
        name=record.name,
        address=list(record.address),
        timezone=record.timezone,
        country=record.country,
        tax_id=record.tax_id,
        created_at=as_utc(record.created_at),
        updated_at=as_utc(record.updated_at),
    )


def _errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    return {s: {"model": ErrorBody} for s in statuses}


@router.get("", responses=_errors(401, 403, 422))
def list_stores(
    _user: ViewerDep, database: DatabaseDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[StoreView]:
    """The stores in store id order."""
    key = decode_cursor(cursor, 1)
    with database.read() as conn:
        rows = store_page(conn, after=str(key[0]) if key else None, limit=limit + 1)
    items, next_cursor = page_of(rows, limit, lambda r: [r.store_id])
    return Page(items=[store_view(r) for r in items], next_cursor=next_cursor)


@router.get("/{store_id}", responses=_errors(401, 403, 404, 422))
def get_store(store_id: StoreIdPath, _user: ViewerDep, database: DatabaseDep) -> StoreView:
    """One store."""
    with database.read() as conn:
        return store_view(find_store(conn, store_id))


@router.post("", status_code=201, responses=_errors(401, 403, 409, 422))
def add_store(
    body: StoreCreate, _user: ManagerDep, actor: ActorDep, database: DatabaseDep
) -> StoreView:
    """Add a store (manager+). 409 when the id is taken; 422 for an unknown time zone or a
    country that is not two capital letters."""
    fields = StoreFields(
        store_id=body.store_id,
        name=body.name,
        address=body.address,
        timezone=body.timezone,
        country=body.country,
        tax_id=body.tax_id,
    )
    return store_view(create_store(database, actor, fields))


@router.patch("/{store_id}", responses=_errors(401, 403, 404, 422))
def update_store(
    store_id: StoreIdPath,
    body: StoreUpdate,
    _user: ManagerDep,
    actor: ActorDep,
    database: DatabaseDep,
) -> StoreView:
    """Change a store (manager+): only the fields given. Tills pick up a new name or address
    when they are set up again (``till setup``)."""
    changes = StoreChanges(
        name=body.name,
        address=body.address,
        timezone=body.timezone,
        country=body.country,
        tax_id=body.tax_id,
    )
    return store_view(change_store(database, actor, store_id, changes))
