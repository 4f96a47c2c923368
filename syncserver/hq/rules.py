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
    "MAX_VERSION",
    "PublishResult",
    "RulesConflictError",
    "canonical_document",
    "publish_next_version",
    "publish_rules",
]

MAX_VERSION = 2**31 - 1
"""The last version number ``rules_versions.version`` (INTEGER on PostgreSQL) holds."""

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
            raise RulesConflictError(
                _taken(conn, rules.version, latest, exists=existing is not None)
            )
        if existing is not None:
            # Compared as parsed rules, not as text: a version stored before a field with a
            # default existed reads back equal to the same file loaded again after the upgrade.
            if existing[1] == document or ProgramRules.from_json(existing[1]) == rules:
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


def _same_rules(a: str, b: str) -> bool:
    """Two stored documents say the same, whatever their version numbers."""
    first, second = json.loads(a), json.loads(b)
    first.pop("version", None)
    second.pop("version", None)
    return bool(first == second)


def publish_next_version(
    database: Database,
    rules: ProgramRules,
    *,
    actor: Actor,
    note: str,
    base_version: int | None = None,
    draft_id: int | None = None,
) -> PublishResult:
    """Publish ``rules`` as the next version, latest + 1 (1 on an empty server), whatever
    version number the document carries: HQ staff never choose version numbers, so a typo
    cannot skip ahead to 2^31 and no two versions can share one.

    ``base_version``: the version the change was made from (0: from nothing published). When
    another version has been published since, nothing is published (``RulesConflictError``),
    so two people editing at once cannot silently overwrite each other's change. A document
    that says exactly what the latest version says is refused too: a client that retries a
    publish it did not hear back from does not publish the same rules twice.
    """

    def work(conn: Connection) -> PublishResult:
        others = program_ids(conn) - {rules.program_id}
        if others:
            raise RulesConflictError(
                f"this server runs program {sorted(others)[0]!r}, not {rules.program_id!r}"
            )
        latest = latest_version_number(conn) or 0
        if base_version is not None and base_version != latest:
            raise RulesConflictError(_taken(conn, latest, latest, exists=True))
        if latest >= MAX_VERSION:
            raise RulesConflictError(f"version {latest} is the last version number there is")
        if latest:
            current = rules_document(conn, latest)
            if current is not None and _same_rules(current[1], canonical_document(rules)):
                raise RulesConflictError(
                    f"these rules are exactly version {latest}'s: nothing to publish "
                    "(change something first)"
                )
        version = latest + 1
        numbered = rules.model_copy(update={"version": version})
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
            target_id=str(version),
            detail=detail,
        )
        # The change position comes last: it holds the counter row until COMMIT.
        insert_rules(
            conn,
            numbered,
            canonical_document(numbered),
            now,
            allocate_positions(conn, 1),
            published_by=actor.username,
            note=note,
        )
        return PublishResult(rules.program_id, version, published=True)

    # Two publishes at once may both pick latest + 1; the loser's insert fails on the primary
    # key. Without a base version it simply becomes the next one; with one, it is stale.
    for attempt in range(3):
        try:
            return run_write(database, work)
        except IntegrityError:
            if base_version is not None or attempt == 2:
                raise RulesConflictError(
                    "another version was published a moment ago; reload and publish your "
                    "change on top of it"
                ) from None
    raise AssertionError("unreachable")


def utc_text(moment: datetime) -> str:
    """A stored timestamp as staff read it: UTC to the minute (SQLite gives it back naive)."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _taken(conn: Connection, version: int, latest: int, *, exists: bool) -> str:
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
