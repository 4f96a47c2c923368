"""Published program rules versions (immutable once published) and HQ's unpublished drafts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from shared.rules import ProgramRules
from syncserver.storage.database import Database
from syncserver.storage.schema import rules_drafts, rules_versions

__all__ = [
    "DraftRecord",
    "VersionRecord",
    "delete_draft",
    "draft_record",
    "insert_draft",
    "insert_rules",
    "latest_version",
    "latest_version_number",
    "list_drafts",
    "list_versions",
    "parse_rules",
    "previous_version",
    "program_ids",
    "published_rules",
    "rules_document",
    "update_draft",
    "version_record",
]


@lru_cache(maxsize=64)
def parse_rules(document: str) -> ProgramRules:
    """Rules documents never change once published, so each is parsed once per process."""
    return ProgramRules.from_json(document)


def published_rules(database: Database, versions: Iterable[int]) -> dict[int, ProgramRules]:
    """The published ones among ``versions``, parsed. A published version never changes, so
    each process reads it from a database at most once (``Database.published_rules``); a
    version not found is asked for again next time."""
    wanted = set(versions)
    cache = database.published_rules
    missing = sorted(wanted - cache.keys())
    if missing:
        with database.read() as conn:
            rows = conn.execute(
                select(rules_versions.c.version, rules_versions.c.document).where(
                    rules_versions.c.version.in_(missing)
                )
            ).all()
        for row in rows:
            cache[int(row.version)] = parse_rules(row.document)
    return {version: cache[version] for version in wanted if version in cache}


def rules_document(conn: Connection, version: int) -> tuple[str, str] | None:
    """(program_id, document) of a published version."""
    row = conn.execute(
        select(rules_versions.c.program_id, rules_versions.c.document).where(
            rules_versions.c.version == version
        )
    ).first()
    return (row.program_id, row.document) if row else None


def program_ids(conn: Connection) -> set[str]:
    return set(conn.execute(select(rules_versions.c.program_id).distinct()).scalars())


def insert_rules(
    conn: Connection,
    rules: ProgramRules,
    document: str,
    now: datetime,
    change_seq: int,
    *,
    published_by: str | None = None,
    note: str | None = None,
) -> None:
    conn.execute(
        rules_versions.insert().values(
            version=rules.version,
            program_id=rules.program_id,
            document=document,
            published_at=now,
            change_seq=change_seq,
            published_by=published_by,
            note=note,
        )
    )


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """A published version: who published it, when and why; ``document`` is its JSON text
    (None in lists, which never load documents)."""

    version: int
    program_id: str
    published_at: datetime
    published_by: str | None
    note: str | None
    document: str | None = None

    @property
    def rules(self) -> ProgramRules:
        if self.document is None:
            raise ValueError(f"version {self.version} was read without its document")
        return parse_rules(self.document)


_SUMMARY = (
    rules_versions.c.version,
    rules_versions.c.program_id,
    rules_versions.c.published_at,
    rules_versions.c.published_by,
    rules_versions.c.note,
)


def _version(row: Any, *, with_document: bool) -> VersionRecord:
    return VersionRecord(
        version=int(row.version),
        program_id=row.program_id,
        published_at=row.published_at,
        published_by=row.published_by,
        note=row.note,
        document=row.document if with_document else None,
    )


def latest_version_number(conn: Connection) -> int | None:
    value = conn.execute(select(func.max(rules_versions.c.version))).scalar_one_or_none()
    return None if value is None else int(value)


def version_record(conn: Connection, version: int) -> VersionRecord | None:
    row = conn.execute(
        select(*_SUMMARY, rules_versions.c.document).where(rules_versions.c.version == version)
    ).first()
    return _version(row, with_document=True) if row else None


def latest_version(conn: Connection) -> VersionRecord | None:
    """The newest published version, with its document (the primary key gives it)."""
    row = conn.execute(
        select(*_SUMMARY, rules_versions.c.document)
        .order_by(rules_versions.c.version.desc())
        .limit(1)
    ).first()
    return _version(row, with_document=True) if row else None


def previous_version(conn: Connection, version: int) -> VersionRecord | None:
    """The newest version published before ``version`` (what it replaced), with its document."""
    row = conn.execute(
        select(*_SUMMARY, rules_versions.c.document)
        .where(rules_versions.c.version < version)
        .order_by(rules_versions.c.version.desc())
        .limit(1)
    ).first()
    return _version(row, with_document=True) if row else None


def list_versions(conn: Connection, *, before: int | None, limit: int) -> list[VersionRecord]:
    """Up to ``limit`` versions newest first, older than ``before`` (keyset on the primary
    key), without their documents."""
    query = select(*_SUMMARY).order_by(rules_versions.c.version.desc()).limit(limit)
    if before is not None:
        query = query.where(rules_versions.c.version < before)
    return [_version(row, with_document=False) for row in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class DraftRecord:
    """Unpublished rules being edited at HQ. ``document`` is JSON that has the shape of a
    rules document but may not pass validation yet."""

    id: int
    program_id: str
    version: int
    base_version: int | None
    document: str
    note: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


def _draft(row: Any) -> DraftRecord:
    return DraftRecord(
        id=int(row.id),
        program_id=row.program_id,
        version=int(row.version),
        base_version=row.base_version,
        document=row.document,
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def insert_draft(
    conn: Connection,
    *,
    program_id: str,
    version: int,
    base_version: int | None,
    document: str,
    note: str | None,
    created_by: str,
    now: datetime,
) -> int:
    row = conn.execute(
        rules_drafts.insert()
        .values(
            program_id=program_id,
            version=version,
            base_version=base_version,
            document=document,
            note=note,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        .returning(rules_drafts.c.id)
    ).one()
    return int(row.id)


def update_draft(
    conn: Connection,
    draft_id: int,
    *,
    program_id: str,
    version: int,
    base_version: int | None,
    document: str,
    note: str | None,
    now: datetime,
) -> bool:
    """Overwrite a draft's content; False when there is no such draft."""
    changed = conn.execute(
        update(rules_drafts)
        .where(rules_drafts.c.id == draft_id)
        .values(
            program_id=program_id,
            version=version,
            base_version=base_version,
            document=document,
            note=note,
            updated_at=now,
        )
    ).rowcount
    return bool(changed)


def draft_record(conn: Connection, draft_id: int) -> DraftRecord | None:
    row = conn.execute(select(rules_drafts).where(rules_drafts.c.id == draft_id)).first()
    return _draft(row) if row else None


def list_drafts(conn: Connection, *, before: int | None, limit: int) -> list[DraftRecord]:
    """Up to ``limit`` drafts, newest first (keyset on the primary key)."""
    query = select(rules_drafts).order_by(rules_drafts.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(rules_drafts.c.id < before)
    return [_draft(row) for row in conn.execute(query)]


def delete_draft(conn: Connection, draft_id: int) -> bool:
    return bool(conn.execute(delete(rules_drafts).where(rules_drafts.c.id == draft_id)).rowcount)
