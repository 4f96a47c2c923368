"""How large a request body each route takes (docs/security.md, "Limits").

Derived from what the route must carry, not from what a server can survive: a push is at
most ``MAX_PUSH_BATCH`` (500) entries of at most ``MAX_ENTRY_BYTES`` each, and a till splits
its unsent entries so that no push exceeds ``MAX_PUSH_BYTES`` (16 MiB). A program rules
document is the next largest: the dashboard's editor takes up to ``MAX_FORM_FIELDS`` (20,000)
inputs — a program of 2,500 campaigns is about 0.7 MB as a form and 0.4 MB as JSON — so
those routes take 4 MiB, room for the same program with long names. Everything else is a
few fields (a reason, a card number, a user name) and takes 1 MiB.

``syncserver.api.middleware.RequestGuard`` applies these before any authentication or
parsing: by ``Content-Length`` at once, and by counting while a body without one streams in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from shared.bounds import MAX_PUSH_BYTES

__all__ = [
    "BODY_LIMITS",
    "DEFAULT_BODY_LIMIT",
    "MAX_FORM_FIELDS",
    "PROGRAM_BODY_LIMIT",
    "body_limit",
    "describe_bytes",
]

MiB: Final = 1024 * 1024

DEFAULT_BODY_LIMIT: Final = 1 * MiB
"""Every route not listed in ``BODY_LIMITS``."""

PROGRAM_BODY_LIMIT: Final = 4 * MiB
"""Routes that take a whole program rules document (JSON or the editor's form)."""

MAX_FORM_FIELDS: Final = 20_000
"""Fields one dashboard form may have. Starlette's default (1,000 fields) is about 60
campaigns in the program editor; a big program has more."""

BODY_LIMITS: Final[Mapping[tuple[str, str], int]] = {
    ("POST", "/api/v1/sync/push"): MAX_PUSH_BYTES,
    ("POST", "/api/v1/program/versions"): PROGRAM_BODY_LIMIT,
    ("POST", "/api/v1/program/preview"): PROGRAM_BODY_LIMIT,
    ("POST", "/program/preview"): PROGRAM_BODY_LIMIT,
    ("POST", "/program/drafts"): PROGRAM_BODY_LIMIT,
    ("POST", "/program/publish"): PROGRAM_BODY_LIMIT,
}
"""(method, path) -> the largest body that route takes, in bytes."""


def body_limit(method: str, path: str) -> int:
    """The largest body a request for ``method path`` may have."""
    return BODY_LIMITS.get((method, path.rstrip("/") or "/"), DEFAULT_BODY_LIMIT)


def describe_bytes(size: int) -> str:
    """1048576 -> "1 MiB" (limits are whole MiB); other sizes in bytes."""
    return f"{size // MiB} MiB" if size % MiB == 0 else f"{size:,} bytes"
