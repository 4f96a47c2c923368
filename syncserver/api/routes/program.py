"""HQ API: the loyalty program's rules — the current version, the history, a sample basket's
points, and publishing a new version (admin). A published version never changes; tills
receive a new one on their next pull."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator

from shared.protocol import ErrorBody
from shared.rules import ProgramRules
from syncserver.api.deps import ActorDep, AdminDep, DatabaseDep, ViewerDep
from syncserver.api.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    Page,
    int_cursor,
    page_of,
)
from syncserver.api.params import MAX_INT32, SafeMultilineText, VersionPath
from syncserver.errors import NotFoundError
from syncserver.hq.program import (
    MAX_NOTE,
    PreviewResponse,
    SampleBasket,
    preview,
    publish_version,
)
from syncserver.settings import as_utc
from syncserver.storage.rules import (
    VersionRecord,
    latest_version,
    list_versions,
    version_record,
)

router = APIRouter(prefix="/api/v1/program", tags=["program"])


def _errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    return {status: {"model": ErrorBody} for status in statuses}


class VersionInfo(BaseModel):
    """A published version: who published it, when and why."""

    version: int
    program_id: str
    published_at: datetime
    published_by: str | None
    """The HQ user (or ``cli``); null for versions published before this was recorded."""
    note: str | None


class ProgramVersion(VersionInfo):
    document: ProgramRules


class PreviewRequest(BaseModel):
    document: ProgramRules | None = None
    """Rules to try (they need not be published); default: the current version."""
    basket: SampleBasket


class PublishRequest(BaseModel):
    document: ProgramRules = Field(
        description="The new version's rules. Its ``version`` is ignored: HQ numbers each "
        "published version itself (the latest + 1) and answers with the number."
    )
    note: SafeMultilineText = Field(
        min_length=3, max_length=MAX_NOTE, description="What changed and why, for the history."
    )
    base_version: int | None = Field(
        default=None,
        ge=0,
        le=MAX_INT32,
        description="The version your change was made from (0: none was published yet). "
        "When another version has been published since, nothing is published (409): "
        "reload and make the change on top of it. Omit to publish whatever is latest.",
    )

    @model_validator(mode="before")
    @classmethod
    def _version_is_assigned(cls, data: Any) -> Any:
        """HQ numbers the version, so whatever the document says (however large) is set
        aside before the rules are validated."""
        if isinstance(data, dict) and isinstance(data.get("document"), dict):
            return {**data, "document": {**data["document"], "version": 1}}
        return data


def _info(record: VersionRecord) -> VersionInfo:
    return VersionInfo(
        version=record.version,
        program_id=record.program_id,
        published_at=as_utc(record.published_at),
        published_by=record.published_by,
        note=record.note,
    )


def _full(record: VersionRecord) -> ProgramVersion:
    return ProgramVersion(**_info(record).model_dump(), document=record.rules)


_NOTHING_PUBLISHED = (
    "no program rules are published yet: an admin publishes the first version with "
    "POST /api/v1/program/versions or `syncserver program load FILE`"
)


@router.get("", responses=_errors(401, 403, 404))
def current_program(_: ViewerDep, database: DatabaseDep) -> ProgramVersion:
    """The current (newest) published version with its rules document."""
    with database.read() as conn:
        record = latest_version(conn)
    if record is None:
        raise NotFoundError(_NOTHING_PUBLISHED)
    return _full(record)


@router.get("/versions", responses=_errors(401, 403, 422))
def program_versions(
    _: ViewerDep,
    database: DatabaseDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[VersionInfo]:
    """Published versions, newest first (without their documents)."""
    before = int_cursor(cursor)
    with database.read() as conn:
        rows = list_versions(conn, before=before, limit=limit + 1)
    items, next_cursor = page_of(rows, limit, lambda r: [r.version])
    return Page[VersionInfo](items=[_info(r) for r in items], next_cursor=next_cursor)


@router.get("/versions/{version}", responses=_errors(401, 403, 404, 422))
def program_version(_: ViewerDep, database: DatabaseDep, version: VersionPath) -> ProgramVersion:
    """One published version with its rules document."""
    with database.read() as conn:
        record = version_record(conn, version)
    if record is None:
        raise NotFoundError(f"version {version} of the program rules was never published")
    return _full(record)


@router.post("/preview", responses=_errors(401, 403, 404, 422))
def preview_basket(_: ViewerDep, database: DatabaseDep, body: PreviewRequest) -> PreviewResponse:
    """The points a sample basket earns under ``document`` (default: the current version),
    computed by the same engine as the tills, with its line-by-line breakdown."""
    rules = body.document
    if rules is None:
        with database.read() as conn:
            record = latest_version(conn)
        if record is None:
            raise NotFoundError(_NOTHING_PUBLISHED)
        rules = record.rules
    return preview(rules, body.basket)


@router.post("/versions", status_code=201, responses=_errors(401, 403, 409, 422))
def publish(
    _: AdminDep, actor: ActorDep, database: DatabaseDep, body: PublishRequest
) -> ProgramVersion:
    """Publish a new version (admin): HQ numbers it (the latest + 1). 409 when it names another
    program, says exactly what the latest version says (a retried publish), or
    ``base_version`` is no longer the latest; tills receive it on their next pull."""
    result = publish_version(
        database, body.document, body.note, actor, base_version=body.base_version
    )
    with database.read() as conn:
        record = version_record(conn, result.version)
    if record is None:  # pragma: no cover - published in the transaction above
        raise NotFoundError(f"version {result.version} vanished after publishing")
    return _full(record)
