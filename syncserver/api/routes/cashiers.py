"""HQ API: till staff per store — list (viewer), add, disable, enable, reset the PIN
(manager). A PIN goes in, never out: answers carry no PIN, salt or hash."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.protocol import ErrorBody
from syncserver.api.deps import ActorDep, DatabaseDep, ManagerDep, ViewerDep
from syncserver.api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page_of
from syncserver.api.params import SafeText
from syncserver.hq.cashiers import (
    add_cashier,
    disable_cashier,
    enable_cashier,
    list_cashiers,
    reset_pin,
)
from syncserver.settings import as_utc
from syncserver.storage.cashiers import CashierRecord

router = APIRouter(prefix="/api/v1/cashiers", tags=["cashiers"])

CashierIdPath = Annotated[
    str, Path(min_length=1, max_length=16, description="The cashier's id, e.g. 7", examples=["7"])
]
Pin = Annotated[
    str,
    Field(
        min_length=4,
        max_length=8,
        pattern=r"^[0-9]{4,8}$",
        description="4 to 8 digits. HQ keeps only a salted scrypt hash; it is never shown again.",
        examples=["4711"],
    ),
]


class CashierView(BaseModel):
    cashier_id: str
    store_id: str
    name: str
    role: Literal["cashier", "supervisor"]
    active: bool = Field(description="false once disabled: the store's tills refuse them.")
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None


class CashierCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store_id: SafeText = Field(max_length=64, description="The store, e.g. S001.")
    cashier_id: SafeText = Field(
        max_length=16, description="1–16 letters or digits: what they type at the till."
    )
    name: SafeText = Field(max_length=200, description="Their name as staff know it.")
    pin: Pin
    role: Literal["cashier", "supervisor"] = "cashier"


class PinReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: Pin


def cashier_view(record: CashierRecord) -> CashierView:
    return CashierView(
        cashier_id=record.cashier_id,
        store_id=record.store_id,
        name=record.name,
        role="supervisor" if record.role == "supervisor" else "cashier",
        active=not record.disabled,
        created_at=as_utc(record.created_at),
        updated_at=as_utc(record.updated_at),
        disabled_at=as_utc(record.disabled_at),
    )


def _errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    return {s: {"model": ErrorBody} for s in statuses}


@router.get("", responses=_errors(401, 403, 422))
def get_cashiers(
    _user: ViewerDep,
    database: DatabaseDep,
    store: Annotated[
        str | None, Query(max_length=64, description="Only this store's cashiers.")
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[CashierView]:
    """Cashiers (disabled ones too) in store and id order. No PIN material, ever."""
    key = decode_cursor(cursor, 2)
    after = (str(key[0]), str(key[1])) if key else None
    with database.read() as conn:
        rows = list_cashiers(conn, store_id=store, after=after, limit=limit + 1)
    items, next_cursor = page_of(rows, limit, lambda r: [r.store_id, r.cashier_id])
    return Page(items=[cashier_view(r) for r in items], next_cursor=next_cursor)


@router.post("", status_code=201, responses=_errors(401, 403, 409, 422))
def create_cashier(
    body: CashierCreate, _user: ManagerDep, actor: ActorDep, database: DatabaseDep
) -> CashierView:
    """Add a cashier to a store (manager); its tills receive them on their next sync. 409 when
    the id is taken (ids are unique across all stores)."""
    return cashier_view(
        add_cashier(
            database,
            actor,
            store_id=body.store_id,
            cashier_id=body.cashier_id,
            name=body.name,
            pin=body.pin,
            role=body.role,
        )
    )


@router.post("/{cashier_id}/disable", responses=_errors(401, 403, 404, 409, 422))
def disable(
    cashier_id: CashierIdPath, _user: ManagerDep, actor: ActorDep, database: DatabaseDep
) -> CashierView:
    """Stop the cashier signing in (manager): each of the store's tills refuses them, and
    signs them out if they are signed in, on its next sync. 409 when already disabled."""
    return cashier_view(disable_cashier(database, actor, cashier_id))


@router.post("/{cashier_id}/enable", responses=_errors(401, 403, 404, 409, 422))
def enable(
    cashier_id: CashierIdPath, _user: ManagerDep, actor: ActorDep, database: DatabaseDep
) -> CashierView:
    """Let a disabled cashier sign in again, with the PIN they had (manager). 409 when they
    are not disabled."""
    return cashier_view(enable_cashier(database, actor, cashier_id))


@router.post("/{cashier_id}/pin", responses=_errors(401, 403, 404, 422))
def new_pin(
    cashier_id: CashierIdPath,
    body: PinReset,
    _user: ManagerDep,
    actor: ActorDep,
    database: DatabaseDep,
) -> CashierView:
    """Give the cashier a new PIN (manager); the old one stops working at each till on its
    next sync. The answer does not hold the PIN."""
    return cashier_view(reset_pin(database, actor, cashier_id, body.pin))
