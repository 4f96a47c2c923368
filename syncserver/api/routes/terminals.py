"""HQ API: the tills — their sync health, registering a new one (its token and one-time
set-up code shown once), issuing a fresh code and revoking one. Reading needs the viewer
role; registering, codes and revoking need admin. ``POST /claim`` is the till's own call
(``till setup``): no token, just the code, limited per address."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from shared.protocol import ErrorBody, TerminalClaim, TerminalClaimed
from syncserver.api.deps import (
    ActorDep,
    AdminDep,
    DatabaseDep,
    SettingsDep,
    ViewerDep,
    client_ip,
)
from syncserver.api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page_of
from syncserver.api.params import SafeText, TerminalIdPath
from syncserver.hq.terminals import (
    ClaimThrottledError,
    TerminalHealth,
    claim_terminal,
    find_terminal,
    new_setup_code,
    register_terminal,
    revoke,
    terminal_page,
)
from syncserver.settings import as_utc
from syncserver.storage.stores import store_info
from syncserver.storage.users import SignInPolicy

router = APIRouter(prefix="/api/v1/terminals", tags=["terminals"])


class TerminalView(BaseModel):
    terminal_id: str
    store_id: str
    name: str
    created_at: datetime
    acked_seq: int = Field(description="The last seq of its journal HQ has stored.")
    tip_seq: int | None = Field(
        description="The last seq in the till's own journal, as it reported on its last pull "
        "(null: it never reported it)."
    )
    unsent: int | None = Field(
        description="Estimate of entries the till holds that HQ has not: tip_seq - acked_seq "
        "as of its last pull, never below 0 (null: unknown)."
    )
    last_push_at: datetime | None
    last_pull_at: datetime | None
    last_contact_at: datetime | None = Field(description="The later of last push and pull.")
    offline: bool = Field(description="Not heard from for more than an hour.")
    chain_status: Literal["ok", "conflict"] = Field(
        description="conflict: open chain_conflict exceptions (the till sent a different "
        "entry for a seq HQ already holds)."
    )
    open_chain_conflicts: int
    revoked_at: datetime | None
    revoked_by: str | None


class TerminalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store_id: SafeText = Field(max_length=64, description="The store, as in the till's config.")
    name: SafeText = Field(max_length=200, description="What staff call it, e.g. Till 2.")


class TerminalCreated(BaseModel):
    terminal_id: str
    store_id: str
    name: str
    token: str = Field(
        description="The till's bearer token: shown only now. `till setup` replaces it with "
        "a fresh one (this one then stops working)."
    )
    code: str = Field(
        description="One-time set-up code for `till setup --code` (valid 24 h, single use)."
    )
    code_expires_at: datetime


class CodeIssued(BaseModel):
    terminal_id: str
    code: str = Field(
        description="One-time set-up code for `till setup --code` (valid 24 h, single use); "
        "the till's earlier unused codes no longer work."
    )
    code_expires_at: datetime


def terminal_view(health: TerminalHealth) -> TerminalView:
    r = health.record
    return TerminalView(
        terminal_id=r.terminal_id,
        store_id=r.store_id,
        name=r.name,
        created_at=as_utc(r.created_at),
        acked_seq=r.acked_seq,
        tip_seq=r.tip_seq,
        unsent=health.unsent,
        last_push_at=as_utc(r.last_push_at),
        last_pull_at=as_utc(r.last_pull_at),
        last_contact_at=health.last_contact_at,
        offline=health.offline,
        chain_status="conflict" if health.open_chain_conflicts else "ok",
        open_chain_conflicts=health.open_chain_conflicts,
        revoked_at=as_utc(r.revoked_at),
        revoked_by=r.revoked_by,
    )


def _errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    return {s: {"model": ErrorBody} for s in statuses}


@router.get("", responses=_errors(401, 403, 422))
def list_terminals(
    _user: ViewerDep,
    database: DatabaseDep,
    store: Annotated[
        str | None, Query(max_length=64, description="Only this store's tills.")
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[TerminalView]:
    """Registered tills (revoked ones too) in terminal id order, with their sync health."""
    key = decode_cursor(cursor, 1)
    with database.read() as conn:
        rows = terminal_page(
            conn, store_id=store, after=str(key[0]) if key else None, limit=limit + 1
        )
    items, next_cursor = page_of(rows, limit, lambda h: [h.record.terminal_id])
    return Page(items=[terminal_view(h) for h in items], next_cursor=next_cursor)


@router.get("/{terminal_id}", responses=_errors(401, 403, 404, 422))
def get_terminal(
    terminal_id: TerminalIdPath, _user: ViewerDep, database: DatabaseDep
) -> TerminalView:
    """One till with its sync health."""
    with database.read() as conn:
        return terminal_view(find_terminal(conn, terminal_id))


@router.post("", status_code=201, responses=_errors(401, 403, 422))
def add_terminal(
    body: TerminalCreate, _user: AdminDep, actor: ActorDep, database: DatabaseDep
) -> TerminalCreated:
    """Register a till (admin) of a store HQ knows (422 otherwise: add the store first). The
    token and the one-time set-up code are in this reply only: HQ keeps just their hashes.
    On the till, ``till setup --server URL --code CODE`` writes its configuration (and
    replaces the token with a fresh one)."""
    added = register_terminal(database, actor, body.store_id, body.name)
    return TerminalCreated(
        terminal_id=added.terminal_id,
        store_id=added.store_id,
        name=added.name,
        token=added.token,
        code=added.code,
        code_expires_at=as_utc(added.code_expires_at),
    )


@router.post("/claim", responses=_errors(403, 404, 409, 422, 429))
async def claim(
    body: TerminalClaim, request: Request, database: DatabaseDep, settings: SettingsDep
) -> TerminalClaimed:
    """A till trades its one-time set-up code for its identity, a fresh token and its
    store's details (``till setup``; no bearer token). 404 unknown code, 409 used or expired
    (ask HQ for a new one: ``syncserver terminal code T…``), 403 revoked till. Failures count
    per address like staff sign-ins: past a few, 429 with ``Retry-After``."""
    policy = SignInPolicy.from_settings(settings)
    try:
        claimed = await run_in_threadpool(
            claim_terminal, database, body.code, client_ip(request), policy
        )
    except ClaimThrottledError as error:
        raise HTTPException(
            429, error.message, headers={"Retry-After": str(error.retry_after)}
        ) from None
    return TerminalClaimed(
        terminal_id=claimed.terminal_id,
        name=claimed.name,
        token=claimed.token,
        store=store_info(claimed.store),
    )


@router.post("/{terminal_id}/code", status_code=201, responses=_errors(401, 403, 404, 409, 422))
def issue_code(
    terminal_id: TerminalIdPath, _user: AdminDep, actor: ActorDep, database: DatabaseDep
) -> CodeIssued:
    """A fresh one-time set-up code for the till (admin): its earlier unused codes stop
    working. For setting a till up again, or when the first code expired."""
    issued = new_setup_code(database, actor, terminal_id)
    return CodeIssued(
        terminal_id=issued.terminal_id,
        code=issued.code,
        code_expires_at=as_utc(issued.expires_at),
    )


@router.post("/{terminal_id}/revoke", responses=_errors(401, 403, 404, 409, 422))
def revoke_terminal(
    terminal_id: TerminalIdPath, _user: AdminDep, actor: ActorDep, database: DatabaseDep
) -> TerminalView:
    """Refuse the till's token from now on (admin); what it already sent stays. 409 when it
    was already revoked."""
    revoke(database, actor, terminal_id)
    with database.read() as conn:
        return terminal_view(find_terminal(conn, terminal_id))
