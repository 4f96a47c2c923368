"""Publishing program rules versions (``syncserver program load``, the dashboard, the API)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from shared.rules import ProgramRules
from syncserver.settings import as_utc, utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.counter import allocate_positions
from syncserver.storage.database import Database, run_write
from syncserver.storage.rules import (
    delete_draft,
    insert_rules,
    latest_version_number,
    program_ids,
    rules_document,
    version_record,
)

__all__ = [
    "CLI_ACTOR",
    "PublishResult",
    "RulesConflictError",
    "canonical_document",
    "publish_rules",
]

CLI_ACTOR = Actor("cli", via="cli")
"""Who publishes with ``syncserver program load`` on the server itself."""


class RulesConflictError(ValueError):
    """The version exists with other content (or at all, for ``new_only``), is older than the
    latest, or belongs to another program."""


@dataclass(frozen=True, slots=True)
class PublishResult:
    program_id: str
    version: int
    published: bool
    """False when this exact version was already published (nothing changed)."""


def canonical_document(rules: ProgramRules) -> str:
    """The stored form of a rules version: every field, sorted keys, no spaces."""
    return json.dumps(
        rules.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def publish_rules(
    database: Database,
    text: str | bytes,
    *,
    actor: Actor = CLI_ACTOR,
    note: str | None = None,
    new_only: bool = False,
    draft_id: int | None = None,
) -> PublishResult:
    """Validate (``ProgramRules``; a ValidationError names the field) and publish, recording
    who published it and why (``rules_versions.published_by`` / ``note`` and an audit row).
    A published version never changes: tills and the ledger may already have used it.

    Loading the same file twice is harmless (``published=False``). ``new_only`` (HQ staff)
    insists on a version newer than every published one, so two people editing at once cannot
    both publish "version 4"; ``draft_id`` names the draft this came from, deleted with it.
    """
    rules = ProgramRules.from_json(text)
    document = canonical_document(rules)

    def work(conn: Connection) -> PublishResult:
        others = program_ids(conn) - {rules.program_id}
        if others:
            raise RulesConflictError(
                f"this server runs program {sorted(others)[0]!r}, not {rules.program_id!r}"
            )
        latest = latest_version_number(conn)
        existing = rules_document(conn, rules.version)
        if new_only and latest is not None and rules.version <= latest:
            raise RulesConflictError(_taken(conn, rules.version, latest, existing is not None))
        if existing is not None:
            if existing[1] == document:
                return PublishResult(rules.program_id, rules.version, published=False)
            raise RulesConflictError(
                f"version {rules.version} is already published with different content; "
                "publish the change as a new version"
            )
        now = utc_now()
        detail: dict[str, object] = {"program_id": rules.program_id, "note": note}
        if draft_id is not None and delete_draft(conn, draft_id):
            detail["draft_id"] = draft_id
        record_action(
            conn,
            actor,
            "program.publish",
            now,
            target_kind="rules_version",
            target_id=str(rules.version),
            detail=detail,
        )
        # The change position comes last: it holds the counter row until COMMIT.
        insert_rules(
            conn,
            rules,
            document,
            now,
            allocate_positions(conn, 1),
            published_by=actor.username,
            note=note,
        )
        return PublishResult(rules.program_id, rules.version, published=True)

    try:
        return run_write(database, work)
    except IntegrityError:
        # Someone published this version number between our check and our insert.
        raise RulesConflictError(
            f"version {rules.version} was published by someone else a moment ago; "
            "reload and publish your change as the next version"
        ) from None


def utc_text(moment: datetime) -> str:
    """A stored timestamp as staff read it: UTC to the minute (SQLite gives it back naive)."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _taken(conn: Connection, version: int, latest: int, exists: bool) -> str:
    if exists:
        record = version_record(conn, version)
        who = f" by {record.published_by}" if record and record.published_by else ""
        when = f" at {utc_text(record.published_at)}" if record else ""
        return (
            f"version {version} is already published{who}{when}; "
            f"publish your change as version {latest + 1}"
        )
    return (
        f"version {version} is older than the latest published version {latest}; versions "
        f"only go forward: publish as version {latest + 1}"
    )
