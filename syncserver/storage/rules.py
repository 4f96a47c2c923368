"""Published program rules versions: immutable once published."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import Connection, select

from shared.rules import ProgramRules
from syncserver.storage.schema import rules_versions

__all__ = ["insert_rules", "parse_rules", "program_ids", "rules_document"]


@lru_cache(maxsize=64)
def parse_rules(document: str) -> ProgramRules:
    """Rules documents never change once published, so each is parsed once per process."""
    return ProgramRules.from_json(document)


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
