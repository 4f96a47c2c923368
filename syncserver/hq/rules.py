"""Publishing program rules versions (``syncserver program load``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection

from shared.rules import ProgramRules
from syncserver.settings import utc_now
from syncserver.storage.counter import allocate_positions
from syncserver.storage.database import Database, run_write
from syncserver.storage.rules import insert_rules, program_ids, rules_document

__all__ = ["PublishResult", "RulesConflictError", "publish_rules"]


class RulesConflictError(ValueError):
    """The version exists with other content, or belongs to another program."""


@dataclass(frozen=True, slots=True)
class PublishResult:
    program_id: str
    version: int
    published: bool
    """False when this exact version was already published (nothing changed)."""


def publish_rules(database: Database, text: str | bytes) -> PublishResult:
    """Validate (``ProgramRules``; a ValidationError names the field) and publish. A published
    version never changes: tills and the ledger may already have used it."""
    rules = ProgramRules.from_json(text)
    document = json.dumps(
        rules.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )

    def work(conn: Connection) -> PublishResult:
        others = program_ids(conn) - {rules.program_id}
        if others:
            raise RulesConflictError(
                f"this server runs program {sorted(others)[0]!r}, not {rules.program_id!r}"
            )
        existing = rules_document(conn, rules.version)
        if existing is not None:
            if existing[1] == document:
                return PublishResult(rules.program_id, rules.version, published=False)
            raise RulesConflictError(
                f"version {rules.version} is already published with different content; "
                "publish the change as a new version"
            )
        insert_rules(conn, rules, document, utc_now(), allocate_positions(conn, 1))
        return PublishResult(rules.program_id, rules.version, published=True)

    return run_write(database, work)
