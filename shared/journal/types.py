"""Field types shared by the journal models: strict integers, hashes, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, Strict

from shared.journal.canonical import format_utc

__all__ = ["Count", "Hash", "Minor", "NonNegMinor", "Points", "Text", "UtcTimestamp", "Uuid"]


def _to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamp must carry a UTC offset (e.g. end in Z)")
    return moment.astimezone(UTC)


# Strict: a JSON float (12.5) or a string ("12") is refused, never coerced (invariant 6).
Minor = Annotated[int, Strict()]
"""An amount in minor currency units (cents)."""
NonNegMinor = Annotated[int, Strict(), Field(ge=0)]
Points = Annotated[int, Strict(), Field(ge=0)]
Count = Annotated[int, Strict(), Field(ge=0)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Uuid = Annotated[
    str,
    Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
]
UtcTimestamp = Annotated[
    datetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_utc, return_type=str),
]
"""A moment in time; always serialised as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
