"""Canonical JSON: one byte string per value, so a hash means the same thing everywhere.

Rules (docs/protocol.md repeats them for other implementations):

* objects with keys sorted by code point, no insignificant white space (``,`` and ``:``);
* strings as UTF-8, not ``\\u``-escaped (except what JSON requires: ``"``, ``\\``, controls);
* integers only — a float anywhere is refused, because money and points are integers and a
  float's text form differs between languages;
* ``true``/``false``/``null``; no NaN or infinity;
* timestamps are strings in UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (:func:`format_utc`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = [
    "CanonicalJSONError",
    "canonical_json",
    "format_utc",
    "parse_utc",
    "reference_canonical_json",
]


class CanonicalJSONError(ValueError):
    """A value cannot be written as canonical JSON (a float, a non-string key, …)."""


_SCALARS = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> bool:
    """Whether ``value`` is made of exactly what ``json.loads`` produces, floats aside: dicts
    with str keys, lists, str, int, bool, None. A pass with no path bookkeeping: the common
    case on the ingest hot path (a record as received). False sends it to :func:`_check`."""
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            kind = type(item)
            if kind not in _SCALARS and not ((kind is dict or kind is list) and _plain(item)):
                return False
        return True
    if type(value) is list:
        for item in value:
            kind = type(item)
            if kind not in _SCALARS and not ((kind is dict or kind is list) and _plain(item)):
                return False
        return True
    return type(value) in _SCALARS


def _check(value: Any, path: str) -> None:
    """Raise :class:`CanonicalJSONError` naming where ``value`` holds something canonical JSON
    cannot (``path``: where ``value`` sits, ``$`` for the top)."""
    if _plain(value):
        return
    _check_slowly(value, path)


def _check_slowly(value: Any, path: str) -> None:
    kind = type(value)
    if kind in _SCALARS:
        return
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        raise CanonicalJSONError(f"{path}: floats are not allowed (got {value!r}); use integers")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{path}: object keys must be strings, got {key!r}")
            _check_slowly(item, f"{path}.{key}")
        return
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        for index, item in enumerate(value):
            _check_slowly(item, f"{path}[{index}]")
        return
    raise CanonicalJSONError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` (dicts, lists, str, int, bool, None) to canonical JSON bytes."""
    _check(value, "$")
    try:
        # The same bytes as the json module below (tests/shared/test_canonical_json.py holds
        # the two to each other), an order of magnitude faster: it is the ingest hot path.
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        pass  # an integer beyond 64 bits, a lone surrogate: the reference path decides
    return reference_canonical_json(value)


def reference_canonical_json(value: Any) -> bytes:
    """:func:`canonical_json` by the standard library: the definition the fast path must
    match byte for byte (and what it falls back to for what orjson does not write)."""
    _check(value, "$")
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        # Only a lone UTF-16 surrogate ("\ud800") gets here: it is not a character, has no
        # UTF-8 form and so no hash.
        raise CanonicalJSONError(
            f"a string holds {error.object[error.start : error.end]!r}, which is not valid "
            "Unicode (a lone surrogate)"
        ) from None


def format_utc(moment: datetime) -> str:
    """The one timestamp text: UTC, microseconds, ``Z``. Naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str) -> datetime:
    """Parse a timestamp written by :func:`format_utc` (or any ISO-8601 text with an offset)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return moment.astimezone(UTC)
