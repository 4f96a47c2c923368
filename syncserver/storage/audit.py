"""The audit log: one row per staff action, written in the same transaction as the action."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from syncserver.storage.schema import audit_log

__all__ = ["Actor", "record_action"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it, and from where: an HQ username (web or API) or ``cli`` on the server."""

    username: str
    ip: str | None = None
    via: str = "api"
    """``web``, ``api`` or ``cli``."""


def record_action(
    conn: Connection,
    actor: Actor,
    action: str,
    now: datetime,
    *,
    target_kind: str | None = None,
    target_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    body = {"via": actor.via, **(detail or {})}
    conn.execute(
        audit_log.insert().values(
            at=now,
            actor=actor.username,
            action=action,
            target_kind=target_kind,
            target_id=target_id,
            detail=json.dumps(body, sort_keys=True, default=str),
            ip=actor.ip,
        )
    )
