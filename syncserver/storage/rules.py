"""Published program rules versions: immutable once published."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Connection, select

from shared.rules import ProgramRules
from syncserver.storage.database import Database
from syncserver.storage.schema import rules_versions

__all__ = ["insert_rules", "parse_rules", "program_ids", "published_rules", "rules_document"]


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
    conn: Connection, rules: ProgramRules, document: str, now: datetime, change_seq: int
) -> None:
    conn.execute(
        rules_versions.insert().values(
            version=rules.version,
            program_id=rules.program_id,
            document=document,
            published_at=now,
            change_seq=change_seq,
        )
    )
