"""One pagination convention for every list in the JSON API (and the dashboard's tables).

A list takes ``limit`` (1–500, default 50) and ``cursor`` (the ``next_cursor`` of the page
before) and answers ``{"items": [...], "next_cursor": "..." | null}``. Cursors are keyset
positions (the sort key of the last item), so page 10,000 of a million members costs the same
as page 1; they are opaque to clients (URL-safe base64 of a small JSON array).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from syncserver.errors import MalformedError

__all__ = ["CursorQuery", "LimitQuery", "Page", "decode_cursor", "encode_cursor", "page_of"]

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1–500).")]
CursorQuery = Annotated[
    str | None,
    Query(max_length=500, description="The next_cursor of the previous page; omit for the first."),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    """Pass as ``cursor`` for the next page; null on the last page."""


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), default=str).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The key a cursor holds, or None for the first page; a bad cursor is a 422."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        key = None
    if not isinstance(key, list) or len(key) != arity:
        raise MalformedError("cursor: not a cursor this list gave out; start from the first page")
    return key


def page_of(rows: Sequence[T], limit: int, key: Any) -> tuple[list[T], str | None]:
    """Split ``limit + 1`` fetched rows into the page and the cursor for the next one;
    ``key(row)`` is the row's sort key."""
    if len(rows) > limit:
        items = list(rows[:limit])
        return items, encode_cursor(key(items[-1]))
    return list(rows), None
