"""The one set of typed, bounded inputs every route takes its path and query parameters from.

A number a client sends must fit the column it is compared with on both databases (SQLite
raises ``OverflowError`` past 2^63, PostgreSQL's INTEGER stops at 2^31 - 1), and a text must
be short and free of NUL (PostgreSQL cannot hold or compare one). Declaring each kind once
here, with its bound in the OpenAPI document, makes that true of every route at once:
``tests/server/test_api_bounds.py`` walks the document and fails on any integer without a
maximum or text without a length limit.

Digits typed by people or carried in cursors are read with :func:`parse_digits`, never with
``str.isdigit()``: that is also true of "²" and "١", which ``int()`` then refuses or reads.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from fastapi import Path, Query
from pydantic import AfterValidator, Field

from shared.bounds import MAX_ID, MAX_SEQ
from shared.text import unsafe_character

__all__ = [
    "MAX_INT32",
    "MAX_ROW_ID",
    "MAX_SEQ",
    "MULTILINE_PATTERN",
    "PULL_CURSOR_PATTERN",
    "TEXT_PATTERN",
    "CardPath",
    "DraftIdPath",
    "DraftIdQuery",
    "ExceptionIdPath",
    "MemberIdPath",
    "PullCursorQuery",
    "SafeMultilineText",
    "SafeText",
    "SeqPath",
    "SeqQuery",
    "TerminalIdPath",
    "TerminalIdQuery",
    "UsernamePath",
    "VersionPath",
    "VersionQuery",
    "check_multiline_text",
    "check_text",
    "parse_digits",
]

MAX_INT32: Final = 2**31 - 1
"""Program versions and draft versions: an INTEGER column on PostgreSQL."""

MAX_ROW_ID: Final = MAX_SEQ
"""Row ids (exceptions, drafts, postings): BIGINT columns; 2^62 leaves headroom below 2^63."""

_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_digits(text: str, maximum: int) -> int | None:
    """``text`` (surrounding spaces allowed) as a whole number 0…``maximum`` written in ASCII
    digits only, else None. Bounded before ``int()`` sees it, so a 5,000-digit text costs
    nothing and never reaches a database."""
    stripped = text.strip()
    if not _DIGITS.fullmatch(stripped):
        return None
    value = int(stripped)
    return value if value <= maximum else None


# ---------------------------------------------------------------------------------------------
# Path parameters

SeqPath = Annotated[int, Path(ge=1, le=MAX_SEQ, description="The entry's number on that till.")]
ExceptionIdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The exception's id.")]
DraftIdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The draft's id.")]
VersionPath = Annotated[int, Path(ge=1, le=MAX_INT32, description="A published version.")]
TerminalIdPath = Annotated[
    str, Path(min_length=1, max_length=16, description="e.g. T0001", examples=["T0001"])
]
MemberIdPath = Annotated[
    str,
    Path(min_length=1, max_length=MAX_ID, description="e.g. M0000000001", examples=["M0000000001"]),
]
CardPath = Annotated[str, Path(min_length=1, max_length=64, description="The card number")]
"""As long as ``cards.card_number`` holds (a till's cards are at most MAX_CARD_NUMBER)."""
UsernamePath = Annotated[str, Path(min_length=1, max_length=100)]

# ---------------------------------------------------------------------------------------------
# Query parameters

DraftIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="A draft's id.")]
VersionQuery = Annotated[int | None, Query(ge=1, le=MAX_INT32, description="A version.")]
TerminalIdQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=16,
        pattern=r"^[^\x00-\x1f\x7f-\x9f]+$",
        description="A till's id, e.g. T0001 (printable characters).",
        examples=["T0001"],
    ),
]
SeqQuery = Annotated[int, Query(ge=1, le=MAX_SEQ, description="The entry's number on that till.")]

PULL_CURSOR_PATTERN: Final = r"^[0-9]{1,18}$"
"""A pull cursor: ASCII digits, at most 18 of them (below 2^63 whatever they say)."""

PullCursorQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=18,
        pattern=PULL_CURSOR_PATTERN,
        description="The cursor from the last pull (0: from the start).",
    ),
]
"""For ``GET /api/v1/sync/pull?since=``: ``int(since)`` is then always safe."""

# ---------------------------------------------------------------------------------------------
# Text in request bodies

TEXT_PATTERN: Final = r"^[^\x00-\x1f\x7f-\x9f\ud800-\udfff]*$"
"""Printable characters only: no C0 or C1 control character, no DEL, no lone UTF-16
surrogate (JSON can carry one; it has no UTF-8 form, so no database can store it)."""

MULTILINE_PATTERN: Final = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]*$"
"""As TEXT_PATTERN, but tab and line breaks are allowed (reasons and notes typed into a
text area)."""

_LINE_BREAKS = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def _refuse(found: tuple[int, str] | None) -> None:
    if found is not None:
        position, character = found
        raise ValueError(
            f"contains the control character U+{ord(character):04X} at position {position}; "
            "remove it (texts hold printable characters only)"
        )


def check_text(text: str) -> str:
    """``text`` unchanged, or a ValueError naming its first control character."""
    _refuse(unsafe_character(text))
    return text


def check_multiline_text(text: str) -> str:
    """As :func:`check_text`, but tabs and line breaks are allowed."""
    _refuse(unsafe_character(text.translate(_LINE_BREAKS)))
    return text


SafeText = Annotated[
    str,
    AfterValidator(check_text),
    Field(json_schema_extra={"pattern": TEXT_PATTERN}),
]
"""A name, id or label in a request body: one line of printable characters. Add a
``max_length`` where it is used."""

SafeMultilineText = Annotated[
    str,
    AfterValidator(check_multiline_text),
    Field(json_schema_extra={"pattern": MULTILINE_PATTERN}),
]
"""A reason or note: printable characters, tabs and line breaks."""
