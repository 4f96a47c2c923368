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

from shared.bounds import MAX_SEQ
from shared.text import unsafe_character
from syncserver.errors import MalformedError

__all__ = [
    "CursorQuery",
    "LimitQuery",
    "Page",
    "decode_cursor",
    "encode_cursor",
    "int_cursor",
    "page_of",
]

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1–500).")]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=500,
        pattern=r"^[A-Za-z0-9_-]*$",
        description="The next_cursor of the previous page; omit for the first.",
    ),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    """Pass as ``cursor`` for the next page; null on the last page."""


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), default=str).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


MAX_KEY_TEXT = 400
"""The longest text a cursor key holds (names, ids and timestamps are far shorter)."""


def _key_part(value: Any) -> bool:
    """What a sort key given out by :func:`page_of` is made of: a bounded whole number or a
    short printable text. Anything else was made by hand, and would reach the database (an
    integer past 2^63 overflows SQLite, a NUL breaks PostgreSQL) if let through."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -MAX_SEQ <= value <= MAX_SEQ
    if isinstance(value, str):
        return len(value) <= MAX_KEY_TEXT and unsafe_character(value) is None
    return False


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The key a cursor holds, or None for the first page; a bad cursor is a 422, whichever
    list it is given to."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        key = None
    if not isinstance(key, list) or len(key) != arity or not all(_key_part(part) for part in key):
        raise MalformedError("cursor: not a cursor this list gave out; start from the first page")
    return key


def int_cursor(cursor: str | None) -> int | None:
    """The one whole number a cursor of a list keyed by an id or version holds."""
    key = decode_cursor(cursor, 1)
    if key is None:
        return None
    if not isinstance(key[0], int):
        raise MalformedError("cursor: not a cursor this list gave out; start from the first page")
    return int(key[0])


def page_of(rows: Sequence[T], limit: int, key: Any) -> tuple[list[T], str | None]:
    """Split ``limit + 1`` fetched rows into the page and the cursor for the next one;
    ``key(row)`` is the row's sort key."""
    if len(rows) > limit:
        items = list(rows[:limit])
        return items, encode_cursor(key(items[-1]))
    return list(rows), None
