"""HQ API: staff accounts (admin only) — list, add (the password is shown once), disable,
and API tokens (shown once)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from shared.protocol import ErrorBody
from syncserver.api.deps import ActorDep, AdminDep, DatabaseDep
from syncserver.api.pagination import CursorQuery, LimitQuery, Page, decode_cursor, page_of
from syncserver.api.params import SafeText, UsernamePath
from syncserver.hq.staff import add_staff, create_staff_token, disable_staff, staff_page
from syncserver.settings import as_utc
from syncserver.storage.users import Role, UserRecord

router = APIRouter(prefix="/api/v1/users", tags=["users"])


class UserView(BaseModel):
    username: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None
    last_sign_in_at: datetime | None
    active: bool = Field(description="false once disabled: no sign-in, no API token works.")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: SafeText = Field(max_length=100, description="2–100 of a-z 0-9 . _ @ -")
    role: Role


class UserCreated(BaseModel):
    username: str
    role: Role
    password: str = Field(description="Random; shown only now (HQ keeps an argon2 hash).")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: SafeText | None = Field(default=None, max_length=200, description="What it is for.")


class TokenCreated(BaseModel):
    username: str
    token: str = Field(description="Bearer token acting as the user: shown only now.")


def user_view(record: UserRecord) -> UserView:
    return UserView(
        username=record.username,
        role=record.role,
        created_at=as_utc(record.created_at),
        disabled_at=as_utc(record.disabled_at),
        last_sign_in_at=as_utc(record.last_sign_in_at),
        active=record.disabled_at is None,
    )


def _errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    return {s: {"model": ErrorBody} for s in statuses}


@router.get("", responses=_errors(401, 403, 422))
def list_users(
    _admin: AdminDep, database: DatabaseDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[UserView]:
    """HQ users in name order, disabled ones too."""
    key = decode_cursor(cursor, 1)
    with database.read() as conn:
        rows = staff_page(conn, after=str(key[0]) if key else None, limit=limit + 1)
    items, next_cursor = page_of(rows, limit, lambda r: [r.username])
    return Page(items=[user_view(r) for r in items], next_cursor=next_cursor)


@router.post("", status_code=201, responses=_errors(401, 403, 409, 422))
def add_user(
    body: UserCreate, _admin: AdminDep, actor: ActorDep, database: DatabaseDep
) -> UserCreated:
    """Add a user with a random password, in this reply only. 409 when the name is taken."""
    created = add_staff(database, actor, body.username, body.role)
    return UserCreated(username=created.username, role=created.role, password=created.password)


@router.post("/{username}/disable", responses=_errors(401, 403, 404, 409, 422))
def disable_user(
    username: UsernamePath, _admin: AdminDep, actor: ActorDep, database: DatabaseDep
) -> UserView:
    """Disable a user: sessions end, API tokens stop working, sign-in is refused. The last
    enabled admin cannot be disabled (409), nor your own account (403)."""
    return user_view(disable_staff(database, actor, username))


@router.post("/{username}/tokens", status_code=201, responses=_errors(401, 403, 404, 409, 422))
def create_token(
    username: UsernamePath,
    _admin: AdminDep,
    actor: ActorDep,
    database: DatabaseDep,
    body: TokenCreate | None = None,
) -> TokenCreated:
    """A new API token acting as the user, in this reply only."""
    token = create_staff_token(database, actor, username, body.label if body else None)
    return TokenCreated(username=username, token=token)
